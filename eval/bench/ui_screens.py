"""Screenshot -> code on real applications' UIs: gold file recall@1/@5 of the UI-text matches
(``codemm.vision.uimatch``) against the question alone and today's pipeline (retrieval on the
question plus the OCR text), per UI kind and split; OCR and match time per screenshot.

    python -m codemm.eval.bench.ui_screens [--setup] [--split dev|test|all] [--cache DIR]

``--setup`` installs the apps (pinned, into venvs under the cache dir: never codemm's own
environment) and renders the screenshots (``eval/ui_screens/``; needs Debian's librsvg2-bin and
chromium, see scripts/setup.sh). Retrieval runs without embeddings (BM25 + symbols): the apps'
sources are indexed fresh and embedding 60k lines of Textual would dominate the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "eval" / "suites" / "ui-screens" / "cases.jsonl"
SCRIPTS = ROOT / "eval" / "ui_screens"
VENVS = {"apps": ["frogmouth==0.8.0", "toolong==1.5.0", "datasette==0.65.5"], "apps2": ["textual==8.2.8"]}
APP_ROOTS = {"frogmouth": ("apps", "frogmouth"), "toolong": ("apps", "toolong"),
             "datasette": ("apps", "datasette"), "textual-demo": ("apps2", "textual")}  # fmt: skip


def default_cache() -> Path:
    return Path(os.environ.get("CODEMM_UI_SCREENS", Path.home() / ".cache" / "codemm-ui"))


def load_cases(split: str = "all") -> list[dict[str, Any]]:
    cases = [json.loads(line) for line in SUITE.read_text().splitlines() if line.strip()]
    return [c for c in cases if split == "all" or c["split"] == split]


def site_packages(cache: Path, venv: str) -> Path:
    return next((cache / venv / "lib").glob("python3*/site-packages"))


def app_root(cache: Path, app: str) -> Path:
    venv, package = APP_ROOTS[app]
    return site_packages(cache, venv) / package


def setup(cache: Path) -> None:
    for venv, packages in VENVS.items():
        python = cache / venv / "bin" / "python"
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(cache / venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    shots = cache / "shots"
    for venv, only in (("apps", "frogmouth"), ("apps", "toolong"), ("apps2", "textual-demo")):
        subprocess.run([str(cache / venv / "bin" / "python"), str(SCRIPTS / "textual_shots.py"), str(SUITE), str(shots),
                        "--only", only], check=True)  # fmt: skip
    datasette = cache / "apps" / "bin" / "datasette"
    subprocess.run([sys.executable, str(SCRIPTS / "web_shots.py"), str(SUITE), str(shots), str(datasette)], check=True)


def check_gold(case: dict[str, Any], root: Path) -> None:
    """Each visible string of a case is defined in one of its gold files (the suite's own check)."""
    texts = [(root / g).read_text(errors="replace") for g in case["gold"]]
    for visible in case["visible"]:
        if not any(visible in text for text in texts):
            raise SystemExit(f"{case['id']}: {visible!r} is in none of {case['gold']}")


def ocr_cached(png: Path, cache: Path) -> tuple[Any, float]:
    from PIL import Image

    from codemm.vision.ocr import OcrLine, OcrResult, ocr_image

    stored = cache / "ocr" / (png.stem + ".json")
    if stored.exists():
        data = json.loads(stored.read_text())
        return OcrResult(data["backend"], [OcrLine(t, tuple(b), i) for t, b, i in data["lines"]]), data["s"]
    started = time.perf_counter()
    result = ocr_image(Image.open(png).convert("RGB"))
    seconds = time.perf_counter() - started
    stored.parent.mkdir(parents=True, exist_ok=True)
    lines = [[line.text, list(line.box), line.indent] for line in result.lines]
    stored.write_text(json.dumps({"backend": result.backend, "s": seconds, "lines": lines}))
    return result, seconds


def rank_of(gold: list[str], ranking: list[str]) -> int | None:
    return next((n for n, path in enumerate(ranking, 1) if path in gold), None)


def file_ranking(hits: list[Any]) -> list[str]:
    return list(dict.fromkeys(h.path for h in hits))


def run(split: str, cache: Path, contrast: bool = True, text_only: bool = False) -> dict[str, Any]:
    from PIL import Image

    from codemm.repo.index import RepoIndex
    from codemm.repo.retrieve import retriever_for
    from codemm.vision.uiindex import ui_text_index
    from codemm.vision.uimatch import match_segments, segments, weigh_contrast

    rows = []
    indexes: dict[str, Any] = {}
    for case in load_cases(split):
        root = app_root(cache, case["app"])
        check_gold(case, root)
        if case["app"] not in indexes:
            index = RepoIndex(root, db_path=cache / "index" / case["app"] / "index.sqlite")
            stats = index.refresh(embed=False)
            started = time.perf_counter()
            ui_text_index(index)
            indexes[case["app"]] = (index, stats.lines, time.perf_counter() - started)
        index = indexes[case["app"]][0]
        ocr, ocr_s = ocr_cached(cache / "shots" / f"{case['id']}.png", cache)
        retriever = retriever_for(index, dense=False)
        plain = file_ranking(retriever.search(case["question"], k=20))
        today = file_ranking(retriever.search(case["question"] + "\n" + ocr.text[:2000], k=20))
        ui = ui_text_index(index)
        found = segments(ocr.text if text_only else ocr)
        if contrast and not text_only:
            weigh_contrast(found, Image.open(cache / "shots" / f"{case['id']}.png").convert("RGB"))
        matches = match_segments(found, ui)
        ranked = [p for p, _ in matches.files]
        with_image = list(dict.fromkeys(ranked + today))
        rows.append({"id": case["id"], "kind": case["kind"], "app": case["app"], "split": case["split"],
                     "question": rank_of(case["gold"], plain), "today": rank_of(case["gold"], today),
                     "image": rank_of(case["gold"], with_image), "ocr_s": ocr_s, "match_s": matches.match_s,
                     "top": ranked[:3]})  # fmt: skip
    return {"rows": rows, "indexes": {app: {"lines": lines, "ui_index_s": s} for app, (_, lines, s) in indexes.items()}}


def recall(rows: list[dict[str, Any]], method: str, k: int) -> float:
    return sum(1 for r in rows if r[method] is not None and r[method] <= k) / max(1, len(rows))


def report(result: dict[str, Any]) -> str:
    rows = result["rows"]
    out = ["| split | kind | n | question R@1/R@5 | today R@1/R@5 | image R@1/R@5 |", "|---|---|---|---|---|---|"]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        for split in (row["split"], "all"):
            groups[(split, row["kind"])].append(row)
            groups[(split, "all")].append(row)
    for (split, kind), group in sorted(groups.items()):
        cells = [f"{recall(group, m, 1):.2f}/{recall(group, m, 5):.2f}" for m in ("question", "today", "image")]
        out.append(f"| {split} | {kind} | {len(group)} | " + " | ".join(cells) + " |")
    ocr = [r["ocr_s"] for r in rows]
    match = [r["match_s"] for r in rows]
    out.append(f"\nOCR s/screenshot: median {statistics.median(ocr):.2f}, max {max(ocr):.2f}; "
               f"match s/screenshot: median {statistics.median(match):.3f}, max {max(match):.3f}")  # fmt: skip
    for app, info in result["indexes"].items():
        times = [r["match_s"] for r in rows if r["app"] == app]
        out.append(f"{app}: {info['lines']} lines indexed, UI-text index built/loaded in {info['ui_index_s']:.2f} s, "
                   f"match s median {statistics.median(times):.3f} max {max(times):.3f}")  # fmt: skip
    misses = [r for r in rows if r["image"] != 1]
    out += [f"miss {r['id']} ({r['split']}): gold rank {r['image']}, top {r['top']}" for r in misses]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--split", default="all", choices=["dev", "test", "all"])
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-contrast", action="store_true", help="OCR lines with boxes, but no pixels")
    parser.add_argument("--text-only", action="store_true", help="the OCR text alone, as `ask` has it (no boxes)")
    args = parser.parse_args()
    if args.setup:
        setup(args.cache)
    result = run(args.split, args.cache, contrast=not args.no_contrast, text_only=args.text_only)
    print(json.dumps(result, indent=1) if args.json else report(result))


if __name__ == "__main__":
    main()
