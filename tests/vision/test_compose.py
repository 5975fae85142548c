"""The vision-encoder path on tiny random towers and LMs, and a tiny native VLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from codemm.errors import BadInputError
from codemm.models.generate import encode_with_images, stream_chat
from codemm.models.load import load, model_path
from codemm.models.stream import GenerationSettings
from codemm.vision.compose import compose_llava
from tests.fixtures.tiny_models import build_tiny_llama
from tests.fixtures.tiny_vision import build_tiny_clip, build_tiny_siglip

RED = Image.new("RGB", (64, 48), (220, 20, 20))
BLUE = Image.new("RGB", (64, 48), (20, 20, 220))
MESSAGES = [{"role": "user", "content": "What does this screenshot show?"}]


@pytest.fixture(scope="module", params=["siglip", "clip"])
def composed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp(request.param)
    lm = build_tiny_llama(root / "lm", window=1024)
    tower = (build_tiny_siglip if request.param == "siglip" else build_tiny_clip)(root / "tower")
    return compose_llava(lm, tower, root / "vlm")


def logits(loaded, image: Image.Image) -> torch.Tensor:  # type: ignore[no-untyped-def]
    inputs = encode_with_images(loaded, MESSAGES, [image])
    with torch.no_grad():
        return loaded.model(**{k: v.to(loaded.model.device) for k, v in inputs.items()}).logits


def test_composed_model_generates_with_an_image_and_round_trips(composed: Path) -> None:
    assert model_path(composed) == "llava-composed"
    first = load(str(composed), device="cpu")
    stream = stream_chat(first, MESSAGES, GenerationSettings(max_new_tokens=4), images=[RED])
    stream.text()
    assert stream.stats.new_tokens >= 1
    config = json.loads((composed / "config.json").read_text())
    patches = (config["vision_config"]["image_size"] // config["vision_config"]["patch_size"]) ** 2
    ids = encode_with_images(first, MESSAGES, [RED])["input_ids"][0].tolist()
    assert ids.count(config["image_token_index"]) == patches  # processor and model agree on image tokens
    # the image really reaches the model, and a reload gives identical logits
    assert not torch.allclose(logits(first, RED), logits(first, BLUE))
    second = load(str(composed), device="cpu")
    torch.testing.assert_close(logits(first, RED), logits(second, RED), rtol=0, atol=0)


def test_text_only_output_equals_the_plain_language_model(composed: Path) -> None:
    vlm = load(str(composed), device="cpu")
    lm = load(str(composed.parent / "lm"), device="cpu")
    ids = lm.tokenizer("def f(x):", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(
            vlm.model(input_ids=ids).logits[..., : lm.model.config.vocab_size], lm.model(input_ids=ids).logits
        )


def test_four_bit_language_model_keeps_tower_and_projector_in_full_precision(composed: Path) -> None:
    import bitsandbytes as bnb

    quantized = load(str(composed), quant="4bit", device="cpu")
    model = quantized.model.model
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in model.language_model.modules())
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in model.vision_tower.modules())
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in model.multi_modal_projector.modules())
    stream = stream_chat(quantized, MESSAGES, GenerationSettings(max_new_tokens=3), images=[RED])
    stream.text()
    assert stream.stats.new_tokens >= 1


def test_native_vlm_from_config(tmp_path: Path) -> None:
    """A LLaVA checkpoint built directly (not composed by codemm) takes the native path."""
    from transformers import (
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        SiglipImageProcessor,
        SiglipVisionConfig,
    )

    from tests.fixtures.tiny_models import build_tokenizer

    tokenizer = build_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    text = {"model_type": "llama", "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512}  # fmt: skip
    vision = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
                                image_size=32, patch_size=8, vision_use_head=False)  # fmt: skip
    config = LlavaConfig(text_config=text, vision_config=vision, image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                         image_seq_length=16, vision_feature_select_strategy="full", vision_feature_layer=-1)  # fmt: skip
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).save_pretrained(tmp_path)
    LlavaProcessor(image_processor=SiglipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer,
                   patch_size=8, vision_feature_select_strategy="full", chat_template=tokenizer.chat_template).save_pretrained(tmp_path)  # fmt: skip
    assert model_path(tmp_path) == "native-vlm"
    loaded = load(str(tmp_path), device="cpu")
    stream = stream_chat(loaded, MESSAGES, GenerationSettings(max_new_tokens=3), images=[RED])
    stream.text()
    assert stream.stats.new_tokens >= 1 and loaded.processor is not None


def test_images_need_a_vision_path(tiny_llama_dir: Path) -> None:
    loaded = load(str(tiny_llama_dir), device="cpu")
    with pytest.raises(BadInputError, match="has no vision path"):
        stream_chat(loaded, MESSAGES, GenerationSettings(max_new_tokens=2), images=[RED])
