"""File extensions to languages, and their tree-sitter grammars (from the grammar wheels, offline)."""

from __future__ import annotations

import functools
import importlib
from importlib import resources
from pathlib import PurePath
from typing import Any

# language -> (grammar module, function returning the language pointer, tags query file)
GRAMMARS: dict[str, tuple[str, str, str]] = {
    "python": ("tree_sitter_python", "language", "python.scm"),
    "javascript": ("tree_sitter_javascript", "language", "javascript.scm"),
    "typescript": ("tree_sitter_typescript", "language_typescript", "typescript.scm"),
    "tsx": ("tree_sitter_typescript", "language_tsx", "typescript.scm"),
    "go": ("tree_sitter_go", "language", "go.scm"),
    "rust": ("tree_sitter_rust", "language", "rust.scm"),
    "java": ("tree_sitter_java", "language", "java.scm"),
    "c": ("tree_sitter_c", "language", "c.scm"),
    "cpp": ("tree_sitter_cpp", "language", "cpp.scm"),
}

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust", ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
    ".md": "markdown", ".markdown": "markdown", ".rst": "text", ".txt": "text",
    ".toml": "text", ".yaml": "text", ".yml": "text", ".json": "text", ".cfg": "text", ".ini": "text",
    ".sh": "text", ".sql": "text", ".html": "text", ".css": "text", ".scm": "text",
}  # fmt: skip

TEXT_NAMES = {"Makefile", "Dockerfile", "README", "LICENSE", "CMakeLists.txt", ".gitignore"}


def language_of(path: PurePath) -> str | None:
    """The language of a file, ``text`` for other known text, None for files codemm does not index."""
    if path.name in TEXT_NAMES:
        return "text"
    return EXTENSIONS.get(path.suffix.lower())


def is_code(language: str | None) -> bool:
    return language in GRAMMARS


@functools.cache
def grammar(language: str) -> Any:
    import tree_sitter

    module, function, _ = GRAMMARS[language]
    return tree_sitter.Language(getattr(importlib.import_module(module), function)())


@functools.cache
def parser(language: str) -> Any:
    import tree_sitter

    return tree_sitter.Parser(grammar(language))


@functools.cache
def tags_query(language: str) -> Any:
    import tree_sitter

    source = resources.files("codemm.repo").joinpath("queries", GRAMMARS[language][2]).read_text()
    return tree_sitter.Query(grammar(language), source)
