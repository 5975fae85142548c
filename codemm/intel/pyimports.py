"""Which of the repository's Python files can reach a module through imports, read from the import
statements alone (``import a.b``, ``from .c import d``, at any indentation).

The precise tier asks jedi about a name's occurrences only in files from which the definition's
module is reachable: a file that imports it, or imports a module that (transitively) does, or is
it. An object of a class defined in M gets into a file through something that file names, and
what it names comes through its imports; vendored libraries (pip's ``_vendor``) and unrelated
packages are skipped without inferring their receivers, which is most of a common name's cost.
"""

from __future__ import annotations

import re

from codemm.intel.sources import RepoSources

_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w. \t,]+)", re.M)
_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)", re.M)


class ImportGraph:
    def __init__(self, sources: RepoSources) -> None:
        self.sources = sources
        self._key = -1
        self._modules: dict[str, str] = {}
        """Dotted module name -> path."""
        self._importers: dict[str, set[str]] = {}
        """Path -> the paths that import it."""
        self._imports: dict[str, set[str]] = {}
        """Path -> the paths it imports."""
        self._reach: dict[str, frozenset[str]] = {}

    def reaching(self, path: str) -> frozenset[str]:
        """The files that import ``path``'s module directly or through other modules of the
        repository, ``path`` itself included, and the files those import: a function of one of
        them may be handed an object by a caller that can make it (jedi finds such a parameter's
        type from its callers), though the file itself never imports the module."""
        self._read()
        if path not in self._reach:
            seen, todo = {path}, [path]
            while todo:
                for other in self._importers.get(todo.pop(), ()):
                    if other not in seen:
                        seen.add(other)
                        todo.append(other)
            self._reach[path] = frozenset(seen).union(*(self._imports.get(p, ()) for p in seen))
        return self._reach[path]

    def _read(self) -> None:
        if self._key == self.sources.generation and self._modules:
            return
        paths = self.sources.paths("python")
        src = any(p.startswith("src/") for p in paths) and (self.sources.root / "src").is_dir()
        modules = {_module_name(p, src): p for p in paths}
        importers: dict[str, set[str]] = {}
        imports: dict[str, set[str]] = {}
        for path in paths:
            source = self.sources.get(path)
            if source is None:
                continue
            package = _module_name(path, src)
            if not path.endswith("__init__.py"):
                package = package.rpartition(".")[0]
            for name in _imported_modules(source.text, package):
                # ``import a.b.c`` runs a and a.b too; ``from a.b import x`` may name a module a.b.x
                parts = name.split(".")
                for cut in range(1, len(parts) + 1):
                    target = modules.get(".".join(parts[:cut]))
                    if target is not None and target != path:
                        importers.setdefault(target, set()).add(path)
                        imports.setdefault(path, set()).add(target)
        self._modules, self._importers, self._imports, self._reach = modules, importers, imports, {}
        self._key = self.sources.generation


def _module_name(path: str, src: bool) -> str:
    if src and path.startswith("src/"):
        path = path[4:]
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _imported_modules(text: str, package: str) -> set[str]:
    """Dotted names of the modules (and of what may be submodules) the text imports."""
    found: set[str] = set()
    for match in _IMPORT.finditer(text):
        for part in match.group(1).split(","):
            name = part.split()[0] if part.split() else ""
            if name:
                found.add(name)
    for match in _FROM.finditer(text):
        dots, module = match.group(1), match.group(2)
        if dots:
            base = package.split(".") if package else []
            base = base[: len(base) - (len(dots) - 1)] if len(dots) > 1 else base
            module = ".".join([*base, module] if module else base)
        if not module:
            continue
        found.add(module)
        found.update(f"{module}.{name}" for name in re.findall(r"(\w+)(?:\s+as\s+\w+)?", match.group(3)))
    return found
