"""The navigation suite (eval/suites/navigation): references and use site -> definition on real
Python libraries, with truth from jedi checked against the source.

    python -m codemm.eval.navigation pick    # choose each library's symbols and use sites (seeded, once)
    python -m codemm.eval.navigation truth   # compute the truth for what was picked
    python -m codemm.eval.navigation check   # prove the suite holds its rules
    python -m codemm.eval.navigation typescript  # rxjs (npm): pick 30 symbols, truth from tsserver's references

The libraries are pinned sdists (sources.json), fetched and cached like the retrieval-hard suite's.
Symbols are picked by a seeded draw before any tuning, half of them names several definitions share.
The truth for a symbol's references is the union of two routes: jedi's own ``get_references`` at
the definition and codemm's precise tier (every occurrence confirmed by jedi's ``goto``); each
location is kept only if its line holds the name at its column, and ``found_by`` says which route
found it, so a disagreement can be read by hand (corrections go in corrections.json).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codemm.eval.retrieval_hard import Source, fetch_all, library_lines, load_sources

SUITE_DIR = "suites/navigation"
MIN_LINES = 15_000
SYMBOLS_PER_LIBRARY = 30
USE_SITES_PER_LIBRARY = 12
SPLITS = {"httpx": "dev", "werkzeug": "test", "tornado": "test"}
PACKAGES = {"httpx": "httpx/", "werkzeug": "src/werkzeug/", "tornado": "tornado/"}
SEED = 24


@dataclass
class SymbolCase:
    id: str
    library: str
    split: str
    symbol: str
    """A qualified name codemm resolves: ``pkg.module.func`` or ``pkg.module.Class.method``."""
    name: str
    shared: bool
    """Several definitions in the library share the name."""
    definition: str
    """path:line:column (1-based) of the definition's name."""
    references: list[str] = field(default_factory=list)
    """path:line:column of each use (the definition itself excluded)."""
    found_by: dict[str, str] = field(default_factory=dict)
    """Use -> "both" | "jedi-refs" | "goto" (which route found it), for reading disagreements."""


@dataclass
class UseSiteCase:
    id: str
    library: str
    split: str
    site: str
    """path:line of a call (the tools take the line; the call on it is the name asked about)."""
    name: str
    definition: str
    """path:line of the definition the call reaches (absolute path when outside the library)."""


def suite_dir() -> Path:
    from codemm.eval.repoqa import project_root

    return project_root() / "eval" / SUITE_DIR


def sources() -> dict[str, Source]:
    return load_sources(suite_dir() / "sources.json")


def load_cases(split: str = "all") -> tuple[list[SymbolCase], list[UseSiteCase]]:
    def read(name: str) -> list[dict[str, Any]]:
        path = suite_dir() / name
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    symbols = [SymbolCase(**row) for row in read("symbols.jsonl")]
    sites = [UseSiteCase(**row) for row in read("usesites.jsonl")]
    return ([s for s in symbols if split in ("all", s.split)], [u for u in sites if split in ("all", u.split)])


# -- picking ---------------------------------------------------------------------------------------


def pick(library: str, root: Path) -> tuple[list[SymbolCase], list[UseSiteCase]]:
    """A seeded draw of the library's package definitions (functions, classes, methods): half with
    a name another definition shares, half unique; and calls of shared names as use sites."""
    from codemm.intel.navigator import Navigator
    from codemm.intel.scopes import locate, qualified

    nav = Navigator(root)
    package = PACKAGES[library]
    defs = []
    for path in sorted(nav.sources.paths("python")):
        if path.startswith(package):
            source = nav.sources.get(path)
            assert source is not None
            defs += [(path, s, locate(s, source)) for s in nav.scopes.symbols(path)
                     if s.kind in ("function", "method", "class") and not s.name.startswith("_")]  # fmt: skip
    counts: dict[str, int] = {}
    for _, s, _ in defs:
        counts[s.name] = counts.get(s.name, 0) + 1
    rng = random.Random(f"{SEED}-{library}")
    shared = [d for d in defs if counts[d[1].name] > 1 and (d[1].kind != "method" or d[1].parent)]
    unique = [d for d in defs if counts[d[1].name] == 1 and (d[1].kind != "method" or d[1].parent)]
    chosen = rng.sample(shared, SYMBOLS_PER_LIBRARY // 2) + rng.sample(unique, SYMBOLS_PER_LIBRARY // 2)
    cases = []
    for number, (path, s, where) in enumerate(chosen, 1):
        module = path.removeprefix("src/").removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        cases.append(SymbolCase(f"{library}-{number:02d}", library, SPLITS[library], f"{module}.{qualified(s)}",
                                s.name, counts[s.name] > 1, f"{path}:{where.line}:{where.column + 1}"))  # fmt: skip
    sites = []
    shared_names = sorted({s.name for _, s, _ in defs if counts[s.name] > 1})
    calls = [o for name in shared_names for o in nav.sources.occurrences(name, "python")
             if not o.in_string and nav.sources.line(o.path, o.line).find(f".{name}(") >= 0]  # fmt: skip
    for number, occ in enumerate(rng.sample(calls, USE_SITES_PER_LIBRARY), 1):
        name = next(n for n in shared_names if f".{n}(" in nav.sources.line(occ.path, occ.line))
        sites.append(
            UseSiteCase(f"{library}-u{number:02d}", library, SPLITS[library], f"{occ.path}:{occ.line}", name, "")
        )
    return cases, sites


# -- truth -----------------------------------------------------------------------------------------


def truth(case: SymbolCase, root: Path, nav: Any) -> SymbolCase:
    """References from jedi's get_references and from codemm's goto-confirmed candidates, each
    checked against the line; corrections (by hand) are applied by ``apply_corrections``."""
    path, line, column = case.definition.rsplit(":", 2)
    script = nav.python.jedi.script(path)
    by_refs = set()
    for ref in script.get_references(int(line), int(column) - 1, scope="project"):
        if ref.module_path is None or not Path(ref.module_path).is_relative_to(root) or ref.line is None:
            continue
        rel = Path(ref.module_path).relative_to(root).as_posix()
        by_refs.add(f"{rel}:{ref.line}:{ref.column + 1}")
    by_goto = {r.where for g in nav.references(case.definition).groups for r in g.references}
    found = {}
    for where in (by_refs | by_goto) - {case.definition}:
        if not _names_at(nav, where, case.name) or _is_definition(nav, where, case.name):
            continue
        found[where] = (
            "both" if where in by_refs and where in by_goto else ("jedi-refs" if where in by_refs else "goto")
        )
    case.references = sorted(found, key=_order)
    case.found_by = {k: found[k] for k in case.references}
    return case


def site_truth(case: UseSiteCase, nav: Any) -> UseSiteCase:
    path, line = case.site.rsplit(":", 1)
    found = nav.goto(path, int(line), None)
    top = found[0] if found else None
    case.definition = site_answer(top) if top is not None and top.name == case.name else ""
    return case


def site_answer(location: Any) -> str:
    """``path:line`` inside the library; outside it (the standard library, typeshed's stubs) the
    module file's tail and the name, ``outside:builtins.pyi:get``: stable across machines."""
    if not location.path.startswith("/"):
        return f"{location.path}:{location.line}"
    parts = location.path.split("/")
    anchor = max((i for i, part in enumerate(parts) if part == "stdlib" or part.startswith("python3.")), default=-1)
    return f"outside:{'/'.join(parts[anchor + 1 :])}:{location.name}"


def _names_at(nav: Any, where: str, name: str) -> bool:
    path, line, column = where.rsplit(":", 2)
    raw = (nav.sources.get(path).lines[int(line) - 1]) if nav.sources.get(path) else ""
    start = int(column) - 1
    return raw[start : start + len(name)] == name and not (raw[start + len(name) : start + len(name) + 1].isalnum())


def _is_definition(nav: Any, where: str, name: str) -> bool:
    """Another ``def`` of the name (an override, an overload, a property's setter): a definition,
    not a use; the suite counts uses."""
    from codemm.intel.lexical import use_kind

    path, line, column = where.rsplit(":", 2)
    return use_kind(nav.sources.get(path).lines[int(line) - 1], int(column) - 1, name) == "definition"


def _order(where: str) -> tuple[str, int, int]:
    path, line, column = where.rsplit(":", 2)
    return path, int(line), int(column)


def apply_corrections(symbols: list[SymbolCase], sites: list[UseSiteCase]) -> None:
    """Hand corrections (corrections.json): references to add or remove per symbol, a use site's
    definition, use sites dropped (each with the reason, read by a person)."""
    path = suite_dir() / "corrections.json"
    if not path.exists():
        return
    fixes = json.loads(path.read_text(encoding="utf-8"))
    for case in symbols:
        fix = fixes.get("references", {}).get(case.id, {})
        refs = (set(case.references) | set(fix.get("add", []))) - set(fix.get("remove", []))
        case.references = sorted(refs, key=_order)
        case.found_by = {k: case.found_by.get(k, "hand") for k in case.references}
    for site in sites:
        site.definition = fixes.get("sites", {}).get(site.id, {}).get("definition", site.definition)
    dropped = fixes.get("drop_sites", {})
    sites[:] = [site for site in sites if site.id not in dropped]


# -- checks ----------------------------------------------------------------------------------------


def check(symbols: list[SymbolCase], sites: list[UseSiteCase], roots: dict[str, Path]) -> list[str]:
    from codemm.intel.navigator import Navigator

    problems = []
    for library, root in roots.items():
        lines = library_lines(root)
        if lines < MIN_LINES:
            problems.append(f"{library}: {lines} lines of Python, fewer than {MIN_LINES}")
        mine = [s for s in symbols if s.library == library]
        if len(mine) < SYMBOLS_PER_LIBRARY or sum(s.shared for s in mine) * 2 < len(mine):
            problems.append(f"{library}: {len(mine)} symbols, {sum(s.shared for s in mine)} shared")
        if sum(u.library == library for u in sites) < 10:
            problems.append(f"{library}: fewer than 10 use sites")
        nav = Navigator(root)
        for case in mine:
            for where in [case.definition, *case.references]:
                if not _names_at(nav, where, case.name):
                    problems.append(f"{case.id}: {where} does not hold {case.name}")
        for site in (u for u in sites if u.library == library):
            if not site.definition:
                problems.append(f"{site.id}: no definition recorded")
    return problems


# -- the TypeScript library (the syntactic tier) ---------------------------------------------------


def fetch_npm(name: str, cache: Path | None = None) -> Path:
    """An npm package (npm.json) unpacked under codemm's cache, downloaded once with ``npm pack``
    and checked against its recorded sha256."""
    import hashlib
    import shutil
    import subprocess
    import tarfile
    import tempfile

    from codemm.errors import CodemmError
    from codemm.paths import cache_dir

    spec = json.loads((suite_dir() / "npm.json").read_text(encoding="utf-8"))[name]
    target = (cache or cache_dir() / "sources") / f"{name}-{spec['sha256'][:12]}"
    if (target / ".complete").exists():
        return target / spec["root"]
    npm = shutil.which("npm")
    if npm is None:
        raise CodemmError("npm is not installed; the TypeScript part of the suite needs it (apt-get install npm)")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        done = subprocess.run([npm, "pack", spec["spec"], "--pack-destination", tmp], capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        archive = Path(tmp) / spec["file"]
        if done.returncode != 0 or not archive.exists():
            raise CodemmError(f"could not download {spec['spec']}: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        if hashlib.sha256(archive.read_bytes()).hexdigest() != spec["sha256"]:
            raise CodemmError(f"{spec['file']} does not match its recorded sha256; refusing to use it")
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
    (target / ".complete").write_text(spec["sha256"])
    return target / spec["root"]


def pick_typescript(root: Path) -> list[SymbolCase]:
    """A seeded draw of rxjs's methods, functions and classes (an overloaded function counts once,
    at its implementation; constructors are reached through ``new Class``, never by their name),
    half with a name another definition shares."""
    from codemm.intel.navigator import Navigator
    from codemm.intel.scopes import locate, qualified

    nav = Navigator(root)
    defs: dict[tuple[str, str, str], Any] = {}
    for path in sorted(nav.sources.paths("typescript")):
        source = nav.sources.get(path)
        assert source is not None
        for s in nav.scopes.symbols(path):
            if s.kind in ("function", "method", "class") and not s.name.startswith("_") and s.name != "constructor":
                defs[(path, s.parent, s.name)] = (path, s, locate(s, source))  # the last overload: the body
    counts: dict[str, int] = {}
    for _, s, _ in defs.values():
        counts[s.name] = counts.get(s.name, 0) + 1
    rng = random.Random(f"{SEED}-rxjs")
    every = sorted(defs.values(), key=lambda d: (d[0], d[2].line))
    shared = [d for d in every if counts[d[1].name] > 1]
    unique = [d for d in every if counts[d[1].name] == 1]
    chosen = rng.sample(shared, SYMBOLS_PER_LIBRARY // 2) + rng.sample(unique, SYMBOLS_PER_LIBRARY // 2)
    return [
        SymbolCase(
            f"rxjs-{n:02d}", "rxjs", "test", qualified(s), s.name, counts[s.name] > 1, f"{path}:{w.line}:{w.column + 1}"
        )
        for n, (path, s, w) in enumerate(chosen, 1)
    ]


def typescript_truth(cases: list[SymbolCase], root: Path) -> None:
    """Each case's references from the TypeScript compiler's language service (node), less the
    definitions' own lines (overload signatures)."""
    import subprocess

    from codemm.intel.navigator import Navigator

    compiler = fetch_npm("typescript")
    asked = [{"id": c.id, "path": c.definition.rsplit(":", 2)[0], "line": int(c.definition.rsplit(":", 2)[1]),
              "column": int(c.definition.rsplit(":", 2)[2])} for c in cases]  # fmt: skip
    script = suite_dir() / "ts_references.js"
    done = subprocess.run(["node", str(script), str(compiler), str(root)], input=json.dumps(asked),
                          capture_output=True, text=True, timeout=1200, check=True)  # fmt: skip
    found = json.loads(done.stdout)
    nav = Navigator(root)
    for case in cases:
        def_lines = {(d.symbol.path, d.line) for d in nav.scopes.definitions(case.name, "typescript")}
        case.references = [w for w in found[case.id] if (w.rsplit(":", 2)[0], int(w.rsplit(":", 2)[1])) not in def_lines
                           and _names_at(nav, w, case.name)]  # fmt: skip
        case.found_by = {w: "tsserver" for w in case.references}


def load_typescript_cases() -> list[SymbolCase]:
    path = suite_dir() / "typescript.jsonl"
    return [SymbolCase(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codemm.eval.navigation")
    parser.add_argument("action", choices=["pick", "truth", "check", "typescript"])
    parser.add_argument("--library", action="append")
    args = parser.parse_args(argv)
    if args.action == "typescript":
        root = fetch_npm("rxjs")
        ts_cases = pick_typescript(root)
        typescript_truth(ts_cases, root)
        text = "".join(json.dumps(asdict(c)) + "\n" for c in ts_cases)
        (suite_dir() / "typescript.jsonl").write_text(text, encoding="utf-8")
        return 0
    roots = fetch_all(sources())
    libraries = args.library or list(roots)
    if args.action == "pick":
        symbols, sites = [], []
        for library in libraries:
            s, u = pick(library, roots[library])
            symbols += s
            sites += u
        _write(symbols, sites)
        return 0
    symbols, sites = load_cases()
    if args.action == "truth":
        from codemm.intel.navigator import Navigator

        for library in libraries:
            nav = Navigator(roots[library])
            for case in (s for s in symbols if s.library == library):
                truth(case, roots[library], nav)
                print(case.id, case.symbol, len(case.references), file=sys.stderr)
            for site in (u for u in sites if u.library == library):
                site_truth(site, nav)
        apply_corrections(symbols, sites)
        _write(symbols, sites)
        return 0
    problems = check(symbols, sites, {k: v for k, v in roots.items() if k in libraries})
    for problem in problems:
        print(problem)
    print(f"{len(symbols)} symbols, {len(sites)} use sites: {'ok' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


def _write(symbols: list[SymbolCase], sites: list[UseSiteCase]) -> None:
    directory = suite_dir()
    (directory / "symbols.jsonl").write_text("".join(json.dumps(asdict(s)) + "\n" for s in symbols), encoding="utf-8")
    (directory / "usesites.jsonl").write_text("".join(json.dumps(asdict(u)) + "\n" for u in sites), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
