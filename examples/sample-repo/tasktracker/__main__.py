"""Command line: python -m tasktracker add|done|list|summary."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from tasktracker.dates import parse_due_date
from tasktracker.models import Priority, Task
from tasktracker.report import summarize
from tasktracker.storage import DEFAULT_PATH, TaskStore


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tasktracker")
    parser.add_argument("--file", type=Path, default=DEFAULT_PATH)
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add")
    add.add_argument("title")
    add.add_argument("--due")
    add.add_argument("--priority", choices=[p.name.lower() for p in Priority], default="normal")
    add.add_argument("--tag", action="append", default=[])
    done = sub.add_parser("done")
    done.add_argument("number", type=int)
    sub.add_parser("list")
    sub.add_parser("summary")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    store = TaskStore(args.file)
    today = date.today()
    if args.command == "add":
        due = parse_due_date(args.due, today) if args.due else None
        number = store.add(Task(args.title, due, Priority[args.priority.upper()], tags=args.tag))
        print(f"added task {number}")
    elif args.command == "done":
        print(f"done: {store.complete(args.number).title}")
    elif args.command == "list":
        for i, task in enumerate(store.load(), 1):
            mark = "x" if task.done else " "
            print(f"{i:>3} [{mark}] {task.title}" + (f" (due {task.due})" if task.due else ""))
    else:
        print(summarize(store.load(), today))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
