"""What an evaluation run shares across tasks: settings, loaded models, indexes, variants, cost."""

from __future__ import annotations

import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemm.config import Settings
from codemm.errors import BadInputError
from codemm.eval.sandbox import SandboxLimits
from codemm.models.seam import ChatModel
from codemm.models.stream import GenerationSettings, Message


@dataclass(frozen=True)
class Variant:
    """One condition items run under. Parsed from e.g. ``repo``, ``no-repo``, ``adapter=quill``,
    ``no-adapter``, ``quant=4bit``, or combinations joined with ``+`` (``repo+adapter=quill``)."""

    name: str
    repo: bool = True
    adapter: str | None = None
    quant: str | None = None
    image: bool = True

    @classmethod
    def parse(cls, text: str, default_adapter: str | None = None) -> Variant:
        fields: dict[str, Any] = {"adapter": default_adapter}
        for part in filter(None, text.split("+")):
            key, _, value = part.partition("=")
            if key == "repo" and not value:
                fields["repo"] = True
            elif key == "no-repo":
                fields["repo"] = False
            elif key == "adapter":
                if not (value or default_adapter):
                    raise BadInputError("variant 'adapter' needs --adapter NAME (or write adapter=NAME)")
                fields["adapter"] = value or default_adapter
            elif key == "no-adapter":
                fields["adapter"] = None
            elif key == "quant" and value in ("none", "8bit", "4bit"):
                fields["quant"] = value
            elif key == "image":
                fields["image"] = True
            elif key == "no-image":
                fields["image"] = False
            elif key == "base":
                pass
            else:
                raise BadInputError(
                    f"unknown variant part '{part}' "
                    "(use repo, no-repo, adapter=NAME, no-adapter, quant=Q, image, no-image)"
                )
        return cls(name=text, **fields)


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    new_tokens: int
    latency_s: float
    tokens_per_s: float


@dataclass
class RunContext:
    settings: Settings
    seed: int = 0
    samples: int = 1
    max_new_tokens: int = 256
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    root: Path = field(default_factory=Path.cwd)
    _models: dict[str, Any] = field(default_factory=dict)
    _indexes: dict[Path, Any] = field(default_factory=dict)
    _names: dict[Path, tuple[set[str], set[str]]] = field(default_factory=dict)
    _training: dict[str, Any] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    """Serialises model loading, adapter switches and retrieval when generations run concurrently."""

    def model(self, variant: Variant) -> ChatModel:
        """The model for a variant's quantization, with its adapter selected (loaded once). A server
        gets one client per adapter, so concurrent requests never race an adapter switch."""
        from codemm.models.factory import open_model

        if variant.quant and self.settings.backend != "transformers":
            raise BadInputError(f"variant quant={variant.quant} needs the transformers backend")
        quant = variant.quant or self.settings.quant
        key = f"{quant}:{variant.adapter}" if self.settings.backend == "openai" else quant
        with self._lock:
            if key not in self._models:
                self._models[key] = open_model(self.settings, quant)
            model: ChatModel = self._models[key]
            if variant.adapter != model.adapter:
                if variant.adapter is not None and not model.capabilities.adapters:
                    raise BadInputError(f"the {model.backend} backend cannot take adapters")
                model.set_adapter(variant.adapter)
        return model

    def weights(self, variant: Variant) -> Any:
        """The in-process transformers model (held-out losses need its weights)."""
        model = self.model(variant)
        if not model.capabilities.training:
            raise BadInputError(
                f"this suite needs the weights in process: use --backend transformers, not {model.backend}"
            )
        return model.loaded  # type: ignore[attr-defined]

    def index(self, repo: Path) -> Any:
        from codemm.repo.index import RepoIndex

        repo = repo.resolve()
        if repo not in self._indexes:
            with self._lock:
                if repo not in self._indexes:
                    index = RepoIndex(repo)
                    index.refresh()
                    self._indexes[repo] = index
        return self._indexes[repo]

    def risks(self, code: str, variant: Variant, repo: Path | None = None) -> dict[str, Any]:
        """Risk findings for generated code: names checked against the repository's symbols and
        modules too, verbatim runs against the training set of the variant's adapter."""
        from codemm.eval.risks import assess

        symbols = modules = None
        if repo is not None:
            repo = repo.resolve()
            if repo not in self._names:
                index = self.index(repo)
                self._names[repo] = (
                    {s.name for s in index.symbols()},
                    {Path(p).parts[0].removesuffix(".py") for p in index.file_lines() if p.endswith(".py")},
                )
            symbols, modules = self._names[repo]
        return assess(code, symbols, modules, self.training_set(variant.adapter)).as_json()

    def training_set(self, adapter: str | None) -> Any:
        """The adapter's training examples as an n-gram index (None without an adapter or its data)."""
        if adapter is None:
            return None
        if adapter not in self._training:
            from codemm.adapters.dataset import read_examples
            from codemm.adapters.store import adapter_dir
            from codemm.eval.risks import TrainingSetIndex

            path = adapter_dir(adapter) / "run" / "data" / "train.jsonl"
            texts = [e.text for e in read_examples(path)] if path.is_file() else []
            self._training[adapter] = TrainingSetIndex(texts) if texts else None
        return self._training[adapter]

    def sampling(self, sample: int, max_new_tokens: int | None = None) -> GenerationSettings:
        """Greedy for a single sample (reproducible); seeded sampling when several are drawn."""
        tokens = max_new_tokens or self.max_new_tokens
        penalty = self.settings.repetition_penalty  # 0: each engine's default, recorded in run.json
        if self.samples == 1:
            return GenerationSettings(
                max_new_tokens=tokens, temperature=0.0, seed=self.seed, repetition_penalty=penalty
            )
        return GenerationSettings(max_new_tokens=tokens, temperature=0.8, top_p=0.95, seed=self.seed * 1000 + sample,
                                  repetition_penalty=penalty)  # fmt: skip

    def generate(
        self, variant: Variant, messages: list[Message], sample: int, max_new_tokens: int | None = None
    ) -> Generation:
        model = self.model(variant)
        started = time.perf_counter()
        stream = model.stream(messages, self.sampling(sample, max_new_tokens))
        text = stream.text()
        stats = stream.stats
        return Generation(
            text, stats.prompt_tokens, stats.new_tokens, time.perf_counter() - started, stats.tokens_per_s
        )

    def ask(self, variant: Variant, request: Any, sample: int, max_new_tokens: int) -> tuple[Any, Generation]:
        """One question through `codemm ask`'s own pipeline (retrieval, prompt budget, citation checks);
        returns its AskResult and the generation's cost."""
        from codemm.ask import start
        from codemm.session import AskSession

        model = self.model(variant)
        session = AskSession(self.settings, model=model)
        settings = self.sampling(sample, max_new_tokens)
        with self._lock:  # retrieval and the prompt budget touch shared indexes; the generation runs unlocked
            prepared = session.prepare(request, settings)
        stream = start(model, prepared, settings)
        answer = stream.text()
        stats = stream.stats
        generation = Generation(answer, stats.prompt_tokens, stats.new_tokens, stats.total_s, stats.tokens_per_s)
        return session.finish(answer, stream, prepared), generation

    def close(self) -> None:
        for index in self._indexes.values():
            index.close()
        for model in self._models.values():
            model.close()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
