"""tasktracker: a small to-do list kept in a JSON file."""

from tasktracker.models import Priority, Task

__all__ = ["Priority", "Task"]
