"""Fitting a long chat history into the window (codemm.prompt): the work is linear in the turns, and
the turns kept are exactly those the newest-first greedy fit keeps. Work is counted in what the
tokenizer is handed (calls, characters), not timed; eval/bench/serve_history.py times it."""

from __future__ import annotations

import pytest

from codemm.models.stream import Message
from codemm.prompt import PromptInput, build_prompt

QUESTION = "Where is parse_due_date defined?"


class Counter:
    """A stand-in tokenizer (a word a token, 4 per message, plus ``bonus`` tokens per 3 messages: a
    template whose cost is not quite additive) that records what it was asked to count."""

    def __init__(self, bonus: int = 0) -> None:
        self.bonus, self.calls, self.chars = bonus, 0, 0

    def __call__(self, messages: list[Message]) -> int:
        self.calls += 1
        self.chars += sum(len(m["content"]) for m in messages)
        return sum(len(m["content"].split()) + 4 for m in messages) + self.bonus * (len(messages) // 3)


def turns(n: int) -> list[Message]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn{i} " + "word " * (3 + i % 7)}
            for i in range(n)]  # fmt: skip


def greedy(history: list[Message], count: Counter, window: int, reserve: int) -> list[Message]:
    """The newest-first fit the prompt promises: add turns from the newest while the whole prompt fits."""
    kept: list[Message] = []
    for message in reversed(history):
        prompt = [{"role": "system", "content": "s"}, message, *kept, {"role": "user", "content": QUESTION}]
        if count(prompt) > window - reserve:
            break
        kept.insert(0, message)
    return kept


@pytest.mark.parametrize("window", [4000, 20000, 60000])
def test_a_1001_turn_history_is_counted_about_once(window: int) -> None:
    history = turns(1000)
    counter = Counter()
    prompt = build_prompt(PromptInput(QUESTION, history=history), counter, window, reserve=50)
    assert prompt.tokens <= window - 50
    kept = prompt.messages[1:-1]
    assert kept == history[len(history) - len(kept) :] and len(kept) > 0
    request_chars = sum(len(m["content"]) for m in history)
    # Fitting turn by turn re-counted the whole prompt per kept turn: ~500x the request's text here.
    assert counter.chars < 6 * request_chars, (counter.chars, request_chars)
    assert counter.calls < 150, counter.calls


@pytest.mark.parametrize("bonus", [0, 1, 5])
@pytest.mark.parametrize("window", [60, 120, 200, 333, 700, 2000])
def test_the_turns_kept_are_those_the_greedy_fit_keeps(window: int, bonus: int) -> None:
    """Estimates from per-turn counts are checked against counts of the whole prompt: a template that
    is not additive (``bonus``) still gets exactly the greedy result, never a prompt over the budget."""
    history = turns(61)
    counter = Counter(bonus)
    prompt = build_prompt(PromptInput(QUESTION, history=history, system="s"), counter, window, reserve=20)
    expected = greedy(history, Counter(bonus), window, reserve=20)
    assert prompt.messages[1:-1] == expected
    assert prompt.tokens == counter(prompt.messages) <= window - 20
    dropped = [d for d in prompt.dropped if d.startswith("history turn")]
    assert dropped == [f"history turn {n}" for n in range(len(history) - len(expected), 0, -1)]
