"""The chat's widgets and screens: the prompt (Enter sends, Tab completes a /command), the window that
shows a text (a source, the help, a tool's result) and the list of earlier conversations."""

from __future__ import annotations

import time
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widgets import Label, ListItem, ListView, Static, TextArea

from codemm.tui.commands import chat_commands
from codemm.tui.history import ChatHistory


class PromptArea(TextArea):
    """Multi-line input: Enter sends, Ctrl+J / Alt+Enter insert a newline, Tab completes commands."""

    class Submitted(TextualMessage):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    async def _on_key(self, event: Any) -> None:
        if event.key == "enter":
            event.prevent_default()
            event.stop()
            text = self.text.strip()
            if text:
                self.post_message(self.Submitted(text))
                self.clear()
        elif event.key in ("ctrl+j", "alt+enter"):
            event.prevent_default()
            event.stop()
            self.insert("\n")
        elif event.key == "tab" and self.text.startswith("/") and " " not in self.text:
            event.prevent_default()
            event.stop()
            matches = [c for c in chat_commands() if c.startswith(self.text)]
            if len(matches) == 1:
                self.text = matches[0] + " "
                self.move_cursor(self.document.end)
            elif matches:
                self.app.notify("  ".join(matches), title="commands")
        else:
            await super()._on_key(event)


class ChunkScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(self.title_text, classes="context-title")
            yield Static(self.text, markup=False)  # code and usage lines hold [brackets]


class HistoryScreen(ModalScreen[int | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "close")]

    def __init__(self, history: ChatHistory) -> None:
        super().__init__()
        self.history = history

    def compose(self) -> ComposeResult:
        items = [
            ListItem(Label(f"{c.title}  [{time.strftime('%Y-%m-%d %H:%M', time.localtime(c.updated))}]"), id=f"c{c.id}")
            for c in self.history.conversations()
        ]
        yield Label("Conversations (Enter opens, Esc closes)", classes="context-title")
        yield ListView(*items, id="conversations")

    @on(ListView.Selected)
    def _open(self, event: ListView.Selected) -> None:
        self.dismiss(int(str(event.item.id)[1:]))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
