"""The default engine: a transformers model in this process (quantized with bitsandbytes, peft
adapters attached). The only engine that trains and measures held-out losses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codemm.config import Settings
from codemm.models.generate import count_chat_tokens, stream_chat
from codemm.models.load import LoadedModel, load
from codemm.models.seam import Capabilities
from codemm.models.stream import GenerationSettings, Message, TokenStream


@dataclass
class TransformersModel:
    loaded: LoadedModel
    """The transformers objects, for what only this engine does (training, losses)."""
    backend: str = "transformers"

    @classmethod
    def open(cls, settings: Settings, quant: str | None = None) -> TransformersModel:
        loaded = load(settings.model, quant or settings.quant, settings.device, settings.dtype)
        if settings.context_window:
            loaded.context_window = min(loaded.context_window, settings.context_window)
        return cls(loaded)

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def context_window(self) -> int:
        return self.loaded.context_window

    @property
    def capabilities(self) -> Capabilities:
        vision = self.loaded.processor is not None
        return Capabilities(images=vision, adapters=True, training=True, image_default="both" if vision else "ocr")

    @property
    def adapter(self) -> str | None:
        return self.loaded.adapter

    @property
    def load_s(self) -> float:
        return self.loaded.load_s

    def count_tokens(self, messages: list[Message]) -> int:
        return count_chat_tokens(self.loaded.tokenizer, messages)

    def count_text(self, text: str) -> int:
        return len(self.loaded.tokenizer.encode(text, add_special_tokens=False))

    def stream(
        self, messages: list[Message], settings: GenerationSettings, images: list[Any] | None = None
    ) -> TokenStream:
        return stream_chat(self.loaded, messages, settings, images=images)

    def set_adapter(self, name: str | None) -> None:
        from codemm.adapters.store import select_adapter

        if name != self.loaded.adapter:
            select_adapter(self.loaded, name)

    def describe(self) -> dict[str, Any]:
        from codemm.models.info import model_info

        return {"backend": self.backend, **model_info(self.loaded), "adapter": self.adapter,
                "capabilities": self.capabilities.as_json(), "load_s": round(self.load_s, 3)}  # fmt: skip

    def close(self) -> None:
        pass
