"""Streaming generation in process with transformers: the model's chat template, cancellation
and token accounting. Other engines produce the same ``TokenStream`` (see ``codemm.models.seam``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from codemm.models.load import LoadedModel
from codemm.models.stream import GenerationSettings, GenerationStats, Message, TokenStream

# Like llama.cpp's repeat_last_n: only recent output is penalised, so the model can still copy
# identifiers and code from its prompt (a penalty over the prompt too makes it misspell them).
PENALTY_WINDOW = 64
DEFAULT_REPETITION_PENALTY = 1.1


def encode_chat(tokenizer: Any, messages: list[Message]) -> Any:
    """Token ids of ``messages`` in the model's chat template, ready for the assistant's turn."""
    if getattr(tokenizer, "chat_template", None):
        encoded = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return encoded["input_ids"]
    # A base model without a template: a plain transcript it can continue.
    text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant:"
    return tokenizer(text, return_tensors="pt")["input_ids"]


def count_chat_tokens(tokenizer: Any, messages: list[Message]) -> int:
    return int(encode_chat(tokenizer, messages).shape[-1])


def encode_with_images(loaded: LoadedModel, messages: list[Message], images: list[Any]) -> dict[str, Any]:
    """Processor inputs for a VLM: the images go with the last user turn, as image placeholders."""
    chat: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        content: list[dict[str, Any]] = [{"type": "text", "text": m["content"]}]
        if i == len(messages) - 1 and m["role"] == "user":
            content = [{"type": "image"} for _ in images] + content
        chat.append({"role": m["role"], "content": content})
    try:
        prompt = loaded.processor.apply_chat_template(chat, add_generation_prompt=True)
    except TypeError:
        # A composed model keeps its language model's template, which wants plain strings: put the
        # processor's image token in the text, one per image, and let the processor expand it.
        token = getattr(loaded.processor, "image_token", "<image>")
        flat = [dict(m) for m in messages]
        flat[-1]["content"] = f"{token}\n" * len(images) + flat[-1]["content"]
        prompt = loaded.tokenizer.apply_chat_template(flat, add_generation_prompt=True, tokenize=False)
    return dict(loaded.processor(images=images, text=prompt, return_tensors="pt"))


def stream_chat(
    loaded: LoadedModel, messages: list[Message], settings: GenerationSettings, images: list[Any] | None = None
) -> TokenStream:
    """Starts generating in a worker thread and returns the stream of its text. ``images`` (PIL)
    need a vision-language model (``loaded.processor``)."""
    import torch
    from transformers import (
        LogitsProcessor,
        LogitsProcessorList,
        StoppingCriteria,
        StoppingCriteriaList,
        TextIteratorStreamer,
    )

    tokenizer, model = loaded.tokenizer, loaded.model
    extra: dict[str, Any] = {}
    if images:
        if loaded.processor is None:
            from codemm.errors import BadInputError

            raise BadInputError(f"model {loaded.name} has no vision path; use OCR (--image-mode ocr) or a VLM")
        inputs = encode_with_images(loaded, messages, images)
        input_ids = inputs.pop("input_ids").to(model.device)
        extra = {k: v.to(model.device) for k, v in inputs.items() if k != "attention_mask"}
        if "pixel_values" in extra:
            extra["pixel_values"] = extra["pixel_values"].to(model.dtype)
    else:
        input_ids = encode_chat(tokenizer, messages).to(model.device)
    stats = GenerationStats(prompt_tokens=int(input_ids.shape[-1]))
    cancel = threading.Event()
    started = time.perf_counter()

    class _Streamer(TextIteratorStreamer):
        def put(self, value: Any) -> None:
            is_prompt = self.skip_prompt and self.next_tokens_are_prompt
            super().put(value)
            if not is_prompt:
                if stats.new_tokens == 0:
                    stats.ttft_s = time.perf_counter() - started
                stats.new_tokens += int(value.numel())

    class _RecentRepetitionPenalty(LogitsProcessor):
        def __init__(self, penalty: float, prompt_len: int) -> None:
            self.penalty, self.prompt_len = penalty, prompt_len

        def __call__(self, ids: Any, scores: Any) -> Any:
            recent = ids[:, max(self.prompt_len, ids.shape[1] - PENALTY_WINDOW) :]
            if recent.shape[1] == 0:
                return scores
            picked = torch.gather(scores, 1, recent)
            picked = torch.where(picked < 0, picked * self.penalty, picked / self.penalty)
            return scores.scatter(1, recent, picked)

    class _Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

    streamer = _Streamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    sampling = settings.temperature > 0
    gen_kwargs: dict[str, Any] = dict(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=settings.max_new_tokens,
        do_sample=sampling,
        streamer=streamer,
        stopping_criteria=StoppingCriteriaList([_Cancelled()]),
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
        **extra,
    )
    penalty = settings.repetition_penalty or DEFAULT_REPETITION_PENALTY
    if penalty != 1.0:
        gen_kwargs["logits_processor"] = LogitsProcessorList(
            [_RecentRepetitionPenalty(penalty, int(input_ids.shape[-1]))]
        )
    if sampling:
        gen_kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
    else:
        # Unset the checkpoint's sampling defaults so greedy decoding does not warn about them.
        gen_kwargs.update(temperature=None, top_p=None, top_k=None)
    failure: list[BaseException] = []
    output: list[Any] = []

    def run() -> None:
        try:
            torch.manual_seed(settings.seed)
            with torch.inference_mode():
                output.append(model.generate(**gen_kwargs))
        except BaseException as exc:  # re-raised in the consumer's thread
            failure.append(exc)
        finally:
            streamer.end()

    thread = threading.Thread(target=run, name="codemm-generate", daemon=True)

    def pieces() -> Iterator[str]:
        thread.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            cancel.set()  # a consumer that stops early must not leave the model generating
            thread.join()
        stats.total_s = time.perf_counter() - started
        if failure:
            raise failure[0]
        stats.stop_reason = _stop_reason(loaded, output, stats, settings, cancel)

    return TokenStream(pieces(), stats, cancel, guard=settings.stop_on_repeat)


def _stop_reason(
    loaded: LoadedModel, output: list[Any], stats: GenerationStats, settings: GenerationSettings, cancel: Any
) -> str:
    if output and stats.new_tokens:
        eos = loaded.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        if int(output[0][0, -1]) in eos_ids:
            return "eos"
    if stats.new_tokens >= settings.max_new_tokens:
        return "length"
    return "cancelled" if cancel.is_set() else "eos"
