"""An independent reference for ``classes``' composition edges, by Python's own ``ast`` (codemm reads
tree-sitter), and the reasons its differences with pyreverse's associations have.

The relation drawn is the one a class's code states: an attribute (``self.x = ...`` in a method, or
a class-level assignment) whose annotation names a class (``x: Foo``, ``list[Foo]``, ``"Foo"``,
``# type: Foo``; the annotation of the parameter it is assigned from, ``self.x = x``), or whose
value constructs one (``Foo(...)``, ``mod.Foo(...)``, ``Foo[int](...)``, ``x or Foo()``) or is
made by a function whose return annotation states it (``self._make()`` with ``-> Foo``); and a
ctypes structure's ``_fields_`` types. ``type[Foo]``, ``Callable[..., Foo]`` and
``ClassVar[Foo]`` hold no Foo. Names resolve through the module's imports and re-exports.

pyreverse draws a different relation: the types astroid *infers* for each attribute's values. So it
draws the subclasses a factory may return (``self.output = create_output()`` -> ``Vt100_Output``,
``Win32Output``...) and misses what only an annotation says (``self.style = style`` with
``style: BaseStyle``). ``explain`` sorts each difference by which of these it is, checked against
the source, and leaves the rest as unexplained.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

Pairs = set[tuple[str, str]]
NOT_HELD = {"type", "Type", "Callable", "ClassVar"}
MAX_HOPS = 8


@dataclass
class Module:
    name: str
    is_package: bool
    tree: ast.Module
    classes: dict[str, str] = field(default_factory=dict)
    """Top-level class name -> its full name (nested classes are under their outer class's)."""
    aliases: dict[str, str] = field(default_factory=dict)
    functions: dict[str, ast.expr] = field(default_factory=dict)
    """Module-level function -> its return annotation."""
    imports: dict[str, str] = field(default_factory=dict)
    """Local name -> the dotted thing it names (a module, or module.name); a module-level alias
    (``HTTPError = HTTPClientError``) too."""


def modules_of(package: Path) -> dict[str, Module]:
    found: dict[str, Module] = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        try:
            tree = ast.parse(path.read_bytes(), type_comments=True)
        except SyntaxError:
            continue
        found[".".join(parts)] = Module(".".join(parts), is_package, tree)
    for module in found.values():
        for node in _module_level_statements(module.tree.body):
            if isinstance(node, ast.ClassDef):
                module.classes[node.name] = f"{module.name}.{node.name}"
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                if _dotted(node.value):
                    module.aliases[node.targets[0].id] = _dotted(node.value)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
                module.functions[node.name] = node.returns
        for imp in ast.walk(module.tree):
            if isinstance(imp, ast.Import):
                for alias in imp.names:
                    if alias.asname:
                        module.imports[alias.asname] = alias.name
                    else:
                        head = alias.name.partition(".")[0]
                        module.imports.setdefault(head, head)
            elif isinstance(imp, ast.ImportFrom):
                base = _absolute(module, imp)
                for alias in imp.names:
                    module.imports[alias.asname or alias.name] = f"{base}.{alias.name}"
    return found


def _module_level_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements run at module level: inside ``if TYPE_CHECKING:``, ``try:`` and the like too."""
    found: list[ast.stmt] = []
    for node in body:
        found.append(node)
        if isinstance(node, ast.If):
            found += _module_level_statements(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            found += _module_level_statements(node.body + node.orelse + node.finalbody
                                              + [s for h in node.handlers for s in h.body])  # fmt: skip
    return found


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    here = module.name if module.is_package else module.name.rpartition(".")[0]
    for _ in range(node.level - 1):
        here = here.rpartition(".")[0]
    return f"{here}.{node.module}" if node.module else here


def resolve(dotted: str, where: str, modules: dict[str, Module], classes: set[str], hops: int = 0) -> str:
    """The package class ``dotted`` names as written in module ``where`` ("" when none)."""
    module = modules.get(where)
    if module is None or hops > MAX_HOPS:
        return ""
    head, _, rest = dotted.partition(".")
    if head in module.classes:
        found = module.classes[head] + (f".{rest}" if rest else "")
        return found if found in classes else ""
    if head in module.aliases and module.aliases[head] != head:
        return resolve(module.aliases[head] + (f".{rest}" if rest else ""), where, modules, classes, hops + 1)
    if head not in module.imports:
        return ""
    return absolute_class(module.imports[head] + (f".{rest}" if rest else ""), modules, classes, hops + 1)


def absolute_class(dotted: str, modules: dict[str, Module], classes: set[str], hops: int = 0) -> str:
    """``pkg.mod.Class`` (or a re-export: ``pkg.Class``) as the class's full name."""
    if dotted in classes:
        return dotted
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the longest prefix that is a module, the rest inside it
        where = ".".join(parts[:cut])
        if where in modules:
            return resolve(".".join(parts[cut:]), where, modules, classes, hops)
    return ""


def composition(package: Path) -> Pairs:
    """(owner, part) class pairs, as the module docstring defines them."""
    modules = modules_of(package)
    nodes = {name: (m.name, node) for m in modules.values() for name, node in _class_nodes(m)}
    classes = set(nodes)
    edges: Pairs = set()
    for module in modules.values():
        for owner, node in _class_nodes(module):
            for written in _parts(node):
                part = resolve(written, module.name, modules, classes)
                found = [part] if part else _returned(written, owner, nodes, modules)
                edges |= {(owner, p) for p in found if p != owner}
    return edges


def _returned(written: str, owner: str, nodes: dict[str, tuple[str, ast.ClassDef]],
              modules: dict[str, Module]) -> list[str]:  # fmt: skip
    """The package classes the return annotation of the function ``written`` states: ``self.m``
    (the owner's method, or its nearest base's), or a function of the module or imported into it."""
    classes = set(nodes)
    head, _, name = written.rpartition(".")
    if head == "self":
        lineage = [owner]
        for cls in lineage:
            where, node = nodes[cls]
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == name:
                    if item.returns is None:
                        return []
                    names = _annotation_names(item.returns)
                    return [c for c in (resolve(n, where, modules, classes) for n in names) if c]
            for base in node.bases:
                base_expr = base.value if isinstance(base, ast.Subscript) else base
                found = resolve(_dotted(base_expr), where, modules, classes)
                if found and found not in lineage and len(lineage) < MAX_HOPS:
                    lineage.append(found)
        return []
    where = nodes[owner][0]
    for _ in range(MAX_HOPS):
        module = modules[where]
        first, _, rest = written.partition(".")
        if not rest and first in module.functions:
            names = _annotation_names(module.functions[first])
            return [c for c in (resolve(n, where, modules, classes) for n in names) if c]
        target = module.aliases.get(first) or module.imports.get(first)
        if target is None:
            return []
        dotted = target + (f".{rest}" if rest else "")
        parts = dotted.split(".")
        cut = next((i for i in range(len(parts) - 1, 0, -1) if ".".join(parts[:i]) in modules), 0)
        if not cut:
            return []
        where, written = ".".join(parts[:cut]), ".".join(parts[cut:])
    return []


def _class_nodes(module: Module) -> list[tuple[str, ast.ClassDef]]:
    """Module-level classes and the classes nested in them (not those local to a function)."""
    found = []
    stack: list[tuple[str, ast.stmt]] = [(module.name, n) for n in _module_level_statements(module.tree.body)]
    while stack:
        prefix, node = stack.pop()
        if isinstance(node, ast.ClassDef):
            name = f"{prefix}.{node.name}"
            found.append((name, node))
            stack += [(name, n) for n in node.body]
    return found


def _parts(cls: ast.ClassDef) -> list[str]:
    written: list[str] = []
    for statement in cls.body:
        if isinstance(statement, ast.AnnAssign):
            written += _annotation_names(statement.annotation)
            written += _constructed(statement.value)
        elif isinstance(statement, ast.Assign):
            written += _constructed(statement.value) + _comment_names(statement.type_comment)
            fields = [t for t in statement.targets if isinstance(t, ast.Name) and t.id == "_fields_"]
            if fields and isinstance(statement.value, ast.List):  # ctypes: _fields_ = [("x", COORD)]
                written += [_dotted(e.elts[1]) for e in statement.value.elts
                            if isinstance(e, ast.Tuple) and len(e.elts) >= 2 and _dotted(e.elts[1])]  # fmt: skip
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            params = {a.arg: a.annotation for a in _arguments(statement.args) if a.annotation is not None}
            for node in ast.walk(statement):
                if isinstance(node, ast.AnnAssign) and _on_self(node.target):
                    written += _annotation_names(node.annotation) + _constructed(node.value)
                elif isinstance(node, ast.Assign) and any(_on_self(t) for t in node.targets):
                    written += _constructed(node.value) + _comment_names(node.type_comment)
                    if isinstance(node.value, ast.Name) and node.value.id in params:
                        written += _annotation_names(params[node.value.id])
    return written


def _arguments(args: ast.arguments) -> list[ast.arg]:
    return [*args.posonlyargs, *args.args, *args.kwonlyargs]


def _on_self(target: ast.expr) -> bool:
    return isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"


def _comment_names(comment: str | None) -> list[str]:
    if not comment or comment.startswith("ignore"):
        return []
    try:
        return _annotation_names(ast.parse(comment, mode="eval").body)
    except SyntaxError:
        return []


def _constructed(value: ast.expr | None) -> list[str]:
    """``Foo(...)``, and either side of ``x or Foo()`` and ``Foo() if c else x``."""
    if isinstance(value, ast.BoolOp):
        return [name for v in value.values for name in _constructed(v)]
    if isinstance(value, ast.IfExp):
        return _constructed(value.body) + _constructed(value.orelse)
    if not isinstance(value, ast.Call):
        return []
    function = value.func.value if isinstance(value.func, ast.Subscript) else value.func
    name = _dotted(function)
    return [name] if name else []


def _annotation_names(annotation: ast.expr) -> list[str]:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return []
    if isinstance(annotation, ast.Subscript):
        head = _dotted(annotation.value).rpartition(".")[2]
        if head in NOT_HELD:
            return []
        return _annotation_names(annotation.value) + _annotation_names(annotation.slice)
    name = _dotted(annotation)
    if name:
        return [name]
    found: list[str] = []
    for child in ast.iter_child_nodes(annotation):
        if isinstance(child, ast.expr):
            found += _annotation_names(child)
    return found


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


# -- why pyreverse differs ---------------------------------------------------------------------


def explain(ours: Pairs, pyreverse: Pairs, declared: Pairs, package: Path, inherits: Pairs) -> dict[str, object]:
    """Each edge only one side draws, with its reason where the source shows one:

    - codemm only, and declared (the ``ast`` reference has it): pyreverse infers values and does
      not read the annotation that states it;
    - pyreverse only, a self-loop, or a class local to a function: not a class diagram's edge;
    - pyreverse only, the part's name written nowhere in the owner class's source: an inferred
      runtime type (a factory's return, a subclass), which no reading of the code states;
    - pyreverse only, a subclass (by pyreverse's own inheritance, ``inherits``) of a part codemm
      draws for the same owner: the runtime type of what the code declares as the base;
    - pyreverse only, the owner holds the class itself (``request_class = Request``,
      ``type[TestResponse]``) and never makes one: a class object is not a part;
    - the rest: unexplained (counted against codemm).
    """
    modules = modules_of(package)
    sources = {name: ast.get_source_segment(_text(package, m), node) or ""
               for m in modules.values() for name, node in _class_nodes(m)}  # fmt: skip
    reasons: dict[str, list[tuple[str, str]]] = {"annotation only": [], "self-loop or local class": [],
                                                 "inferred, not written": [], "subclass of the declared": [],
                                                 "holds the class itself": [],
                                                 "unexplained": []}  # fmt: skip
    for a, b in sorted(ours - pyreverse):
        reasons["annotation only" if (a, b) in declared else "unexplained"].append((a, b))
    bases: dict[str, set[str]] = {}
    for child, base in inherits:
        bases.setdefault(child, set()).add(base)

    def ancestors(cls: str) -> set[str]:
        seen, todo = set(), [cls]
        while todo:
            for base in bases.get(todo.pop(), ()):
                if base not in seen:
                    seen.add(base)
                    todo.append(base)
        return seen

    for a, b in sorted(pyreverse - ours):
        if a == b or a not in sources or b.rpartition(".")[0] not in sources and not _module_level(b, modules):
            reasons["self-loop or local class"].append((a, b))
        elif b.rpartition(".")[2] not in sources[a]:
            reasons["inferred, not written"].append((a, b))
        elif ancestors(b) & {part for owner, part in ours if owner == a}:
            reasons["subclass of the declared"].append((a, b))
        elif _holds_class(sources[a], b.rpartition(".")[2]):
            reasons["holds the class itself"].append((a, b))
        else:
            reasons["unexplained"].append((a, b))
    ours_wrong = [e for e in reasons["unexplained"] if e in ours]
    missed = [e for e in reasons["unexplained"] if e not in ours]
    agreed = len(ours & pyreverse)
    return {
        "counts": {k: len(v) for k, v in reasons.items()},
        "examples": {k: [f"{a} -> {b}" for a, b in v[:40]] for k, v in reasons.items()},
        # Scored with the explained differences taken as the reference's: what is left is codemm's.
        "precision_explained": round((len(ours) - len(ours_wrong)) / len(ours), 4) if ours else 1.0,
        "recall_explained": round(agreed / (agreed + len(missed)), 4) if agreed + len(missed) else 1.0,
    }


def _holds_class(source: str, name: str) -> bool:
    """The class is assigned as a value or held as ``type[...]``, and never called."""
    word = re.escape(name)
    if re.search(rf"\b{word}\s*(\[[^\]]*\])?\s*\(", source):
        return False
    held = rf"=\s*([\w.]+\.)?{word}\s*($|[,)\n#])|\btype\[\s*[\"']?([\w.]+\.)?{word}\b"
    return re.search(held, source, re.MULTILINE) is not None


def _module_level(name: str, modules: dict[str, Module]) -> bool:
    module, _, cls = name.rpartition(".")
    return module in modules and cls in modules[module].classes


_TEXTS: dict[tuple[Path, str], str] = {}


def _text(package: Path, module: Module) -> str:
    key = (package, module.name)
    if key not in _TEXTS:
        relative = module.name.split(".")[1:]
        if module.is_package:
            path = package.joinpath(*relative, "__init__.py")
        else:
            path = package.joinpath(*relative[:-1], relative[-1] + ".py")
        _TEXTS[key] = path.read_text(encoding="utf-8", errors="replace")
    return _TEXTS[key]
