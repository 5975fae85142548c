"""A stand-in for the model side of the chat: scripted tokens at a set pace, so UI tests are fast
and exact. The real pipeline is covered by test_chat_tiny_model.py."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from textual.worker import get_current_worker

from codemm.citations import Citation
from codemm.config import Settings
from codemm.errors import BadInputError
from codemm.models.stream import GenerationStats
from codemm.prompt import ImageText
from codemm.repo.retrieve import Hit

ANSWER = ["Use ", "`reversed`", ":\n\n", "```python\n", "def rev(s):\n", "    return s[::-1]\n", "```\n",
          "See tasktracker/dates.py:10-28."]  # fmt: skip


class FakeStream:
    def __init__(self, tokens: list[str], delay: float) -> None:
        self.tokens, self.delay = tokens, delay
        self.cancelled = threading.Event()
        self.stats = GenerationStats(prompt_tokens=42)
        self.produced: list[str] = []

    def __iter__(self):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        for token in self.tokens:
            if self.cancelled.is_set():
                self.stats.stop_reason = "cancelled"
                break
            time.sleep(self.delay)
            self.stats.new_tokens += 1
            self.produced.append(token)
            yield token
        else:
            self.stats.stop_reason = "eos"
        self.stats.total_s = time.perf_counter() - started
        self.stats.ttft_s = min(self.stats.total_s, self.delay)

    def cancel(self) -> None:
        self.cancelled.set()


@dataclass
class FakeBackend:
    settings: Settings = field(default_factory=lambda: Settings(model="fake-model"))
    repo: Path | None = None
    adapter: str | None = None
    images: list[ImageText] = field(default_factory=list)
    model: Any = None
    delay: float = 0.0
    tokens: list[str] = field(default_factory=lambda: list(ANSWER))
    fail_model: bool = False
    # Set: load_model waits for it, so a test can act while the model is still loading.
    load_gate: threading.Event | None = None
    asked: list[tuple[str, list[dict[str, str]]]] = field(default_factory=list)
    streams: list[FakeStream] = field(default_factory=list)

    def load_model(self, spec: str | None = None) -> Any:
        if self.load_gate is not None:
            # a closing app cancels its workers: stop waiting then, or the app's exit waits for the test
            worker = get_current_worker()
            while not self.load_gate.wait(0.02) and not worker.is_cancelled:
                pass
        if self.fail_model or (spec and spec.startswith("/nonexistent")):
            raise BadInputError(f"model '{spec or self.settings.model}' not found")
        self.model = SimpleNamespace(name=spec or "fake-model")
        return self.model

    def set_repo(self, repo: Path | None) -> None:
        from codemm.repo.walk import check_repo_root

        self.repo = check_repo_root(repo) if repo else None

    def set_adapter(self, name: str | None) -> None:
        if name not in (None, "known"):
            raise BadInputError(f"no adapter named '{name}'")
        self.adapter = name

    def attach_image(self, path: Path) -> ImageText:
        from codemm.vision.images import load_image

        load_image(path)
        image = ImageText(path.name, "Traceback (most recent call last):\n  ValueError: boom")
        self.images.append(image)
        return image

    def ask(self, question: str, history: list[dict[str, str]]) -> tuple[Any, FakeStream]:
        self.asked.append((question, history))
        stream = FakeStream(self.tokens, self.delay)
        self.streams.append(stream)
        hit = Hit(
            "tasktracker/dates.py",
            10,
            28,
            0.05,
            ["bm25"],
            "function",
            "parse_due_date",
            "def parse_due_date(text, today):\n    ...",
        )
        prepared = SimpleNamespace(prompt=SimpleNamespace(included=[hit], tokens=321, budget=7680))
        return prepared, stream

    def finish(self, answer: str, stream: FakeStream, prepared: Any) -> Any:
        stream.stats.total_s = stream.stats.total_s or 1.0
        citations = [Citation("tasktracker/dates.py", 10, 28, True)] if "dates.py:10-28" in answer else []
        return SimpleNamespace(answer=answer, citations=citations, prepared=prepared, stream=SimpleNamespace(
            stats=SimpleNamespace(tokens_per_s=12.5, stop_reason=stream.stats.stop_reason)))  # fmt: skip
