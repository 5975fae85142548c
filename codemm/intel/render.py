"""Text for people from the navigation results' JSON (the CLI without --json, the chat): one
line per hit, ``path:line:col  [tier] kind in symbol: the line``, with what each tier means."""

from __future__ import annotations

from typing import Any

from codemm.intel.results import TIER_NOTES


def location_line(loc: dict[str, Any]) -> str:
    inside = f" in {loc['symbol']}" if loc.get("symbol") else ""
    tier = f"{loc['tier']}: {loc['source']}" if loc.get("source") else loc["tier"]  # which language server
    return f"{loc['location']}  [{tier}] {loc['kind']}{inside}: {loc.get('text', '')}"


def _tiers(locations: list[dict[str, Any]]) -> list[str]:
    return [f"  {tier}: {TIER_NOTES[tier]}" for tier in sorted({loc["tier"] for loc in locations})]


def definitions(result: dict[str, Any]) -> str:
    found = result.get("definitions", [])
    if not found:
        return f"no definition found for {result.get('target', '')}"
    return "\n".join([location_line(d) for d in found] + _tiers(found))


def references(result: dict[str, Any]) -> str:
    groups = result.get("groups", [])
    if not groups:
        return f"no definition found for {result.get('target', '')}"
    lines: list[str] = []
    for group in groups:
        refs = group["references"]
        lines.append(f"{location_line(group['definition'])}  ({len(refs)} uses)")
        lines += [f"  {location_line(r)}" for r in refs]
    every = [g["definition"] for g in groups] + [r for g in groups for r in g["references"]]
    if result.get("truncated"):
        lines.append("  (more uses than are listed)")
    return "\n".join(lines + _tiers(every))


def calls(result: dict[str, Any]) -> str:
    lines = [location_line(result["definition"])]
    for direction in ("callers", "callees"):
        for call in result.get(direction, []):
            arrow = "<-" if direction == "callers" else "->"
            lines.append(f"  {arrow} {location_line(call['symbol'])}  (at {call['site']['location']})")
    return "\n".join(lines)


def hierarchy(result: dict[str, Any]) -> str:
    lines = [location_line(result["definition"])]
    lines += [f"  base: {location_line(b)}" for b in result.get("bases", [])]
    lines += [f"  subclass: {location_line(s)}" for s in result.get("subclasses", [])]
    return "\n".join(lines)
