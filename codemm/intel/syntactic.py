"""placeholder"""
from __future__ import annotations
from typing import Any
COMMENTS = {"javascript": "//", "typescript": "//", "tsx": "//", "go": "//", "rust": "//", "java": "//", "c": "//", "cpp": "//"}
class SyntacticNavigation:
    def __init__(self, sources: Any, scopes: Any) -> None:
        self.sources, self.scopes = sources, scopes
    def goto(self, path, line, col): return []
    def definitions(self, name): return []
    def references(self, name): return []
    def references_at(self, path, line, col): return []
