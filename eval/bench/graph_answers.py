"""What the graph the repo map ranks over (``settings.graph``: names or imports) changes in what
`ask` answers and what `edit` shows the model.

    python -m codemm.eval.bench.graph_answers [--limit N] [--split dev|test|all] [--no-answers]

1. Answers (repo-QA suite, 42 questions over the fixture repositories): each question through
   `ask`'s own pipeline with its repo map (512 tokens, focused on the question) and the embedded
   SmolLM2, greedy, 64 new tokens, once per graph. Gold-fact rate (the share of the question's facts
   the answer states, codemm's preamble of grounded facts included as a user reads it) and whether it
   names the gold file or symbol; paired bootstrap of imports minus names.
2. The edit loop's context (retrieval-hard libraries, their questions as requests): the prompt
   `edit` builds (patch mode, k=4, map 256 tokens), per graph: whether a gold file is in it, as a
   retrieved chunk or in the map. No generation: the context is what the graph can change.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from codemm.eval.repoqa import load_questions, project_root
from codemm.eval.retrieval_hard import fetch_all, load_hard_questions, load_sources
from codemm.eval.stats import paired_bootstrap

GRAPHS = ("names", "imports")


def answers(limit: int | None) -> dict[str, Any]:
    from codemm.ask import AskRequest, finish, prepare, start
    from codemm.config import Settings
    from codemm.models.factory import open_model
    from codemm.models.stream import GenerationSettings
    from codemm.repo.index import RepoIndex

    questions = load_questions()[: limit or None]
    model = open_model(Settings())
    settings = GenerationSettings(max_new_tokens=64)
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for repo in sorted({q.repo for q in questions}):
        with RepoIndex(project_root() / repo) as index:
            index.refresh()
            for q in (q for q in questions if q.repo == repo):
                row: dict[str, Any] = {"id": q.id}
                for graph in GRAPHS:
                    request = AskRequest(q.question, index=index, k=3, map_tokens=512, graph=graph)
                    prepared = prepare(model, request, settings.max_new_tokens)
                    stream = start(model, prepared, settings)
                    answer = finish(stream.text(), model, stream, prepared).answer.lower()
                    row[f"facts {graph}"] = sum(f.lower() in answer for f in q.facts) / max(1, len(q.facts))
                    row[f"named {graph}"] = float(q.gold_files[0].rsplit("/", 1)[-1].lower() in answer
                                                  or q.gold_symbol.lower() in answer)  # fmt: skip
                    row[f"map {graph}"] = "repo map" not in prepared.prompt.dropped
                rows.append(row)
                print(json.dumps(row), flush=True)
    model.close()
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 1)}


def edit_context(split: str) -> dict[str, Any]:
    from codemm.ask import AskRequest, prepare
    from codemm.config import Settings
    from codemm.models.factory import open_model
    from codemm.repo.index import RepoIndex
    from codemm.repo.repomap import build_repo_map

    questions = load_hard_questions(split=split)
    roots = fetch_all({name: load_sources()[name] for name in {q.repo for q in questions}})
    model = open_model(Settings())  # its tokenizer budgets the prompt; nothing is generated
    rows: list[dict[str, Any]] = []
    for repo in sorted({q.repo for q in questions}):
        with RepoIndex(roots[repo]) as index:
            index.refresh(embed=False)  # the edit loop's search in a fresh checkout, before embeddings
            for q in (q for q in questions if q.repo == repo):
                row: dict[str, Any] = {"id": q.id}
                for graph in GRAPHS:
                    request = AskRequest(q.question, index=index, k=4, map_tokens=256, patch=True, graph=graph)
                    prepared = prepare(model, request, 512)
                    chunks = {h.path for h in prepared.prompt.included}
                    mapped = set()
                    if "repo map" not in prepared.prompt.dropped:
                        text = build_repo_map(index, model.count_text, 256, focus=q.question, edges=graph).text
                        mapped = {line[:-1] for line in text.splitlines() if line.endswith(":") and "/" in line}
                    gold = set(q.gold_files)
                    row[f"chunk {graph}"] = float(bool(chunks & gold))
                    row[f"in prompt {graph}"] = float(bool((chunks | mapped) & gold))
                rows.append(row)
    model.close()
    return {"rows": rows}


def summary(rows: list[dict[str, Any]], metrics: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"items": len(rows)}
    for metric in metrics:
        names = [float(r[f"{metric} names"]) for r in rows]
        imports = [float(r[f"{metric} imports"]) for r in rows]
        mean, low, high = paired_bootstrap(names, imports)
        out[metric] = {"names": round(sum(names) / max(1, len(rows)), 3),
                       "imports": round(sum(imports) / max(1, len(rows)), 3),
                       "difference": round(mean, 3), "ci": [round(low, 3), round(high, 3)]}  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="repo-QA questions (default: all)")
    parser.add_argument("--split", default="test", choices=("dev", "test", "all"))
    parser.add_argument("--no-answers", action="store_true", help="skip the generation part")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if not args.no_answers:
        found = answers(args.limit)
        results["answers"] = {**summary(found["rows"], ["facts", "named"]), "seconds": found["seconds"]}
    context = edit_context(args.split)
    results["edit_context"] = summary(context["rows"], ["chunk", "in prompt"])
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
