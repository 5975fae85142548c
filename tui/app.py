"""`codemm chat`: the Textual terminal UI. It presents the ask pipeline; generation runs in a
worker thread and reaches the UI only through messages, so typing never waits for the model.

Keys: Enter sends, Ctrl+J (or Alt+Enter) inserts a newline, Tab completes a /command, Esc stops the
answer being generated, F2 opens history, F3 shows/hides the context panel, Ctrl+Q quits.
(Ctrl+H is Backspace in many terminals, hence the function keys.)
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widgets import Footer, Header, Label, ListItem, ListView, Markdown, Static, TextArea

from codemm.errors import CodemmError
from codemm.session import AskSession
from codemm.tui.history import ChatHistory

COMMANDS = {
    "/image": "PATH  attach a screenshot or diagram",
    "/repo": "PATH  switch repository",
    "/adapter": "NAME|off  switch LoRA adapter",
    "/model": "NAME  load another model",
    "/clear": "start a new conversation",
    "/copy": "[FILE]  copy the last code block (clipboard, or FILE)",
    "/save": "FILE  save the conversation as Markdown",
    "/history": "open an earlier conversation",
    "/help": "show keys and commands",
}
CODE_BLOCK = re.compile(r"```[\w+-]*\n(.*?)```", re.S)
SAVE_EVERY_S = 0.5
RENDER_EVERY_S = 0.1


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
            matches = [c for c in COMMANDS if c.startswith(self.text)]
            if len(matches) == 1:
                self.text = matches[0] + " "
                self.move_cursor(self.document.end)
            elif matches:
                self.app.notify("  ".join(matches), title="commands")
        else:
            await super()._on_key(event)


class AnswerToken(TextualMessage):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class AnswerDone(TextualMessage):
    def __init__(self, result: Any, cancelled: bool) -> None:
        super().__init__()
        self.result = result
        self.cancelled = cancelled


class WorkFailed(TextualMessage):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class LoadDone(TextualMessage):
    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what


class ChunkScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(self.title_text, classes="context-title")
            yield Static(self.text)


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


class ChatApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "codemm chat"
    BINDINGS = [
        Binding("escape", "cancel", "stop answer"),
        Binding("f2", "history", "history"),
        Binding("f3", "toggle_context", "context"),
        Binding("ctrl+q", "quit", "quit"),
    ]

    def __init__(self, backend: AskSession, history: ChatHistory, conversation: int | None = None,
                 load_model: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.backend, self.history = backend, history
        self.conversation = conversation
        self.load_on_start = load_model
        self.stream: Any = None
        self.answer_widget: Markdown | None = None
        self.answer_text = ""
        self.pending = ""
        self.last_render = 0.0
        self.answer_id = 0
        self.last_saved = 0.0
        self.generating = False
        self.last_result: Any = None
        self.last_answer = ""

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield VerticalScroll(id="conversation")
            with VerticalScroll(id="context"):
                yield Label("Sources", classes="context-title")
                yield ListView(id="sources")
                yield Label("Images", classes="context-title")
                yield Static("none attached", id="images")
        yield PromptArea(id="prompt")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        if self.conversation is None:
            self._new_conversation()
        else:
            self._show_conversation(self.conversation)
        self.query_one(PromptArea).focus()
        self._update_status("loading model…" if self.load_on_start else "")
        if self.load_on_start:
            self._load(None, self.backend.repo)

    # -- status and context -------------------------------------------------------------------

    def _update_status(self, note: str = "", tokens_per_s: float | None = None) -> None:
        b = self.backend
        model = b.model
        parts = [f"model {model.name if model else b.settings.model}", f"quant {b.settings.quant}",
                 f"adapter {b.adapter or 'off'}", f"repo {b.repo.name if b.repo else 'none'}"]  # fmt: skip
        if tokens_per_s is not None:
            parts.append(f"{tokens_per_s:.1f} tok/s")
        if self.last_result is not None and self.last_result.prepared is not None:
            p = self.last_result.prepared.prompt
            parts.append(f"context {p.tokens}/{p.budget + b.settings.max_new_tokens}")
        if note:
            parts.append(note)
        self.query_one("#status", Static).update(" │ ".join(parts))

    def _show_sources(self, result: Any) -> None:
        sources = self.query_one("#sources", ListView)
        sources.clear()
        if result.prepared is not None:
            for hit in result.prepared.prompt.included:
                sources.append(ListItem(Label(f"{hit.path}:{hit.start}-{hit.end}")))
            sources.index = 0 if result.prepared.prompt.included else None

    def _show_images(self) -> None:
        text = "\n\n".join(f"{img.name}\n{img.text[:400]}" for img in self.backend.images) or "none attached"
        self.query_one("#images", Static).update(text)

    @on(ListView.Selected, "#sources")
    def _open_chunk(self, event: ListView.Selected) -> None:
        index = event.list_view.index
        if index is None or self.last_result is None:
            return
        hit = self.last_result.prepared.prompt.included[index]
        self.push_screen(ChunkScreen(f"{hit.path}:{hit.start}-{hit.end}", hit.text))

    # -- conversation ---------------------------------------------------------------------------

    def _add_bubble(self, role: str, text: str, partial: bool = False) -> Markdown:
        widget = Markdown(text, classes=role + (" partial" if partial else ""))
        self.query_one("#conversation", VerticalScroll).mount(widget)
        widget.scroll_visible()
        return widget

    def _new_conversation(self) -> None:
        b = self.backend
        self.conversation = self.history.new_conversation(str(b.repo or ""), b.settings.model, b.adapter or "")

    def _show_conversation(self, conversation: int) -> None:
        """Shows a stored conversation and puts back what it was using: its images and adapter."""
        self.backend.images[:] = self.history.images(conversation)
        self._show_images()
        stored = self.history.conversation(conversation)
        if stored is not None and (stored.adapter or None) != self.backend.adapter:
            try:
                self.backend.set_adapter(stored.adapter or None)
            except CodemmError as exc:
                self.notify(f"{exc}; continuing without it", severity="warning", title="adapter")
                self.backend.set_adapter(None)
        log = self.query_one("#conversation", VerticalScroll)
        log.remove_children()
        for message in self.history.messages(conversation):
            text = message.content + ("\n\n*(answer interrupted)*" if message.partial else "")
            self._add_bubble(message.role, text, message.partial)
            if message.role == "assistant":
                self.last_answer = message.content

    def _history_messages(self) -> list[dict[str, str]]:
        if self.conversation is None:
            return []
        return [
            {"role": m.role, "content": m.content} for m in self.history.messages(self.conversation) if not m.partial
        ]

    @on(PromptArea.Submitted)
    def _submitted(self, event: PromptArea.Submitted) -> None:
        if event.text.startswith("/"):
            self._command(event.text)
        elif self.generating:
            self.notify("an answer is still being generated (Esc stops it)", severity="warning")
        else:
            self._ask(event.text)

    def _ask(self, question: str) -> None:
        assert self.conversation is not None
        history = self._history_messages()
        self.history.add(self.conversation, "user", question)
        self._add_bubble("user", question)
        self.answer_text = self.pending = ""
        self.answer_widget = self._add_bubble("assistant", "", partial=True)
        self.answer_id = self.history.add(self.conversation, "assistant", "", partial=True)
        self.generating = True
        self._update_status("thinking…")
        self._generate(question, history)

    @work(thread=True, exclusive=True, group="generate")
    def _generate(self, question: str, history: list[dict[str, str]]) -> None:
        try:
            prepared, stream = self.backend.ask(question, history)
            self.stream = stream
            pieces = []
            for piece in stream:
                pieces.append(piece)
                self.post_message(AnswerToken(piece))
            result = self.backend.finish("".join(pieces), stream, prepared)
            self.post_message(AnswerDone(result, stream.stats.stop_reason == "cancelled"))
        except CodemmError as exc:
            self.post_message(WorkFailed(str(exc)))
        except Exception as exc:  # a bug: keep the app alive and say what happened
            self.post_message(WorkFailed(f"{type(exc).__name__}: {exc}"))

    def on_answer_token(self, message: AnswerToken) -> None:
        self.answer_text += message.text
        self.pending += message.text
        # Re-rendering Markdown per token would starve the keyboard: render at most every RENDER_EVERY_S,
        # appending only the new text (Markdown.append updates just the blocks that changed).
        if self.answer_widget is not None and time.monotonic() - self.last_render > RENDER_EVERY_S:
            self.answer_widget.append(self.pending)
            self.pending = ""
            self.last_render = time.monotonic()
            self.answer_widget.scroll_visible(animate=False)
        if time.monotonic() - self.last_saved > SAVE_EVERY_S:  # a kill loses at most this much
            self.history.update(self.answer_id, self.answer_text, partial=True)
            self.last_saved = time.monotonic()

    def on_answer_done(self, message: AnswerDone) -> None:
        result = message.result
        self.generating = False
        self.last_result = result
        text = result.answer
        if message.cancelled:
            text += "\n\n*(stopped)*"
        marks = [f"`{c.label}` {'✓' if c.valid else '✗ ' + c.reason}" for c in result.citations]
        if marks:
            text += "\n\nSources: " + ", ".join(marks)
        self.last_answer = result.answer
        self.history.update(self.answer_id, result.answer, partial=message.cancelled,
                            meta={"citations": [c.as_json() for c in result.citations]})  # fmt: skip
        if self.answer_widget is not None:
            self.answer_widget.update(text)
            self.answer_widget.remove_class("partial")
        self._show_sources(result)
        self._update_status("stopped" if message.cancelled else "", result.stream.stats.tokens_per_s)

    def on_work_failed(self, message: WorkFailed) -> None:
        self.generating = False
        if self.answer_widget is not None and not self.answer_text:
            self.answer_widget.remove()
            self.answer_widget = None
        self.notify(message.error, severity="error", title="codemm")
        self._update_status()

    def action_cancel(self) -> None:
        if self.generating and self.stream is not None:
            self.stream.cancel()

    # -- commands -------------------------------------------------------------------------------

    def _command(self, text: str) -> None:
        name, _, arg = text.partition(" ")
        arg = arg.strip()
        if name not in COMMANDS:
            self.notify(f"unknown command {name}; /help lists them", severity="warning")
        elif name == "/help":
            lines = [f"{c} {d}" for c, d in COMMANDS.items()]
            self.push_screen(
                ChunkScreen("Keys and commands", (__doc__ or "").split("\n\n")[1] + "\n\n" + "\n".join(lines))
            )
        elif name == "/clear":
            self._new_conversation()
            self.query_one("#conversation", VerticalScroll).remove_children()
            self.backend.images.clear()
            self._show_images()
            self.last_answer = ""
        elif name == "/history":
            self.action_history()
        elif name == "/save":
            self._save(arg)
        elif name == "/copy":
            self._copy(arg)
        elif name == "/image":
            self._attach_image(arg)
        elif name == "/adapter":
            self._switch_adapter(arg)
        elif name == "/repo":
            self._load(None, Path(arg).expanduser() if arg else None, repo_only=True)
        elif name == "/model":
            if not arg:
                self.notify("/model needs a model name, directory or .gguf", severity="warning")
            else:
                self._load(arg, None, model_only=True)

    def _save(self, arg: str) -> None:
        if not arg:
            self.notify("/save needs a file name", severity="warning")
            return
        assert self.conversation is not None
        lines = [f"# codemm conversation {self.conversation}", ""]
        for m in self.history.messages(self.conversation):
            lines += [f"## {m.role}" + (" (interrupted)" if m.partial else ""), "", m.content, ""]
        try:
            Path(arg).expanduser().write_text("\n".join(lines))
            self.notify(f"saved to {arg}")
        except OSError as exc:
            self.notify(f"cannot save to {arg}: {exc.strerror}", severity="error")

    def _copy(self, arg: str) -> None:
        blocks = CODE_BLOCK.findall(self.last_answer)
        if not blocks:
            self.notify("the last answer has no code block", severity="warning")
            return
        if arg:
            try:
                Path(arg).expanduser().write_text(blocks[-1])
                self.notify(f"code block written to {arg}")
            except OSError as exc:
                self.notify(f"cannot write {arg}: {exc.strerror}", severity="error")
        else:
            self.copy_to_clipboard(blocks[-1])
            self.notify("code block copied to the clipboard")

    def _attach_image(self, arg: str) -> None:
        if not arg:
            self.notify("/image needs a path", severity="warning")
            return
        try:
            image = self.backend.attach_image(Path(arg).expanduser())
        except CodemmError as exc:
            self.notify(str(exc), severity="error", title="image")
            return
        if self.conversation is not None:
            self.history.add_image(self.conversation, image)
        self._show_images()
        self.notify(f"attached {image.name}")

    def _switch_adapter(self, arg: str) -> None:
        try:
            self.backend.set_adapter(None if arg in ("", "off") else arg)
        except CodemmError as exc:
            self.notify(str(exc), severity="error", title="adapter")
            return
        if self.conversation is not None:
            self.history.set_adapter(self.conversation, self.backend.adapter)
        self.notify(f"adapter {self.backend.adapter or 'off'}")
        self._update_status()

    @work(thread=True, group="load")
    def _load(self, model: str | None, repo: Path | None, model_only: bool = False, repo_only: bool = False) -> None:
        try:
            if not repo_only:
                self.post_message(LoadDone(f"model {self.backend.load_model(model).name} ready"))
            if not model_only and repo is not None:
                self.backend.set_repo(repo)
                self.post_message(LoadDone(f"repository {self.backend.repo} indexed"))
        except CodemmError as exc:
            self.post_message(WorkFailed(str(exc)))
        except Exception as exc:
            self.post_message(WorkFailed(f"{type(exc).__name__}: {exc}"))

    def on_load_done(self, message: LoadDone) -> None:
        self.notify(message.what)
        self._update_status()

    # -- screens --------------------------------------------------------------------------------

    def action_history(self) -> None:
        def opened(conversation: int | None) -> None:
            if conversation is not None:
                self.conversation = conversation
                self._show_conversation(conversation)
                self._update_status()

        self.push_screen(HistoryScreen(self.history), opened)

    def action_toggle_context(self) -> None:
        self.query_one("#context").toggle_class("hidden")


def run_chat(backend: AskSession, continue_last: bool = False) -> None:
    history = ChatHistory()
    conversation = history.last_conversation() if continue_last else None
    ChatApp(backend, history, conversation).run()
