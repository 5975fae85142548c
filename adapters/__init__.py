"""codemm.adapters"""
