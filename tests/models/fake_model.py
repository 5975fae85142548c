"""A model behind the seam that answers with scripted text: prompt building, grounding, citations,
the loop guard and the patch check are tested without any engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from codemm.models.seam import Capabilities
from codemm.models.stream import GenerationSettings, GenerationStats, Message, TokenStream


@dataclass
class FakeModel:
    pieces: list[str] = field(default_factory=lambda: ["It ", "returns ", "a ", "date."])
    backend: str = "fake"
    name: str = "fake-model"
    context_window: int = 4096
    capabilities: Capabilities = field(default_factory=lambda: Capabilities(adapters=True))
    adapter: str | None = None
    load_s: float = 0.0
    prompts: list[list[Message]] = field(default_factory=list)
    produced: int = 0
    delay: float = 0.0
    """Seconds to sleep before each piece: a model slow enough to queue behind or walk away from."""
    streams: list[TokenStream] = field(default_factory=list)

    def count_text(self, text: str) -> int:
        return len(text.split())

    def count_tokens(self, messages: list[Message]) -> int:
        return sum(self.count_text(m["content"]) + 4 for m in messages)

    def stream(
        self, messages: list[Message], settings: GenerationSettings, images: list[Any] | None = None
    ) -> TokenStream:
        self.prompts.append(messages)
        stats = GenerationStats(prompt_tokens=self.count_tokens(messages))
        cancel = threading.Event()

        def pieces() -> Iterator[str]:
            for piece in self.pieces[: settings.max_new_tokens]:
                if cancel.is_set():
                    stats.stop_reason = "cancelled"
                    return
                if self.delay:
                    time.sleep(self.delay)
                    if cancel.is_set():  # a cancel during the sleep stops before the piece, as an engine would
                        stats.stop_reason = "cancelled"
                        return
                stats.new_tokens += 1
                self.produced += 1
                yield piece
            stats.stop_reason = "length" if stats.new_tokens >= settings.max_new_tokens else "eos"

        stream = TokenStream(pieces(), stats, cancel, guard=settings.stop_on_repeat)
        self.streams.append(stream)
        return stream

    def set_adapter(self, name: str | None) -> None:
        self.adapter = name

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "name": self.name, "quant": "none", "device": "cpu"}

    def close(self) -> None:
        pass
