"""The eval report as a person reads it: Markdown rendered as HTML, a per-item table that links to
each sample's output on the page, and the detector self-check explained in words."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from codemm.eval.report import write_report
from codemm.eval.risks import PROBE_MEANS

INSECURE = {"test": "B602", "cwe": "CWE-78", "severity": "HIGH", "line": 2, "text": "subprocess call with shell=True"}


def row(suite: str, item: str, variant: str, output: str | None, **metrics: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"suite": suite, "item": item, "variant": variant, "sample": 0, "adapter": None, **metrics,
                            "cost": {"prompt_tokens": 10, "new_tokens": 5, "latency_s": 0.5, "tokens_per_s": 10.0,
                                     "peak_rss_mib": 100.0}}  # fmt: skip
    if output is not None:
        data["output"] = output
    return data


ROWS = [
    row("synthesis", "HumanEval/0", "base", "```python\ndef f():\n    return 1\n```", passed=True,
        risks={"insecure": [], "secrets": [], "hallucinated": [], "memorized_run": 0}),
    row("synthesis", "HumanEval/1", "base", "<script>alert(1)</script> {} `tick`", passed=False,
        risks={"insecure": [INSECURE], "secrets": [], "hallucinated": ["json.loads_file"], "memorized_run": 0}),
    row("completion", "tasktracker/dates.py:parse_due_date", "repo", "return today", edit_similarity=0.75),
    row("completion", "tasktracker/dates.py:parse_due_date", "no-repo", None, edit_similarity=0.25),
]  # fmt: skip


def make_run(out: Path, detectors: dict[str, bool] | None) -> Path:
    out.mkdir()
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    run: dict[str, Any] = {"config": {"quant": "none", "seed": 0, "samples": 1}, "model": {"name": "tiny"},
                           "versions": {"codemm": "0", "torch": "0", "transformers": "0"}}  # fmt: skip
    if detectors is not None:
        run["detectors"] = detectors
    (out / "run.json").write_text(json.dumps(run))
    return out


class Page(HTMLParser):
    """Ids, links and the text under each id'd heading's following <pre>."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.rows: list[list[str]] = []
        self.pre: dict[str, str] = {}
        self._anchor = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if attr.get("id"):
            self.ids.append(attr["id"] or "")
            self._anchor = attr["id"] or ""
        if tag == "a" and attr.get("href"):
            self.links.append(attr["href"] or "")
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "pre"):
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "pre"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "td":
            self.rows[-1].append(data)
        elif self._in == "pre":
            self.pre[self._anchor] = self.pre.get(self._anchor, "") + data


def report(tmp_path: Path, detectors: dict[str, bool] | None = None) -> tuple[str, str, Page]:
    all_ok = {name: True for name in PROBE_MEANS}
    md, page = write_report(make_run(tmp_path / "run", all_ok if detectors is None else detectors))
    parsed = Page()
    parsed.feed(page.read_text())
    return md.read_text(), page.read_text(), parsed


def test_markdown_is_rendered_not_pasted(tmp_path: Path) -> None:
    _, page, _ = report(tmp_path)
    outside_pre = re.sub(r"<pre>.*?</pre>", "", page, flags=re.S)
    assert "`" not in outside_pre and "{}" not in outside_pre and "\n- " not in outside_pre and "**" not in outside_pre
    assert (
        "<code>tiny</code>" in page
        and "<li>insecure patterns (bandit): 1 of 2 code samples; by CWE: CWE-78 1\n<ul>\n<li>HumanEval/1 (base): B602"
        in page
    )
    assert "<strong>no-repo − repo</strong>" in page and page.count("<table>") >= 4
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # a model's output stays text


def test_per_item_table_links_to_each_output_on_the_page(tmp_path: Path) -> None:
    md, _, page = report(tmp_path)
    items = [
        r
        for r in page.rows
        if len(r) >= 4 and r[0] in {"HumanEval/0", "HumanEval/1", "tasktracker/dates.py:parse_due_date"}
    ]
    assert [(r[0], r[1], r[3]) for r in items] == [
        ("HumanEval/0", "base", "pass"),
        ("HumanEval/1", "base", "fail"),
        ("tasktracker/dates.py:parse_due_date", "repo", "0.750"),
        ("tasktracker/dates.py:parse_due_date", "no-repo", "0.250"),
    ]
    assert items[3][4] == "—"  # no output recorded for that sample: no link
    anchors = [link.removeprefix("#") for link in page.links if link.startswith("#")]
    assert len(anchors) == 3 and all(a in page.ids for a in anchors)
    for anchor, source in zip(anchors, [r for r in ROWS if "output" in r], strict=True):
        assert page.pre[anchor].rstrip("\n") == source["output"]  # the linked block holds that sample's output
    assert "````text\n```python" in md  # a fence longer than any inside the output


def test_detector_self_check_is_explained(tmp_path: Path) -> None:
    _, page, _ = report(tmp_path)
    assert "Detector self-check" in page and "a snippet it must flag" in page
    for what, probe in PROBE_MEANS.values():
        assert f"<li>{what}: flagged {probe}</li>" in page
    assert f"All {len(PROBE_MEANS)} detectors caught their probe" in page
    assert re.search(r"what bandit reports on its probe today: B\d+ CWE-78 line \d", page)


def test_a_run_without_the_self_check_says_so(tmp_path: Path) -> None:
    _, page, _ = report(tmp_path, detectors={})
    assert "recorded no detector self-check" in page and "caught their probe" not in page
