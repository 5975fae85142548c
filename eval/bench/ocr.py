"""OCR character error rate per backend and kind of screenshot (code, traceback, dialog, diagram).

    python -m codemm.eval.bench.ocr [--json]

CER = Levenshtein distance / length of the true text. Code and tracebacks are compared exactly,
indentation included (it carries meaning); dialogs and diagrams with whitespace collapsed (their
reading order across columns is not defined). Target: CER <= 5% on code screenshots at >= 14 px.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from typing import Any


def measure(backends: list[str]) -> dict[str, Any]:
    from codemm.eval.repoqa import project_root
    from codemm.eval.screens import cer, screenshot_suite
    from codemm.vision.ocr import ocr_image

    screens = screenshot_suite(project_root() / "examples" / "sample-repo")
    rows: list[dict[str, Any]] = []
    for backend in backends:
        for screen in screens:
            started = time.perf_counter()
            text = ocr_image(screen.image, backend).text
            rows.append({"backend": backend, "screen": screen.name, "kind": screen.kind,
                         "cer": cer(screen.text, text, collapse=screen.kind in ("dialog", "diagram")),
                         "seconds": time.perf_counter() - started})  # fmt: skip
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for backend in backends:
        for kind in ("code", "traceback", "dialog", "diagram"):
            values = [r["cer"] for r in rows if r["backend"] == backend and r["kind"] == kind]
            table[backend][kind] = sum(values) / len(values)
        table[backend]["seconds_per_image"] = sum(r["seconds"] for r in rows if r["backend"] == backend) / len(screens)
    return {"table": table, "rows": rows}


def main() -> None:
    from codemm.vision.ocr import available_backends

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    found = available_backends()
    result = measure(found + (["auto"] if len(found) > 1 else []))  # auto: the per-image choice ask makes
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'backend':<10} {'code':>7} {'traceback':>10} {'dialog':>7} {'diagram':>8} {'s/image':>8}")
    for backend, row in result["table"].items():
        print(f"{backend:<10} {row['code']:>7.2%} {row['traceback']:>10.2%} {row['dialog']:>7.2%} "
              f"{row['diagram']:>8.2%} {row['seconds_per_image']:>8.2f}")  # fmt: skip
    worst = max((r for r in result["rows"] if r["kind"] == "code"), key=lambda r: (r["backend"], r["cer"]))
    print(f"worst code screenshot: {worst['screen']} ({worst['backend']}) {worst['cer']:.2%}")


if __name__ == "__main__":
    main()
