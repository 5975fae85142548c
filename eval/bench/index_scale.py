"""Indexing at scale on a generated ~100k-line multi-language repository.

    python -m codemm.eval.bench.index_scale [--lines 100000] [--queries 50]

Prints cold index time and lines/s, the raw tree-sitter parse time of the same files and the
ratio (raw / index: 1.0 means indexing costs no more than parsing), embedding time separately,
the warm re-index after editing one file, and search latency p50/p95 on a built retriever.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()

    from codemm.eval.bench.gen_repo import WORDS, generate
    from codemm.repo.index import RepoIndex
    from codemm.repo.languages import language_of
    from codemm.repo.languages import parser as ts_parser
    from codemm.repo.retrieve import Retriever

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CODEMM_CACHE_DIR"] = str(Path(tmp) / "cache")
        repo = Path(tmp) / "repo"
        lines = generate(repo, args.lines)
        files = sorted(p for p in repo.rglob("*") if p.is_file())

        started = time.perf_counter()
        for path in files:
            ts_parser(str(language_of(path))).parse(path.read_bytes())
        raw_s = time.perf_counter() - started

        index = RepoIndex(repo)
        stats = index.refresh(embed=False)
        cold_s = stats.seconds
        embed_started = time.perf_counter()
        from codemm.repo.embeddings import embed_missing

        embedded = embed_missing(index)
        embed_s = time.perf_counter() - embed_started

        target = files[len(files) // 2]
        target.write_text(target.read_text() + "\n// edited\n")
        warm = index.refresh(embed=True)

        retriever = Retriever(index)
        queries = [f"where is {a} {b} computed" for a, b in zip(WORDS, WORDS[3:] + WORDS[:3], strict=True)]
        queries = (queries * (args.queries // len(queries) + 1))[: args.queries]
        latencies = []
        for q in queries:
            t = time.perf_counter()
            retriever.search(q, k=10)
            latencies.append((time.perf_counter() - t) * 1000)
        latencies.sort()
        p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]

        print(f"repo: {len(files)} files, {lines} lines, {stats.symbols} symbols, {stats.chunks} chunks")
        print(f"raw tree-sitter parse: {raw_s:.2f}s ({lines / raw_s:,.0f} lines/s)")
        print(f"cold index (no embeddings): {cold_s:.2f}s ({lines / cold_s:,.0f} lines/s); "
              f"raw/index ratio {raw_s / cold_s:.2f} (target >= 0.5)")  # fmt: skip
        print(f"embeddings: {embedded} chunks in {embed_s:.1f}s ({embedded / embed_s:.1f} chunks/s)")
        print(f"warm re-index after editing one file: {warm.seconds:.3f}s (parsed {warm.parsed}, "
              f"embedded {warm.embedded}; target < 1 s)")  # fmt: skip
        print(f"search latency over {len(latencies)} queries: p50 {statistics.median(latencies):.0f} ms, "
              f"p95 {p95:.0f} ms (target p95 < 300 ms)")  # fmt: skip
        index.close()


if __name__ == "__main__":
    main()
