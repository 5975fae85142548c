"""Adapter training on a tiny random Llama: train, store, load with peft alone, merge, switch, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from codemm.adapters.recipe import Recipe, load_recipe
from codemm.adapters.store import adapter_dir, attach_adapters, merge_adapter, read_card, select_adapter
from codemm.adapters.train import (
    disable_bf16_inference_kernel,
    heldout_metrics,
    load_for_training,
    train_adapter,
)
from codemm.errors import BadInputError
from codemm.eval.bench.inhouse_repo import generate
from codemm.models.load import load
from tests.fixtures.tiny_models import build_tiny_llama

RECIPE = dict(quant="none", r=4, alpha=8, seq_len=64, batch_size=2, grad_accum=2, lr=1e-3, warmup_steps=1,
              max_steps=8, save_every=2, eval_batches=2)  # fmt: skip


@pytest.fixture(scope="module")
def quill(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("quill")
    generate(root)
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny"), window=1024)


def ids(text: str, loaded) -> torch.Tensor:  # type: ignore[no-untyped-def]
    return loaded.tokenizer("def qk_billing_close_period(ref):", return_tensors="pt")["input_ids"]


def test_train_save_load_with_peft_alone_and_merge(quill: Path, tiny: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = train_adapter("quill", quill, Recipe(**RECIPE), str(tiny), device="cpu")
    assert result.steps == 8 and not result.interrupted
    assert result.heldout_after["loss"] < result.heldout_before["loss"]
    path = adapter_dir("quill")
    assert (path / "adapter_config.json").is_file() and (path / "adapter_model.safetensors").is_file()
    assert (path / "loss.png").is_file() and not (path / "run" / "checkpoints").exists()
    card = read_card("quill")
    assert card.base_model == tiny.name and card.metrics["steps"] == 8 and len(card.dataset_sha256) == 64

    # peft alone, no codemm: the folder is a plain peft adapter.
    base = AutoModelForCausalLM.from_pretrained(tiny)
    peft_model = PeftModel.from_pretrained(base, str(path)).eval()
    x = ids("", load(str(tiny)))
    with torch.no_grad():
        adapted = peft_model(x).logits
        plain = AutoModelForCausalLM.from_pretrained(tiny)(x).logits
    assert not torch.allclose(adapted, plain)  # the adapter changes the model

    merged_dir = merge_adapter("quill", tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(merged_dir)
    with torch.no_grad():
        merged_logits = merged(x).logits
    # Merging folds B@A into the weights in float32: equal up to rounding (tolerance 1e-4).
    torch.testing.assert_close(merged_logits, adapted, atol=1e-4, rtol=1e-4)
    assert list(merged_dir.glob("*.safetensors"))


def test_switch_adapters_without_reloading_and_refuse_other_base(quill: Path, tiny: Path, tmp_path: Path) -> None:
    train_adapter("one", quill, Recipe(**{**RECIPE, "max_steps": 2}), str(tiny), device="cpu")
    train_adapter("two", quill, Recipe(**{**RECIPE, "max_steps": 2, "seed": 5, "lr": 5e-3}), str(tiny), device="cpu")
    loaded = load(str(tiny))
    x = ids("", loaded)
    with torch.no_grad():
        bare = loaded.model(x).logits
    attach_adapters(loaded, ["one", "two"])
    base_weights = id(loaded.model.base_model.model.model.embed_tokens.weight)
    outputs = {}
    for name in ("one", "two", None):
        select_adapter(loaded, name)
        with torch.no_grad():
            outputs[name] = loaded.model(x).logits
    assert id(loaded.model.base_model.model.model.embed_tokens.weight) == base_weights  # base never reloaded
    assert not torch.allclose(outputs["one"], outputs["two"])
    torch.testing.assert_close(outputs[None], bare)

    other = load(str(build_tiny_llama(tmp_path / "other", seed=1, window=1024)))
    with pytest.raises(BadInputError, match="was trained on"):
        attach_adapters(other, ["one"])


def test_qlora_gradients_survive_an_eval_pass(tiny: Path) -> None:
    """The AVX512-BF16 pitfall: after a no-grad forward, LoRA grads through Linear4bit must not be zero."""
    from peft import LoraConfig, get_peft_model

    model, tokenizer, _ = load_for_training(str(tiny), "4bit", "cpu", 0)
    assert disable_bf16_inference_kernel(model) > 0
    model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    )
    blocks = torch.randint(0, len(tokenizer), (4, 32))
    heldout_metrics(model, blocks, Recipe(batch_size=2, eval_batches=2))  # the no-grad eval pass
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(3):
        model(input_ids=blocks[:2], labels=blocks[:2]).loss.backward()
        # lora_B starts at zero, so lora_A's first gradient is zero by construction: look at B.
        grads = [p.grad for n, p in model.named_parameters() if "lora_B" in n]
        assert any(g is not None and g.abs().sum() > 0 for g in grads)
        optimizer.step()
        optimizer.zero_grad()
    changed = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(before[n], p)]
    assert any("lora_A" in n for n in changed)


def test_sigint_checkpoints_and_resume_matches_an_uninterrupted_run(quill: Path, tiny: Path) -> None:
    full = train_adapter("full", quill, Recipe(**RECIPE), str(tiny), device="cpu")

    def interrupt(step: int, total: int, loss: float, rate: float) -> None:
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    cut = train_adapter("cut", quill, Recipe(**RECIPE), str(tiny), device="cpu", progress=interrupt)
    assert cut.interrupted and cut.steps == 3
    assert (adapter_dir("cut") / "run" / "checkpoints" / "step-3" / "state.pt").is_file()
    # Resuming with another recipe would mix two runs: refused, and the checkpoint is left as it was.
    with pytest.raises(BadInputError, match="started with another lr"):
        train_adapter("cut", quill, Recipe(**{**RECIPE, "lr": RECIPE["lr"] * 2}), str(tiny), device="cpu", resume=True)
    resumed = train_adapter("cut", quill, Recipe(**RECIPE), str(tiny), device="cpu", resume=True)
    assert resumed.resumed_from == 3 and resumed.steps == 8
    assert [r["loss"] for r in resumed.log] == pytest.approx([r["loss"] for r in full.log], rel=1e-4)
    assert resumed.heldout_after["loss"] == pytest.approx(full.heldout_after["loss"], rel=1e-4)


def test_sigkill_midway_then_resume(quill: Path, tiny: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "slow.toml"
    recipe.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in {**RECIPE, "max_steps": 40}.items()))
    args = [sys.executable, "-m", "codemm.cli", "adapters", "train", "--repo", str(quill), "--name", "killed",
            "--recipe", str(recipe), "--model", str(tiny), "--device", "cpu", "--json"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    checkpoints = adapter_dir("killed") / "run" / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and not (checkpoints / "step-6" / "state.pt").exists():
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    # Without --recipe a resume continues with the run's own (40 steps; `default` would be 120);
    # another recipe is refused in one line before anything is touched.
    again = [a for a in args if a not in ("--recipe", str(recipe))] + ["--resume"]
    refused = subprocess.run([*again, "--recipe", "default"], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "started with another" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    out = subprocess.run(again, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    resumed = json.loads(out.stdout)
    assert resumed["resumed_from"] >= 6 and resumed["steps"] == 40
    uninterrupted = train_adapter("straight", quill, Recipe(**{**RECIPE, "max_steps": 40}), str(tiny), device="cpu")
    assert resumed["final_loss"] == pytest.approx(uninterrupted.final_loss, rel=0.01)


def test_a_recipe_names_the_first_setting_a_trained_one_differs_in() -> None:
    default = load_recipe("default")
    assert default.first_difference({**default.as_dict(), "name": "renamed"}) is None
    assert default.first_difference({**default.as_dict(), "include_mlp": False}) == "include_mlp"
    older = {k: v for k, v in load_recipe("code").as_dict().items() if k != "kinds"}  # a card from before kinds
    assert load_recipe("code").first_difference(older) == "kinds"  # the mix it lacks was the full one
    assert Recipe(**{**older, "name": "full"}).first_difference(older) is None


def test_recipes_ship_and_validate(tmp_path: Path) -> None:
    assert load_recipe("default").quant == "auto"
    assert load_recipe("quick", {"max_steps": 3}).max_steps == 3
    assert "gate_proj" in load_recipe("mlp").modules()
    with pytest.raises(BadInputError, match="no recipe 'nope'"):
        load_recipe("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text("learning_rate = 1\n")
    with pytest.raises(BadInputError, match="unknown recipe field 'learning_rate'"):
        load_recipe(str(bad))
    assert load_recipe("code").kinds == {"file": 1.0, "body": 1.0, "fim": 0.0, "chat": 0.0}
    for text, message in (("[kinds]\nprose = 0.5\n", "kinds.prose must be one of file, body, fim, chat"),
                          ("[kinds]\nfim = true\n", "kinds.fim must be"), ("kinds = 0.5\n", "kinds must be a table"),
                          ("[kinds]\nfile = 0\nbody = 0\nfim = 0\nchat = 0\n", "leaves every kind")):  # fmt: skip
        bad.write_text(text)
        with pytest.raises(BadInputError, match=message):
            load_recipe(str(bad))


def test_the_data_mix_keeps_each_kinds_share_the_same_every_run() -> None:
    from codemm.adapters.dataset import Example
    from codemm.adapters.train import mix

    examples = [Example(f"x{i}", kind, "a.py") for i in range(400) for kind in ("file", "body", "fim", "chat")]
    recipe = Recipe(kinds={"file": 1.0, "body": 1.0, "fim": 0.25, "chat": 0.0})
    kept = mix(examples, recipe)
    counts = {k: sum(e.kind == k for e in kept) for k in ("file", "body", "fim", "chat")}
    assert counts["file"] == counts["body"] == 400 and counts["chat"] == 0 and 70 <= counts["fim"] <= 130
    assert mix(examples, recipe) == kept  # seeded: a resumed run trains on the same examples


def test_a_checkpoint_cut_short_by_a_kill_is_never_resumed_from(tmp_path: Path) -> None:
    from codemm.adapters.train import _latest_checkpoint

    for name in ("step-6", "step-8.tmp"):
        (tmp_path / "checkpoints" / name).mkdir(parents=True)
        (tmp_path / "checkpoints" / name / "state.pt").write_bytes(b"x")
    assert _latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step-6"


def test_a_run_saved_recipe_loads_back_as_it_was(tmp_path: Path) -> None:
    """--resume without --recipe continues with run/recipe.json; a broken one is one clear error."""
    recipe = load_recipe("quick", {"max_steps": 7, "seed": 3})
    saved = tmp_path / "recipe.json"
    saved.write_text(json.dumps(recipe.as_dict()))
    assert load_recipe(str(saved)) == recipe
    saved.write_text("{not json")
    with pytest.raises(BadInputError, match="not valid JSON"):
        load_recipe(str(saved))
    saved.write_text("[1, 2]")
    with pytest.raises(BadInputError, match="not a table"):
        load_recipe(str(saved))
