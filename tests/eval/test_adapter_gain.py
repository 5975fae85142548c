"""adapter_gain on a tiny trained adapter: held-out loss and generated completions, with vs without
the adapter, and memorization measured against that adapter's own training set."""

from __future__ import annotations

import json
from pathlib import Path

from codemm.adapters.recipe import Recipe
from codemm.adapters.train import train_adapter
from codemm.eval.bench.inhouse_repo import generate
from codemm.eval.report import write_report
from codemm.eval.runner import RunConfig, run_eval
from tests.fixtures.tiny_models import build_tiny_llama


def test_adapter_gain_loss_completions_and_memorization(tmp_path: Path) -> None:
    generate(tmp_path / "quill")
    tiny = build_tiny_llama(tmp_path / "tiny", window=1024)
    recipe = Recipe(quant="none", r=4, alpha=8, seq_len=64, batch_size=2, grad_accum=1, lr=3e-3, warmup_steps=1,
                    max_steps=6, save_every=6, eval_batches=1)  # fmt: skip
    train_adapter("quill", tmp_path / "quill", recipe, str(tiny), device="cpu")
    config = RunConfig(suites=["adapter_gain"], variants=[], model=str(tiny), quant="none", device="cpu",
                       adapter="quill", samples=1, seed=0, jobs=1, limit=6, max_new_tokens=8)  # fmt: skip
    out = tmp_path / "run"
    run_eval(config, out)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["variant"] for r in rows] == ["no-adapter", "adapter"] * 6
    assert {r["adapter"] for r in rows} == {None, "quill"}
    by_variant = {v: {r["item"]: r for r in rows if r["variant"] == v} for v in ("no-adapter", "adapter")}
    assert any(by_variant["adapter"][i]["loss"] != r["loss"] for i, r in by_variant["no-adapter"].items())
    chats = [r for r in rows if r["kind"] == "chat"]
    assert chats and all(0.0 <= r["edit_similarity"] <= 1.0 and "risks" in r for r in chats)
    # Without an adapter nothing is compared with a training set; with it, the adapter's own set is used.
    assert all(r["risks"]["memorized_overlap"] == 0.0 for r in chats if r["adapter"] is None)
    from codemm.adapters.dataset import read_examples
    from codemm.adapters.store import adapter_dir
    from codemm.config import Settings
    from codemm.eval.context import RunContext
    from codemm.eval.tasks import get_task

    ctx = RunContext(Settings(model=str(tiny)))
    # Names from the repository the adapter learnt are checked against that repository's index.
    assert {i["repo"] for i in get_task("adapter_gain", adapter="quill").items(ctx)} == {(tmp_path / "quill").resolve()}
    training = ctx.training_set("quill")
    copied = read_examples(adapter_dir("quill") / "run" / "data" / "train.jsonl")[0].text
    assert training.measure(copied)[1] == 1.0  # the index holds exactly what the adapter trained on
    md, _ = write_report(out)
    text = md.read_text()
    assert "**adapter − no-adapter**" in text
    assert "samples generated with an adapter" in text
