"""What each file imports, read from its syntax tree (tree-sitter, the grammars the index uses).

Each language's import statements become ``Import(target, line, names, level)``; the module graph
(``codemm.diagram.modules``) resolves them to repository files. Nothing is guessed: a dynamic
import (``importlib.import_module(name)``) is not an edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from codemm.repo.languages import parser


@dataclass(frozen=True)
class Import:
    target: str
    """Python: the dotted module (without the leading dots); JS/TS, C/C++, Go: the quoted path;
    Rust: the ``use`` path with ``::``; Java: the dotted class name."""
    line: int
    names: tuple[str, ...] = ()
    """Python ``from X import a, b``: the names, each possibly a submodule."""
    level: int = 0
    """Python: the leading dots of a relative import."""
    local: bool = True
    """C/C++: ``#include "x"`` (True) or ``<x>`` (False)."""


def imports_of(source: bytes, language: str) -> list[Import]:
    tree = parser(language).parse(source)
    walker = WALKERS.get(language)
    return list(walker(tree.root_node, source)) if walker else []


def _text(source: bytes, node: Any) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8", errors="replace")


def _walk(node: Any, types: set[str]) -> Iterator[Any]:
    """Every descendant of one of ``types`` (not below it), iteratively."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type in types:
            yield current
            continue
        stack.extend(reversed(current.children))


def _python(root: Any, source: bytes) -> Iterator[Import]:
    for node in _walk(root, {"import_statement", "import_from_statement", "future_import_statement"}):
        line = node.start_point[0] + 1
        if node.type == "import_statement":
            for name in node.children_by_field_name("name"):
                dotted = name.child_by_field_name("name") if name.type == "aliased_import" else name
                yield Import(_text(source, dotted), line)
        elif node.type == "import_from_statement":
            module = node.child_by_field_name("module_name")
            level, target = 0, ""
            if module is not None and module.type == "relative_import":
                for child in module.children:
                    if child.type == "import_prefix":
                        level = _text(source, child).count(".")
                    elif child.type == "dotted_name":
                        target = _text(source, child)
            elif module is not None:
                target = _text(source, module)
            names = []
            for name in node.children_by_field_name("name"):
                dotted = name.child_by_field_name("name") if name.type == "aliased_import" else name
                names.append(_text(source, dotted))
            yield Import(target, line, tuple(names), level)


def _string_value(source: bytes, node: Any) -> str:
    return _text(source, node).strip("\"'`")


def _javascript(root: Any, source: bytes) -> Iterator[Import]:
    for node in _walk(root, {"import_statement", "export_statement", "call_expression"}):
        line = node.start_point[0] + 1
        if node.type in ("import_statement", "export_statement"):
            src = node.child_by_field_name("source")
            if src is not None:
                yield Import(_string_value(source, src), line)
            elif node.type == "export_statement":  # export class ... may hold require calls
                yield from _javascript_calls(node, source)
        else:
            yield from _javascript_calls(node, source)


def _javascript_calls(node: Any, source: bytes) -> Iterator[Import]:
    for call in _walk(node, {"call_expression"}):
        function = call.child_by_field_name("function")
        args = call.child_by_field_name("arguments")
        if function is None or args is None:
            continue
        name = _text(source, function)
        strings = [a for a in args.named_children if a.type == "string"]
        if name in ("require", "import") and len(args.named_children) == 1 and strings:
            yield Import(_string_value(source, strings[0]), call.start_point[0] + 1)
        for child in args.named_children:  # nested calls: f(require("x"))
            yield from _javascript_calls(child, source)


def _go(root: Any, source: bytes) -> Iterator[Import]:
    for node in _walk(root, {"import_spec"}):
        path = node.child_by_field_name("path")
        if path is not None:
            yield Import(_string_value(source, path), node.start_point[0] + 1)


def _rust(root: Any, source: bytes) -> Iterator[Import]:
    for node in _walk(root, {"use_declaration", "mod_item"}):
        line = node.start_point[0] + 1
        if node.type == "mod_item":
            name = node.child_by_field_name("name")
            if name is not None and node.child_by_field_name("body") is None:  # `mod x;` is a file
                yield Import("self::" + _text(source, name), line, names=("mod",))
            continue
        argument = node.child_by_field_name("argument")
        if argument is None:
            continue
        for path in _rust_paths(source, argument, ""):
            yield Import(path, line)


def _rust_paths(source: bytes, node: Any, prefix: str) -> Iterator[str]:
    """``use a::{b, c::d}`` -> a::b, a::c::d (the last part may be an item, not a module)."""
    if node.type == "scoped_use_list":
        path = node.child_by_field_name("path")
        base = prefix + (_text(source, path) + "::" if path is not None else "")
        lst = node.child_by_field_name("list")
        for child in lst.named_children if lst is not None else []:
            yield from _rust_paths(source, child, base)
    elif node.type == "use_list":
        for child in node.named_children:
            yield from _rust_paths(source, child, prefix)
    elif node.type == "use_as_clause":
        path = node.child_by_field_name("path")
        if path is not None:
            yield prefix + _text(source, path)
    elif node.type == "use_wildcard":
        yield prefix + _text(source, node).removesuffix("::*").removesuffix("*")
    else:
        yield prefix + _text(source, node)


def _java(root: Any, source: bytes) -> Iterator[Import]:
    for node in _walk(root, {"import_declaration"}):
        names = [c for c in node.named_children if c.type in ("scoped_identifier", "identifier")]
        if names and not any(c.type == "asterisk" for c in node.children):
            yield Import(_text(source, names[0]), node.start_point[0] + 1)


def _c(root: Any, source: bytes) -> Iterator[Import]:
    for node in _walk(root, {"preproc_include"}):
        path = node.child_by_field_name("path")
        if path is not None:
            text = _text(source, path)
            yield Import(text.strip('"<>'), node.start_point[0] + 1, local=path.type == "string_literal")


WALKERS = {"python": _python, "javascript": _javascript, "typescript": _javascript, "tsx": _javascript,
           "go": _go, "rust": _rust, "java": _java, "c": _c, "cpp": _c}  # fmt: skip
