"""Vision training on a tiny composed model: stage 1 moves only the projector, stage 2 adds LoRA on
the language model only, losses fall, curves are saved, the adapter is usable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from codemm.adapters.vision_data import synthetic_examples
from codemm.adapters.vision_train import train_vision
from codemm.models.load import load
from codemm.vision.compose import compose_llava
from tests.fixtures.tiny_models import build_tiny_llama
from tests.fixtures.tiny_vision import build_tiny_siglip

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-repo"


def test_two_stage_vision_training(tmp_path: Path) -> None:
    vlm = compose_llava(
        build_tiny_llama(tmp_path / "lm", window=1024), build_tiny_siglip(tmp_path / "tower"), tmp_path / "vlm"
    )
    captions, questions = synthetic_examples(SAMPLE, 6, seed=0)
    before = load(str(vlm)).model.state_dict()
    result = train_vision(vlm, captions, questions, tmp_path / "aligned", "screens", 40, 20, lr1=5e-2, lr2=1e-2)
    assert sum(result.stage1_losses[-5:]) < sum(result.stage1_losses[:5])
    assert sum(result.stage2_losses[-5:]) < sum(result.stage2_losses[:5])
    after = load(str(tmp_path / "aligned")).model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all("multi_modal_projector" in k for k in changed)  # stage 1: the projector alone
    lora = Path(result.adapter) / "adapter_model.safetensors"  # type: ignore[arg-type]
    from safetensors.torch import load_file

    keys = list(load_file(str(lora)))
    assert keys and all("language_model" in k or "multi_modal_projector" in k for k in keys)
    assert not any("vision_tower" in k for k in keys)  # the anchored target never hits the tower
    assert (tmp_path / "aligned" / "vision_loss.png").is_file()

    shot = tmp_path / "x.png"
    captions[0].image.save(shot)
    proc = subprocess.run([sys.executable, "-m", "codemm.cli", "ask", "Which function is defined?", "--no-repo",
                           "--model", str(tmp_path / "aligned"), "--adapter", "screens", "--image", str(shot),
                           "--image-mode", "vision", "--max-new-tokens", "3"], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
