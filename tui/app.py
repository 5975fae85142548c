"""`codemm chat`: the Textual terminal UI. It presents the ask pipeline; loading and generation run
in worker threads and reach the UI only through messages, so typing never waits for the model.
Questions sent while the model loads (or while an answer streams) wait in a queue, in order.

Keys: Enter sends, Ctrl+J (or Alt+Enter) inserts a newline, Tab completes a /command, Esc stops the
answer being generated (or drops the questions still waiting), F2 opens history, F3 shows/hides the
context panel, Ctrl+Q quits. Typing in a window like this one closes it and goes to the prompt.
(Ctrl+H is Backspace in many terminals, hence the function keys.)
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Header, Label, ListItem, ListView, Markdown, Static, TextArea

from codemm.errors import CodemmError
from codemm.session import AskSession
from codemm.tui.commands import ToolCommands, chat_commands, tool_for
from codemm.tui.edit_command import EditCommand
from codemm.tui.history import ChatHistory, Conversation
from codemm.tui.messages import (
    AnswerDone,
    AnswerFailed,
    AnswerToken,
    LoadFinished,
    LoadProgress,
    Turn,
)
from codemm.tui.widgets import ChunkScreen, HistoryScreen, PromptArea

CODE_BLOCK = re.compile(r"```[\w+-]*\n(.*?)```", re.S)
SAVE_EVERY_S = 0.5
RENDER_EVERY_S = 0.1


class ChatApp(ToolCommands, EditCommand, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "codemm chat"
    BINDINGS = [
        Binding("escape", "cancel", "stop answer"),
        Binding("f2", "history", "history"),
        Binding("f3", "toggle_context", "context"),
        Binding("ctrl+q", "quit", "quit"),
    ]

    def __init__(self, backend: AskSession, history: ChatHistory, conversation: int | None = None,
                 load_model: bool = True, repo_given: bool = False) -> None:  # fmt: skip
        """`repo_given`: the user chose the repository (`--repo`), so resuming a conversation keeps it
        instead of putting back the conversation's own."""
        super().__init__()
        self.backend, self.history = backend, history
        self.conversation = conversation
        self.load_on_start = load_model
        self.repo_given = repo_given
        self.stream: Any = None
        self.answer_text = ""
        self.pending = ""
        self.last_render = 0.0
        self.last_saved = 0.0
        self.last_result: Any = None
        self.last_answer = ""
        self.turn: Turn | None = None
        self.queue: deque[Turn] = deque()
        self.loads = 0  # load workers in flight; questions wait while any runs
        self.loading_what = ""
        self.model_error: str | None = None
        self.edit_cancel: threading.Event | None = None  # set while an /edit runs; Esc sets it
        self.edit_widget: Markdown | None = None
        self.edit_text = ""

    @property
    def generating(self) -> bool:
        return self.turn is not None

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
        # The prompt lives on the first screen; a modal may be on top when it is needed.
        self.prompt = self.query_one(PromptArea)
        repo = self.backend.repo
        if self.conversation is None:
            self._new_conversation()
        else:
            repo = self._show_conversation(self.conversation, keep_repo=self.repo_given) or repo
        assert self.conversation is not None
        if not self.history.messages(self.conversation):
            self._add_welcome(repo)
        self.prompt.focus()
        if self.load_on_start:
            self._start_load(None, repo)
        self._update_status()

    def _add_welcome(self, repo: Path | None) -> None:
        where = f"Repository: {repo}" if repo else "Repository: none (/repo PATH picks one)"
        self._add_notice(
            "Type a question about your code and press Enter (Ctrl+J: new line).\n"
            f"{where}  ·  Model: {self.backend.settings.model}\n"
            "/help keys and commands  ·  /image PATH attach a screenshot\n"
            "/repo PATH switch repository  ·  F2 earlier conversations",
            "welcome",
        )

    def _add_notice(self, text: str, kind: str) -> Static:
        # markup off: paths and error messages may hold [brackets]
        notice = Static(text, markup=False, classes=f"notice {kind}")
        self.query_one("#conversation", VerticalScroll).mount(notice)
        notice.scroll_visible()
        return notice

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
        if self.loads:
            parts.append(self.loading_what + "…")
        if self.queue:
            parts.append(f"{len(self.queue)} waiting")
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

    def _show_conversation(self, conversation: int, keep_repo: bool = False) -> Path | None:
        """Shows a stored conversation and puts back what it was using: its images and adapter now,
        and returns its repository when that must be indexed again (None: keep the current one)."""
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
            error = message.meta.get("error") if message.partial else None
            if message.content or error is None:
                text = message.content + ("\n\n*(answer interrupted)*" if message.partial and not error else "")
                self._add_bubble(message.role, text, message.partial)
            if error is not None:
                self._add_notice(f"Not answered: {error}", "error")
            if message.role == "assistant":
                self.last_answer = message.content
        return None if stored is None or keep_repo else self._stored_repo(stored)

    def _stored_repo(self, stored: Conversation) -> Path | None:
        if not stored.repo:  # none recorded: whatever this chat was started with
            return None
        path = Path(stored.repo)
        if path.is_dir():
            return None if self.backend.repo is not None and path == self.backend.repo.resolve() else path
        current = f"continuing with {self.backend.repo}" if self.backend.repo else "continuing without a repository"
        text = f"This conversation's repository {stored.repo} no longer exists; {current}."
        self._add_notice(text, "error")
        self.notify(text, severity="warning", title="repository")
        return None

    def _history_before(self, turn: Turn) -> list[dict[str, str]]:
        messages = self.history.messages(turn.conversation)
        return [{"role": m.role, "content": m.content} for m in messages if m.id < turn.question_id and not m.partial]

    @on(PromptArea.Submitted)
    def _submitted(self, event: PromptArea.Submitted) -> None:
        if event.text.startswith("/"):
            self._command(event.text)
        else:
            self._ask(event.text)

    def _ask(self, question: str) -> None:
        assert self.conversation is not None
        question_id = self.history.add(self.conversation, "user", question)
        self._add_bubble("user", question)
        answer_id = self.history.add(self.conversation, "assistant", "", partial=True)
        widget = self._add_bubble("assistant", "", partial=True)
        widget.display = False
        if self.loads:
            waiting = f"Waiting: {self.loading_what}… (answered when it is ready; Esc drops it)"
        elif self.turn is not None or self.queue:
            waiting = "Waiting for the answer above… (Esc stops that one)"
        else:
            waiting = "thinking…"
        placeholder = self._add_notice(waiting, "waiting")
        self.queue.append(Turn(self.conversation, question, question_id, answer_id, widget, placeholder))
        self._next()
        self._update_status()

    def _next(self) -> None:
        """Starts the oldest waiting question, if nothing is loading or generating."""
        if self.turn is not None or self.loads or not self.queue:
            return
        turn = self.turn = self.queue.popleft()
        if self.backend.model is None:
            reason = f"the model could not be loaded ({self.model_error})" if self.model_error else "no model is loaded"
            self._not_answered(turn, f"{reason}; load one with /model NAME and ask again")
            return
        self.stream = None
        self.answer_text = self.pending = ""
        turn.placeholder.update("thinking…")
        self._update_status("thinking…")
        self._generate(turn.question, self._history_before(turn))

    def _not_answered(self, turn: Turn, reason: str) -> None:
        """Says in the conversation (and in the stored answer) why a question got no answer, then moves on."""
        turn.placeholder.update(f"Not answered: {reason}")
        turn.placeholder.remove_class("waiting")
        turn.placeholder.add_class("error")
        turn.placeholder.display = True  # hidden if it failed after the first tokens
        self.history.update(turn.answer_id, self.answer_text if turn is self.turn else "", partial=True,
                            meta={"error": reason})  # fmt: skip
        if turn is self.turn:
            self.turn = None
        self._next()
        self._update_status()

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
            self.post_message(AnswerFailed(str(exc)))
        except Exception as exc:  # a bug: keep the app alive and say what happened
            self.post_message(AnswerFailed(f"{type(exc).__name__}: {exc}"))

    def on_answer_token(self, message: AnswerToken) -> None:
        turn = self.turn
        assert turn is not None
        if not self.answer_text:
            turn.widget.display = True
            turn.placeholder.display = False  # kept: it says why, should the answer fail half-way
        self.answer_text += message.text
        self.pending += message.text
        # Re-rendering Markdown per token would starve the keyboard: render at most every RENDER_EVERY_S,
        # appending only the new text (Markdown.append updates just the blocks that changed).
        if turn.widget.is_attached and time.monotonic() - self.last_render > RENDER_EVERY_S:
            turn.widget.append(self.pending)
            self.pending = ""
            self.last_render = time.monotonic()
            turn.widget.scroll_visible(animate=False)
        if time.monotonic() - self.last_saved > SAVE_EVERY_S:  # a kill loses at most this much
            self.history.update(turn.answer_id, self.answer_text, partial=True)
            self.last_saved = time.monotonic()

    def on_answer_done(self, message: AnswerDone) -> None:
        turn = self.turn
        assert turn is not None
        result = message.result
        self.last_result = result
        text = result.answer
        if message.cancelled:
            text += "\n\n*(stopped)*"
        marks = [f"`{c.label}` {'✓' if c.valid else '✗ ' + c.reason}" for c in result.citations]
        if marks:
            text += "\n\nSources: " + ", ".join(marks)
        self.last_answer = result.answer
        self.history.update(turn.answer_id, result.answer, partial=message.cancelled,
                            meta={"citations": [c.as_json() for c in result.citations]})  # fmt: skip
        turn.placeholder.remove()
        if turn.widget.is_attached:
            turn.widget.display = True
            turn.widget.update(text)
            turn.widget.remove_class("partial")
        self._show_sources(result)
        self.turn = None
        self._update_status("stopped" if message.cancelled else "", result.stream.stats.tokens_per_s)
        self._next()

    def on_answer_failed(self, message: AnswerFailed) -> None:
        assert self.turn is not None
        self.notify(message.error, severity="error", title="codemm")
        self._not_answered(self.turn, message.error)

    def action_cancel(self) -> None:
        if self.edit_cancel is not None:  # an /edit runs: stop it (nothing is written until a try passes)
            self.edit_cancel.set()
            return
        if self.turn is not None:
            if self.stream is not None:
                self.stream.cancel()
        else:  # nothing streams yet (the model is loading): drop what waits for it
            while self.queue:
                self._not_answered(self.queue.popleft(), "dropped with Esc before the model was ready")

    # -- keys that no widget took ---------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        # A printable key reaches the app only when no widget took it: a modal (help, history, a
        # chunk) is open, or focus is on the sources list. Text typed there must not vanish: the key
        # closes the modal and goes into the prompt, where the user meant to type.
        if event.is_printable and event.character is not None:
            event.stop()
            self._type_into_prompt(event.character)

    def on_paste(self, event: events.Paste) -> None:
        if not isinstance(self.screen.focused, TextArea):  # a TextArea took it already (and let it bubble)
            event.stop()
            self._type_into_prompt(event.text)

    def _type_into_prompt(self, text: str) -> None:
        if isinstance(self.screen, ModalScreen):
            self.screen.dismiss(None)
        self.prompt.insert(text)
        self.prompt.focus()

    # -- commands -------------------------------------------------------------------------------

    def _command(self, text: str) -> None:
        name, _, arg = text.partition(" ")
        arg = arg.strip()
        commands = chat_commands()
        tool = tool_for(name)
        if name not in commands:
            self.notify(f"unknown command {name}; /help lists them", severity="warning")
        elif tool is not None:
            self.run_tool_command(tool, arg)
        elif name == "/help":
            lines = [f"{c} {d}" for c, d in commands.items()]
            self.push_screen(
                ChunkScreen("Keys and commands", (__doc__ or "").split("\n\n")[1] + "\n\n" + "\n".join(lines))
            )
        elif name == "/clear":
            self._new_conversation()
            self.query_one("#conversation", VerticalScroll).remove_children()
            self.backend.images.clear()
            self._show_images()
            self.last_answer = ""
            self._add_welcome(self.backend.repo)
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
            if not arg:
                self.notify(f"/repo needs a path (now: {self.backend.repo or 'none'})", severity="warning")
            else:
                self._start_load(None, Path(arg).expanduser(), load_model=False)
        elif name == "/edit":
            self._edit(arg)
        elif name == "/model":
            if not arg:
                self.notify("/model needs a model name, directory or .gguf", severity="warning")
            else:
                self._start_load(arg, None)

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

    # -- loading --------------------------------------------------------------------------------

    def _start_load(self, model: str | None, repo: Path | None, load_model: bool = True) -> None:
        steps = [f"loading model {model or self.backend.settings.model}"] if load_model else []
        if repo is not None:
            steps.append(f"indexing repository {repo}")
        if not steps:
            return
        self.loading_what = ", then ".join(steps)
        notice = self._add_notice(self.loading_what[0].upper() + self.loading_what[1:] + "…", "loading")
        self.loads += 1
        self._update_status()
        self._load(notice, model, repo, load_model)

    @work(thread=True, group="load")
    def _load(self, notice: Static, model: str | None, repo: Path | None, load_model: bool) -> None:
        """Loads the model and then indexes the repository, each step reported in `notice`; a failed
        model load still indexes the repository, since /model can fix the first and keep the second."""
        done: list[str] = []
        model_error: str | None = None
        repo_indexed = False
        if load_model:
            spec = model or self.backend.settings.model
            model_error = _attempt(lambda: self.backend.load_model(model))
            if model_error is None and self.backend.model is not None:
                done.append(f"Model {self.backend.model.name} ready.")
            else:
                still = f"; still using {self.backend.model.name}" if self.backend.model is not None else ""
                done.append(f"Could not load model {spec}: {model_error}{still}.")
            more = f"\nIndexing repository {repo}…" if repo is not None else ""
            self.post_message(LoadProgress(notice, "\n".join(done) + more, model_error))
        if repo is not None:
            repo_error = _attempt(lambda: self.backend.set_repo(repo))
            repo_indexed = repo_error is None
            if repo_indexed:
                done.append(f"Repository {self.backend.repo} indexed.")
            else:
                still = f"still using {self.backend.repo}" if self.backend.repo else "answering without a repository"
                done.append(f"Could not index repository {repo}: {repo_error}; {still}.")
            self.post_message(LoadProgress(notice, "\n".join(done), repo_error))
        self.post_message(LoadFinished(notice, model_error, repo_indexed))

    def on_load_progress(self, message: LoadProgress) -> None:
        message.notice.update(message.text)
        if message.error is not None:
            message.notice.add_class("error")
            self.notify(message.error, severity="error", title="codemm")
        self._update_status()

    def on_load_finished(self, message: LoadFinished) -> None:
        self.loads -= 1
        message.notice.remove_class("loading")
        if message.model_error is not None:
            self.model_error = message.model_error
        elif self.backend.model is not None:
            self.model_error = None
        if message.repo_indexed and self.conversation is not None:
            self.history.set_repo(self.conversation, self.backend.repo)
        self._update_status()
        self._next()

    # -- screens --------------------------------------------------------------------------------

    def action_history(self) -> None:
        def opened(conversation: int | None) -> None:
            if conversation is not None:
                self.conversation = conversation
                repo = self._show_conversation(conversation)
                if repo is not None:
                    self._start_load(None, repo, load_model=False)
                self._update_status()

        self.push_screen(HistoryScreen(self.history), opened)

    def action_toggle_context(self) -> None:
        self.query_one("#context").toggle_class("hidden")


def _attempt(step: Any) -> str | None:
    """Runs a load step; the one-line error a user sees if it fails."""
    try:
        step()
    except CodemmError as exc:
        return str(exc)
    except Exception as exc:  # a bug: keep the app alive and say what happened
        return f"{type(exc).__name__}: {exc}"
    return None


def run_chat(backend: AskSession, continue_last: bool = False, repo_given: bool = False) -> None:
    history = ChatHistory()
    conversation = history.last_conversation() if continue_last else None
    app = ChatApp(backend, history, conversation, repo_given=repo_given)
    # textual_image asks the terminal what it can draw (Sixel, Kitty graphics, cell size) when
    # imported; once Textual owns the terminal it cannot, so it is asked here, first.
    import textual_image.widget  # noqa: F401

    try:
        app.run()
    finally:
        app.close_repo_tools()
