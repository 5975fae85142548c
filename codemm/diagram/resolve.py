"""Module names for repository files, and import statements resolved to them.

Python modules get their import name (``src/pkg/mod.py`` in a package chain -> ``pkg.mod``);
files of other languages a dotted form of their path (Go: one node per package folder). An import
that names no repository file is external: its package (``numpy``, ``@scope/pkg``, ``github.com/x/y``,
``stdio.h``) is returned instead, for the diagram to collapse into one node.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from codemm.diagram.imports import Import

JS_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")


@dataclass
class ModuleTable:
    """Every code file of the repository as a module node id."""

    language: dict[str, str]
    """path -> language"""
    id_of: dict[str, str] = field(default_factory=dict)
    path_of: dict[str, str] = field(default_factory=dict)
    """node id -> the file that defines it (Go: one file of the package)"""
    by_basename: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def build(cls, language: dict[str, str]) -> ModuleTable:
        table = cls(language)
        packages = {str(PurePosixPath(p).parent) for p in language if PurePosixPath(p).name == "__init__.py"}
        for path in sorted(language):
            node = node_id(path, language[path], packages)
            table.id_of[path] = node
            table.path_of.setdefault(node, path)
            table.by_basename[PurePosixPath(path).name].append(path)
        return table

    def resolve(self, path: str, imp: Import) -> tuple[list[str], str]:
        """(repository node ids, external package) that ``imp`` in ``path`` names; one of them empty."""
        language = self.language[path]
        if language == "python":
            return self._python(path, imp)
        if language in ("javascript", "typescript", "tsx"):
            return self._javascript(path, imp)
        if language == "go":
            return self._go(imp)
        if language == "rust":
            return self._rust(path, imp)
        if language == "java":
            return self._java(imp)
        return self._c(path, imp)

    def _python(self, path: str, imp: Import) -> tuple[list[str], str]:
        here = self.id_of[path]
        if imp.level:
            package = here if path.endswith("__init__.py") else here.rpartition(".")[0]
            for _ in range(imp.level - 1):
                package = package.rpartition(".")[0]
            base = ".".join(p for p in (package, imp.target) if p)
        else:
            base = imp.target
            if base not in self.path_of and "." not in here:  # a script beside its sibling modules
                folder = posixpath.dirname(path).replace("/", ".")
                sibling = f"{folder}.{base}" if folder else base
                base = sibling if self._longest(sibling) else base
        found: list[str] = []
        need_base = not imp.names
        for name in imp.names:
            sub = f"{base}.{name}" if base else name
            if name != "*" and sub in self.path_of:
                found.append(sub)
            else:
                need_base = True
        if need_base:
            module = self._longest(base)
            if module:
                found.append(module)
            elif not found and not imp.level:
                return [], base.partition(".")[0]
        return found, ""

    def _longest(self, dotted: str) -> str:
        while dotted:
            if dotted in self.path_of and self.language[self.path_of[dotted]] == "python":
                return dotted
            dotted = dotted.rpartition(".")[0]
        return ""

    def _javascript(self, path: str, imp: Import) -> tuple[list[str], str]:
        target = imp.target
        if not target.startswith("."):
            parts = target.split("/")
            return [], "/".join(parts[:2]) if target.startswith("@") else parts[0]
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        stem = joined
        for ext in (".js", ".jsx", ".mjs", ".cjs"):  # TypeScript's ESM style: "./x.js" is x.ts
            stem = stem.removesuffix(ext) if joined.endswith(ext) else stem
        candidates = [joined, *(stem + e for e in JS_EXTENSIONS), *(f"{joined}/index{e}" for e in JS_EXTENSIONS)]
        found = next((c for c in candidates if c in self.id_of), None)
        return ([self.id_of[found]], "") if found else ([], "")

    def _go(self, imp: Import) -> tuple[list[str], str]:
        best = ""
        for node, path in self.path_of.items():
            folder = posixpath.dirname(path)
            if self.language[path] == "go" and folder and (imp.target == folder or imp.target.endswith("/" + folder)):
                best = node if len(folder) > len(posixpath.dirname(self.path_of.get(best, ""))) else best
        if best:
            return [best], ""
        parts = imp.target.split("/")
        return [], "/".join(parts[:3]) if "." in parts[0] else parts[0]

    def _rust(self, path: str, imp: Import) -> tuple[list[str], str]:
        head, _, rest = imp.target.partition("::")
        if head not in ("crate", "self", "super"):
            return [], head
        module_dir = rust_module_dir(path)
        if head == "crate":
            base = rust_crate_src(path)
        elif head == "super":
            base = posixpath.dirname(module_dir)
        else:
            base = module_dir
        parts = [p for p in rest.split("::") if p and p != "*"] if rest else []
        if imp.names == ("mod",) and parts:  # `mod x;`: x.rs or x/mod.rs beside
            parts = parts[:1]
        while parts:
            stem = posixpath.join(base, *parts)
            for candidate in (stem + ".rs", stem + "/mod.rs"):
                if candidate in self.id_of:
                    return [self.id_of[candidate]], ""
            parts.pop()
        for root in ("lib.rs", "main.rs", "mod.rs"):
            candidate = posixpath.join(base, root)
            if candidate in self.id_of and candidate != path:
                return [self.id_of[candidate]], ""
        return [], ""

    def _java(self, imp: Import) -> tuple[list[str], str]:
        parts = imp.target.split(".")
        for end in (len(parts), len(parts) - 1):
            tail = "/".join(parts[:end]) + ".java"
            for path in self.by_basename.get(tail.rpartition("/")[2], []):
                if path == tail or path.endswith("/" + tail):
                    return [self.id_of[path]], ""
        return [], ".".join(parts[:2])

    def _c(self, path: str, imp: Import) -> tuple[list[str], str]:
        if imp.local:
            beside = posixpath.normpath(posixpath.join(posixpath.dirname(path), imp.target))
            if beside in self.id_of:
                return [self.id_of[beside]], ""
            name = imp.target.rpartition("/")[2]
            matches = [p for p in self.by_basename.get(name, []) if p == imp.target or p.endswith("/" + imp.target)]
            if matches:
                return [self.id_of[min(matches, key=len)]], ""
        return [], imp.target.partition("/")[0]


def node_id(path: str, language: str, packages: set[str]) -> str:
    pure = PurePosixPath(path)
    folders = list(pure.parent.parts)
    if language == "python":
        stem = pure.name.rpartition(".")[0]
        top = str(pure.parent)
        while top != "." and top in packages:
            top = str(PurePosixPath(top).parent)
        inside = list(pure.parent.relative_to(top).parts) if top != "." else folders
        if str(pure.parent) not in packages and str(pure.parent) != ".":
            inside = folders  # a loose script: named by its folder, unique in the repository
        return ".".join([*inside] if stem == "__init__" and inside else [*inside, stem])
    if language == "go":
        return ".".join(folders) or "(root)"
    name = pure.name
    if language not in ("c", "cpp"):
        name = name.removesuffix(".d.ts").rpartition(".")[0] or name
    return ".".join([*folders, name.replace(".", "_")])


def rust_module_dir(path: str) -> str:
    """The folder holding ``path``'s child modules."""
    pure = PurePosixPath(path)
    if pure.name in ("lib.rs", "main.rs", "mod.rs"):
        return str(pure.parent)
    return str(pure.parent / pure.stem)


def rust_crate_src(path: str) -> str:
    """The crate's ``src`` folder around ``path`` (the folder itself when there is none)."""
    parts = PurePosixPath(path).parts
    if "src" in parts:
        index = len(parts) - 1 - parts[::-1].index("src")
        return "/".join(parts[: index + 1])
    return str(PurePosixPath(path).parent)
