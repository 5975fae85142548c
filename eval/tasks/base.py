"""The contract between tasks and the runner, and the registry tasks enter with ``@register``.

The registry lives here, not in the package's ``__init__``: the package imports every built-in task
to fill it, so a task importing ``register`` from the package would make an import circle."""

from __future__ import annotations

from typing import Any

from codemm.eval.context import RunContext, Variant


class Task:
    name = ""
    default_variants: tuple[str, ...] = ("base",)
    primary: str = ""
    """The per-item metric paired comparisons and plots use."""
    binary: bool = False
    """Whether ``primary`` is pass/fail (Wilson intervals, exact McNemar) or continuous (bootstrap)."""
    samples_matter: bool = False
    """Only tasks with execution tests draw several samples (pass@k)."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def items(self, ctx: RunContext) -> list[dict[str, Any]]:
        raise NotImplementedError

    def run_item(self, item: dict[str, Any], variant: Variant, sample: int, ctx: RunContext) -> dict[str, Any]:
        """Returns the record's metrics (and ``output``); the runner adds ids and cost."""
        raise NotImplementedError

    def score(self, item: dict[str, Any], record: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        """Metrics that need no model and are thread-safe (executing tests in the sandbox): the runner
        calls this on ``--jobs`` worker threads while the model generates the next items."""
        return {}

    def summary(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Suite-level figures beyond the per-variant means (e.g. a gain within one run), for the
        report: ``notes`` are lines of markdown; the rest goes to summary.json."""
        return {}


TASKS: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    TASKS[cls.name] = cls
    return cls
