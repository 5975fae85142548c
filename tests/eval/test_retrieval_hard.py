"""The harder retrieval suite holds to its rules: gold symbols defined in their gold files at the
pinned versions, plain questions without the answer's words, enough libraries, lines and questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemm.errors import CodemmError
from codemm.eval.retrieval_hard import (
    HardQuestion,
    check_suite,
    fetch_all,
    leaked_words,
    load_hard_questions,
    load_sources,
    suite_summary,
)


@pytest.fixture(scope="module")
def library_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The pinned sdists, downloaded once per test session (needs the package registry)."""
    try:
        return fetch_all(load_sources(), tmp_path_factory.mktemp("sources"))
    except CodemmError as exc:
        pytest.skip(f"the suite's libraries could not be fetched: {exc}")


def test_the_suite_passes_its_checker(library_roots: dict[str, Path]) -> None:
    questions = load_hard_questions()
    assert check_suite(questions, library_roots) == []
    summary = suite_summary(questions)
    assert summary["questions"] >= 60 and len(summary["by_library"]) >= 3
    assert summary["plain"] >= 2 * summary["questions"] / 3
    # the test split is fixed: 45 of the first 69 questions (39 plain); the 30 added later
    # (tor-25, wz-23, ptk-24 on) all went to dev
    test = load_hard_questions(split="test")
    assert len(test) == 45 and sum(q.style == "plain" for q in test) == 39
    assert summary["by_split"] == {"dev": summary["questions"] - 45, "test": 45}


def test_the_checker_catches_leaks_missing_symbols_and_small_libraries(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    (root / "pkg" / "routing").mkdir(parents=True)
    (root / "pkg" / "routing" / "rules.py").write_text("class Rule:\n    pass\n")
    ok = HardQuestion("a", "lib", "Where are placeholders compiled into a regex?", ["pkg/routing/rules.py"], "Rule",
                      "plain", "test")  # fmt: skip
    leak = HardQuestion("b", "lib", "Where is the routing regex compiled?", ["pkg/routing/rules.py"], "Rule",
                        "plain", "dev")  # fmt: skip
    missing = HardQuestion("c", "lib", "What does Map do?", ["pkg/routing/rules.py"], "Map", "direct", "test")
    problems = check_suite([ok, leak, missing], {"lib": root})
    assert problems == [
        "lib: 2 lines of Python, fewer than 20000",
        "b: plain question uses words of its answer: routing",
        "c: Map is not defined in pkg/routing/rules.py",
    ]


@pytest.mark.parametrize(
    ("question", "symbol", "path", "leaks"),
    [
        ("How is zlib compression negotiated?", "_PerMessageDeflateCompressor", "t/websocket.py", ["compression"]),
        ("Which apps are dispatched by prefix?", "DispatcherMiddleware", "w/middleware/dispatcher.py", ["dispatched"]),
        ("Where is a dictionary of lists kept?", "MultiDict", "w/structures.py", ["dictionary"]),
        ("How is a connection opened to a host?", "_Connector", "t/tcpclient.py", ["connection"]),
        ("How is a socket opened to a host?", "_Connector", "t/tcpclient.py", []),
        ("Where is the Semaphore?", "Semaphore", "t/locks.py", ["semaphore"]),
    ],
)
def test_leaked_words_splits_names_and_matches_word_forms(
    question: str, symbol: str, path: str, leaks: list[str]
) -> None:
    assert leaked_words(question, symbol, path) == leaks
