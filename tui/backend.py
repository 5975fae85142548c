"""What the chat screen drives: the same ask pipeline as `codemm ask`, holding its state between
turns (model, adapter, repository index, attached images). No UI code here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemm import ask as pipeline
from codemm.config import Settings
from codemm.errors import BadInputError
from codemm.models.generate import Message, TokenStream
from codemm.prompt import ImageText


@dataclass
class ChatBackend:
    settings: Settings
    repo: Path | None = None
    adapter: str | None = None
    images: list[ImageText] = field(default_factory=list)
    loaded: Any = None
    index: Any = None
    k: int = 4
    map_tokens: int = 256

    def load_model(self, spec: str | None = None) -> None:
        """Loads (or replaces) the model; the previous one stays if loading fails."""
        from codemm.models.load import load

        spec = spec or self.settings.model
        loaded = load(spec, self.settings.quant, self.settings.device, self.settings.dtype)
        self.loaded, self.settings.model = loaded, spec
        if self.adapter:
            self.set_adapter(self.adapter)

    def set_repo(self, repo: Path | None) -> None:
        from codemm.repo.index import RepoIndex

        if repo is None:
            self.repo, self.index = None, None
            return
        index = RepoIndex(repo)
        index.refresh()
        if self.index is not None:
            self.index.close()
        self.repo, self.index = index.root, index

    def set_adapter(self, name: str | None) -> None:
        from codemm.adapters.store import read_card, select_adapter

        if name is not None:
            read_card(name)  # unknown adapter: a clear error before touching the model
        if self.loaded is not None:
            select_adapter(self.loaded, name)
        self.adapter = name

    def attach_image(self, path: Path) -> ImageText:
        from codemm.vision.images import describe_image

        image = describe_image(path)
        self.images.append(image)
        return image

    def ask(self, question: str, history: list[Message]) -> tuple[pipeline.PreparedAsk, TokenStream]:
        if self.loaded is None:
            raise BadInputError("no model is loaded (see the notification, or /model NAME)")
        request = pipeline.AskRequest(question, self.index, list(self.images), history, self.k, self.map_tokens)
        prepared = pipeline.prepare(self.loaded, request, self.settings.max_new_tokens)
        return prepared, pipeline.start(self.loaded, prepared, self.settings)

    def finish(self, answer: str, stream: TokenStream, prepared: pipeline.PreparedAsk) -> pipeline.AskResult:
        return pipeline.finish(answer, self.loaded, stream, prepared)
