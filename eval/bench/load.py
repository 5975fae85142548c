"""Model load time: first load (GGUF conversion into an empty cache) vs second load (cache hit).

    python -m codemm.eval.bench.load [--model smollm2-135m-instruct]

Each load runs in a fresh process, as a user's commands do. Target: second < first / 3.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = (
    "import json, time; t = time.perf_counter(); from codemm.models.load import load; "
    "m = load({model!r}, device='cpu'); print(json.dumps({{'load_s': time.perf_counter() - t}}))"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "CODEMM_CACHE_DIR": cache}
        times = []
        for _ in range(2):
            out = subprocess.run(
                [sys.executable, "-c", CHILD.format(model=args.model)],
                env=env,
                capture_output=True,
                text=True,
            )
            if out.returncode != 0:
                sys.exit(f"load failed: {out.stderr.strip().splitlines()[-1]}")
            times.append(json.loads(out.stdout.strip().splitlines()[-1])["load_s"])
    first, second = times
    print(f"first load (converts): {first:.2f}s; second load (cache): {second:.2f}s; "
          f"ratio {second / first:.2f} (target < 0.33)")  # fmt: skip


if __name__ == "__main__":
    main()
