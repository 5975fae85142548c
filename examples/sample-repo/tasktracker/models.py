"""The task record and its priority."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date


class Priority(enum.IntEnum):
    LOW = 1
    NORMAL = 2
    HIGH = 3


@dataclass
class Task:
    """One thing to do."""

    title: str
    due: date | None = None
    priority: Priority = Priority.NORMAL
    done: bool = False
    tags: list[str] = field(default_factory=list)

    def is_overdue(self, today: date) -> bool:
        """True when the task is not done and its due date has passed."""
        return not self.done and self.due is not None and self.due < today

    def to_dict(self) -> dict[str, object]:
        return {
            "title": self.title,
            "due": self.due.isoformat() if self.due else None,
            "priority": self.priority.name.lower(),
            "done": self.done,
            "tags": list(self.tags),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Task:
        due = data.get("due")
        return cls(
            title=str(data["title"]),
            due=date.fromisoformat(str(due)) if due else None,
            priority=Priority[str(data.get("priority", "normal")).upper()],
            done=bool(data.get("done", False)),
            tags=[str(t) for t in data.get("tags", []) or []],  # type: ignore[union-attr]
        )
