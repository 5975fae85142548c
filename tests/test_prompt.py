from __future__ import annotations

import pytest

from codemm.errors import BadInputError
from codemm.models.stream import Message
from codemm.prompt import ImageText, PromptInput, build_prompt, numbered
from codemm.repo.retrieve import Hit


def count(messages: list[Message]) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word, plus 4 per message."""
    return sum(len(m["content"].split()) + 4 for m in messages)


def hit(i: int, words: int = 50) -> Hit:
    text = "\n".join(f"line{i}_{j} " + "x " * (words // 10) for j in range(10))
    return Hit(f"src/f{i}.py", 10 * i + 1, 10 * i + 10, 1.0 / (i + 1), ["bm25"], "function", f"f{i}", text)


QUESTION = "How does f0 work and where is it called from?"


@pytest.mark.parametrize("window", [130, 200, 400, 800, 3000])
def test_budget_never_exceeded_and_question_whole(window: int) -> None:
    data = PromptInput(
        QUESTION,
        hits=[hit(i) for i in range(8)],
        images=[ImageText("shot.png", "\n".join(f"ocr line {n}" for n in range(40)))],
        history=[
            {"role": "user", "content": "earlier " * 30},
            {"role": "assistant", "content": "reply " * 30},
        ],
        render_map=lambda budget: "\n".join(f"m{n}" for n in range(max(0, budget - 2))),
        map_tokens=100,
    )
    prompt = build_prompt(data, count, window, reserve=50)
    assert prompt.tokens == count(prompt.messages) <= window - 50
    assert prompt.messages[-1]["content"].endswith(QUESTION)
    included = {h.path for h in prompt.included}
    dropped_chunks = {d.split()[1].rsplit(":", 1)[0] for d in prompt.dropped if d.startswith("chunk")}
    assert included | dropped_chunks == {f"src/f{i}.py" for i in range(8)}  # every chunk accounted for
    assert not included & dropped_chunks


def test_best_chunks_win_and_labels_carry_line_ranges() -> None:
    prompt = build_prompt(PromptInput(QUESTION, hits=[hit(i) for i in range(8)]), count, 400, reserve=50)
    n = len(prompt.included)
    assert 0 < n < 8
    assert [h.path for h in prompt.included] == [f"src/f{i}.py" for i in range(n)]
    assert "### src/f0.py:1-10" in prompt.messages[-1]["content"]


def test_question_too_long_is_a_clear_error() -> None:
    with pytest.raises(BadInputError, match="the question alone needs"):
        build_prompt(PromptInput("word " * 500), count, 300, reserve=50)


def test_numbered_chunk_keeps_class_header_unnumbered() -> None:
    method = Hit("a.py", 20, 21, 1.0, ["bm25"], "method", "get", "class Cache:\n    def get(self):\n        return 1")
    lines = numbered(method).splitlines()
    assert lines[0].startswith("     | class Cache:")
    assert lines[1].startswith("   20|") and lines[2].startswith("   21|")


def test_history_keeps_newest_turns_first() -> None:
    history: list[Message] = [{"role": "user", "content": f"turn{i} " + "w " * 40} for i in range(6)]
    prompt = build_prompt(PromptInput(QUESTION, history=history), count, 200, reserve=20)
    kept = [m["content"].split()[0] for m in prompt.messages[1:-1]]
    assert kept and kept == [f"turn{i}" for i in range(6 - len(kept), 6)]
    assert any(d.startswith("history turn") for d in prompt.dropped)
