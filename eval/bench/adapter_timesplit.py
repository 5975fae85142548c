"""Adapters over time on real libraries: train on an older release, score what a newer one added.

    python -m codemm.eval.bench.adapter_timesplit [--libraries werkzeug,tornado,prompt_toolkit]
        [--out DIR] [--recipe default] [--limit 40] [--cost-limit 20] [--max-new-tokens 32]

Per library: both releases' sdists from the package registry (pinned and sha256-checked, through
retrieval_hard's download cache), an adapter trained on the older with the recipe (what `codemm
adapters train --repo OLDER --name ts-LIB` does), then with vs without it:
- gain: `codemm eval run adapter_gain --adapter ts-LIB --heldout-repo NEWER`: the functions the
  newer release added (qualified names the older lacked), sampled across files: body loss, the
  body's first tokens completed, and next lines completed at up to four cursors inside the body;
- cost: `codemm eval run adapter_cost --adapter ts-LIB --unseen-repo OTHER`: HumanEval (loss of the
  canonical solution, pass@1 in the sandbox) and the older release of the next library in the list.
Prints one table of paired differences (bootstrap 95% CIs). Work already done (an adapter, a
results file) is reused, so an interrupted run continues; adapters live in codemm's data dir
(``CODEMM_DATA_DIR`` moves it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from codemm.eval.retrieval_hard import Source, fetch_source, load_sources
from codemm.eval.tasks.adapter_gain import GAIN_METRICS

# Older releases: each at least 6 months (here 1.5 to 3 years) before the newer one, which is
# retrieval_hard's pinned version of the same library.
OLDER = {
    "werkzeug": Source("werkzeug", "werkzeug==2.3.0", "Werkzeug-2.3.0.tar.gz",
                       "3b6b46926d052b8ebca97c4dc73c12e47bdd07d57ab0600c039c3155450227bc", "Werkzeug-2.3.0"),
    "tornado": Source("tornado", "tornado==6.2", "tornado-6.2.tar.gz",
                      "9b630419bde84ec666bfd7ea0a4cb2a8a651c2d5cccdbdd1972a0c859dfc3c13", "tornado-6.2"),
    "prompt_toolkit": Source("prompt_toolkit", "prompt_toolkit==3.0.36", "prompt_toolkit-3.0.36.tar.gz",
                             "3e163f254bef5a03b146397d7c1963bd3e2812f0964bb9a24e6ec761fd28db63",
                             "prompt_toolkit-3.0.36"),
}  # fmt: skip
RELEASED = {"werkzeug": ("2023-04", "2024-11"), "tornado": ("2022-07", "2025-08"),
            "prompt_toolkit": ("2022-12", "2025-08")}  # fmt: skip
LABELS = {"loss": "loss (nats)", "token_accuracy": "top-1 token", "edit_similarity": "edit sim", "exact_match": "exact",
          "identifier_recall": "ident recall", "line_edit_similarity": "next-line edit sim",
          "line_exact_match": "next-line exact"}  # fmt: skip
GAIN = tuple((metric, LABELS[metric]) for metric in GAIN_METRICS)  # every figure adapter_gain measures


def adapter_name(library: str, recipe: str) -> str:
    """ts-LIB for the default recipe, else ts-LIB-STEM (a shipped recipe's name or a .toml path's stem)."""
    stem = Path(recipe).stem
    return f"ts-{library}" if stem == "default" else f"ts-{library}-{stem}"


def train(library: str, repo: Path, recipe_name: str, model: str) -> dict[str, Any]:
    from codemm.adapters.estimate import estimate_training
    from codemm.adapters.recipe import load_recipe
    from codemm.adapters.store import adapter_dir, read_card
    from codemm.adapters.train import train_adapter
    from codemm.errors import BadInputError

    name = adapter_name(library, recipe_name)
    recipe = load_recipe(recipe_name)
    if (adapter_dir(name) / "adapter_config.json").is_file():
        # Reused only if trained with this recipe: a changed default must not be scored by the old one's adapter.
        changed = recipe.first_difference(read_card(name).recipe)
        if changed:
            raise BadInputError(f"adapter '{name}' was trained with another {changed} than recipe "
                                f"'{recipe_name}': `codemm adapters delete {name}` or set CODEMM_DATA_DIR")  # fmt: skip
    else:
        print(f"{library}: training {name} on {repo.name}, {estimate_training(recipe, repo).describe()}", flush=True)
        started = time.perf_counter()
        train_adapter(name, repo, recipe, model, "cpu")
        print(f"{library}: trained in {time.perf_counter() - started:.0f}s", flush=True)
    return read_card(name).metrics


def evaluate(suite: str, out: Path, **options: Any) -> list[dict[str, Any]]:
    from codemm.config import Settings
    from codemm.eval.runner import RunConfig, run_eval

    settings = Settings()
    config = RunConfig(suites=[suite], variants=[], model=settings.model, quant="none", device="cpu", samples=1,
                       seed=0, jobs=1, **options)  # fmt: skip
    results = out / "results.jsonl"
    if not (out / "summary.done").exists():
        run_eval(config, out, resume=results.exists())
        (out / "summary.done").write_text("")
    return [json.loads(line) for line in results.read_text().splitlines() if line.strip()]


def paired(rows: list[dict[str, Any]], metric: str, kind: str | None = None) -> dict[str, float]:
    from codemm.eval.stats import paired_rows

    chosen = [r for r in rows if kind is None or r.get("kind") == kind]
    return paired_rows(chosen, metric, "no-adapter", "adapter")


def cell(p: dict[str, float]) -> str:
    if not p["items"]:  # not measured (a results file from before the metric existed, or a loss-only run)
        return "–"
    return (f"{p['baseline']:.3f} → {p['variant']:.3f}, {p['difference']:+.3f} "
            f"[{p['ci_low']:+.3f}, {p['ci_high']:+.3f}]")  # fmt: skip


def run_library(library: str, args: argparse.Namespace, others: list[str]) -> dict[str, Any]:
    from codemm.config import Settings

    newer = load_sources()[library]
    old_repo = fetch_source(OLDER[library], args.cache)
    new_repo = fetch_source(newer, args.cache)
    metrics = train(library, old_repo, args.recipe, Settings().model)
    name = adapter_name(library, args.recipe)
    out = args.out / name
    gain = evaluate("adapter_gain", out / "gain", adapter=name, limit=args.limit,
                    max_new_tokens=args.max_new_tokens, heldout_repo=str(new_repo))  # fmt: skip
    unseen = others[0]
    cost = []
    if args.cost_limit > 0:
        cost = evaluate("adapter_cost", out / "cost", adapter=name, limit=args.cost_limit,
                        max_new_tokens=args.cost_new_tokens,
                        unseen_repo=str(fetch_source(OLDER[unseen], args.cache)))  # fmt: skip
    from codemm.eval.stats import mcnemar_exact

    # Only the problems it completed (--cost-new-tokens 0 scores the loss alone).
    completed = [r for r in cost if r["kind"] == "humaneval" and "passed" in r]
    humaneval = {r["item"]: r for r in completed if r["variant"] == "no-adapter"}
    tuned = {r["item"]: r for r in completed if r["variant"] == "adapter"}
    items = sorted(set(humaneval) & set(tuned))
    before = [bool(humaneval[i].get("passed")) for i in items]
    after = [bool(tuned[i].get("passed")) for i in items]
    return {
        "library": library, "older": OLDER[library].requirement, "newer": newer.requirement,
        "released": RELEASED[library], "train_seconds": metrics.get("train_seconds"),
        "gain": {metric: paired(gain, metric) for metric, _ in GAIN},
        "cost_humaneval_loss": paired(cost, "loss", "humaneval"),
        "cost_unseen_loss": paired(cost, "loss", "unseen_repo"), "unseen": OLDER[unseen].requirement,
        "pass@1": {"items": len(items), "no-adapter": sum(before) / max(1, len(items)),
                   "adapter": sum(after) / max(1, len(items)), "mcnemar_p": mcnemar_exact(before, after)},
    }  # fmt: skip


def print_table(results: list[dict[str, Any]]) -> None:
    print("\n## Gain on what the newer release added (no adapter → adapter, difference [95% CI])\n")
    print("| library | train → eval | items | train s | " + " | ".join(label for _, label in GAIN) + " |")
    print("|---|---|---|---|" + "---|" * len(GAIN))
    for r in results:
        gain = r["gain"]
        print(f"| {r['library']} | {r['older']} → {r['newer']} | {gain['loss']['items']} | {r['train_seconds']} | "
              + " | ".join(cell(gain[m]) for m, _ in GAIN) + " |")  # fmt: skip
    print("\n## Cost on code the adapter never saw\n")
    print("| adapter | HumanEval loss | HumanEval pass@1 (McNemar p) | other library | its loss |")
    print("|---|---|---|---|---|")
    for r in results:
        p = r["pass@1"]
        passed = f"{p['no-adapter']:.3f} → {p['adapter']:.3f} ({p['items']} problems, p = {p['mcnemar_p']:.2f})"
        print(f"| {r['library']} | {cell(r['cost_humaneval_loss'])} | {passed} | {r['unseen']} | "
              f"{cell(r['cost_unseen_loss'])} |")  # fmt: skip


def main() -> None:
    from codemm.errors import CodemmError
    from codemm.paths import cache_dir, data_dir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--libraries", default=",".join(OLDER), help="comma-separated, from: " + ", ".join(OLDER))
    parser.add_argument("--out", type=Path, default=None, help="eval runs (default: <data dir>/bench/...)")
    parser.add_argument("--cache", type=Path, default=None, help="sdists (default: codemm's cache dir)")
    parser.add_argument("--recipe", default="default", help="a shipped recipe's name, or a .toml path "
                        "(eval/bench/recipes: the candidates the default was chosen from)")  # fmt: skip
    parser.add_argument("--limit", type=int, default=40, help="new functions scored per library")
    parser.add_argument("--cost-limit", type=int, default=20, help="HumanEval and other-library items (0: none)")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="completion length (0: loss only)")
    parser.add_argument("--cost-new-tokens", type=int, default=96, help="HumanEval completion length (0: loss only)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    args.out = args.out or data_dir() / "bench" / "adapter_timesplit"
    args.cache = args.cache or cache_dir() / "sources"
    libraries = [name.strip() for name in args.libraries.split(",") if name.strip()]
    unknown = [name for name in libraries if name not in OLDER]
    if unknown:
        parser.error(f"unknown library {unknown[0]} (known: {', '.join(OLDER)})")
    results = []
    names = list(OLDER)
    for library in libraries:
        others = [n for n in names[names.index(library) + 1 :] + names if n != library]
        try:
            results.append(run_library(library, args, others))
        except CodemmError as exc:
            print(f"adapter_timesplit: error: {exc}", file=sys.stderr)
            sys.exit(exc.exit_code)
        (args.out / f"{adapter_name(library, args.recipe)}.json").write_text(json.dumps(results[-1], indent=2))
    print_table(results)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
