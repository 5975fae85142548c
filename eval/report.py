"""`codemm eval report DIR [--compare DIR2]`: scores with intervals, paired differences, risks and
cost, as summary.json, report.md and a self-contained report.html (plots embedded)."""

from __future__ import annotations

import base64
import io
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError
from codemm.eval.risks import PROBE_MEANS, PROBES, bandit_findings
from codemm.eval.stats import mcnemar_exact, paired_bootstrap, pass_at_k, wilson_interval
from codemm.eval.tasks import get_task


def load_rows(out: Path) -> list[dict[str, Any]]:
    path = out / "results.jsonl"
    if not path.is_file():
        raise BadInputError(f"{out} holds no results.jsonl: run `codemm eval run ... --out {out}` first")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _per_item(rows: list[dict[str, Any]], metric: str) -> dict[str, float]:
    values: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if metric in row:
            values[row["item"]].append(float(row[metric]))
    return {item: sum(v) / len(v) for item, v in values.items()}


def summarize(out: Path) -> dict[str, Any]:
    rows = load_rows(out)
    run = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else {}
    summary: dict[str, Any] = {"run": run, "suites": {}, "risks": {}, "cost": {}}
    by_suite: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_suite[row["suite"]].append(row)
    for suite, suite_rows in by_suite.items():
        task = get_task(suite)
        variants = list(dict.fromkeys(r["variant"] for r in suite_rows))
        block: dict[str, Any] = {"primary": task.primary, "binary": task.binary, "variants": {}, "comparisons": []}
        per_variant = {v: [r for r in suite_rows if r["variant"] == v] for v in variants}
        for variant, vrows in per_variant.items():
            items = _per_item(vrows, task.primary)
            values = list(items.values())
            entry: dict[str, Any] = {"items": len(items), "mean": sum(values) / len(values) if values else 0.0}
            if task.binary:
                first = [bool(r[task.primary]) for r in vrows if r["sample"] == 0]
                entry["ci"] = wilson_interval(sum(first), len(first))
            else:
                _, lo, hi = paired_bootstrap([0.0] * len(values), values)
                entry["ci"] = (lo, hi)
            if task.samples_matter:
                outcomes: dict[str, list[bool]] = defaultdict(list)
                for r in vrows:
                    outcomes[r["item"]].append(bool(r[task.primary]))
                n = min(len(v) for v in outcomes.values())
                for k in (1, 5, 10):
                    if k <= n:
                        entry[f"pass@{k}"] = sum(pass_at_k(len(v), sum(v), k) for v in outcomes.values()) / len(
                            outcomes
                        )
            numeric = {
                key for r in vrows for key, val in r.items() if isinstance(val, (int, float)) and key != "sample"
            }
            entry["metrics"] = {key: _mean_of(vrows, key) for key in sorted(numeric)}
            block["variants"][variant] = entry
        base = variants[0]
        for other in variants[1:]:
            a, b = _per_item(per_variant[base], task.primary), _per_item(per_variant[other], task.primary)
            common = sorted(set(a) & set(b))
            mean, lo, hi = paired_bootstrap([a[i] for i in common], [b[i] for i in common])
            comparison: dict[str, Any] = {"baseline": base, "variant": other, "items": len(common),
                                          "difference": mean, "ci": (lo, hi)}  # fmt: skip
            if task.binary:
                comparison["mcnemar_p"] = mcnemar_exact([a[i] >= 0.5 for i in common], [b[i] >= 0.5 for i in common])
            block["comparisons"].append(comparison)
        extra = task.summary(suite_rows)
        if extra:
            block["extra"] = extra
        summary["suites"][suite] = block
        summary["cost"][suite] = {
            variant: {
                "prompt_tokens": _mean(vrows, "prompt_tokens"), "new_tokens": _mean(vrows, "new_tokens"),
                "latency_s": _mean(vrows, "latency_s"), "tokens_per_s": _mean(vrows, "tokens_per_s"),
                "peak_rss_mib": max((r["cost"]["peak_rss_mib"] for r in vrows), default=0),
            }
            for variant, vrows in per_variant.items()
        }  # fmt: skip
    summary["risks"] = _risks(rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _mean_of(rows: list[dict[str, Any]], key: str) -> float:
    """Over the rows the metric applies to (None: not applicable to that item, e.g. no gold location)."""
    values = [float(r[key]) for r in rows if isinstance(r.get(key), (int, float))]
    return sum(values) / len(values)


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return round(sum(r["cost"][key] for r in rows) / len(rows), 3) if rows else 0.0


def _risks(rows: list[dict[str, Any]]) -> dict[str, Any]:
    with_risks = [r for r in rows if "risks" in r]
    cwe: dict[str, int] = defaultdict(int)
    findings = []
    for r in with_risks:
        for f in r["risks"]["insecure"]:
            cwe[f["cwe"] or f["test"]] += 1
            findings.append({"item": r["item"], "variant": r["variant"], **f})
    return {
        "samples_checked": len(with_risks),
        "insecure_samples": sum(1 for r in with_risks if r["risks"]["insecure"]),
        "insecure_by_cwe": dict(cwe),
        "insecure_findings": findings,
        "secrets": sum(len(r["risks"]["secrets"]) for r in with_risks),
        "hallucinated_samples": sum(1 for r in with_risks if r["risks"]["hallucinated"]),
        "hallucinated_names": sorted({h for r in with_risks for h in r["risks"]["hallucinated"]}),
        "memorization_checked": sum(1 for r in with_risks if r.get("adapter")),
        "memorized_max_run": max((r["risks"]["memorized_run"] for r in with_risks), default=0),
        # The detector's own proof of life: the seeded insecure sample and what bandit found in it.
        "seeded_insecure_sample": {"code": PROBES["bandit"], "findings": bandit_findings(PROBES["bandit"])},
    }


def _fmt_ci(ci: Any) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _plot(summary: dict[str, Any], suite: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    block = summary["suites"][suite]
    names = list(block["variants"])
    means = [block["variants"][v]["mean"] for v in names]
    lows = [m - block["variants"][v]["ci"][0] for v, m in zip(names, means, strict=True)]
    highs = [block["variants"][v]["ci"][1] - m for v, m in zip(names, means, strict=True)]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(names, means, yerr=[lows, highs], capsize=6, color="#4a7fb5")
    ax.set_title(f"{suite}: {block['primary']} (95% CI)")
    ax.set_ylim(0, max(1.0, max(means, default=0) * 1.2))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def write_report(out: Path, compare: Path | None = None) -> tuple[Path, Path]:
    summary = summarize(out)
    rows = load_rows(out)
    other = summarize(compare) if compare else None
    md: list[str] = [f"# codemm eval report: {out.name}", ""]
    run = summary["run"]
    if run:
        cfg = run["config"]
        md += [f"Model `{run['model']['name']}` ({cfg['quant']}), seed {cfg['seed']}, {cfg['samples']} sample(s); "
               f"codemm {run['versions']['codemm']}, torch {run['versions']['torch']}, "
               f"transformers {run['versions']['transformers']}.", ""]  # fmt: skip
    images: dict[str, bytes] = {}
    for suite, block in summary["suites"].items():
        md += [f"## {suite}", "", f"Primary metric: `{block['primary']}`.", "",
               "| variant | items | mean | 95% CI | other metrics |", "|---|---|---|---|---|"]  # fmt: skip
        for variant, entry in block["variants"].items():
            extras = ", ".join(f"{k} {v:.3f}" for k, v in entry["metrics"].items() if k != block["primary"])
            passk = ", ".join(f"{k} {entry[k]:.3f}" for k in ("pass@1", "pass@5", "pass@10") if k in entry)
            md.append(f"| {variant} | {entry['items']} | {entry['mean']:.3f} | {_fmt_ci(entry['ci'])} | "
                      f"{'; '.join(filter(None, [passk, extras]))} |")  # fmt: skip
        for c in block["comparisons"]:
            p = f", exact McNemar p = {c['mcnemar_p']:.3g}" if "mcnemar_p" in c else ""
            md += ["", f"**{c['variant']} − {c['baseline']}**: {c['difference']:+.3f} "
                   f"(paired bootstrap 95% CI {_fmt_ci(c['ci'])}, {c['items']} items{p})."]  # fmt: skip
        md += ["", *block.get("extra", {}).get("notes", [])] if block.get("extra", {}).get("notes") else []
        if other and suite in other["suites"]:
            md += ["", f"Compared with `{compare}`:", "", "| variant | this run | other run |", "|---|---|---|"]
            for variant, entry in block["variants"].items():
                theirs = other["suites"][suite]["variants"].get(variant)
                md.append(f"| {variant} | {entry['mean']:.3f} | {theirs['mean']:.3f} |" if theirs else
                          f"| {variant} | {entry['mean']:.3f} | — |")  # fmt: skip
        images[suite] = _plot(summary, suite)
        (out / f"plot_{suite}.png").write_bytes(images[suite])
        md += ["", f"![{suite}](plot_{suite}.png)", ""]
        md += _items(rows, suite, block["primary"], block["binary"])
    md += _risks_md(summary["risks"], run)
    md += ["", "## Cost", "", "| suite | variant | prompt tok | new tok | latency s | tok/s | peak RSS MiB |",
           "|---|---|---|---|---|---|---|"]  # fmt: skip
    for suite, variants in summary["cost"].items():
        for variant, c in variants.items():
            md.append(f"| {suite} | {variant} | {c['prompt_tokens']} | {c['new_tokens']} | {c['latency_s']} | "
                      f"{c['tokens_per_s']} | {c['peak_rss_mib']} |")  # fmt: skip
    md += _outputs(rows)
    markdown = "\n".join(md) + "\n"
    md_path = out / "report.md"
    md_path.write_text(markdown)
    html_path = out / "report.html"
    html_path.write_text(_html(markdown, images))
    return md_path, html_path


def _risks_md(risks: dict[str, Any], run: dict[str, Any]) -> list[str]:
    by_cwe = ", ".join(f"{cwe} {n}" for cwe, n in risks["insecure_by_cwe"].items()) or "none"
    names = ", ".join(f"`{name}`" for name in risks["hallucinated_names"][:12])
    findings = [
        f"  - {_cell(f['item'])} ({_cell(f['variant'])}): {f['test']} {f['cwe']} {f['severity']} "
        f"line {f['line']}: {_cell(f['text'])}"
        for f in risks["insecure_findings"][:20]
    ]  # under the insecure-patterns line they detail
    md = ["## Risks", "",
          f"- insecure patterns (bandit): {risks['insecure_samples']} of {risks['samples_checked']} code samples; "
          f"by CWE: {by_cwe}", *findings,
          f"- secrets (detect-secrets): {risks['secrets']}",
          f"- hallucinated symbols: {risks['hallucinated_samples']} samples" + (f" ({names})" if names else ""),
          f"- longest verbatim run from the adapter's training set: {risks['memorized_max_run']} tokens "
          f"({risks['memorization_checked']} samples generated with an adapter)"
          if risks["memorization_checked"] else "- memorization: not measured (no adapter in this run)"]  # fmt: skip
    return md + ["", *_self_check(run.get("detectors"), risks["seeded_insecure_sample"]["findings"]), ""]


def _self_check(detectors: dict[str, bool] | None, seeded: list[dict[str, Any]]) -> list[str]:
    """The detector self-check (``probe_detectors`` in eval/risks.py, recorded in run.json's
    ``detectors``) in plain words: why a zero above can be trusted, or why it cannot."""
    md = ["### Detector self-check", ""]
    if not detectors:
        return md + ["This run recorded no detector self-check, so a zero above may mean a detector did not run."]
    md += ["Before generating anything, the run gave each risk detector a snippet it must flag, and it would "
           "have stopped had one found nothing there: a detector that misses a known problem would report "
           "zero for every sample, and a zero would mean nothing.", ""]  # fmt: skip
    for name, ok in detectors.items():
        what, probe = PROBE_MEANS.get(name, (name, "its known-bad snippet"))
        md.append(f"- {what}: {'flagged' if ok else 'MISSED'} {probe}")
    if seeded:
        found = "; ".join(f"{f['test']} {f['cwe']} line {f['line']}" for f in seeded)
        md.append(f"- what bandit reports on its probe today: {found}")
    if all(detectors.values()):
        return md + ["", f"All {len(detectors)} detectors caught their probe: a zero above means the detector "
                     "ran and found nothing."]  # fmt: skip
    return md + ["", "A detector missed its probe: its numbers above cannot be trusted."]


OUTPUT_CHARS = 3000
"""Characters of a sample's output shown on the page (results.jsonl keeps the whole text)."""


def _items(rows: list[dict[str, Any]], suite: str, primary: str, binary: bool) -> list[str]:
    """One row per sample: its item, variant, result, and a link to its output further down."""
    md = [
        f"### {suite}: per item",
        "",
        "| item | variant | sample | " + primary + " | output |",
        "|---|---|---|---|---|",
    ]
    for n, row in enumerate(rows):
        if row["suite"] != suite:
            continue
        value = row.get(primary)
        if value is None:
            result = "n/a"
        elif binary:
            result = "pass" if value else "fail"
        else:
            result = f"{float(value):.3f}"
        link = f"[output {n + 1}](#output-{n + 1})" if row.get("output") is not None else "—"
        md.append(f"| {_cell(row['item'])} | {_cell(row['variant'])} | {row['sample']} | {result} | {link} |")
    return md + [""]


def _outputs(rows: list[dict[str, Any]]) -> list[str]:
    """Every sample's output under a heading the item tables link to (``Output N`` is the row's
    number in results.jsonl; GitHub gives it the same anchor as the HTML page)."""
    md = ["", "## Outputs", ""]
    for n, row in enumerate(rows):
        text = row.get("output")
        if text is None:
            continue
        shown = text[:OUTPUT_CHARS]
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", shown)), default=0))
        md += [f"#### Output {n + 1}", "", f"{_cell(row['suite'])}, item {_cell(row['item'])}, variant "
               f"{_cell(row['variant'])}, sample {row['sample']}:", "", fence + "text", shown, fence]  # fmt: skip
        if len(text) > OUTPUT_CHARS:
            md.append(f"(first {OUTPUT_CHARS} of {len(text)} characters; results.jsonl has all of it)")
        md.append("")
    return md


def _cell(text: Any) -> str:
    """Plain text inside Markdown: characters Markdown would read as syntax are escaped."""
    return re.sub(r"([\\`*_\[\]|<>#])", r"\\\1", str(text))


def _html(markdown: str, images: dict[str, bytes]) -> str:
    """A self-contained page: the report's Markdown rendered by markdown-it-py (CommonMark and
    tables; raw HTML off, so nothing from a model's output becomes markup), plots inlined as data
    URIs, ids on the ``Output N`` headings the item tables link to."""
    from markdown_it import MarkdownIt

    for suite, png in images.items():
        markdown = markdown.replace(
            f"](plot_{suite}.png)", f"](data:image/png;base64,{base64.b64encode(png).decode()})"
        )
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = parser.parse(markdown)
    for opening, inline in zip(tokens, tokens[1:], strict=False):
        anchor = re.fullmatch(r"Output (\d+)", inline.content) if opening.type == "heading_open" else None
        if anchor:
            opening.attrSet("id", f"output-{anchor[1]}")
    body = parser.renderer.render(tokens, parser.options, {})
    style = ("body{font-family:sans-serif;max-width:60rem;margin:2rem auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}"
             "pre{background:#f6f6f6;padding:.6rem;overflow-x:auto}")  # fmt: skip
    head = f"<meta charset='utf-8'><title>codemm eval</title><style>{style}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"
