"""The name graph against the import-resolved graph (precise_graph.py), where the graph feeds ranking.

    python -m codemm.eval.bench.graph_edges [--split dev|test|all] [--no-dense] [--json]

On the retrieval-hard suite, per question:
- retrieval (file level): the default (no propagation), and propagation at the existing weight 0.5
  over each graph: recall@1/5/10 and MRR;
- the repo map: definitions ranked by PageRank focused on the question (as `ask` builds it), then
  the rank of the first definition in a gold file and of the gold symbol itself. "map@50" (about
  what a 1k-token map shows) counts questions whose gold file has a definition in the first 50.
Then the same retrieval comparison on the repo-QA suite, and paired bootstrap intervals (eval/stats.py)
of imports minus names: reciprocal rank and hit@5 for retrieval, hit@50 for the map.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from typing import Any

from codemm.eval.bench.retrieval_hard import DEFAULT, evaluate
from codemm.eval.repoqa import first_gold_rank, load_questions, project_root, retrieval_metrics
from codemm.eval.retrieval_hard import fetch_all, load_hard_questions, load_sources
from codemm.eval.stats import paired_bootstrap
from codemm.repo.retrieve import RetrievalOptions

GRAPHS = ("names", "imports")
PROPAGATE = 0.5
"""The weight the tuning table already tries ("graph 0.5"): not tuned here."""
CONFIGS: dict[str, RetrievalOptions] = {
    "default (no graph)": DEFAULT,
    **{f"graph {g}": replace(DEFAULT, graph=PROPAGATE, graph_edges=g) for g in GRAPHS},
}
MAP_SHOWN = 50


def map_ranks(split: str) -> dict[str, Any]:
    from codemm.repo.index import RepoIndex
    from codemm.repo.repomap import focus_of, rank_definitions

    questions = load_hard_questions(split=split)
    roots = fetch_all({name: load_sources()[name] for name in {q.repo for q in questions}})
    rows: list[dict[str, Any]] = []
    seconds: dict[str, float] = {g: 0.0 for g in GRAPHS}
    for repo in sorted({q.repo for q in questions}):
        with RepoIndex(roots[repo]) as index:
            index.refresh(embed=False)
            symbols, references, files = index.symbols(), index.references(), sorted(index.file_lines())
            for q in (q for q in questions if q.repo == repo):
                focus_files, focus_names = focus_of(q.question, symbols, files)
                row: dict[str, Any] = {"id": q.id}
                for g in GRAPHS:
                    started = time.perf_counter()
                    ranked = rank_definitions(symbols, references, files, focus_files, focus_names, g, index.root)
                    seconds[g] += time.perf_counter() - started
                    paths = [s.path for s, _ in ranked]
                    row[f"file {g}"] = first_gold_rank(paths, q.gold_files)
                    row[f"symbol {g}"] = next(
                        (i for i, (s, _) in enumerate(ranked, 1) if s.name == q.gold_symbol and s.path in q.gold_files),
                        None,
                    )
                rows.append(row)
    return {"rows": rows, "seconds": seconds}


def repoqa_ranks(dense: bool) -> dict[str, list[int | None]]:
    from codemm.repo.index import RepoIndex
    from codemm.repo.retrieve import Retriever

    questions = load_questions()
    ranks: dict[str, list[int | None]] = {name: [] for name in CONFIGS}
    for repo in sorted({q.repo for q in questions}):
        with RepoIndex(project_root() / repo) as index:
            index.refresh(embed=dense)
            retrievers = {name: Retriever(index, dense, options) for name, options in CONFIGS.items()}
            for q in (q for q in questions if q.repo == repo):
                for name, retriever in retrievers.items():
                    hits = retriever.search(q.question, k=10, per_file=1)
                    ranks[name].append(first_gold_rank([h.path for h in hits], q.gold_files))
    return ranks


def jedi_sample(library: str, n: int, seed: int = 0) -> dict[str, Any]:
    """Edge precision and recall against jedi's ``goto`` (follow_imports) on ``n`` sampled Python
    references whose use site jedi resolves to a file of the repository: for each graph, the
    definers it links the use to, against the files jedi's definitions sit in."""
    import random
    import re

    import jedi

    from codemm.repo.graph import name_edges
    from codemm.repo.index import RepoIndex
    from codemm.repo.precise_graph import import_edges

    root = fetch_all({library: load_sources()[library]})[library]
    with RepoIndex(root) as index:
        index.refresh(embed=False)
        symbols, references = index.symbols(), index.references()
        graphs = {"names": name_edges(symbols, references), "imports": import_edges(symbols, references, index.root)}
        root = index.root
    defined = {s.name for s in symbols}
    pool = [r for r in references if r.path.endswith(".py") and r.name in defined]
    random.Random(seed).shuffle(pool)
    project = jedi.Project(root)
    counts = {g: {"linked": 0, "right": 0, "truth": 0} for g in graphs}
    used = 0
    for ref in pool:
        if used >= n:
            break
        text = (root / ref.path).read_text(encoding="utf-8", errors="replace").splitlines()
        match = re.search(rf"\b{re.escape(ref.name)}\b", text[ref.line - 1]) if ref.line <= len(text) else None
        if match is None:
            continue
        try:
            found = jedi.Script(path=str(root / ref.path), project=project).goto(
                ref.line, match.start(), follow_imports=True
            )
        except Exception:  # jedi's own failures on odd code: not a sample
            continue
        truth = {
            str(d.module_path.relative_to(root)) for d in found if d.module_path and d.module_path.is_relative_to(root)
        }
        if not truth:
            continue
        used += 1
        for g, edges in graphs.items():
            linked = {d for (u, d) in edges.get(ref.name, {}) if u == ref.path}
            counts[g]["linked"] += len(linked)
            counts[g]["right"] += len(linked & truth)
            counts[g]["truth"] += len(truth)
    return {"library": library, "sampled": used, "counts": counts}


def _rr(ranks: list[int | None]) -> list[float]:
    return [1.0 / r if r else 0.0 for r in ranks]


def _hit(ranks: list[int | None], k: int) -> list[float]:
    return [1.0 if r is not None and r <= k else 0.0 for r in ranks]


def _interval(a: list[float], b: list[float]) -> str:
    mean, lo, hi = paired_bootstrap(a, b)
    return f"{mean:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["dev", "test", "all"], default="dev")
    parser.add_argument("--no-dense", action="store_true")
    parser.add_argument("--no-repoqa", action="store_true")
    parser.add_argument("--jedi", type=int, default=0, help="only: edge precision against jedi on N uses per library")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.jedi:
        for library in sorted(load_sources()):
            result = jedi_sample(library, args.jedi)
            for g, c in result["counts"].items():
                precision, recall = c["right"] / max(1, c["linked"]), c["right"] / max(1, c["truth"])
                print(f"{library} ({result['sampled']} uses) {g:<8} precision {precision:.3f} recall {recall:.3f}")
        return
    retrieval = evaluate(args.split, CONFIGS, dense=not args.no_dense)
    maps = map_ranks(args.split)
    qa = {} if args.no_repoqa else repoqa_ranks(not args.no_dense)
    if args.json:
        print(json.dumps({"retrieval": retrieval, "map": maps, "repoqa": qa}, indent=2))
        return
    rows = retrieval["per_question"]
    print(f"retrieval-hard {args.split}: {retrieval['questions']} questions, file level")
    for name, m in retrieval["metrics"].items():
        a = m["all"]
        cells = f"R@1 {a['recall@1']:.3f} R@5 {a['recall@5']:.3f} R@10 {a['recall@10']:.3f} MRR {a['mrr']:.3f}"
        print(f"  {name:<20} {cells}")
    names, imports = [r["graph names"] for r in rows], [r["graph imports"] for r in rows]
    rr, hit5 = _interval(_rr(names), _rr(imports)), _interval(_hit(names, 5), _hit(imports, 5))
    print(f"  imports - names: RR {rr}, hit@5 {hit5}")
    mrows = maps["rows"]
    print(f"repo map (focused on the question), first gold-file definition / gold symbol among {len(mrows)} questions")
    for g in GRAPHS:
        f, s = [r[f"file {g}"] for r in mrows], [r[f"symbol {g}"] for r in mrows]
        hit_f, hit_s = sum(_hit(f, MAP_SHOWN)) / len(mrows), sum(_hit(s, MAP_SHOWN)) / len(mrows)
        file_cells = f"file map@{MAP_SHOWN} {hit_f:.3f} MRR {retrieval_metrics(f)['mrr']:.3f}"
        symbol_cells = f"symbol map@{MAP_SHOWN} {hit_s:.3f} MRR {retrieval_metrics(s)['mrr']:.3f}"
        print(f"  {g:<8} {file_cells} | {symbol_cells} | ranking {maps['seconds'][g]:.1f}s")
    fn, fi = [r["file names"] for r in mrows], [r["file imports"] for r in mrows]
    sn, si = [r["symbol names"] for r in mrows], [r["symbol imports"] for r in mrows]
    print(f"  imports - names: file hit@{MAP_SHOWN} {_interval(_hit(fn, MAP_SHOWN), _hit(fi, MAP_SHOWN))}, "
          f"symbol hit@{MAP_SHOWN} {_interval(_hit(sn, MAP_SHOWN), _hit(si, MAP_SHOWN))}")  # fmt: skip
    if qa:
        print(f"repo-QA: {len(next(iter(qa.values())))} questions")
        for name, ranks in qa.items():
            m = retrieval_metrics(ranks)
            print(f"  {name:<20} R@1 {m['recall@1']:.3f} R@5 {m['recall@5']:.3f} MRR {m['mrr']:.3f}")
        print(f"  imports - names: RR {_interval(_rr(qa['graph names']), _rr(qa['graph imports']))}")


if __name__ == "__main__":
    main()
