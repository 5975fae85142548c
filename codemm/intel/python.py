"""Python navigation on the precise tier: definitions, references, calls and class hierarchy.

References are found as jedi's ``goto`` confirms them, not by its ``get_references``: every
whole-word occurrence of the name (codemm's candidates) is resolved at its position, and kept when
it lands on the definition. jedi's own search misses uses its ``goto`` resolves (DESIGN.md); this
way finds values, ``except X``, ``isinstance(x, X)``, decorators and defaults as well as calls.
Occurrences that cannot refer to the definition are skipped before jedi is asked (a module-level
function is never ``self.x.get``; a file the definition's module cannot reach through imports is
not read, see pyimports): that keeps a lookup of a common name within a second.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

from codemm.intel.jedi_tier import JediTier, Target
from codemm.intel.lexical import identifiers, pick, receiver, use_kind
from codemm.intel.pyclasses import ClassFamilies
from codemm.intel.pyimports import ImportGraph
from codemm.intel.results import PRECISE, Call, Location, ReferenceGroup, TypeHierarchy
from codemm.intel.scopes import Scopes, locate
from codemm.intel.sources import Occurrence, RepoSources

PYTHON = "python"
_KINDS = {"function": "function", "class": "class", "module": "module", "statement": "variable",
          "param": "parameter", "instance": "variable", "property": "property"}  # fmt: skip


class PythonNavigation:
    def __init__(self, sources: RepoSources, scopes: Scopes) -> None:
        self.sources = sources
        self.scopes = scopes
        self.jedi = JediTier(sources)
        self.families = ClassFamilies(sources)
        self.imports = ImportGraph(sources)
        self._imports: dict[tuple[str, str], frozenset[str]] = {}

    # -- definitions ------------------------------------------------------------------------------

    def goto(self, path: str, line: int, column: int | None) -> list[Location]:
        """Definitions of the name at ``line`` (``column`` 0-based, or the line's call)."""
        chosen = pick(self._line(path, line, strip=False), column)
        if chosen is None:
            return []
        targets = self.jedi.goto(path, line, chosen[0]) or self.jedi.infer(path, line, chosen[0])
        if not targets:
            targets = self._through_assignment(path, line, chosen[0], chosen[1])
        return [self.location(t) for t in targets]

    def _through_assignment(self, path: str, line: int, column: int, name: str) -> tuple[Target, ...]:
        """``x.name`` where jedi cannot infer ``x``: when ``x`` was assigned a value that is one of
        several alternatives (``getattr(o, "a", {})``, ``a or []``, ``a if c else ""``), one of
        which is a literal, the literal's type is a type ``x`` certainly may have, and its member is
        the answer (labelled syntactic: read from the assignment, not inferred)."""
        text = self._line(path, line, strip=False)
        chain = receiver(text, column)
        if not chain or not chain.isidentifier() or chain in ("self", "cls"):
            return ()
        start = text.rfind(chain, 0, column)
        for assigned in self.jedi.goto(path, line, start):
            if assigned.path != path or assigned.type != "statement":
                continue
            types = _literal_types(self._line(path, assigned.line), chain)
            found = tuple(
                replace(t, tier="syntactic")
                for kind in types
                for t in self.jedi.resolve_expression(f"builtins.{kind}.{name}", module="builtins")
                if t.name == name
            )
            if found:
                return found
        return ()

    def targets(self, name: str) -> list[Target]:
        """The definitions a name means: ``pkg.mod.func`` and ``httpx.get`` through imports and
        re-exports, ``Class.method`` through the class hierarchy, a bare name every definition."""
        parts = name.split(".")
        if len(parts) == 1:
            return [self.own_target(d.symbol.path, d.line, d.column, d.symbol.kind)
                    for d in self.scopes.definitions(name, PYTHON)]  # fmt: skip
        found: list[Target] = []
        for cut in range(len(parts) - 1, 0, -1):  # the longest importable module first
            found = [t for t in self.jedi.resolve_expression(name, module=".".join(parts[:cut])) if t.name == parts[-1]]
            if any(t.inside for t in found):
                return found
            if found:
                # jedi put ``Class.attr`` outside the repository (it does so for an Enum's methods):
                # the class's own member, read from the syntax, is the better answer
                return self._syntactic_member(".".join(parts[:-1]), ".".join(parts[:cut]), parts[-1]) or found
        for head in self.scopes.definitions(parts[0], PYTHON):  # Class.method: where Class is defined
            found += [t for t in self.jedi.resolve_expression(name, context=head.symbol.path) if t.name == parts[-1]]
        return list(dict.fromkeys(found))

    def _syntactic_member(self, owner: str, module: str, name: str) -> list[Target]:
        classes = [t for t in self.jedi.resolve_expression(owner, module=module) if t.inside and t.type == "class"]
        return [
            Target(c.path, d.line, d.column, name, "function", True, tier="syntactic")
            for c in classes
            for d in self.scopes.definitions(name, PYTHON)
            if d.symbol.path == c.path and d.symbol.parent == c.name
        ]

    def own_target(self, path: str, line: int, column: int, kind: str) -> Target:
        jedi_type = {"method": "function", "constant": "statement"}.get(kind, kind)
        name = re.match(r"\w*", self._line(path, line, strip=False)[column:])
        return Target(path, line, column, name.group() if name else "", jedi_type, inside=True)

    def location(self, target: Target, kind: str = "") -> Location:
        if target.inside:
            text, symbol = (
                self._line(target.path, target.line),
                self.scopes.enclosing_name(target.path, target.line, True),
            )
        else:
            text, symbol = _outside_line(target.path, target.line), ""
        if not kind:
            kind = _KINDS.get(target.type, target.type)
            if kind == "function" and target.inside and self._owner_class(target):
                kind = "method"
        return Location(target.path, target.line, target.column + 1, target.tier, kind, target.name, symbol, text)

    def _owner_class(self, target: Target) -> bool:
        owner = self.scopes.enclosing(target.path, target.line, below=True)
        return owner is not None and owner.kind == "class"

    # -- references -------------------------------------------------------------------------------

    def references(self, targets: list[Target]) -> list[ReferenceGroup]:
        groups = {t.key: ReferenceGroup(self.location(t)) for t in targets}
        for name in dict.fromkeys(t.name for t in targets):
            wanted = {t.key: t for t in targets if t.name == name}
            aliases = {key: key for key in wanted} | {a: t.key for t in wanted.values() for a in self._siblings(t)}
            module_level = all(self._module_level(t) for t in wanted.values())
            class_level = all(t.inside and self._owner_class(t) for t in wanted.values())
            homes = {t.path for t in wanted.values()}
            owners = {self.scopes.enclosing_name(t.path, t.line, True).rpartition(".")[2] for t in wanted.values()}
            reach = (
                frozenset().union(*(self.imports.reaching(t.path) for t in wanted.values()))
                if all(t.inside for t in wanted.values())
                else None
            )
            for occ in self.sources.occurrences(name, PYTHON):
                if (occ.path, occ.line, occ.column) in wanted or (reach is not None and occ.path not in reach):
                    continue  # the definition itself; a file its module cannot reach through imports
                text = self._line(occ.path, occ.line, strip=False)
                kind = use_kind(text, occ.column, name, occ.in_string)
                if kind == "definition":
                    continue  # an override or overload is a definition of its own (see hierarchy)
                keys = self._resolve_use(occ, name, module_level, class_level, homes, owners if class_level else set())
                for key in dict.fromkeys(aliases[k] for k in keys if k in aliases):
                    groups[key].references.append(
                        Location(
                            occ.path,
                            occ.line,
                            occ.column + 1,
                            PRECISE,
                            kind,
                            name,
                            self.scopes.enclosing_name(occ.path, occ.line),
                            text.strip(),
                        )  # fmt: skip
                    )
        return list(groups.values())

    def _resolve_use(
        self, occ: Occurrence, name: str, module_level: bool, class_level: bool, homes: set[str], owners: set[str]
    ) -> set[tuple[str, int, int]]:
        text = self._line(occ.path, occ.line, strip=False)
        if occ.in_string:
            if not self._in_dunder_all(occ) or not _whole_string(text, occ.column, name):
                return set()
            return {t.key for t in self.jedi.resolve_expression(name, context=occ.path)}
        chain = receiver(text, occ.column)
        if chain is not None and module_level:
            # a module-level definition is reached through a module: ``httpx.get``, ``pkg.mod.f``
            head = chain.split(".")[0]
            if not chain or head in ("self", "cls") or head not in self._imported(occ.path):
                return set()
        if (
            chain is None
            and class_level
            and occ.path not in homes
            and not text.lstrip().startswith(("from ", "import "))
        ):
            return set()  # a method is named bare only in its own class's body
        if chain in ("self", "cls") and class_level and owners:
            around = self.scopes.enclosing(occ.path, occ.line)
            cls = around.name if around is not None and around.kind == "class" else (around.parent if around else "")
            if cls and not self.families.may_reach(cls, owners):
                return set()  # self in a class that neither inherits nor is inherited by the owner
        return {t.key for t in self.jedi.goto(occ.path, occ.line, occ.column)}

    def _siblings(self, target: Target) -> list[tuple[str, int, int]]:
        """The other definitions of the same name in the same class: a property's getter and setter
        and a method's ``@overload`` stubs are one symbol (jedi's goto lands on any of them)."""
        owner = self.scopes.enclosing(target.path, target.line, below=True)
        source = self.sources.get(target.path)
        if owner is None or owner.kind != "class" or source is None:
            return []
        same = [
            s
            for s in self.scopes.symbols(target.path)
            if s.name == target.name and self.scopes.enclosing(target.path, s.start, below=True) == owner
        ]
        return [(target.path, d.line, d.column) for d in (locate(s, source) for s in same)]

    def _module_level(self, target: Target) -> bool:
        return target.inside and self.scopes.enclosing(target.path, target.line, below=True) is None

    def _imported(self, path: str) -> frozenset[str]:
        """Names an import statement of the file binds or mentions (module aliases included)."""
        source = self.sources.get(path)
        if source is None:
            return frozenset()
        key = (path, source.sha)
        if key not in self._imports:
            words: set[str] = set()
            for statement in re.finditer(r"^[ \t]*(?:from\s+\S+\s+)?import\s+(\([^)]*\)|[^\n]*)", source.text, re.M):
                words.update(re.findall(r"[A-Za-z_]\w*", statement.group(0)))
            self._imports[key] = frozenset(words)
        return self._imports[key]

    def _in_dunder_all(self, occ: Occurrence) -> bool:
        source = self.sources.get(occ.path)
        if source is None:
            return False
        for number in range(occ.line, max(0, occ.line - 400), -1):
            line = source.lines[number - 1]
            if re.match(r"\s*__all__\s*(\+)?=", line):
                return True
            if number != occ.line and line[:1].strip() and not line.lstrip().startswith(("]", ")", "#", '"', "'")):
                return False
        return False

    # -- calls and classes ------------------------------------------------------------------------

    def callers(self, targets: list[Target]) -> list[Call]:
        calls = []
        for group in self.references(targets):
            for site in group.references:
                if site.kind not in ("call", "decorator"):
                    continue
                after = self._line(site.path, site.line, strip=False)[site.column - 1 + len(site.name) :]
                if site.kind == "decorator" and after.lstrip().startswith("."):
                    continue  # @prop.setter uses the property's attribute; it does not call it
                owner = self.scopes.enclosing(site.path, site.line)
                if owner is None:
                    symbol = Location.module_level(site.path, PRECISE)
                else:
                    where = locate(owner, self.sources.get(site.path))  # type: ignore[arg-type]
                    symbol = self.location(self.own_target(site.path, where.line, where.column, owner.kind))
                calls.append(Call(symbol, site))
        return calls

    def callees(self, targets: list[Target]) -> list[Call]:
        calls: list[Call] = []
        for target in (t for t in targets if t.inside):
            owner = next((s for s in self.scopes.symbols(target.path) if s.name == target.name
                          and s.start <= target.line <= s.end), None)  # fmt: skip
            if owner is None:
                continue
            for number in range(target.line, owner.end + 1):
                text = self._line(target.path, number, strip=False)
                for column, name in identifiers(text):
                    if (
                        not text[column + len(name) :].lstrip().startswith("(")
                        or use_kind(text, column, name) == "definition"
                    ):
                        continue
                    site = Location(target.path, number, column + 1, PRECISE, "call", name, target.name, text.strip())
                    calls += [Call(self.location(t), site) for t in self.jedi.goto(target.path, number, column)]
        return calls

    def hierarchy(self, target: Target) -> TypeHierarchy:
        definition = self.location(target)
        result = TypeHierarchy(definition)
        if not target.inside:
            return result
        header = self._line(target.path, target.line, strip=False)
        open_at = header.find("(", target.column)
        close_at = header.rfind(")")
        if open_at >= 0:
            for column, name in identifiers(header[: close_at if close_at > open_at else len(header)]):
                after = header[column + len(name) :].lstrip()
                if column <= open_at or after.startswith((".", "=")):
                    continue  # the class's own name, a module before the base, metaclass=
                found = self.jedi.goto(target.path, target.line, column)
                result.bases += [self.location(t) for t in found]
        for group in self.references([target]):
            for site in group.references:
                if site.kind == "base":
                    sub = next(
                        (s for s in self.scopes.symbols(site.path) if s.kind == "class" and s.start == site.line), None
                    )
                    if sub is not None:
                        where = locate(sub, self.sources.get(site.path))  # type: ignore[arg-type]
                        result.subclasses.append(
                            self.location(self.own_target(site.path, where.line, where.column, "class"))
                        )
        return result

    def _line(self, path: str, line: int, strip: bool = True) -> str:
        source = self.sources.get(path)
        if source is None or not 0 < line <= len(source.lines):
            return ""
        return source.lines[line - 1].strip() if strip else source.lines[line - 1]


_LITERALS = {ast.Dict: "dict", ast.DictComp: "dict", ast.List: "list", ast.ListComp: "list", ast.Set: "set",
             ast.SetComp: "set", ast.Tuple: "tuple", ast.JoinedStr: "str"}  # fmt: skip


def _literal_types(statement: str, name: str) -> list[str]:
    """The builtin types of the literal alternatives assigned to ``name`` by a one-line statement."""
    try:
        tree = ast.parse(statement)
    except SyntaxError:
        return []
    node = tree.body[0] if tree.body else None
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    else:
        return []
    if node.value is None or not any(isinstance(t, ast.Name) and t.id == name for t in targets):
        return []
    value = node.value
    types: list[str] = []
    todo: list[ast.expr] = [value]
    while todo:
        expr = todo.pop()
        if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):
            todo += expr.values
        elif isinstance(expr, ast.IfExp):
            todo += [expr.body, expr.orelse]
        elif (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Name)
            and expr.func.id == "getattr"
            and len(expr.args) == 3
        ):
            todo.append(expr.args[2])  # the attribute, or this default when there is none
        elif isinstance(expr, ast.Constant) and isinstance(expr.value, (str, bytes)):
            types.append(type(expr.value).__name__)
        elif type(expr) in _LITERALS:
            types.append(_LITERALS[type(expr)])
    return list(dict.fromkeys(types))


def _whole_string(line: str, column: int, name: str) -> bool:
    """``"name"`` exactly: a string that is the name, not prose that contains it."""
    end = column + len(name)
    return column > 0 and end < len(line) and line[column - 1] in "\"'" and line[end] == line[column - 1]


def _outside_line(path: str, line: int) -> str:
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""
