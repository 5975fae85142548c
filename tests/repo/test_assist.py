"""Model-assisted retrieval (codemm/repo/assist.py) with a scripted model behind the seam: the
rewrite reaches search, the reranker's reply is read robustly, the prompt fits the window, and a
server that cannot be reached is one line from `codemm search`."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from codemm.models.stream import GenerationSettings, Message, TokenStream
from codemm.repo.assist import (
    RERANK_TOKENS,
    assisted_search,
    card_lines,
    main_language,
    parse_ranking,
    rerank_hits,
    rewrite_query,
)
from codemm.repo.index import RepoIndex
from codemm.repo.retrieve import Hit, Retriever
from tests.models.fake_model import FakeModel
from tests.test_cli import assert_one_line_error, codemm

QUESTION = "Which code makes room when the memory runs out?"
EVERY_FILE = "memory entry page value"
"""Shares a word with each file of the tiny repo."""


@dataclass
class ScriptedModel(FakeModel):
    """Answers each call with the next reply, word by word (a word and its spaces, one token)."""

    replies: list[str] = field(default_factory=list)

    def stream(
        self, messages: list[Message], settings: GenerationSettings, images: list[Any] | None = None
    ) -> TokenStream:
        reply = self.replies.pop(0)
        self.pieces = re.findall(r"\s*\S+\s*", reply)
        return super().stream(messages, settings, images)


def tiny_repo(root: Path) -> Path:
    """The question shares its words with the memory report; only the code names what answers it."""
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "memory.py").write_text(
        '"""How much memory the process runs with."""\n\n\n'
        "def memory_usage():\n"
        '    """Report the memory the process runs with when it runs out of room."""\n'
        "    return 0\n"
    )
    (root / "lib" / "cache.py").write_text(
        '"""A bounded store of recent results."""\n\n\n'
        "class LRUCache:\n"
        '    """Keeps the most recently used results."""\n\n'
        "    def evict_oldest(self):\n"
        '        """Drop the least recently used entry."""\n'
        "        self.entries.popitem(last=False)\n"
    )
    (root / "lib" / "pages.py").write_text(
        "def render_page(template, values):\n    return template.format(**values)\n\n\n"
        "def escape_markup(text):\n    return text.replace('<', '&lt;')\n"
    )
    (root / "lib" / "session.py").write_text(
        "import hmac\n\n\n"
        "def create_signed_value(secret, name, value):\n"
        '    """Produce a value protected by an HMAC so that a client cannot forge it."""\n'
        "    return hmac.new(secret, value).hexdigest()\n"
    )
    return root


@pytest.fixture()
def retriever(tmp_path: Path) -> Iterator[Retriever]:
    with RepoIndex(tiny_repo(tmp_path / "repo")) as index:
        index.refresh(embed=False)
        yield Retriever(index, dense=False)


def paths(hits: list[Hit]) -> list[str]:
    return [h.path for h in hits]


def test_rewrite_appends_the_models_code_and_changes_the_ranking(retriever: Retriever) -> None:
    plain = retriever.search(QUESTION, k=4, per_file=1)
    assert plain[0].path == "lib/memory.py"  # the question's words point at the wrong file
    model = ScriptedModel(replies=["```python\ndef evict_oldest(cache):\n    LRUCache.drop(cache)\n```"])

    found = assisted_search(retriever, model, QUESTION, k=4, per_file=1, rewrite=True)

    assert found.rewrite is not None
    assert found.rewrite.text == "def evict_oldest(cache):\n    LRUCache.drop(cache)"  # fences gone
    assert found.rewrite.query == QUESTION + "\n" + found.rewrite.text  # the question's words are kept
    assert found.hits[0].path == "lib/cache.py"
    assert set(paths(found.hits)) >= {"lib/cache.py", "lib/memory.py"}
    asked = model.prompts[0][-1]["content"]
    assert QUESTION in asked and "Python" in asked  # the repository's language is named
    assert found.rerank is None and set(found.costs) == {"rewrite"}
    assert found.costs["rewrite"].new_tokens == len(model.pieces) == 5
    assert found.costs["rewrite"].prompt_tokens == model.count_tokens(model.prompts[0])


def test_rerank_puts_named_files_first_in_order_and_keeps_the_rest(retriever: Retriever) -> None:
    hits = retriever.search(EVERY_FILE, k=25, per_file=1)
    assert len(hits) == 4
    model = ScriptedModel(replies=["The best are 4, 99, 0, then 2.5 and 2, 4 again, 3"])

    result = rerank_hits(model, QUESTION, hits, card_lines(retriever), picks=3)

    assert result.picked == [3, 1, 2]  # 99, 0, the decimal and the repeat are ignored; three asked for
    assert paths(result.hits) == [hits[3].path, hits[1].path, hits[2].path, hits[0].path]
    assert result.shown == 4 and result.cost.new_tokens > 0 and result.cost.seconds >= 0
    prompt = model.prompts[0][-1]["content"]
    assert f"[1] {hits[0].path}" in prompt and "numbers of the 3 files" in prompt
    # each file is shown by its card's lines, names without their "as words" copy
    assert "method evict_oldest: Drop the least recently used entry." in prompt
    assert "(evict oldest)" not in prompt


def test_rerank_reply_with_nothing_usable_keeps_the_retrievers_order(retriever: Retriever) -> None:
    hits = retriever.search(EVERY_FILE, k=25, per_file=1)
    model = ScriptedModel(replies=["I think the answer is in the first file of the project."])
    result = rerank_hits(model, QUESTION, hits, card_lines(retriever))
    assert result.picked == [] and paths(result.hits) == paths(hits)


def test_assisted_rerank_returns_one_hit_per_file_in_the_models_order(retriever: Retriever) -> None:
    model = ScriptedModel(replies=["2"])
    plain = retriever.search(EVERY_FILE, k=25, per_file=1)
    found = assisted_search(retriever, model, EVERY_FILE, k=3, rerank=True)
    assert paths(found.hits) == [plain[1].path, plain[0].path, plain[2].path]
    assert found.as_json()["rerank"]["picked"] == [plain[1].path]
    assert "Which file is most likely" in model.prompts[0][-1]["content"]  # one file asked for by default


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("1. 4\n2. 9", [3, 8]),  # list markers are not picks
        ("[3] > [1] > [30]", [2, 0]),
        ("4, 1,", [3, 0]),
        ("0, 26, -1, 1.5, http1, 7, 7", [6]),
        ("Most likely lib/f7.py, then 1. lib/f2.py", [6, 1]),  # paths win over numbers
        ("", []),
        ("nothing here", []),
    ],
)
def test_parse_ranking(reply: str, expected: list[int]) -> None:
    candidates = [f"lib/f{i}.py" for i in range(1, 26)]
    assert parse_ranking(reply, candidates, picks=5) == expected


def fake_hits(count: int) -> list[Hit]:
    return [Hit(f"pkg/module_{i}.py", 1, 9, 1.0 / (i + 1), ["bm25"], "function", f"handler_{i}",
                f"def handler_{i}(request):\n    return request") for i in range(count)]  # fmt: skip


@pytest.mark.parametrize("window", [4096, 400, 100])
def test_rerank_prompt_stays_inside_the_context_window(window: int) -> None:
    hits = fake_hits(25)
    cards = {h.path: [f"function {h.symbol}: Handle one kind of request", f"class Reply{i}: What is sent back",
                      f"constant LIMIT_{i}"] for i, h in enumerate(hits)}  # fmt: skip
    model = ScriptedModel(context_window=window, replies=["24"])

    result = rerank_hits(model, "which handler replies to requests", hits, cards)

    prompt = model.prompts[0]
    card_lines_shown = prompt[-1]["content"].count("\n    ")
    assert model.count_tokens(prompt) <= window - RERANK_TOKENS
    if window == 4096:  # room for everything: every file with its card lines
        assert result.shown == 25 and card_lines_shown == 75
        assert result.picked == [23] and result.hits[0].path == hits[23].path
    if window == 400:  # every file, fewer card lines each
        assert result.shown == 25 and card_lines_shown in (25, 50)
        assert "Handle one kind" in prompt[-1]["content"]  # the line that matches the question stays
    if window == 100:  # paths only, and the retriever's last files left out
        assert 2 <= result.shown < 24 and card_lines_shown == 0
        assert result.picked == [] and paths(result.hits) == paths(hits)  # file 24 was not shown: no pick


def test_rerank_without_room_for_two_files_asks_nothing() -> None:
    hits = fake_hits(5)
    model = ScriptedModel(context_window=60, replies=["1"])
    result = rerank_hits(model, "which handler replies to requests", hits, {})
    assert model.prompts == [] and result.picked == [] and paths(result.hits) == paths(hits)


def test_rewrite_names_no_language_for_prose_only_repos() -> None:
    assert main_language(["a.py", "b.py", "c.go", "README.md"]) == "Python"
    assert main_language(["README.md", "notes.txt"]) == ""
    model = ScriptedModel(replies=["x"])
    rewrite_query(model, "how?")
    assert "Write the function or class from" in model.prompts[0][0]["content"]


def test_ask_retrieves_with_the_steps_its_settings_turn_on(tmp_path: Path) -> None:
    from codemm.ask import prepare
    from codemm.config import Settings
    from codemm.session import AskSession

    request = AskSession(Settings(search_rewrite=True, search_rerank=True), map_tokens=0).request(EVERY_FILE)
    assert request.rewrite and request.rerank
    model = ScriptedModel(replies=["def render_page(template):\n    return template", "2"])
    with RepoIndex(tiny_repo(tmp_path / "repo")) as index:
        index.refresh(embed=False)
        request.index = index
        prepared = prepare(model, request, 16)
    assert len(model.prompts) == 2  # the rewrite, then the rerank; the answer is not asked here
    assert prepared.assist["rewrite"]["text"].startswith("def render_page")
    assert EVERY_FILE in model.prompts[1][-1]["content"]  # the reranker sees the question, not the rewrite
    assert prepared.assist["rerank"]["picked"] == [prepared.hits[0].path]
    assert prepared.assist["rerank"]["cost"]["new_tokens"] == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("how", ["flag", "setting"])
def test_search_rerank_with_an_unreachable_server_is_one_line(tmp_path: Path, how: str) -> None:
    repo = tiny_repo(tmp_path / "repo")
    api = f"http://127.0.0.1:{closed_port()}/v1"
    args = ["search", "where is memory reported", "--repo", str(repo), "--backend", "openai", "--api-base", api]
    flag, env = (["--rerank"], {}) if how == "flag" else ([], {"CODEMM_SEARCH_RERANK": "true"})
    assert_one_line_error(codemm(*args, *flag, env=env), 1, "cannot reach a model server", api)


def test_search_rewrite_checks_the_repository_before_the_model(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{closed_port()}/v1"
    proc = codemm(
        "search", "x", "--repo", str(tmp_path / "gone"), "--rewrite", "--backend", "openai", "--api-base", api
    )
    assert_one_line_error(proc, 2, "repository path", "does not exist")
