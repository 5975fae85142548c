"""On a fresh repository the lexical tools answer while the embeddings are still being built
(issue 23, row 12), and search_code ranks with the vectors ready so far and says how far they are.

The encoder is a stand-in that embeds a batch only when the test lets it, so the test decides
where the build stands; everything else (index, locks, threads, retrieval) is the real code."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from codemm.repo import embeddings
from codemm.tools import RepoTools

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-repo"
BATCH = 4
T = TypeVar("T")


class GatedEncoder:
    """Embeds one commit batch per permit: a model as slow as the test wants."""

    name, kind, identity, dimension = "gated", "test", "gated@test", 16

    def __init__(self) -> None:
        self.permits = threading.Semaphore(0)
        self.waiting = threading.Event()

    def encode(self, texts: list[str], progress: Any = None) -> np.ndarray:
        self.waiting.set()
        assert self.permits.acquire(timeout=60), "the test never let the batch through"
        self.waiting.clear()
        if progress:
            progress(len(texts), len(texts))
        return np.stack([self._vector(t) for t in texts])

    def encode_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
        vector = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
        return vector / np.linalg.norm(vector)


@pytest.fixture
def encoder(monkeypatch: pytest.MonkeyPatch) -> GatedEncoder:
    gated = GatedEncoder()
    monkeypatch.setattr(embeddings, "open_encoder", lambda config: gated)
    monkeypatch.setattr(embeddings, "COMMIT_BATCH", BATCH)
    return gated


@pytest.fixture
def tools(tmp_path: Path, encoder: GatedEncoder) -> Iterator[RepoTools]:
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE, repo)
    tools = RepoTools(repo)
    yield tools
    encoder.permits.release(10_000)  # let a build still running finish, so close() does not wait
    tools.close()


def within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``'s result, failing (not hanging) when it waits longer than ``seconds``."""
    out: list[T] = []
    worker = threading.Thread(target=lambda: out.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert out, f"still waiting after {seconds} s"
    return out[0]


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_lexical_tools_answer_while_the_embeddings_are_built(tools: RepoTools, encoder: GatedEncoder) -> None:
    within(30, tools.warm)  # parses, starts the build and returns: it does not wait for the model
    assert encoder.waiting.wait(30)  # the build is stuck in its first batch

    found = within(10, lambda: tools.find_definition("parse_due_date"))["definitions"]
    assert [d["location"] for d in found] == ["tasktracker/dates.py:10"]
    assert within(10, lambda: tools.find_references("parse_due_date"))["references"]
    assert "tasktracker/dates.py" in within(10, lambda: tools.repo_map())["text"]
    assert "def parse_due_date" in within(10, lambda: tools.read_range("tasktracker/dates.py", 1, 20))["text"]

    first = within(10, lambda: tools.search_code("parse a due date"))
    total = first["embeddings"]["total"]
    assert first["embeddings"] == {"ready": 0, "total": total} and total > 2 * BATCH
    assert "being built (0 of" in first["note"]
    assert first["hits"][0]["path"] == "tasktracker/dates.py"  # words and names alone find it
    assert all("dense" not in h["sources"] for h in first["hits"])

    encoder.permits.release(2)  # two batches go through and are committed
    wait_for(lambda: tools.search_code("parse a due date")["embeddings"]["ready"] == 2 * BATCH)
    partial = tools.search_code("due date")
    assert f"being built ({2 * BATCH} of {total}" in partial["note"]

    encoder.permits.release(10_000)
    assert tools._embedder is not None
    tools._embedder.join(30)
    done = tools.search_code("parse a due date")
    assert done["embeddings"] == {"ready": total, "total": total} and "note" not in done
    assert any("dense" in h["sources"] for h in done["hits"])


def test_a_build_in_progress_is_stopped_by_close(tools: RepoTools, encoder: GatedEncoder) -> None:
    tools.warm()
    assert encoder.waiting.wait(30)
    closer = threading.Thread(target=tools.close)
    closer.start()
    encoder.permits.release(1)  # the batch in progress ends; the build stops at its progress report
    closer.join(30)
    assert not closer.is_alive() and tools._embedder is not None and not tools._embedder.is_alive()
    assert tools._embed_error == ""  # stopping is not a failure to report
