"""Generates a synthetic multi-language repository of about N lines for indexing benchmarks.

    python -m codemm.eval.bench.gen_repo OUT_DIR [--lines 100000] [--seed 0]

Files in Python, TypeScript, Go, Rust and Java, with functions that call each other across files,
so the reference graph and the repo map have real structure.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

WORDS = ["account", "invoice", "ledger", "parse", "render", "cache", "token", "session", "user", "order", "queue", "retry", "schedule", "report", "metric", "payload", "buffer", "stream", "config", "route", "handler", "client", "server", "vector", "matrix"]  # fmt: skip


def _name(rng: random.Random, style: str) -> str:
    parts = rng.sample(WORDS, 3)
    if style == "snake":
        return "_".join(parts)
    head, *rest = parts
    return head + "".join(p.capitalize() for p in rest)


def _python(rng: random.Random, names: list[str], calls: list[str]) -> str:
    out = ["import os\n"]
    for name in names:
        callee = rng.choice(calls)
        out.append(f"def {name}(value, limit=10):\n    \"\"\"Computes {name.replace('_', ' ')}.\"\"\"\n"
                   f"    total = 0\n    for i in range(limit):\n        total += i * len(str(value))\n"
                   f"    if total > 100:\n        return {callee}(total)\n    return total\n\n")  # fmt: skip
    return "\n".join(out)


def _typescript(rng: random.Random, names: list[str], calls: list[str]) -> str:
    out = []
    for name in names:
        callee = rng.choice(calls)
        out.append(f"export function {name}(value: number, limit = 10): number {{\n  let total = 0;\n"
                   f"  for (let i = 0; i < limit; i++) {{\n    total += i * value;\n  }}\n"
                   f"  if (total > 100) {{\n    return {callee}(total);\n  }}\n  return total;\n}}\n")  # fmt: skip
    return "\n".join(out)


def _go(rng: random.Random, names: list[str], calls: list[str]) -> str:
    out = ["package gen\n"]
    for name in names:
        callee = rng.choice(calls)
        out.append(f"// {name} computes a total.\nfunc {name}(value int, limit int) int {{\n\ttotal := 0\n"
                   f"\tfor i := 0; i < limit; i++ {{\n\t\ttotal += i * value\n\t}}\n"
                   f"\tif total > 100 {{\n\t\treturn {callee}(total, 1)\n\t}}\n\treturn total\n}}\n")  # fmt: skip
    return "\n".join(out)


def _rust(rng: random.Random, names: list[str], calls: list[str]) -> str:
    out = []
    for name in names:
        callee = rng.choice(calls)
        out.append(f"pub fn {name}(value: i64, limit: i64) -> i64 {{\n    let mut total = 0;\n"
                   f"    for i in 0..limit {{\n        total += i * value;\n    }}\n"
                   f"    if total > 100 {{\n        return {callee}(total, 1);\n    }}\n    total\n}}\n")  # fmt: skip
    return "\n".join(out)


def _java(rng: random.Random, names: list[str], calls: list[str], cls: str) -> str:
    body = []
    for name in names:
        callee = rng.choice(calls)
        body.append(f"    public static int {name}(int value, int limit) {{\n        int total = 0;\n"
                    f"        for (int i = 0; i < limit; i++) {{\n            total += i * value;\n        }}\n"
                    f"        if (total > 100) {{\n            return {callee}(total, 1);\n        }}\n"
                    f"        return total;\n    }}\n")  # fmt: skip
    return f"public class {cls} {{\n" + "\n".join(body) + "}\n"


def generate(out: Path, lines: int = 100_000, seed: int = 0, functions_per_file: int = 20) -> int:
    """Writes the repository; returns the number of lines written."""
    rng = random.Random(seed)
    written = 0
    index = 0
    langs = [("py", "snake"), ("ts", "camel"), ("go", "camel"), ("rs", "snake"), ("java", "camel")]
    pools: dict[str, list[str]] = {ext: [] for ext, _ in langs}
    while written < lines:
        ext, style = langs[index % len(langs)]
        names = [f"{_name(rng, style)}{index}x{i}" for i in range(functions_per_file)]
        calls = (pools[ext][-200:] or names) if rng.random() < 0.8 else names
        pools[ext] += names
        folder = out / f"module{index % 25:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        if ext == "py":
            text = _python(rng, names, calls)
        elif ext == "ts":
            text = _typescript(rng, names, calls)
        elif ext == "go":
            text = _go(rng, names, calls)
        elif ext == "rs":
            text = _rust(rng, names, calls)
        else:
            text = _java(rng, names, calls, f"Gen{index}")
        stem = f"Gen{index}" if ext == "java" else f"gen_{index}"
        (folder / f"{stem}.{ext}").write_text(text)
        written += text.count("\n")
        index += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"wrote {generate(args.out, args.lines, args.seed)} lines to {args.out}")


if __name__ == "__main__":
    main()
