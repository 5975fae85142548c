"""The one model seam: everything ask, chat and eval need from a model, whatever engine runs it.

A model is an interface, not a bundle of transformers objects (simonw/llm's ``Model``, evalplus's
``make_model``): a name, a context window, token counting, ``stream`` returning a ``TokenStream``,
capability flags, and adapter selection. This module only defines the interface; the engines
implement it, and ``codemm/models/factory.py`` (``open_model``) picks and opens one, so the seam
imports no engine and no engine imports the factory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from codemm.models.stream import GenerationSettings, Message, TokenStream


@dataclass(frozen=True)
class Capabilities:
    images: bool = False
    """Takes pixels (a vision-language model); every model takes the OCR text of images."""
    adapters: bool = False
    """``set_adapter`` works: peft in process, a LoRA GGUF in llama.cpp, a model id on a server."""
    training: bool = False
    """Weights in this process: adapter training and held-out losses (adapter_gain) need it."""
    image_default: str = "ocr"
    """What --image-mode auto means: both for a vision-language model; ocr where pixels are only
    possibly understood (a server that may or may not serve a VLM)."""

    def as_json(self) -> dict[str, Any]:
        return {"images": self.images, "adapters": self.adapters, "training": self.training,
                "image_default": self.image_default}  # fmt: skip


class ChatModel(Protocol):
    @property
    def backend(self) -> str:
        """transformers | llamacpp | openai"""
        ...

    @property
    def name(self) -> str: ...

    @property
    def context_window(self) -> int: ...

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def adapter(self) -> str | None: ...

    @property
    def load_s(self) -> float: ...

    def count_tokens(self, messages: list[Message]) -> int:
        """Tokens of ``messages`` in the model's chat template, ready for the answer."""
        ...

    def count_text(self, text: str) -> int:
        """Tokens of plain text (the repo map's budget)."""
        ...

    def stream(
        self, messages: list[Message], settings: GenerationSettings, images: list[Any] | None = None
    ) -> TokenStream:
        """Starts generating; ``images`` (PIL) need ``capabilities.images``."""
        ...

    def set_adapter(self, name: str | None) -> None:
        """Switches to a stored adapter (None: the base model)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What `codemm models info`, `ask --json` and eval's run.json record about the model."""
        ...

    def close(self) -> None: ...
