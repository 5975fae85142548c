"""The navigation tools on every surface (``codemm.registry``): ``goto_definition``,
``call_hierarchy`` and ``type_hierarchy`` are declared here; ``find_references`` and
``find_definition`` (declared in ``codemm.tools``) answer through ``references_result`` and
``definitions_result``, so they take a location or a qualified name and say their tier.

One ``Navigator`` per open ``RepoTools``, made on first use and kept: the lookups read the files
themselves and never wait for the index's embeddings (nor for an ``ask`` that holds the tools' lock).
"""

from __future__ import annotations

import threading
import weakref
from typing import Annotated, Any

from codemm.errors import BadInputError
from codemm.intel import render
from codemm.intel.navigator import Navigator
from codemm.intel.results import TEXT, TIER_NOTES
from codemm.registry import Arg, tool

_NAVIGATORS: weakref.WeakKeyDictionary[Any, tuple[Navigator, threading.Lock]] = weakref.WeakKeyDictionary()
_MADE = threading.Lock()
LOCATION_HELP = "A place in the code: PATH:LINE or PATH:LINE:COL (1-based; without COL, the call on the line)."


def navigator(tools: Any) -> tuple[Navigator, threading.Lock]:
    """The tools' navigator and the lock its lookups take (jedi is not thread-safe)."""
    with _MADE:
        if tools not in _NAVIGATORS:
            _NAVIGATORS[tools] = (Navigator(tools.root), threading.Lock())
        return _NAVIGATORS[tools]


def references_result(tools: Any, symbol: str) -> dict[str, Any] | None:
    """``find_references``'s answer from the navigator, flattened to its list of uses (each with
    its tier and the definition it refers to); None where the navigator knows no definition of it
    (the caller then lists the name's uses from the index, as text matches)."""
    nav, lock = navigator(tools)
    with lock:
        found = nav.references(symbol)
    if not found.groups:
        if nav.parse_location(symbol) is not None:
            raise BadInputError(f"no definition is named at {symbol}; point at a name (PATH:LINE:COL)")
        return None
    uses = []
    for group in found.groups:
        for ref in group.references:
            uses.append({**ref.as_json(), "location": f"{ref.path}:{ref.line}", "in": ref.symbol,
                         "definition": group.definition.where})  # fmt: skip
    data: dict[str, Any] = {"symbol": symbol, "references": uses, "truncated": found.truncated,
                            "definitions": [g.definition.as_json() for g in found.groups],
                            "tiers": found.as_json()["tiers"]}  # fmt: skip
    if found.truncated:
        data["note"] = "more uses than are listed"
    if found.notes:  # a language server that failed (its language fell back to the syntactic tier)
        data["notes"] = found.notes
    return data


def definitions_result(tools: Any, symbol: str) -> list[dict[str, Any]]:
    """Definitions of a qualified name (``httpx.get``, ``Client.build_request`` through the class
    hierarchy) from the navigator, for ``find_definition`` when the index's names have none."""
    nav, lock = navigator(tools)
    with lock:
        found = nav.definition(symbol)
    return [
        {"name": loc.name, "kind": loc.kind, "parent": loc.symbol, "path": loc.path, "line": loc.line,
         "column": loc.column, "location": f"{loc.path}:{loc.line}", "signature": loc.text, "tier": loc.tier}
        for loc in found if loc.tier != TEXT
    ]  # fmt: skip


def _location(nav: Navigator, location: str) -> tuple[str, int, int | None]:
    parsed = nav.parse_location(location)
    if parsed is None:
        raise BadInputError(f"{location!r} is not a location; give PATH:LINE or PATH:LINE:COL")
    return parsed


@tool("goto_definition", "Where the name at a place in the code is defined (PATH:LINE[:COL]), resolved through "
      "imports, types and the class hierarchy; each answer says its tier.", cli="goto", chat="/goto",
      render=render.definitions)  # fmt: skip
def goto_definition(tools: Any, location: Annotated[str, Arg(LOCATION_HELP, positional=True)]) -> dict[str, Any]:
    nav, lock = navigator(tools)
    with lock:
        path, line, column = _location(nav, location)
        found = nav.goto(path, line, column)
    return {"target": location, "definitions": [loc.as_json() for loc in found],
            "tiers": {t: TIER_NOTES[t] for t in sorted({loc.tier for loc in found})}}  # fmt: skip


@tool("call_hierarchy", "Who calls a function or method, and what it calls (one level), each call resolved to "
      "its definition; give a name (pkg.mod.func, Class.method) or PATH:LINE.", cli="calls", chat="/calls",
      render=render.calls,
      cli_presets={"callers": {"direction": "callers"}, "callees": {"direction": "callees"}})  # fmt: skip
def call_hierarchy(
    tools: Any,
    symbol: Annotated[str, Arg("A function or method: a (qualified) name or PATH:LINE[:COL].", positional=True)],
    direction: Annotated[str, Arg("callers, callees or both.")] = "both",
) -> dict[str, Any]:
    if direction not in ("callers", "callees", "both"):
        raise BadInputError(f"direction must be callers, callees or both, got {direction!r}")
    nav, lock = navigator(tools)
    with lock:
        callers = nav.callers(symbol) if direction != "callees" else None
        callees = nav.callees(symbol) if direction != "callers" else None
    definition = (callers or callees).definition  # type: ignore[union-attr]
    return {"symbol": symbol, "definition": definition.as_json(),
            "callers": [c.as_json() for c in callers.callers] if callers else [],
            "callees": [c.as_json() for c in callees.callees] if callees else []}  # fmt: skip


@tool("type_hierarchy", "A class's direct bases and its subclasses in the repository; give a class name "
      "(qualified or not) or PATH:LINE.", cli="hierarchy", chat="/hierarchy", render=render.hierarchy)  # fmt: skip
def type_hierarchy(
    tools: Any, symbol: Annotated[str, Arg("A class: a (qualified) name or PATH:LINE[:COL].", positional=True)]
) -> dict[str, Any]:
    nav, lock = navigator(tools)
    with lock:
        found = nav.hierarchy(symbol)
    return {"symbol": symbol, **found.as_json()}
