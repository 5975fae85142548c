"""Symbols and references from tree-sitter tags queries (``queries/<language>.scm``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codemm.repo.languages import is_code, parser, tags_query

# Node types whose definitions enclose methods: a function inside one of these is a method.
CONTAINERS = {"class_definition", "class_declaration", "class_specifier", "struct_specifier", "impl_item",
              "trait_item", "interface_declaration", "abstract_class_declaration", "enum_declaration",
              "record_declaration", "class_body", "class"}  # fmt: skip
BODY_FIELDS = ("body", "block")
MAX_SIGNATURE = 200


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str
    path: str
    start: int
    """1-based first line of the whole definition."""
    end: int
    signature: str
    docstring: str = ""
    parent: str = ""
    """The enclosing class (or impl/struct) for methods."""


@dataclass(frozen=True)
class Reference:
    name: str
    kind: str
    path: str
    line: int


@dataclass
class ParsedFile:
    path: str
    language: str
    symbols: list[Symbol] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    has_errors: bool = False
    """True when tree-sitter had to recover from a syntax error (symbols outside it are still found)."""


def parse_source(path: str, text: str, language: str) -> ParsedFile:
    result = ParsedFile(path, language)
    if not is_code(language):
        return result
    import tree_sitter

    source = text.encode("utf-8")
    tree = parser(language).parse(source)
    result.has_errors = tree.root_node.has_error
    seen: set[tuple[str, int, str]] = set()
    for _, captures in tree_sitter.QueryCursor(tags_query(language)).matches(tree.root_node):
        names = captures.get("name")
        role = next((key for key in captures if key != "name"), None)
        if not names or role is None:
            continue
        name_node, node = names[0], captures[role][0]
        name = _text(source, name_node)
        category, _, kind = role.partition(".")
        if category == "definition":
            key = (name, node.start_point[0], kind)
            if key in seen:
                continue
            seen.add(key)
            parent = _enclosing_container(node, source)
            if kind == "function" and parent:
                kind = "method"
            result.symbols.append(
                Symbol(
                    name=name,
                    kind=kind,
                    path=path,
                    start=node.start_point[0] + 1,
                    end=node.end_point[0] + 1,
                    signature=_signature(node, source),
                    docstring=_docstring(node, source, language),
                    parent=parent,
                )
            )
        elif category == "reference":
            result.references.append(Reference(name, kind, path, name_node.start_point[0] + 1))
    result.symbols.sort(key=lambda s: (s.start, -s.end))
    return result


def _text(source: bytes, node: Any) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8", errors="replace")


def _enclosing_container(node: Any, source: bytes) -> str:
    current = node.parent
    while current is not None:
        if current.type in CONTAINERS:
            owner = current if current.type != "class_body" else current.parent
            name = owner.child_by_field_name("name") or owner.child_by_field_name("type") if owner else None
            return _text(source, name) if name is not None else ""
        current = current.parent
    return ""


def _signature(node: Any, source: bytes) -> str:
    """The definition's head: everything before its body, on one line."""
    body = next((b for f in BODY_FIELDS if (b := node.child_by_field_name(f)) is not None), None)
    end = body.start_byte if body is not None else node.end_byte
    head = source[node.start_byte : end].decode("utf-8", errors="replace")
    if body is None:
        head = head.splitlines()[0] if head else ""
    head = " ".join(head.split()).rstrip("{:= ").strip()
    return head[:MAX_SIGNATURE]


def _docstring(node: Any, source: bytes, language: str) -> str:
    if language == "python":
        body = node.child_by_field_name("body")
        first = body.named_children[0] if body is not None and body.named_children else None
        if first is not None and first.type == "expression_statement" and first.named_children:
            string = first.named_children[0]
            if string.type == "string":
                return _text(source, string).strip("\"' \n")[:500]
        return ""
    # Other languages: the comment block right above the definition.
    lines: list[str] = []
    prev = node.prev_named_sibling
    expected_row = node.start_point[0] - 1
    while (
        prev is not None
        and prev.type in ("comment", "line_comment", "block_comment")
        and prev.end_point[0] == expected_row
    ):
        lines.insert(0, _text(source, prev))
        expected_row = prev.start_point[0] - 1
        prev = prev.prev_named_sibling
    cleaned = [line.strip().lstrip("/*#!").rstrip("*/").strip() for block in lines for line in block.splitlines()]
    return " ".join(c for c in cleaned if c)[:500]
