"""Parsing the due dates people type."""

from __future__ import annotations

from datetime import date, timedelta

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def parse_due_date(text: str, today: date) -> date:
    """Parses 'today', 'tomorrow', a weekday name, '+3d' or an ISO date into a date.

    Returns the date; raises ValueError for anything else.
    """
    value = text.strip().lower()
    if value == "today":
        return today
    if value == "tomorrow":
        return today + timedelta(days=1)
    if value in WEEKDAYS:
        ahead = (WEEKDAYS.index(value) - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    if value.startswith("+") and value.endswith("d"):
        return today + timedelta(days=int(value[1:-1]))
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"cannot understand due date {text!r}") from None
