"""One ask session: the model (on any backend), its adapter, the repository index, the attached
images and the image-mode policy. `codemm ask`, `codemm chat` and `codemm eval` all drive this one
object (as simonw/llm's ``Conversation`` serves both `llm prompt` and `llm chat`), so the sequence
index -> model -> adapter -> prepare -> stream -> finish exists once. No UI code here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from codemm import ask as pipeline
from codemm.config import Settings
from codemm.errors import BadInputError
from codemm.models.factory import open_model
from codemm.models.seam import ChatModel
from codemm.models.stream import GenerationSettings, Message, TokenStream
from codemm.prompt import ImageText

IMAGE_MODES = ("auto", "ocr", "vision", "both")


@dataclass
class AskSession:
    settings: Settings
    repo: Path | None = None
    adapter: str | None = None
    images: list[ImageText] = field(default_factory=list)
    """Attached images: their OCR text (and pixels when the model takes them)."""
    image_mode: str = "auto"
    """ocr | vision | both; auto: both for a model that takes pixels, ocr otherwise."""
    ocr: str = "auto"
    k: int = 6
    map_tokens: int = 512
    model: ChatModel | None = None
    index: Any = None

    def __post_init__(self) -> None:
        if self.image_mode not in IMAGE_MODES:
            raise BadInputError(f"--image-mode must be ocr, vision or both, got {self.image_mode!r}")

    def load_model(self, spec: str | None = None) -> ChatModel:
        """Loads (or connects to) the model; the previous one stays if this fails."""
        settings = replace(self.settings, model=spec) if spec else self.settings
        model = open_model(settings)
        if self.adapter:
            try:
                self._check_adapters(model)
                model.set_adapter(self.adapter)
            except BaseException:
                model.close()
                raise
        previous, self.model = self.model, model
        self.settings.model = settings.model
        if previous is not None:
            previous.close()
        return model

    def set_repo(self, repo: Path | None, progress: Callable[..., None] | None = None) -> None:
        from codemm.repo.embeddings import EmbeddingConfig
        from codemm.repo.index import RepoIndex

        if repo is None:
            self.repo, self.index = None, None
            return
        index = RepoIndex(repo, embedding=EmbeddingConfig.from_settings(self.settings))
        try:
            index.refresh(progress=progress) if progress else index.refresh()
        except BaseException:
            index.close()
            raise
        if self.index is not None:
            self.index.close()
        self.repo, self.index = index.root, index

    def set_adapter(self, name: str | None) -> None:
        """Each engine checks the name where adapters live: the local store (transformers,
        llama.cpp) or the server's model list (openai: an adapter may exist only there)."""
        if self.model is not None:
            if name is not None:
                self._check_adapters(self.model)
            self.model.set_adapter(name)
        self.adapter = name

    @staticmethod
    def _check_adapters(model: ChatModel) -> None:
        if not model.capabilities.adapters:
            raise BadInputError(f"the {model.backend} backend with model {model.name} cannot take adapters")

    def resolved_image_mode(self) -> str:
        if self.image_mode != "auto":
            return self.image_mode
        return self.model.capabilities.image_default if self.model is not None else "ocr"

    def attach_image(self, path: Path) -> Any:
        """Reads an image (or diagram source) as the mode wants it; returns the ImageInput."""
        from codemm.vision.images import read_image_input

        mode = self.resolved_image_mode()
        if mode in ("vision", "both") and self.model is not None and not self.model.capabilities.images:
            raise BadInputError(
                f"model {self.model.name} has no vision path (`codemm models info` shows a model's path); "
                "use --image-mode ocr, or --model with a vision-language checkpoint"
            )
        image = read_image_input(path, self.ocr, run_ocr=mode != "vision")
        pixels = image.pixels if mode != "ocr" else None
        self.images.append(ImageText(image.path.name, image.text, pixels, ocr=image.ocr, screen=image.pixels))
        return image

    def request(self, question: str, history: list[Message] | None = None, patch: bool = False) -> pipeline.AskRequest:
        return pipeline.AskRequest(
            question, index=self.index, images=[i for i in self.images if i.text], history=list(history or []),
            k=self.k, map_tokens=self.map_tokens, patch=patch,
            pixels=[i.pixels for i in self.images if i.pixels is not None],
            rewrite=self.settings.search_rewrite, rerank=self.settings.search_rerank, graph=self.settings.graph,
        )  # fmt: skip

    def prepare(self, request: pipeline.AskRequest, generation: GenerationSettings) -> pipeline.PreparedAsk:
        """Retrieval and the prompt budget for ``request``."""
        if self.model is None:
            raise BadInputError("no model is loaded (see the notification, or /model NAME)")
        return pipeline.prepare(self.model, request, generation.max_new_tokens)

    def run(
        self, request: pipeline.AskRequest, generation: GenerationSettings | None = None
    ) -> tuple[pipeline.PreparedAsk, TokenStream]:
        """Retrieval and prompt budget for ``request``, then the model's stream."""
        generation = generation or pipeline.generation_settings(self.settings)
        prepared = self.prepare(request, generation)
        assert self.model is not None
        return prepared, pipeline.start(self.model, prepared, generation)

    def ask(
        self, question: str, history: list[Message] | None = None, patch: bool = False
    ) -> tuple[pipeline.PreparedAsk, TokenStream]:
        return self.run(self.request(question, history, patch))

    def finish(self, answer: str, stream: TokenStream, prepared: pipeline.PreparedAsk) -> pipeline.AskResult:
        assert self.model is not None
        return pipeline.finish(answer, self.model, stream, prepared)

    def close(self) -> None:
        if self.index is not None:
            self.index.close()
        if self.model is not None:
            self.model.close()
