"""Reading and writing the task file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tasktracker.models import Task

DEFAULT_PATH = Path.home() / ".tasks.json"


class TaskStore:
    """Tasks kept in one JSON file, written atomically."""

    def __init__(self, path: Path = DEFAULT_PATH) -> None:
        self.path = path

    def load(self) -> list[Task]:
        """Returns every task in the file, or an empty list when the file does not exist."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as handle:
            return [Task.from_dict(item) for item in json.load(handle)]

    def save(self, tasks: list[Task]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([t.to_dict() for t in tasks], indent=2), encoding="utf-8")
        os.replace(tmp, self.path)

    def add(self, task: Task) -> int:
        """Appends a task and returns its 1-based number."""
        tasks = self.load()
        tasks.append(task)
        self.save(tasks)
        return len(tasks)

    def complete(self, number: int) -> Task:
        """Marks task ``number`` (1-based) done and returns it."""
        tasks = self.load()
        if not 1 <= number <= len(tasks):
            raise IndexError(f"no task number {number}; there are {len(tasks)}")
        tasks[number - 1].done = True
        self.save(tasks)
        return tasks[number - 1]
