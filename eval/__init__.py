"""codemm.eval"""
