"""Generation benchmark: load time, TTFT, prompt and decode tokens/s, peak RSS, per quantization.

Each quantization runs in its own process so that peak RSS is that configuration's alone.
    codemm bench generate            (or: python -m codemm.eval.bench.generate --quants none,4bit)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from typing import Any

from codemm.errors import CodemmError

PROMPT = (
    "Write a Python function `merge_intervals(intervals)` that merges overlapping closed intervals "
    "and returns them sorted. Explain the complexity in one sentence."
)


def run_one(model: str, quant: str, device: str, max_new_tokens: int) -> dict[str, Any]:
    from codemm.models.generate import stream_chat
    from codemm.models.load import load
    from codemm.models.stream import GenerationSettings

    loaded = load(model, quant=quant, device=device)
    settings = GenerationSettings(max_new_tokens=max_new_tokens)
    stream_chat(loaded, [{"role": "user", "content": "hi"}], GenerationSettings(max_new_tokens=2)).text()  # warm-up
    stream = stream_chat(loaded, [{"role": "user", "content": PROMPT}], settings)
    stream.text()
    stats = stream.stats
    return {
        "quant": quant,
        "device": loaded.device,
        "load_s": round(loaded.load_s, 2),
        "ttft_s": round(stats.ttft_s, 3),
        "prompt_tokens": stats.prompt_tokens,
        "prompt_tok_s": round(stats.prompt_tokens_per_s, 1),
        "new_tokens": stats.new_tokens,
        "decode_tok_s": round(stats.tokens_per_s, 1),
        "footprint_mib": round(loaded.footprint_bytes / 2**20, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run_all(model: str, quants: list[str], device: str, max_new_tokens: int) -> list[dict[str, Any]]:
    rows = []
    for quant in quants:
        cmd = [sys.executable, "-m", "codemm.eval.bench.generate", "--one", quant, "--model", model,
               "--device", device, "--max-new-tokens", str(max_new_tokens)]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise CodemmError(f"benchmark of --quant {quant} failed: {last}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys)]
    lines += ["  ".join(str(r[k]).ljust(widths[k]) for k in keys) for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", help="measure one quantization in this process and print JSON")
    parser.add_argument("--quants", default="none,8bit,4bit")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()
    try:
        if args.one:
            print(json.dumps(run_one(args.model, args.one, args.device, args.max_new_tokens)))
        else:
            print(format_table(run_all(args.model, args.quants.split(","), args.device, args.max_new_tokens)))
    except CodemmError as exc:
        print(f"codemm bench: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
