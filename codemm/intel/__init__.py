"""Code intelligence: what a name at a place in the code refers to, and where it is used.

Three tiers, as Sourcegraph labels them, and every result says which one produced it:
``precise`` (jedi's analysis of Python: imports, re-exports, the class hierarchy, inferred types),
``syntactic`` (tree-sitter for the other languages: scopes, imports and receiver types where the
syntax states them) and ``text`` (a bare name match). ``Navigator`` (navigator.py) opens one
repository lazily and answers goto / references / definition / callers / callees / hierarchy.
"""
