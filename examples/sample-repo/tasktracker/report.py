"""Summaries of the task list."""

from __future__ import annotations

from collections import Counter
from datetime import date

from tasktracker.models import Priority, Task


def overdue_tasks(tasks: list[Task], today: date) -> list[Task]:
    """The overdue tasks, most urgent first (highest priority, then earliest due date)."""
    late = [t for t in tasks if t.is_overdue(today)]
    return sorted(late, key=lambda t: (-t.priority, t.due))


def summarize(tasks: list[Task], today: date) -> str:
    """A one-line summary such as '5 tasks: 2 done, 1 overdue, 1 high priority'."""
    done = sum(t.done for t in tasks)
    late = len(overdue_tasks(tasks, today))
    high = sum(1 for t in tasks if t.priority is Priority.HIGH and not t.done)
    return f"{len(tasks)} tasks: {done} done, {late} overdue, {high} high priority"


def tag_counts(tasks: list[Task]) -> dict[str, int]:
    """How many open tasks carry each tag."""
    return dict(Counter(tag for t in tasks if not t.done for tag in t.tags))
