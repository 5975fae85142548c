"""``classes``: inheritance and composition, read from the syntax (tree-sitter).

Python names are resolved through each module's imports, as the interpreter would bind them
(``from .web import RequestHandler`` re-exported by a package is followed to its definition).
Composition is what the syntax says: ``self.x = Cls(...)`` and annotations (``x: Cls``,
``self.x: Cls | None``). Java, TypeScript/JavaScript and C++ bases are matched by name to the
repository's classes (same file first, then a unique name), a base found nowhere is external.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from codemm.diagram.graph import Edge, Graph, Node, restrict, with_externals
from codemm.diagram.imports import _text, _walk
from codemm.diagram.source import Repo
from codemm.errors import BadInputError
from codemm.repo.languages import parser

CLASS_NODES = {"python": {"class_definition"}, "java": {"class_declaration", "interface_declaration",
               "enum_declaration", "record_declaration"}, "typescript": {"class_declaration",
               "abstract_class_declaration", "interface_declaration"}, "tsx": {"class_declaration",
               "abstract_class_declaration", "interface_declaration"}, "javascript": {"class_declaration", "class"},
               "cpp": {"class_specifier", "struct_specifier"}}  # fmt: skip
MAX_HOPS = 8


@dataclass
class ClassInfo:
    id: str
    name: str
    path: str
    line: int
    module: str
    bases: list[tuple[str, int]] = field(default_factory=list)
    """(the base as written, its line)"""
    parts: list[tuple[str, int]] = field(default_factory=list)
    """Types of attributes (constructed or annotated), as written; or the function that makes the
    value (``self._create_layout``, ``to_formatted_text``), whose return annotation says the type."""
    members: list[str] = field(default_factory=list)
    returns: dict[str, list[str]] = field(default_factory=dict)
    """Python: method -> the types its return annotation states (``-> Layout``), as written."""


@dataclass
class Scope:
    """What a Python module's top-level names are bound to."""

    classes: dict[str, str] = field(default_factory=dict)
    """name -> class id"""
    imported: dict[str, tuple[str, str]] = field(default_factory=dict)
    """name -> (module id, name in it; "" when the name is the module itself)"""
    aliases: dict[str, str] = field(default_factory=dict)
    """``HTTPError = HTTPClientError`` at module level: name -> the name as written"""
    functions: dict[str, list[str]] = field(default_factory=dict)
    """module-level function -> the types its return annotation states, as written"""


def class_graph(repo: Repo, target: str = "", depth: int = 0, members: bool = False,
                externals: bool = False) -> Graph:  # fmt: skip
    classes, scopes = collect(repo)
    graph = Graph("classes")
    for info in classes.values():
        package = info.module
        graph.add_node(Node(info.id, info.name, "class", info.path, info.line, group=package,
                            members=info.members if members else []))  # fmt: skip
    by_name: dict[str, list[str]] = defaultdict(list)
    for info in classes.values():
        by_name[info.name].append(info.id)
    outside: list[Edge] = []
    for info in classes.values():
        for written, line in info.bases:
            found = _resolve(written, info, classes, scopes, by_name)
            if found:
                graph.add_edge(Edge(info.id, found, "inherits", info.path, line))
            else:
                outside.append(Edge(info.id, written, "inherits", info.path, line))
        for written, line in info.parts:
            found = _resolve(written, info, classes, scopes, by_name)
            for part in [found] if found else _returned(written, info, classes, scopes, by_name):
                graph.add_edge(Edge(info.id, part, "composes", info.path, line))
    graph = restrict(graph, _roots(repo, classes, target), depth)
    return with_externals(graph, outside) if externals else graph


def _roots(repo: Repo, classes: dict[str, ClassInfo], target: str) -> set[str]:
    target = target.strip()
    named = {c.id for c in classes.values() if target and (c.id == target or c.name == target
             or c.id.endswith("." + target))}  # fmt: skip
    if named:
        return named
    modules = repo.select(target)
    found = {c.id for c in classes.values() if c.module in modules}
    if not found:
        raise BadInputError(f"no classes in {target or 'the repository'}")
    return found


def collect(repo: Repo) -> tuple[dict[str, ClassInfo], dict[str, Scope]]:
    classes: dict[str, ClassInfo] = {}
    scopes: dict[str, Scope] = {}
    for path in sorted(repo.language):
        language = repo.language[path]
        if language not in CLASS_NODES:
            continue
        module = repo.table.id_of[path]
        source = repo.source(path)
        root = parser(language).parse(source).root_node
        scope = scopes.setdefault(module, Scope())
        if language == "python":
            _python_scope(repo, path, scope)
            scope.aliases.update(_python_aliases_of_classes(root, source))
            scope.functions.update(_python_functions(root, source))
        for info in _classes(root, source, language, path, module):
            classes.setdefault(info.id, info)
            if info.id.count(".") == module.count(".") + 1:
                scope.classes[info.name] = info.id
    return classes, scopes


def _python_scope(repo: Repo, path: str, scope: Scope) -> None:
    table = repo.table
    for imp in repo.imports(path):
        if imp.names:
            found, _ = table.resolve(path, type(imp)(imp.target, imp.line, (), imp.level))
            base = found[0] if found else ""
            for name in imp.names:
                sub = f"{base}.{name}"
                if base and sub in table.path_of:
                    scope.imported.setdefault(name, (sub, ""))
                elif base:
                    scope.imported.setdefault(name, (base, name))
        else:
            found, _ = table.resolve(path, imp)
            head = imp.target.partition(".")[0]
            if found and head in table.path_of:
                scope.imported.setdefault(head, (head, ""))
    # aliases (`import a.b as c`, `from x import y as z`) are read from the source below
    for alias, module, name in _python_aliases(repo, path):
        scope.imported[alias] = (module, name)


def _python_aliases(repo: Repo, path: str) -> Iterator[tuple[str, str, str]]:
    source = repo.source(path)
    root = parser("python").parse(source).root_node
    for node in _walk(root, {"import_statement", "import_from_statement"}):
        for name in node.children_by_field_name("name"):
            if name.type != "aliased_import":
                continue
            alias = _text(source, name.child_by_field_name("alias"))
            real = _text(source, name.child_by_field_name("name"))
            for imp in repo.imports(path):
                if imp.line == node.start_point[0] + 1 and (real in imp.names or imp.target == real):
                    if imp.names:
                        found, _ = repo.table.resolve(path, type(imp)(imp.target, imp.line, (), imp.level))
                        if found:
                            sub = f"{found[0]}.{real}"
                            yield (alias, sub, "") if sub in repo.table.path_of else (alias, found[0], real)
                    else:
                        found, _ = repo.table.resolve(path, imp)
                        if found:
                            yield alias, found[0], ""
                    break


def _python_aliases_of_classes(root: Any, source: bytes) -> Iterator[tuple[str, str]]:
    for statement in root.named_children:
        assign = statement.named_children[0] if statement.type == "expression_statement" else None
        if assign is None or assign.type != "assignment":
            continue
        left, right = assign.child_by_field_name("left"), assign.child_by_field_name("right")
        if left is not None and right is not None and left.type == "identifier" and right.type in (
            "identifier", "attribute"):  # fmt: skip
            yield _text(source, left), _text(source, right)


def _classes(root: Any, source: bytes, language: str, path: str, module: str) -> Iterator[ClassInfo]:
    kinds = CLASS_NODES[language]
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        node, outer = stack.pop()
        for child in reversed(node.children):
            if child.type in kinds:
                name_node = child.child_by_field_name("name")
                if name_node is None:
                    continue
                name = _text(source, name_node)
                qual = f"{outer}.{name}" if outer else name
                info = ClassInfo(f"{module}.{qual}", name, path, child.start_point[0] + 1, module)
                _fill(info, child, source, language)
                yield info
                body = child.child_by_field_name("body")
                if body is not None:
                    stack.append((body, qual))
            elif child.type in ("function_definition", "method_declaration", "function_declaration"):
                name_node = child.child_by_field_name("name")  # a class made inside a function: Outer.f.Cls
                inner = _text(source, name_node) if name_node is not None else ""
                stack.append((child, f"{outer}.{inner}" if outer else inner))
            else:
                stack.append((child, outer))


def _fill(info: ClassInfo, node: Any, source: bytes, language: str) -> None:
    if language == "python":
        _fill_python(info, node, source)
        return
    for child in node.children:
        if child.type in ("superclass", "super_interfaces", "class_heritage", "base_class_clause",
                          "extends_interfaces", "extends_clause", "implements_clause"):  # fmt: skip
            for ref in _walk(child, {"type_identifier", "identifier", "member_expression", "qualified_identifier",
                                     "scoped_type_identifier", "generic_type"}):  # fmt: skip
                if ref.type == "generic_type":
                    ref = ref.named_children[0]
                info.bases.append((_text(source, ref), ref.start_point[0] + 1))
    body = node.child_by_field_name("body")
    for member in _walk(body, {"method_definition", "method_declaration", "function_definition"}) if body else []:
        name = member.child_by_field_name("name") or member.child_by_field_name("declarator")
        if name is not None:
            info.members.append(_text(source, name).split("(")[0] + "()")


def _fill_python(info: ClassInfo, node: Any, source: bytes) -> None:
    supers = node.child_by_field_name("superclasses")
    for arg in supers.named_children if supers is not None else []:
        if arg.type == "subscript":  # Generic[T], Base[int]
            arg = arg.child_by_field_name("value")
        if arg is not None and arg.type in ("identifier", "attribute"):
            info.bases.append((_text(source, arg), arg.start_point[0] + 1))
    body = node.child_by_field_name("body")
    if body is None:
        return
    for statement in body.named_children:
        target = statement.child_by_field_name("definition") if statement.type == "decorated_definition" else statement
        if target is not None and target.type == "function_definition":
            name = _text(source, target.child_by_field_name("name"))
            info.members.append(f"{name}()")
            returned = target.child_by_field_name("return_type")
            if returned is not None:
                info.returns[name] = list(_type_names(returned, source))
            params = _typed_parameters(target, source)
            for assign in _walk(target, {"assignment"}):
                _python_part(info, assign, source, in_method=True, params=params)
        elif statement.type == "expression_statement" and statement.named_children:
            first = statement.named_children[0]
            if first.type == "assignment":
                _python_part(info, first, source, in_method=False)


def _python_functions(root: Any, source: bytes) -> Iterator[tuple[str, list[str]]]:
    """Module-level functions with a return annotation: (name, the types it states)."""
    for statement in root.named_children:
        target = statement.child_by_field_name("definition") if statement.type == "decorated_definition" else statement
        if target is not None and target.type == "function_definition":
            returned = target.child_by_field_name("return_type")
            if returned is not None:
                yield _text(source, target.child_by_field_name("name")), list(_type_names(returned, source))


def _returned(written: str, info: ClassInfo, classes: dict[str, ClassInfo], scopes: dict[str, Scope],
              by_name: dict[str, list[str]]) -> list[str]:  # fmt: skip
    """The classes a call's return annotation states, when ``written`` is the function a value is
    made by: ``self.method`` (this class's or a base's), a function of the module, or one imported."""
    if not info.path.endswith((".py", ".pyi")):
        return []
    head, _, name = written.rpartition(".")
    if head == "self":
        lineage, seen = [info], {info.id}
        for owner in lineage:  # this class, then its bases, nearest first: the first that defines it
            if f"{name}()" in owner.members:
                returned = owner.returns.get(name, [])  # unannotated: it says nothing
                return [c for w in returned if (c := _resolve(w, owner, classes, scopes, by_name))]
            for base, _ in owner.bases:
                found = _resolve(base, owner, classes, scopes, by_name)
                if found and found not in seen and len(lineage) < MAX_HOPS:
                    seen.add(found)
                    lineage.append(classes[found])
        return []
    where, function = info.module, written
    for _ in range(MAX_HOPS):  # through imports and re-exports to the module that defines it
        scope = scopes.get(where)
        if scope is None:
            return []
        first, _, rest = function.partition(".")
        if not rest and first in scope.functions:
            return [c for w in scope.functions[first] if (c := _resolve_python(w, where, classes, scopes))]
        if first not in scope.imported:
            return []
        where, imported = scope.imported[first]
        function = ".".join(n for n in (imported, rest) if n)
    return []


def _typed_parameters(function: Any, source: bytes) -> dict[str, Any]:
    """A method's annotated parameters: name -> its type node (``self.x = x`` takes x's type)."""
    found = {}
    parameters = function.child_by_field_name("parameters")
    for param in parameters.named_children if parameters is not None else []:
        annotation = param.child_by_field_name("type")
        if param.type in ("typed_parameter", "typed_default_parameter") and annotation is not None:
            name = param.child_by_field_name("name") or next(
                (c for c in param.named_children if c.type == "identifier"), None)  # fmt: skip
            if name is not None:
                found[_text(source, name)] = annotation
    return found


NOT_HELD = {"type", "Type", "Callable", "ClassVar"}
"""``type[X]`` holds a class, not an X; ``Callable[..., X]`` makes one later; a ClassVar is shared."""


def _type_names(annotation: Any, source: bytes) -> Iterator[str]:
    """The names an annotation says the attribute holds (quoted forward references included)."""
    if annotation.type in ("generic_type", "subscript"):
        head = annotation.child_by_field_name("value") or annotation.named_children[0]
        if _text(source, head).rpartition(".")[2] in NOT_HELD:
            return
    if annotation.type == "string":
        yield from re.findall(r"[A-Za-z_][\w.]*", _text(source, annotation).strip("\"'"))
    elif annotation.type in ("identifier", "attribute"):
        yield _text(source, annotation)
    else:
        for child in annotation.named_children:
            yield from _type_names(child, source)


def _python_part(info: ClassInfo, assign: Any, source: bytes, in_method: bool,
                 params: dict[str, Any] | None = None) -> None:  # fmt: skip
    left = assign.child_by_field_name("left")
    if left is None:
        return
    if in_method:
        if left.type != "attribute" or _text(source, left.child_by_field_name("object")) != "self":
            return
        attribute = _text(source, left.child_by_field_name("attribute"))
    elif left.type == "identifier":
        attribute = _text(source, left)
    else:
        return
    if not in_method and f"{attribute}" not in info.members:
        info.members.append(attribute)
    right = assign.child_by_field_name("right")
    if not in_method and attribute == "_fields_" and right is not None and right.type == "list":
        for field_spec in right.named_children:  # ctypes: _fields_ = [("size", COORD), ...]
            kinds = field_spec.named_children if field_spec.type == "tuple" else []
            if len(kinds) >= 2 and kinds[1].type in ("identifier", "attribute"):
                info.parts.append((_text(source, kinds[1]), field_spec.start_point[0] + 1))
    annotation = assign.child_by_field_name("type")
    line = assign.start_point[0] + 1
    if annotation is None and right is not None and right.type == "identifier" and params:
        annotation = params.get(_text(source, right))
    if annotation is not None:
        info.parts += [(name, line) for name in _type_names(annotation, source)]
    end = source.find(b"\n", assign.end_byte)
    last = source[assign.end_byte : end if end >= 0 else len(source)].decode("utf-8", errors="replace")
    comment = _TYPE_COMMENT.search(last)  # `# type: Foo`, after the statement's last line
    if annotation is None and comment and not comment[1].startswith("ignore"):
        info.parts += [(name, line) for name in _comment_type_names(comment[1])]
    for call in _made(right):
        function = call.child_by_field_name("function")
        if function is not None and function.type == "subscript":  # a generic made: environ_property[str](...)
            function = function.child_by_field_name("value")
        if function is not None and function.type in ("identifier", "attribute"):
            info.parts.append((_text(source, function), line))


def _comment_type_names(written: str) -> list[str]:
    """A type comment's names, read as an annotation is (``_type_names``: ``Type[...]`` and
    ``Callable[...]`` hold none)."""
    text = written.encode()
    statement = parser("python").parse(text).root_node.named_children
    expression = statement[0].named_children if statement and statement[0].type == "expression_statement" else []
    return list(_type_names(expression[0], text)) if expression else []


_TYPE_COMMENT = re.compile(r"#\s*type:\s*([^#]+?)\s*(#.*)?$")
_EITHER = {"boolean_operator", "conditional_expression", "parenthesized_expression"}


def _made(value: Any) -> Iterator[Any]:
    """The calls a value is made by: ``Foo()``, and either side of ``x or Foo()``, ``Foo() if c else x``."""
    if value is None:
        return
    if value.type == "call":
        yield value
    elif value.type in _EITHER:
        for child in value.named_children:
            yield from _made(child)


def _resolve(written: str, info: ClassInfo, classes: dict[str, ClassInfo], scopes: dict[str, Scope],
             by_name: dict[str, list[str]]) -> str:  # fmt: skip
    written = written.replace("::", ".").split("<")[0]
    if info.path.endswith((".py", ".pyi")):
        enclosing = info.id.rpartition(".")[0]
        while "." not in written and enclosing != info.module:  # a class beside it in a function or class
            if f"{enclosing}.{written}" in classes and f"{enclosing}.{written}" != info.id:
                return f"{enclosing}.{written}"
            enclosing = enclosing.rpartition(".")[0]
        return _resolve_python(written, info.module, classes, scopes)
    name = written.rpartition(".")[2]
    same_file = [c for c in by_name.get(name, []) if classes[c].path == info.path and c != info.id]
    if same_file:
        return same_file[0]
    found = [c for c in by_name.get(name, []) if c != info.id]
    return found[0] if len(found) == 1 else ""


def _resolve_python(
    written: str, module: str, classes: dict[str, ClassInfo], scopes: dict[str, Scope], hops: int = 0
) -> str:
    head, *rest = written.split(".")
    scope = scopes.get(module)
    if scope is None:
        return ""
    if not rest and head in scope.classes:
        return scope.classes[head]
    if head in scope.aliases and scope.aliases[head] != written and hops < MAX_HOPS:
        return _resolve_python(".".join([scope.aliases[head], *rest]), module, classes, scopes, hops + 1)
    if head not in scope.imported:
        return ""
    where, name = scope.imported[head]
    chain = [name, *rest] if name else rest
    for _ in range(MAX_HOPS):
        if not chain:
            return ""
        if len(chain) > 1 and f"{where}.{chain[0]}" in scopes:  # a submodule
            where, chain = f"{where}.{chain[0]}", chain[1:]
            continue
        candidate = f"{where}.{'.'.join(chain)}"
        if candidate in classes:
            return candidate
        other = scopes.get(where)
        if other is not None and chain[0] in other.aliases and hops < MAX_HOPS:
            return _resolve_python(".".join([other.aliases[chain[0]], *chain[1:]]), where, classes, scopes, hops + 1)
        if other is None or chain[0] not in other.imported:
            return ""
        where, first = other.imported[chain[0]]
        chain = ([first] if first else []) + chain[1:]
    return ""
