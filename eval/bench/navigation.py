"""Navigation on the suite's libraries (eval/suites/navigation): references precision/recall per
tier and per library, use site -> definition right first, qualified names, and latencies.

    python -m codemm.eval.bench.navigation [--split dev|test|all] [--library NAME] [--json]
    python -m codemm.eval.bench.navigation --latency   # warm goto / references on pip 24.2 (131k lines)
    python -m codemm.eval.bench.navigation --typescript   # the syntactic tier on rxjs 7.8.1
    PATH=<bin>:$PATH python -m codemm.eval.bench.navigation --typescript --lsp   # + the LSP tier
    (<bin>: ~/.cache/codemm/lsp/typescript-language-server-*/node_modules/.bin, from scripts/setup.sh)

Rows: ``precise`` is codemm.intel asked at the definition's location (jedi, every candidate
confirmed by goto); ``precise-by-name`` the same asked by the qualified name; ``jedi-refs`` jedi's
own ``get_references``; ``name`` the baseline: ``find_references`` as it was before codemm.intel (the
index's references by name, ``_name_references``). A use site is
asked as path:line:column of the called name; the baseline is given the name itself.
Locations are compared by (path, line), the baseline's granularity; the definition's own line is
left out of both sides.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from codemm.eval.navigation import SymbolCase, UseSiteCase, load_cases, site_answer, sources, suite_dir
from codemm.eval.retrieval_hard import fetch_all, fetch_source, library_lines, load_sources

INHERITED = {
    "httpx": [("httpx.Client.build_request", "httpx/_client.py", "build_request")],
    "werkzeug": [("werkzeug.wrappers.Response.set_cookie", "src/werkzeug/sansio/response.py", "set_cookie")],
    "tornado": [("tornado.simple_httpclient.SimpleAsyncHTTPClient.fetch", "tornado/httpclient.py", "fetch")],
}
"""A method each library's class inherits: the definition must be found in the base's file."""
MODULE_QUALIFIED = {"httpx": "httpx.get", "werkzeug": "werkzeug.run_simple", "tornado": "tornado.web.url"}


def _lines(wheres: list[str]) -> set[tuple[str, int]]:
    return {(w.rsplit(":", 2)[0], int(w.rsplit(":", 2)[1])) for w in wheres}


def _score(got: set[tuple[str, int]], truth: set[tuple[str, int]]) -> tuple[int, int, int]:
    return len(got & truth), len(got), len(truth)


def evaluate_library(library: str, root: Path, symbols: list[SymbolCase], sites: list[UseSiteCase]) -> dict[str, Any]:
    from codemm.intel.navigator import Navigator
    from codemm.tools import RepoTools

    nav = Navigator(root)
    tools = RepoTools(root, embed=False)
    tools.index.refresh(embed=False)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    latency: dict[str, list[float]] = defaultdict(list)
    for case in symbols:
        truth = _lines(case.references)
        definition = _lines([case.definition])
        started = time.perf_counter()
        ours = {(r.path, r.line) for r in nav.references(case.definition).locations} - definition
        latency["references cold"].append(time.perf_counter() - started)
        started = time.perf_counter()
        nav.references(case.definition)
        latency["references warm"].append(time.perf_counter() - started)
        by_name = {(r.path, r.line) for g in nav.references(case.symbol).groups for r in g.references} - definition
        started = time.perf_counter()
        path, line, column = case.definition.rsplit(":", 2)
        script = nav.python.jedi.script(path)
        jedi_refs = {(str(Path(r.module_path).relative_to(root)), r.line)
                     for r in script.get_references(int(line), int(column) - 1, scope="project")
                     if r.module_path and Path(r.module_path).is_relative_to(root)} - definition  # fmt: skip
        latency["jedi get_references"].append(time.perf_counter() - started)
        dotted = case.symbol.split(".")
        asked = ".".join(dotted[-2:]) if case.symbol.count(".") > 1 and dotted[-2][:1].isupper() else case.name
        baseline = _name_references(tools, asked) - definition
        shared = "shared" if case.shared else "unique"
        tiers = (("precise", ours), ("precise-by-name", by_name), ("jedi-refs", jedi_refs), ("name", baseline))
        for tier, got in tiers:
            for group in (shared, "all"):
                row = counts[f"{tier}|{group}"]
                for i, value in enumerate(_score(got, truth)):
                    row[i] += value
    right = {"precise": 0, "name": 0}
    for site in sites:
        site_path, site_line = site.site.rsplit(":", 1)
        number = int(site_line)
        source = nav.sources.get(site_path)
        assert source is not None, site.site
        name_column = source.lines[number - 1].index(f".{site.name}(") + 2  # 1-based, the name asked about
        started = time.perf_counter()
        found = nav.goto(site_path, number, name_column)
        latency["goto cold"].append(time.perf_counter() - started)
        started = time.perf_counter()
        nav.goto(site_path, number, name_column)
        latency["goto warm"].append(time.perf_counter() - started)
        right["precise"] += bool(found) and site_answer(found[0]) == site.definition
        named = tools.find_definition(site.name)["definitions"]
        right["name"] += bool(named) and f"{named[0]['path']}:{named[0]['line']}" == site.definition
    resolved = []
    for qualified, path, name in INHERITED.get(library, []):
        found = nav.definition(qualified)
        resolved.append(bool(found) and found[0].path == path and found[0].name == name)
    qualified_ok = sum(_same_symbol(nav, case, nav.definition(case.symbol)) for case in symbols)
    module_found = nav.definition(MODULE_QUALIFIED[library]) if library in MODULE_QUALIFIED else []
    tools.close()
    return {
        "library": library,
        "lines": library_lines(root),
        "symbols": len(symbols),
        "references": {key: _prf(*value) for key, value in sorted(counts.items())},
        "use_sites": len(sites),
        "right_first": {k: v / max(1, len(sites)) for k, v in right.items()},
        "qualified_resolved": qualified_ok / max(1, len(symbols)),
        "inherited_resolved": sum(resolved),
        "inherited_asked": len(resolved),
        "module_qualified": [f.where for f in module_found],
        "latency_ms": {k: _pct(v) for k, v in latency.items()},
    }


def evaluate_typescript(lsp: bool = False) -> dict[str, Any]:
    """rxjs (npm, .ts sources) against the TypeScript compiler's references: the syntactic tier,
    bare names (every whole-word occurrence outside comments) and today's find_references; with
    ``lsp``, the precise tier (typescript-language-server on PATH) asked at the definition. Its
    truth comes from the same compiler, so that row checks the client's plumbing more than tsserver."""
    from codemm.eval.navigation import fetch_npm, load_typescript_cases
    from codemm.intel.lsp import server_command
    from codemm.intel.navigator import Navigator
    from codemm.tools import RepoTools

    if lsp and server_command("typescript") is None:
        raise SystemExit("typescript-language-server is not on PATH (scripts/setup.sh installs it; see the docstring)")
    root = fetch_npm("rxjs")
    nav = Navigator(root, lsp="typescript" if lsp else "off")
    tools = RepoTools(root, embed=False)
    tools.index.refresh(embed=False)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    latency: dict[str, list[float]] = defaultdict(list)
    cases = load_typescript_cases()
    fallbacks = 0
    for case in cases:
        truth = _lines(case.references)
        path, line, _ = case.definition.rsplit(":", 2)
        def_lines = {(d.symbol.path, d.line) for d in nav.scopes.definitions(case.name, "typescript")}
        started = time.perf_counter()
        groups = nav.syntactic.references(case.symbol)
        latency["references"].append(time.perf_counter() - started)
        ours = {(r.path, r.line) for g in groups if (g.definition.path, g.definition.line) == (path, int(line))
                for r in g.references} - def_lines  # fmt: skip
        bare = {(o.path, o.line) for o in nav.sources.occurrences(case.name, "typescript", "//")} - def_lines
        baseline = _name_references(tools, case.symbol) - def_lines
        rows = [("syntactic", ours), ("text", bare), ("name", baseline)]
        if lsp:
            started = time.perf_counter()
            found = nav.references(case.definition)
            latency["lsp references"].append(time.perf_counter() - started)
            fallbacks += bool(found.notes)
            rows.append(("lsp", {(r.path, r.line) for r in found.locations if r.tier == "precise"} - def_lines))
        for tier, got in rows:
            for group in ("shared" if case.shared else "unique", "all"):
                row = counts[f"{tier}|{group}"]
                for i, value in enumerate(_score(got, truth)):
                    row[i] += value
    tools.close()
    nav.close()
    return {"library": "rxjs (TypeScript)", "lines": sum(len(p.read_text().splitlines()) for p in root.rglob("*.ts")),
            "symbols": len(cases), "use_sites": 0,
            "references": {key: _prf(*value) for key, value in sorted(counts.items())},
            "latency_ms": {k: _pct(v) for k, v in latency.items()},
            **({"lsp_fallbacks": fallbacks} if lsp else {})}  # fmt: skip


def _name_references(tools: Any, symbol: str) -> set[tuple[str, int]]:
    """Today's baseline, as ``find_references`` answered before codemm.intel: the index's
    tree-sitter references whose name is the symbol's last part, the first 200 by path and line."""
    from codemm.tools import MAX_REFERENCES

    name = symbol.rpartition(".")[2]
    refs = sorted((r for r in tools.index.references() if r.name == name), key=lambda r: (r.path, r.line))
    return {(r.path, r.line) for r in refs[:MAX_REFERENCES]}


def _same_symbol(nav: Any, case: SymbolCase, found: list[Any]) -> bool:
    """The case's definition is among the (precise or syntactic) answers, or one of its siblings (a
    property's setter, an overload of the same method: same file, name and class)."""
    path, line, _ = case.definition.rsplit(":", 2)
    owner = nav.scopes.enclosing_name(path, int(line), True)
    return any(
        f.tier != "text" and (f.where == case.definition or (f.path, f.name, f.symbol) == (path, case.name, owner))
        for f in found
    )


def _prf(hits: int, got: int, truth: int) -> dict[str, float | int]:
    return {"precision": hits / got if got else 1.0, "recall": hits / truth if truth else 1.0, "found": got,
            "truth": truth}  # fmt: skip


def _pct(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {"median": round(statistics.median(ordered) * 1000, 1), "p95": round(p95 * 1000, 1),
            "max": round(ordered[-1] * 1000, 1)}  # fmt: skip


def latency(symbols: int = 30, sites: int = 60) -> dict[str, Any]:
    """Cold and warm lookups on a 131k-line repository (pip 24.2, vendored libraries included),
    beside the time `codemm index` (without embeddings) takes to parse it. Symbols and call sites
    are a seeded draw; "first" is a question the warm navigator has not been asked before (what an
    agent's next call is), "again" the same question repeated."""
    import random
    import tempfile

    from codemm.intel.lexical import identifiers
    from codemm.intel.navigator import Navigator
    from codemm.intel.scopes import locate
    from codemm.repo.index import RepoIndex

    (spec,) = load_sources(suite_dir() / "latency.json").values()
    root = fetch_source(spec)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with RepoIndex(root, db_path=Path(tmp) / "index.sqlite") as index:
            index.refresh(embed=False)
        index_s = time.perf_counter() - started
    nav = Navigator(root)
    rng = random.Random("24-latency")
    defs = []
    for path in sorted(nav.sources.paths("python")):
        source = nav.sources.get(path)
        defs += [f"{path}:{where.line}:{where.column + 1}" for s in nav.scopes.symbols(path)
                 if s.kind in ("function", "method", "class") and source is not None
                 for where in [locate(s, source)]]  # fmt: skip
    chosen = rng.sample(defs, symbols)
    timings: dict[str, list[float]] = defaultdict(list)
    started = time.perf_counter()
    nav.references(chosen[0])
    cold_first = time.perf_counter() - started
    for where in chosen[1:10]:  # warming up on other questions
        nav.references(where)
    for label in ("references first", "references again"):
        for where in chosen[10:]:
            t, cpu = time.perf_counter(), time.process_time()
            nav.references(where)
            timings[label].append(time.perf_counter() - t)
            # on a shared machine the wall clock counts other processes' turns too: the CPU time
            # this process spent is the figure that an idle machine's wall clock would approach
            timings[f"{label} (cpu)"].append(time.process_time() - cpu)
    calls: list[tuple[str, int, int]] = []
    for file in rng.sample(sorted(nav.sources.paths("python")), 40):
        source = nav.sources.get(file)
        if source is None:
            continue
        for number, text in enumerate(source.lines, 1):
            calls += [
                (file, number, col + 1) for col, name in identifiers(text) if text[col + len(name) :].startswith("(")
            ]
    asked = rng.sample(calls, min(sites, len(calls)))
    for label in ("goto first", "goto again"):
        for file, number, column in asked:
            t = time.perf_counter()
            nav.goto(file, number, column)
            timings[label].append(time.perf_counter() - t)
    return {"repository": spec.requirement, "lines": library_lines(root), "index_no_embeddings_s": round(index_s, 1),
            "first_references_cold_s": round(cold_first, 2), "symbols": symbols, "goto_sites": sites,
            "latency_ms": {k: _pct(v) for k, v in timings.items()}}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="codemm.eval.bench.navigation")
    parser.add_argument("--split", default="all", choices=["dev", "test", "all"])
    parser.add_argument("--library", action="append")
    parser.add_argument("--latency", action="store_true")
    parser.add_argument("--typescript", action="store_true", help="the syntactic tier on rxjs instead")
    parser.add_argument("--lsp", action="store_true", help="with --typescript: a row for the LSP tier")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.latency:
        result = latency()
        print(json.dumps(result, indent=2))
        return
    symbols, sites = load_cases(args.split)
    roots = fetch_all(sources())
    libraries = [
        lib for lib in roots if (not args.library or lib in args.library) and any(s.library == lib for s in symbols)
    ]
    if args.typescript:
        results_ts = evaluate_typescript(args.lsp)
        print(json.dumps(results_ts, indent=2) if args.json else _table(results_ts))
        return
    results = [evaluate_library(lib, roots[lib], [s for s in symbols if s.library == lib],
                                [u for u in sites if u.library == lib]) for lib in libraries]  # fmt: skip
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(_table(r))


def _table(r: dict[str, Any]) -> str:
    out = [f"\n{r['library']} ({r['lines']} lines, {r['symbols']} symbols, {r['use_sites']} use sites)",
           f"  {'tier':<10} {'names':<7} {'precision':>9} {'recall':>7} {'found':>6} {'truth':>6}"]  # fmt: skip
    for key, m in r["references"].items():
        tier, group = key.split("|")
        out.append(
            f"  {tier:<10} {group:<7} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['found']:>6} {m['truth']:>6}"
        )
    if "right_first" in r:
        rf = r["right_first"]
        out.append(f"  use site -> definition right first: precise {rf['precise']:.2f}, name {rf['name']:.2f}")
        out.append(
            f"  qualified names resolved to their definition: {r['qualified_resolved']:.2f}; inherited "
            f"{r['inherited_resolved']}/{r['inherited_asked']}; module-qualified -> {r['module_qualified']}"
        )
    for k, v in r["latency_ms"].items():
        out.append(f"  {k:<22} median {v['median']:>8.1f} ms  p95 {v['p95']:>8.1f} ms  max {v['max']:>8.1f} ms")
    return "\n".join(out)


if __name__ == "__main__":
    main()
