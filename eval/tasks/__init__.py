"""Registered evaluation tasks. A task is data + prompt + metric; the runner knows nothing of them."""

from __future__ import annotations

from typing import Any

from codemm.errors import BadInputError
from codemm.eval.tasks.base import TASKS, Task, register

__all__ = ["TASKS", "Task", "get_task", "register"]


def get_task(name: str, **options: Any) -> Task:
    _load_builtin_tasks()
    if name not in TASKS:
        raise BadInputError(f"unknown suite '{name}' (known: {', '.join(sorted(TASKS))})")
    return TASKS[name](**options)


def _load_builtin_tasks() -> None:
    from codemm.eval.tasks import adapter_gain, completion, edit, repoqa, screenshots, synthesis  # noqa: F401
