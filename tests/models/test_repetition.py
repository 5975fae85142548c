"""The repetition guard: exact loops, near loops (SmolLM2's own capped answers), and the legitimate
shapes of an answer that repeat structure without going round in circles."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemm.models.repetition import find_loop, find_recurrence
from codemm.models.stream import GenerationSettings, GenerationStats, without_loop
from tests.models.fake_model import FakeModel

ANSWERS = Path(__file__).resolve().parents[1] / "fixtures" / "answers"

FUNCTION = '''def parse_due_date(text: str, today: date) -> date:
    """Parses 'today', 'tomorrow', a weekday name, '+3d' or an ISO date into a date."""
    text = text.strip().lower()
    if text == "today":
        return today
    if text == "tomorrow":
        return today + timedelta(days=1)
    if text in WEEKDAYS:
        ahead = (WEEKDAYS.index(text) - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    match = RELATIVE.fullmatch(text)
    if match:
        return today + timedelta(days=int(match.group(1)))
    return date.fromisoformat(text)
'''

LEGITIMATE = {
    "quoted, then shown changed": (
        f"Today it reads:\n\n```python\n{FUNCTION}```\n\nMake an empty string mean today:\n\n```python\n"
        + FUNCTION.replace("text.strip().lower()", 'text.strip().lower() or "today"')
        + "```\n\nThat is the only change.\n"
    ),
    "test functions with the same assertions": "```python\n"
    + "".join(
        f'def test_case_{i}(tmp_path):\n    store = TaskStore(tmp_path / "tasks.json")\n'
        f'    store.add(Task(title="task {i}", priority={i}))\n    assert len(store.tasks) == {i % 3 + 1}\n'
        f'    assert store.tasks[0].title == "task {i}"\n\n'
        for i in range(8)
    )
    + "```\n",
    "a table of numbers": "| run | recall@1 | recall@5 | MRR |\n|---|---|---|---|\n"
    + "".join(f"| {i} | 0.{i}1 | 0.{i}5 | 0.{i}3 |\n" for i in range(12)),
    "a matrix": "```python\nW = [\n"
    + "".join(f"    [0.{i}, 0.{i + 1}, 0.{i + 2}, 0.{i + 3}],\n" for i in range(12))
    + "]\n```\n",
    "a list from one template": "".join(
        f"- `handler_{i}` at api/server.go:{10 * i} registers the route for resource {i} and returns its JSON.\n"
        for i in range(12)
    ),
    "Go error checks": "```go\n"
    + "".join(
        f'\tif err := step{i}(ctx); err != nil {{\n\t\treturn fmt.Errorf("step {i}: %w", err)\n\t}}\n'
        for i in range(10)
    )
    + "```\n",
    "a patch of small blocks on one file": "".join(
        f"tasktracker/report.py\n<<<<<<< SEARCH\ndef {name}(tasks):\n    return [t for t in tasks if t.{name}]\n=======\n"
        f"def {name}(tasks: list[Task]) -> list[Task]:\n    return [t for t in tasks if t.{name}]\n>>>>>>> REPLACE\n\n"
        for name in ("done", "overdue", "urgent", "blocked", "archived", "shared", "starred", "recent")
    ),
    "quoted, then used": f"It is:\n\n```python\n{FUNCTION}```\n\nUse it:\n\n```python\n"
    + "".join(f'print(parse_due_date("+{i}d", date(2024, 1, 1)))\n' for i in range(1, 12))
    + "```\n",
}


def first_stop(text: str) -> tuple[int, int] | None:
    """Feeds ``text`` line by line as the guard sees it: (where it would stop, where it cuts)."""
    end = 0
    while (end := text.find("\n", end) + 1) > 0:
        start = find_loop(text[:end])
        if start is None:
            start = find_recurrence(text[:end])
        if start is not None:
            return end, start
    return None


@pytest.mark.parametrize(
    ("text", "looping"),
    [
        ("x = 1\n" + "The same sentence repeats here. " * 3, True),
        ("intro\n" + "    return self.items.pop()\n" * 3, True),
        ("def f():\n    pass\n\n\ndef g():\n    pass\n\n\ndef h():\n    pass\n", False),  # short, legitimate
        ("[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]", False),
        ("}\n}\n}\n}\n}\n}\n", False),
        ("one two three four five six seven eight nine ten eleven twelve", False),
    ],
)
def test_find_loop(text: str, looping: bool) -> None:
    assert (find_loop(text) is not None) == looping


@pytest.mark.parametrize("name", sorted(LEGITIMATE))
def test_structure_that_repeats_is_not_a_loop(name: str) -> None:
    assert first_stop(LEGITIMATE[name]) is None


@pytest.mark.parametrize("name", ["plain-1.md", "plain-2.md", "plain-3.md"])
def test_answers_that_keep_saying_something_are_left_whole(name: str) -> None:
    assert first_stop((ANSWERS / name).read_text()) is None


@pytest.mark.parametrize("name", ["capped-config-object.md", "capped-numbered-list.md", "recycled-paragraph.md"])
def test_recycling_answers_stop_before_they_end(name: str) -> None:
    text = (ANSWERS / name).read_text()
    stop = first_stop(text)
    assert stop is not None
    stopped_at, cut = stop
    assert cut < stopped_at < len(text) and text[cut - 1] == "\n"  # cut at a line start, before the end
    kept, dropped = text[:cut], text[cut:stopped_at]
    assert kept.strip() and dropped.strip()


def test_config_object_is_cut_where_its_keys_come_round_again() -> None:
    text = (ANSWERS / "capped-config-object.md").read_text()
    _, cut = first_stop(text) or (0, 0)
    kept = text[:cut]
    assert kept.count("maxPriority:") == 1 and text.count("maxPriority:") > 2


def test_a_cut_inside_a_code_block_closes_it() -> None:
    text = (ANSWERS / "capped-config-object.md").read_text()
    _, cut = first_stop(text) or (0, 0)
    kept = without_loop(text, GenerationStats(stop_reason="repetition", loop_start=cut))
    assert kept.endswith("\n```") and kept.count("```") % 2 == 0 and kept.startswith(text[:cut].rstrip())


def test_a_near_loop_stops_the_stream_with_its_reason() -> None:
    text = (ANSWERS / "capped-numbered-list.md").read_text()
    words = text.split(" ")
    model = FakeModel(pieces=[w + " " for w in words])
    stream = model.stream([{"role": "user", "content": "x"}], GenerationSettings(max_new_tokens=len(words)))
    out = stream.text()
    assert stream.stats.stop_reason == "repetition" and model.produced < len(words)
    assert stream.stats.loop_start is not None and out[: stream.stats.loop_start].strip()
    assert len(out) < len(text)
