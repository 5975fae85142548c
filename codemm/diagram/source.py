"""The repository as a diagram reads it: the index's code files, their language, their text."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from codemm.diagram.imports import Import, imports_of
from codemm.diagram.resolve import ModuleTable
from codemm.errors import BadInputError
from codemm.repo.index import RepoIndex
from codemm.repo.languages import is_code
from codemm.repo.walk import decode_source


@dataclass
class Repo:
    root: Path
    language: dict[str, str]
    """Code files (path -> language) inside the scope."""
    table: ModuleTable
    _imports: dict[str, list[Import]] = field(default_factory=dict)
    _texts: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_index(cls, index: RepoIndex, scope: str = "") -> Repo:
        rows = index.db.execute("SELECT path, language FROM files").fetchall()
        # The index skips empty files; an empty __init__.py still makes its folder a package.
        empty = index.db.execute("SELECT path FROM skipped WHERE reason = 'empty'").fetchall()
        rows += [(p, "python") for (p,) in empty if PurePosixPath(p).name == "__init__.py"]
        globs = [g.strip() for g in scope.split(",") if g.strip()]
        language = {p: lang for p, lang in rows if is_code(lang) and (not globs or _matches(p, globs))}
        if not language:
            where = f" matching {scope!r}" if globs else ""
            raise BadInputError(f"no code files{where} in the index of {index.root}")
        return cls(index.root, language, ModuleTable.build(language))

    def source(self, path: str) -> bytes:
        if path not in self._texts:
            try:
                data = (self.root / path).read_bytes()
            except OSError:
                data = b""  # deleted since the index was refreshed: no edges from it
            self._texts[path] = decode_source(data)[0].encode("utf-8", errors="replace")
        return self._texts[path]

    def imports(self, path: str) -> list[Import]:
        if path not in self._imports:
            self._imports[path] = imports_of(self.source(path), self.language[path])
        return self._imports[path]

    def select(self, target: str) -> set[str]:
        """The node ids ``target`` names: a folder or file path, or a dotted module prefix."""
        target = target.strip().strip("/")
        if not target or target == ".":
            return set(self.table.id_of.values())
        found = {node for path, node in self.table.id_of.items() if path == target or path.startswith(target + "/")}
        found |= {node for node in self.table.path_of if node == target or node.startswith(target + ".")}
        if not found:
            raise BadInputError(f"{target!r} names no module or folder of the repository (try a path like src/pkg)")
        return found


def _matches(path: str, globs: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, g) or path.startswith(g.rstrip("/*") + "/") for g in globs)
