"""`codemm ask`: one question in, one streamed answer out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codemm.config import Settings
from codemm.models.generate import GenerationSettings, Message, TokenStream, stream_chat
from codemm.models.load import LoadedModel

SYSTEM_PROMPT = (
    "You are codemm, a coding assistant for a software team. Answer precisely and briefly. "
    "Put code in fenced blocks with the language named."
)


def generation_settings(settings: Settings) -> GenerationSettings:
    return GenerationSettings(
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        seed=settings.seed,
    )


def build_messages(question: str) -> list[Message]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]


def start_answer(loaded: LoadedModel, question: str, settings: Settings) -> TokenStream:
    return stream_chat(loaded, build_messages(question), generation_settings(settings))


@dataclass
class AskResult:
    answer: str
    loaded: LoadedModel
    stream: TokenStream

    def to_json(self) -> dict[str, Any]:
        """The stable `codemm ask --json` record: later fields are added, never renamed."""
        stats = self.stream.stats
        return {
            "answer": self.answer,
            "model": self.loaded.name,
            "quant": self.loaded.quant,
            "device": self.loaded.device,
            "tokens": {"prompt": stats.prompt_tokens, "new": stats.new_tokens},
            "timings": {
                "load_s": round(self.loaded.load_s, 3),
                "ttft_s": round(stats.ttft_s, 3),
                "total_s": round(stats.total_s, 3),
                "tokens_per_s": round(stats.tokens_per_s, 2),
            },
            "stop_reason": stats.stop_reason,
        }
