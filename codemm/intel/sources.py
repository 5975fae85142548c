"""The repository's files as navigation reads them: text by path, re-read only when a file's size
or mtime changes, and the places a name occurs as a whole word (the candidates each tier checks)."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

from codemm.repo.walk import check_repo_root, decode_source, walk_repo

WALK_EVERY_S = 1.0
"""A burst of lookups walks the tree once: an edit is seen by the first call a second later."""


@dataclass(frozen=True)
class SourceText:
    path: str
    language: str
    text: str
    sha: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Occurrence:
    path: str
    line: int
    """1-based."""
    column: int
    """0-based, as jedi and tree-sitter count."""
    in_string: bool
    """Inside a string literal on its line (``__all__ = ["get"]``, or prose in a docstring)."""


class RepoSources:
    def __init__(self, root: Path) -> None:
        self.root = check_repo_root(root)
        self._stats: dict[str, tuple[int, int, str]] = {}
        self._texts: dict[str, SourceText] = {}
        self._walked_at = -WALK_EVERY_S
        self.generation = 0
        """Bumped when a walk finds any file added, removed or changed."""
        self._changes: list[tuple[int, set[str]]] = []

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._walked_at < WALK_EVERY_S:
            return
        walked = walk_repo(self.root, sniff=False)
        stats = {f.path: (f.size, f.mtime_ns, f.language) for f in walked.files}
        for path in [p for p in self._texts if self._stats.get(p) != stats.get(p)]:
            del self._texts[path]
        changed = {p for p in stats.keys() | self._stats.keys() if stats.get(p) != self._stats.get(p)}
        if changed:
            self.generation += 1
            self._changes.append((self.generation, changed))
            del self._changes[:-64]  # a reader this far behind starts over (changed_since -> None)
        self._stats = stats
        self._walked_at = now

    def changed_since(self, generation: int) -> set[str] | None:
        """The paths added, removed or changed after ``generation``; None when that is too long ago
        to say (then assume everything changed)."""
        self.refresh()
        if generation == self.generation:
            return set()
        if not self._changes or self._changes[0][0] > generation + 1:
            return None
        return set().union(*(paths for number, paths in self._changes if number > generation))

    def paths(self, language: str | None = None) -> list[str]:
        self.refresh()
        return [p for p, (_, _, lang) in self._stats.items() if language in (None, lang)]

    def language(self, path: str) -> str | None:
        self.refresh()
        stat = self._stats.get(path)
        return stat[2] if stat else None

    def get(self, path: str) -> SourceText | None:
        """The file's text, None when it is not a file navigation reads."""
        self.refresh()
        known = self._texts.get(path)
        if known is not None:
            return known
        stat = self._stats.get(path)
        if stat is None:
            return None
        try:
            text = decode_source((self.root / path).read_bytes())[0]
        except OSError:
            return None
        sha = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        source = SourceText(path, stat[2], text, sha, tuple(text.splitlines()))
        self._texts[path] = source
        return source

    def line(self, path: str, line: int) -> str:
        source = self.get(path)
        return source.lines[line - 1].strip() if source and 0 < line <= len(source.lines) else ""

    def occurrences(self, name: str, language: str, comment: str = "#") -> list[Occurrence]:
        """Every whole-word ``name`` in the language's files, outside comments."""
        word = re.compile(rf"(?<![\w$]){re.escape(name)}(?![\w$])")
        found: list[Occurrence] = []
        for path in self.paths(language):
            source = self.get(path)
            if source is None or name not in source.text:
                continue
            for number, line in enumerate(source.lines, 1):
                if name not in line:
                    continue
                if comment == "//" and line.lstrip().startswith(("*", "/*")):
                    continue  # a block comment's line (JSDoc)
                for match in word.finditer(line):
                    state = quoting(line, match.start(), comment)
                    if state != "comment":
                        found.append(Occurrence(path, number, match.start(), state == "string"))
        return found


def quoting(line: str, column: int, comment: str) -> str:
    """Whether ``column`` of ``line`` is in code, a string or a comment, reading the line alone
    (a line inside a multi-line string reads as code: the precise tier rejects those)."""
    quote = ""
    i = 0
    while i < column:
        char = line[i]
        if quote:
            if char == "\\":
                i += 1
            elif line.startswith(quote, i):
                i += len(quote) - 1
                quote = ""
        elif line.startswith(comment, i) or (comment == "//" and line.startswith("/*", i)):
            return "comment"
        elif char in "\"'`":
            quote = line[i : i + 3] if line[i : i + 3] in ('"""', "'''") else char
            i += len(quote) - 1
        i += 1
    return "string" if quote else "code"
