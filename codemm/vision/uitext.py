"""The strings a user can see, with the line that holds each: what links a screenshot to its code.

Per file, from its text alone (so results cache by content hash, see ``uiindex``):

- code (Python, JavaScript/TypeScript/TSX, via tree-sitter): string literals, with Rich/Textual
  console markup (``[b]…[/b]``, ``[@click=…]``) and escapes taken out; f-strings, template
  literals and ``%``/``{}`` templates keep their placeholders as ``PLACEHOLDER`` (a wildcard when
  matching); docstrings are left out (no user sees them); a literal inside ``Binding(...)`` or a
  ``BINDINGS`` list is kind ``binding`` (the footer shows it on every screen); ``id=``/``classes=``
  keyword values are kind ``id``; JSX text is kind ``text``.
- templates (HTML, Jinja, Vue, Svelte): text nodes and the visible attributes (``title``,
  ``placeholder``, ``alt``, ``aria-label``, ``label``, ``value`` of buttons); ``{{ … }}`` is a
  placeholder; ``id``/``class`` values are kind ``id``.
- i18n catalogues: ``.po`` (msgid/msgstr) and JSON message files under a locale-like folder, kind
  ``message`` with their ``key``; ``uiindex`` resolves each key to the code that uses it.
- stylesheets (CSS, Textual's TCSS): ``#id`` and ``.class`` selectors, kind ``selector``.

A literal that spans lines (help text, Markdown) gives one entry per line, each at its own line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Any

PLACEHOLDER = "\x00"
"""Where an f-string, template or ``{{ }}`` puts a value the index cannot know."""
MAX_LINE_CHARS = 300

KINDS = ("literal", "binding", "text", "attribute", "message", "catalogue", "id", "selector")

PY_SUFFIXES = {".py", ".pyi"}
JS_SUFFIXES = {".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx"}
TEMPLATE_SUFFIXES = {".html", ".htm", ".jinja", ".jinja2", ".j2", ".vue", ".svelte"}
STYLE_SUFFIXES = {".css", ".tcss", ".scss"}
CATALOGUE_SUFFIXES = {".po"}
UI_SUFFIXES = PY_SUFFIXES | JS_SUFFIXES | TEMPLATE_SUFFIXES | STYLE_SUFFIXES | CATALOGUE_SUFFIXES | {".json"}
LOCALE_DIRS = {"locale", "locales", "i18n", "lang", "langs", "translations", "messages", "l10n"}

# Console markup: [b], [/b], [/], [bold red], [@click=app.quit], [$accent], [link=https://…].
MARKUP = re.compile(r"\[/?(?:[@$#]?[a-zA-Z][\w.\-]*(?:[= ][^\[\]\n]*)?)?\]")
PERCENT = re.compile(r"%(?:\([^)]*\))?[-+ #0]*\d*(?:\.\d+)?[sdifgrxXeEc%]")
BRACES = re.compile(r"\{[\w.\[\]!:<>^,\- ]*\}")
MARKDOWN = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+|>\s*|\d+\.\s+)|\*\*|__|`")
ESCAPES = {"n": "\n", "t": " ", "r": "", "\\": "\\", "'": "'", '"': '"'}
VISIBLE_ATTRIBUTES = {"title", "placeholder", "alt", "aria-label", "label", "summary"}


@dataclass(frozen=True)
class UIString:
    text: str
    """What the user sees, markup removed; ``PLACEHOLDER`` where a value goes."""
    line: int
    kind: str = "literal"
    key: str = ""
    """For kind ``message``: the catalogue key (msgid, or the dotted JSON key)."""

    def as_row(self) -> list[Any]:
        return [self.text, self.line, self.kind, self.key]


def ui_strings(path: str, text: str) -> list[UIString]:
    """The visible strings of one file (empty for files that hold none)."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in PY_SUFFIXES:
        return _code_strings(text, "python")
    if suffix in JS_SUFFIXES:
        return _code_strings(text, "tsx" if suffix in (".tsx", ".jsx") else "typescript")
    if suffix in TEMPLATE_SUFFIXES:
        return _template_strings(text)
    if suffix in STYLE_SUFFIXES:
        return _selectors(text)
    if suffix in CATALOGUE_SUFFIXES:
        return _po_messages(text)
    if suffix == ".json" and LOCALE_DIRS & {p.lower() for p in PurePosixPath(path).parts[:-1]}:
        return _json_messages(text)
    return []


def clean(text: str) -> str:
    """Console markup and Markdown emphasis out, whitespace collapsed."""
    text = MARKUP.sub("", text)
    text = MARKDOWN.sub("", text)
    return " ".join(text.split())


# Literals no user reads as such: identifiers and dotted/slashed names (``load_bookmarks``,
# ``app.quit``), and the CSS of a DEFAULT_CSS block (``Screen {``, ``height: 100%;``).
IDENTIFIER = re.compile(r"^[\w$@-]*[_./][\w$@./-]*$")
CSS_LINE = re.compile(r"^[^{}]*\{$|^[\w-]+\s*:[^;]*;$|^\}$")


def _entries(raw: str, line: int, kind: str, key: str = "") -> list[UIString]:
    out = []
    for offset, part in enumerate(raw.split("\n")):
        visible = clean(part)[:MAX_LINE_CHARS]
        if sum(c.isalpha() for c in visible) < 2 or CSS_LINE.match(visible):
            continue
        is_name = kind in ("literal", "binding") and IDENTIFIER.match(visible)
        out.append(UIString(visible, line + offset, "id" if is_name else kind, key))
    return out


# -- code ----------------------------------------------------------------------------------------


def _code_strings(text: str, language: str) -> list[UIString]:
    from codemm.repo.languages import parser

    source = text.encode("utf-8")
    tree = parser(language).parse(source)
    out: list[UIString] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        kind = node.type
        if kind == "string" and language == "python":
            out += _python_string(node, source)
            continue
        if kind in ("string", "template_string") and language != "python":
            out += _js_string(node, source)
            continue
        if kind == "jsx_text":
            out += _entries(_text(node, source), node.start_point[0] + 1, "text")
            continue
        stack.extend(reversed(node.children))
    return out


def _text(node: Any, source: bytes) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _python_string(node: Any, source: bytes) -> list[UIString]:
    start = node.child(0)
    prefix = _text(start, source).lower() if start is not None else ""
    if "b" in prefix or _is_docstring(node):
        return []
    raw = "r" in prefix
    parts: list[str] = []
    for child in node.children:
        if child.type == "string_content":  # holds its escape sequences
            parts.append(_text(child, source) if raw else _unescape(_text(child, source)))
        elif child.type == "escape_sequence":
            parts.append(_text(child, source) if raw else ESCAPES.get(_text(child, source)[1:2], ""))
        elif child.type == "interpolation":
            parts.append(PLACEHOLDER)
    value = "".join(parts)
    if "f" not in prefix:
        value = BRACES.sub(PLACEHOLDER, PERCENT.sub(PLACEHOLDER, value))
    return _entries(value, node.start_point[0] + 1, _context_kind(node, source))


def _js_string(node: Any, source: bytes) -> list[UIString]:
    parts: list[str] = []
    for child in node.children:
        if child.type == "string_fragment":
            parts.append(_text(child, source))
        elif child.type == "escape_sequence":
            parts.append(ESCAPES.get(_text(child, source)[1:2], ""))
        elif child.type == "template_substitution":
            parts.append(PLACEHOLDER)
    return _entries("".join(parts), node.start_point[0] + 1, _context_kind(node, source))


def _is_docstring(node: Any) -> bool:
    statement = node.parent
    if statement is None or statement.type != "expression_statement" or statement.named_child_count != 1:
        return False
    body = statement.parent
    if body is None or body.type not in ("block", "module"):
        return False
    first = next((c for c in body.named_children if c.type != "comment"), None)
    return first is not None and first.id == statement.id


def _context_kind(node: Any, source: bytes) -> str:
    """``binding`` inside Binding(...) or a BINDINGS list, ``id`` for id=/classes= values."""
    parent = node.parent
    if parent is not None and parent.type in ("keyword_argument", "jsx_attribute", "pair"):
        name = parent.child(0)
        if name is not None and _text(name, source) in ("id", "classes", "className", "class", "name"):
            return "id"
    ancestor = parent
    for _ in range(5):
        if ancestor is None:
            break
        if ancestor.type in ("call", "call_expression"):
            function = ancestor.child(0)
            if function is not None and _text(function, source).split(".")[-1] == "Binding":
                return "binding"
        if ancestor.type in ("assignment", "variable_declarator"):
            target = ancestor.child(0)
            if target is not None and _text(target, source).split(":")[0].strip() == "BINDINGS":
                return "binding"
        ancestor = ancestor.parent
    return "literal"


# -- templates -----------------------------------------------------------------------------------

JINJA_VALUE = re.compile(r"\{\{.*?\}\}|\{\$.*?\}|\$\{.*?\}", re.S)
JINJA_BLOCK = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.S)


def _blank(match: re.Match[str]) -> str:
    """A statement becomes a tag-like break, keeping its newlines so line numbers hold."""
    return "<br>" + "\n" * match.group(0).count("\n")


class _TemplateText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[UIString] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        if tag in ("script", "style"):
            self.skip += 1
        values = dict(attrs)
        for name, value in attrs:
            if not value:
                continue
            if name in VISIBLE_ATTRIBUTES or (name == "value" and values.get("type") in ("submit", "button")):
                self.found += _entries(value, line, "attribute")
            elif name in ("id", "class"):
                self.found += [UIString(v, line, "id") for v in value.split() if PLACEHOLDER not in v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            # The parser's position is the start of the data; leading newlines move the text down.
            line = self.getpos()[0] + data[: len(data) - len(data.lstrip())].count("\n")
            self.found += _entries(data.strip(), line, "text")


def _template_strings(text: str) -> list[UIString]:
    text = JINJA_BLOCK.sub(_blank, text)
    text = JINJA_VALUE.sub(lambda m: PLACEHOLDER + "\n" * m.group(0).count("\n"), text)
    parser = _TemplateText()
    parser.feed(text)
    parser.close()
    return parser.found


# -- stylesheets and catalogues ------------------------------------------------------------------

SELECTOR = re.compile(r"(?<![\w-])([#.])([A-Za-z_][\w-]*)")


def _selectors(text: str) -> list[UIString]:
    out = []
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        if depth == 0:  # selectors stand outside rule bodies (TCSS nests, but its top level is enough)
            head = line.split("{")[0]
            out += [UIString(name, number, "selector") for _, name in SELECTOR.findall(head)]
        depth = max(0, depth + line.count("{") - line.count("}"))
    return out


PO_LINE = re.compile(r'^(msgid|msgstr(?:\[\d+\])?|msgctxt)?\s*"(.*)"\s*$')


def _po_messages(text: str) -> list[UIString]:
    out: list[UIString] = []
    current: dict[str, tuple[str, int]] = {}
    field = ""

    def flush() -> None:
        key = current.get("msgid", ("", 0))[0]
        for name, (value, line) in current.items():
            if name.startswith("msgstr") and key:
                out.extend(_entries(value or key, line, "message", key))
        current.clear()

    for number, line in enumerate(text.splitlines(), 1):
        match = PO_LINE.match(line.strip())
        if not match:
            continue
        value = _unescape(match.group(2))
        if match.group(1):
            field = match.group(1)
            if field in ("msgid", "msgctxt") and any(k.startswith("msgstr") for k in current):
                flush()
            current[field] = (value, number)
        elif field in current:
            current[field] = (current[field][0] + value, current[field][1])
    flush()
    return out


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), value)


def _json_messages(text: str) -> list[UIString]:
    try:
        data = json.loads(text)
    except ValueError:
        return []
    lines = text.splitlines()
    out: list[UIString] = []

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                walk(inner, f"{key}.{name}" if key else str(name))
        elif isinstance(value, str) and key:
            leaf = json.dumps(key.split(".")[-1])
            line = next((n for n, text in enumerate(lines, 1) if leaf in text), 1)
            out.extend(_entries(BRACES.sub(PLACEHOLDER, value), line, "message", key))

    walk(data, "")
    return out
