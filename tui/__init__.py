"""codemm.tui"""
