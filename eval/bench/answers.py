"""What a user gets from `codemm ask` on the 42 repo-QA questions, with ask's own defaults
(512 new tokens): answers that run to the token cap, answers stopped for repeating, mean answer
time, and how often the answer contains the gold fact (the grounded block and the prose together,
and the prose alone). It drives the CLI (`codemm ask --json`), so the same script measures any
commit, before and after a change:

    python -m codemm.eval.bench.answers [--limit N] [--out answers.jsonl] [-- extra ask flags]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from codemm.eval.repoqa import load_questions, project_root

FACTS_HEADER = "From the index:"


def prose_of(answer: str) -> str:
    """The model's part of an answer: what follows codemm's own blocks."""
    if answer.startswith(FACTS_HEADER):
        return answer.split("\n\n", 1)[1] if "\n\n" in answer else ""
    return answer


def fact_rate(facts: list[str], text: str) -> float:
    return sum(f.lower() in text.lower() for f in facts) / max(1, len(facts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="Write one JSON line per question.")
    parser.add_argument("extra", nargs="*", help="More `codemm ask` flags, after --.")
    args = parser.parse_args()
    root = project_root()
    questions = load_questions(root / "eval" / "suites" / "repoqa" / "questions.jsonl")[: args.limit]
    rows: list[dict[str, Any]] = []
    sink = args.out.open("w") if args.out else None  # a row per question as it comes: a long run can be stopped
    for q in questions:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "codemm.cli", "ask", q.question, "--repo", str(root / q.repo),
                               "--json", *args.extra], capture_output=True, text=True)  # fmt: skip
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            rows.append({"id": q.id, "error": proc.stderr.strip().splitlines()[-1:]})
            if sink:
                sink.write(json.dumps(rows[-1]) + "\n")
            continue
        data = json.loads(proc.stdout)
        answer = data["answer"]
        rows.append({"id": q.id, "stop_reason": data["stop_reason"], "new_tokens": data["tokens"]["new"],
                     "generation_s": data["timings"]["total_s"], "wall_s": round(wall, 2),
                     "facts_answer": fact_rate(q.facts, answer), "facts_prose": fact_rate(q.facts, prose_of(answer)),
                     "answer": answer})  # fmt: skip
        print(f"{q.id}: {rows[-1]['stop_reason']} {rows[-1]['new_tokens']} tokens {rows[-1]['generation_s']}s",
              file=sys.stderr)  # fmt: skip
        if sink:
            sink.write(json.dumps(rows[-1]) + "\n")
            sink.flush()
    ok = [r for r in rows if "error" not in r]
    print(f"questions {len(rows)}, errors {len(rows) - len(ok)}")
    print(f"hit the token cap (stop_reason length): {sum(r['stop_reason'] == 'length' for r in ok)}")
    print(f"stopped for repeating: {sum(r['stop_reason'] == 'repetition' for r in ok)}")
    print(f"mean generation time {statistics.mean(r['generation_s'] for r in ok):.1f} s, "
          f"mean new tokens {statistics.mean(r['new_tokens'] for r in ok):.0f}")  # fmt: skip
    print(f"gold fact in the answer (block + prose): {statistics.mean(r['facts_answer'] for r in ok):.3f}; "
          f"in the prose alone: {statistics.mean(r['facts_prose'] for r in ok):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
