"""kill -9 while a refresh embeds, then a rerun: how much of the embedding survives (issue 23, row 9).

    python -m codemm.eval.bench.embed_kill REPO [--after 1000] [--cache DIR]

Runs a refresh of REPO in a child process (embeddings included, a fresh cache dir), kills it with
SIGKILL once it reports AFTER chunks embedded, counts the vectors the index kept, then reruns the
refresh, which should embed only the chunks without a vector: kept + rerun = total, and the
chunks lost (reported by the killed run but not kept) at most one commit batch.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = (
    "import sys; from pathlib import Path; from codemm.repo.index import RepoIndex; "
    "RepoIndex(Path(sys.argv[1])).refresh(progress=lambda p, d, t: print(p, d, t, flush=True))"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("repo", type=Path)
    parser.add_argument("--after", type=int, default=1000, help="kill once this many chunks are reported embedded")
    parser.add_argument("--cache", type=Path, default=None, help="cache dir (default: a new temporary one)")
    args = parser.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="codemm-embed-kill-"))
    os.environ["CODEMM_CACHE_DIR"] = str(cache)

    from codemm.repo.embeddings import COMMIT_BATCH, embedding_progress
    from codemm.repo.index import EMBEDDING, RepoIndex

    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(args.repo)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    reported = 0
    for line in child.stdout:
        phase, done, _ = line.split()
        if phase == EMBEDDING and int(done) >= args.after:
            reported = int(done)
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait()
    killed_s = time.perf_counter() - started
    if not reported:
        sys.exit(f"the refresh ended (exit {child.returncode}) before {args.after} chunks were embedded")
    with RepoIndex(args.repo) as index:
        kept, total = embedding_progress(index)
        rerun_started = time.perf_counter()
        stats = index.refresh()
        rerun_s = time.perf_counter() - rerun_started
        after = embedding_progress(index)
    print(f"repository: {args.repo} ({stats.files} files, {total} chunks to embed; commit batch {COMMIT_BATCH})")
    print(f"killed (SIGKILL, exit {child.returncode}) after {killed_s:.1f} s, having reported {reported} embedded")
    print(f"kept by the index: {kept} vectors (lost: {reported - kept}, the batch in progress)")
    print(f"rerun: parsed {stats.parsed} files, embedded {stats.embedded} chunks in {rerun_s:.1f} s")
    print(f"kept + rerun = {kept + stats.embedded} of {total}; vectors now {after[0]} of {after[1]}")


if __name__ == "__main__":
    main()
