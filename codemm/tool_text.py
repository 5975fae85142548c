"""The repository tools' results as text for people: the CLI without ``--json`` and the chat.

Each function takes the plain result a tool returns (the same dict agents get as structured
content) and gives lines with clickable ``path:line`` locations. Nothing here reads the repository.
"""

from __future__ import annotations

from typing import Any

Result = dict[str, Any]


def hits(result: Result) -> str:
    lines = []
    for hit in result["hits"]:
        label = f"{hit['path']}:{hit['start']}-{hit['end']}"
        lines.append(f"{label:<48} {hit['score']:.4f}  {'+'.join(hit['sources']):<20} {hit.get('symbol', '')}".rstrip())
    return "\n".join(lines + _notes(result)) or "no hits"


def repo_map(result: Result) -> str:
    footer = f"[{result['shown']} of {result['total']} definitions, {result['tokens']} tokens]"
    return f"{result['text']}\n{footer}" if result["text"] else footer


def definitions(result: Result) -> str:
    found = result["definitions"]
    if not found:
        return f"no definition of {result['symbol']} in the index"
    lines = []
    for item in found:
        name = f"{item['parent']}.{item['name']}" if item.get("parent") else item["name"]
        lines.append(f"{item['location']:<40} {item['kind']:<9} {name}  {item.get('signature') or ''}".rstrip())
    return "\n".join(lines + _notes(result))


def references(result: Result) -> str:
    found = result["references"]
    if not found:
        return f"no uses of {result['symbol']} in the index"
    lines = []
    for item in found:
        where = f" in {item['in']}" if item.get("in") else ""
        tier = f" [{item['tier']}{': ' + item['source'] if item.get('source') else ''}]" if item.get("tier") else ""
        lines.append(f"{item['location']:<40} {item['kind']}{where}{tier}: {item.get('text', '')}")
    return "\n".join(lines + _notes(result) + [f"note: {note}" for note in result.get("notes", [])])


def line_range(result: Result) -> str:
    numbered = [f"{result['start'] + i:>6}  {line}" for i, line in enumerate(result["text"].splitlines())]
    return "\n".join([f"{result['path']}:{result['start']}-{result['end']} of {result['total_lines']}", *numbered,
                      *_notes(result)])  # fmt: skip


def screenshot(result: Result) -> str:
    lines = [f"{result['image']} ({result['width']}x{result['height']}, read by {result['read_by']})", result["text"]]
    for loc in result.get("locations", []):
        lines.append(f"{loc['label']}  {'verified' if loc['verified'] else 'not verified: ' + loc.get('reason', '')}")
    ui = result.get("ui_matches") or {}
    if ui.get("files"):
        ranked = ", ".join(f"{f['path']} ({f['score']})" for f in ui["files"][:5])
        lines.append(f"UI text shown is defined in: {ranked}")
        lines += [f'  "{m["text"]}" -> {m["path"]}:{m["line"]}' for m in ui["matches"][:5]]
    lines += [f"note: {note}" for note in result.get("notes", [])]
    return "\n".join(lines)


def answer(result: Result) -> str:
    marks = []
    for c in result["citations"]:
        label = f"{c['path']}:{c['start']}" + (f"-{c['end']}" if c["end"] != c["start"] else "")
        marks.append(f"{label} {'ok' if c['valid'] else 'INVALID: ' + c.get('reason', '')}")
    return result["answer"] + ("\nSources: " + "; ".join(marks) if marks else "")


def adapters(result: Result) -> str:
    rows = [f"{a['name']:<24} base {a['base_model']:<24} {a['created']}" for a in result["adapters"]]
    return "\n".join(rows) or "no adapters yet: codemm adapters train --repo PATH --name NAME"


def _notes(result: Result) -> list[str]:
    return [f"note: {result['note']}"] if result.get("note") else []


def diagram(result: Result) -> str:
    """Mermaid text (a Markdown viewer draws it), then what a reader needs besides: notes, cycles,
    where the rendered SVG is."""
    lines = [result["mermaid"].rstrip()]
    for cycle in result.get("cycles", []):
        lines.append("cycle: " + " -> ".join(cycle))
    lines += [f"note: {note}" for note in result.get("notes", [])]
    if result.get("svg_path"):
        lines.append(f"svg: {result['svg_path']}")
    return "\n".join(lines)
