from __future__ import annotations

from pathlib import Path

import pytest
import torch

from codemm.models.generate import count_chat_tokens, encode_chat, stream_chat
from codemm.models.load import LoadedModel, load
from codemm.models.stream import GenerationSettings

MESSAGES = [{"role": "user", "content": "Write a Python function that reverses a string."}]


@pytest.fixture(scope="module")
def tiny(tiny_llama_dir: Path) -> LoadedModel:
    return load(str(tiny_llama_dir), device="cpu")


def test_stream_matches_plain_generate_and_counts_tokens(tiny: LoadedModel) -> None:
    settings = GenerationSettings(max_new_tokens=12)
    stream = stream_chat(tiny, MESSAGES, settings)
    text = stream.text()

    ids = encode_chat(tiny.tokenizer, MESSAGES)
    with torch.inference_mode():
        out = tiny.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
            pad_token_id=tiny.tokenizer.pad_token_id,
        )  # fmt: skip
    new_ids = out[0, ids.shape[-1] :]
    assert text == tiny.tokenizer.decode(new_ids, skip_special_tokens=True)
    assert stream.stats.prompt_tokens == ids.shape[-1] == count_chat_tokens(tiny.tokenizer, MESSAGES)
    assert stream.stats.new_tokens == len(new_ids)
    assert 0 < stream.stats.ttft_s <= stream.stats.total_s
    assert stream.stats.stop_reason in {"eos", "length"}


def test_chat_template_is_applied(tiny: LoadedModel) -> None:
    ids = encode_chat(tiny.tokenizer, MESSAGES)[0].tolist()
    text = tiny.tokenizer.decode(ids)
    assert text.startswith("<|im_start|>user\n") and text.endswith("<|im_start|>assistant\n")


def test_max_new_tokens_is_a_hard_stop(tiny: LoadedModel) -> None:
    # Random weights rarely emit EOS within 5 tokens; if they did, the reason would say so.
    stream = stream_chat(tiny, MESSAGES, GenerationSettings(max_new_tokens=5))
    stream.text()
    assert stream.stats.new_tokens <= 5
    if stream.stats.new_tokens == 5:
        assert stream.stats.stop_reason in {"length", "eos"}


def test_sampling_is_reproducible_with_a_seed(tiny: LoadedModel) -> None:
    def sample(seed: int) -> str:
        settings = GenerationSettings(max_new_tokens=16, temperature=1.0, top_p=1.0, seed=seed)
        return stream_chat(tiny, MESSAGES, settings).text()

    assert sample(3) == sample(3)
    assert len({sample(s) for s in range(4)}) > 1  # different seeds really sample


def test_cancel_stops_within_a_decode_step(tiny: LoadedModel) -> None:
    stream = stream_chat(tiny, MESSAGES, GenerationSettings(max_new_tokens=200))
    pieces = []
    for piece in stream:
        pieces.append(piece)
        if len(pieces) == 2:
            stream.cancel()
    # Already-decoded tokens may still be in the queue; at most one more step runs after cancel.
    assert stream.stats.new_tokens <= len(pieces) + 2
    assert stream.stats.new_tokens < 200
    assert stream.stats.stop_reason in {"cancelled", "eos"}


def test_errors_in_the_worker_reach_the_caller(tiny: LoadedModel) -> None:
    stream = stream_chat(tiny, MESSAGES, GenerationSettings(max_new_tokens=-3))
    with pytest.raises(ValueError):
        stream.text()
