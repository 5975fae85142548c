"""A LLaVA-style vision-language model from any causal LM checkpoint and any local vision tower:
tower (SigLIP or CLIP) -> MLP projector -> the LM's embedding space, an ``<image>`` token whose
positions receive the projected patches, and a processor. The result is an ordinary transformers
checkpoint (LlavaForConditionalGeneration + LlavaProcessor) that codemm then loads like a native
VLM. The projector starts random: align it with `codemm adapters train-vision` before relying on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError, error_from_oserror

IMAGE_TOKEN = "<image>"


def _vision_config(tower_dir: Path) -> Any:
    from transformers import AutoConfig, CLIPVisionConfig, SiglipVisionConfig

    config = AutoConfig.from_pretrained(tower_dir, local_files_only=True, trust_remote_code=False)
    config = getattr(config, "vision_config", config)  # a full CLIP/SigLIP checkpoint holds both towers
    if not isinstance(config, (SiglipVisionConfig, CLIPVisionConfig)):
        raise BadInputError(f"{tower_dir} is a {type(config).__name__}; codemm composes SigLIP or CLIP vision towers")
    return config


def _tower_state(tower_dir: Path) -> dict[str, Any]:
    """The vision tower's weights, keyed as the tower module inside LLaVA expects."""
    from safetensors.torch import load_file

    state: dict[str, Any] = {}
    for path in sorted(tower_dir.glob("*.safetensors")):
        state.update(load_file(str(path)))
    if not state:
        raise BadInputError(f"{tower_dir} has no .safetensors weights")
    # Towers are saved with or without a "vision_model." prefix (it moved between transformers
    # releases); full CLIP/SigLIP checkpoints also hold a text tower, dropped here.
    text_parts = ("text_model.", "text_projection", "visual_projection", "logit_scale", "logit_bias")
    return {k.removeprefix("vision_model."): v for k, v in state.items() if not k.startswith(text_parts)}


def compose_llava(lm_dir: Path, tower_dir: Path, out: Path, dtype: str = "float32") -> Path:
    import torch
    from transformers import (
        AutoConfig,
        AutoImageProcessor,
        AutoTokenizer,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        SiglipVisionConfig,
    )

    from codemm.models.load import quiet_libraries

    quiet_libraries()  # the projector is missing from both checkpoints by design: no warning table
    if out.exists() and any(out.iterdir()):
        raise BadInputError(f"{out} exists and is not empty")
    vision_config = _vision_config(tower_dir)
    siglip = isinstance(vision_config, SiglipVisionConfig)
    if siglip:
        vision_config.vision_use_head = False  # LLaVA takes patch features, not the pooled head
    tokenizer = AutoTokenizer.from_pretrained(lm_dir, local_files_only=True)
    tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    text_config = AutoConfig.from_pretrained(lm_dir, local_files_only=True, trust_remote_code=False)
    patches = (vision_config.image_size // vision_config.patch_size) ** 2
    config = LlavaConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_index=int(tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)),  # type: ignore[arg-type]
        image_seq_length=patches,
        # SigLIP has no CLS token: keep every patch ("full"); CLIP drops its CLS ("default").
        vision_feature_select_strategy="full" if siglip else "default",
        vision_feature_layer=-1,
        tie_word_embeddings=bool(getattr(text_config, "tie_word_embeddings", False)),
    )
    torch_dtype = getattr(torch, dtype)
    model = LlavaForConditionalGeneration.from_pretrained(
        lm_dir, config=config, key_mapping={r"^model\.": "model.language_model."}, dtype=torch_dtype,
        local_files_only=True, trust_remote_code=False, use_safetensors=True,
    )  # fmt: skip
    tower = model.model.vision_tower
    state = _tower_state(tower_dir)
    if any(k.startswith("vision_model.") for k in tower.state_dict()):
        state = {f"vision_model.{k}": v for k, v in state.items()}
    # SigLIP's pooling head is not used by LLaVA (vision_use_head=False): leave its weights out.
    state = {k: v for k, v in state.items() if not k.removeprefix("vision_model.").startswith("head.")}
    missing, unexpected = tower.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if not m.startswith("head.")]:
        raise BadInputError(
            f"{tower_dir}: vision weights do not fit the config (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    model.resize_token_embeddings(len(tokenizer))
    try:
        image_processor = AutoImageProcessor.from_pretrained(tower_dir, local_files_only=True)
    except OSError:
        from transformers import CLIPImageProcessor, SiglipImageProcessor

        size = vision_config.image_size
        image_processor = (SiglipImageProcessor if siglip else CLIPImageProcessor)(
            size={"height": size, "width": size} if siglip else {"shortest_edge": size},
            crop_size={"height": size, "width": size},
        )  # fmt: skip
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=vision_config.patch_size,
        vision_feature_select_strategy=config.vision_feature_select_strategy, chat_template=tokenizer.chat_template,
        num_additional_image_tokens=0 if siglip else 1,
    )  # fmt: skip
    try:
        # save_original_format=False: otherwise transformers undoes the key mapping used to load the
        # language model, and the checkpoint would reload with a random language model.
        model.save_pretrained(out, save_original_format=False)
        processor.save_pretrained(out)
        (out / "codemm-composed.json").write_text(
            json.dumps({"language_model": str(lm_dir), "vision_tower": str(tower_dir), "projector": "random"}, indent=2)
        )
    except OSError as exc:
        raise error_from_oserror(exc, f"writing the composed model to {out}") from None
    return out
