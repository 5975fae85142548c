"""The chat's /edit: codemm.edit's loop in a worker; each try and its diff shown as it comes, the
result committed (or not) as `codemm edit` does. A mixin of ``ChatApp``: it shares the app's
conversation, status line and Esc (``edit_cancel``)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from textual import work

from codemm.errors import CodemmError
from codemm.tui.messages import EditDone, EditProgress

if TYPE_CHECKING:
    from collections import deque

    from textual.app import App
    from textual.widgets import Markdown

    from codemm.session import AskSession
    from codemm.tui.history import ChatHistory
    from codemm.tui.messages import Turn

    _Base = App[None]
else:
    _Base = object


class EditCommand(_Base):
    backend: AskSession
    history: ChatHistory
    conversation: int | None
    turn: Turn | None
    queue: deque[Turn]
    loads: int
    edit_cancel: threading.Event | None
    edit_widget: Markdown | None
    edit_text: str

    if TYPE_CHECKING:

        def _add_bubble(self, role: str, text: str, partial: bool = False) -> Markdown: ...
        def _update_status(self, note: str = "", tokens_per_s: float | None = None) -> None: ...

    def _edit(self, request: str) -> None:
        if not request:
            self.notify("/edit needs a request: what to change", severity="warning")
            return
        if self.backend.repo is None:
            self.notify("/edit needs a repository: /repo PATH", severity="warning")
            return
        if self.backend.model is None or self.loads:
            self.notify("/edit needs a loaded model: wait for it, or /model NAME", severity="warning")
            return
        if self.turn is not None or self.queue or self.edit_cancel is not None:
            self.notify("wait for the answer or edit in progress (Esc stops it)", severity="warning")
            return
        assert self.conversation is not None
        self.history.add(self.conversation, "user", f"/edit {request}")
        self._add_bubble("user", f"/edit {request}")
        self.edit_text = ""
        self.edit_widget = self._add_bubble("assistant", "editing…", partial=True)
        self.edit_cancel = threading.Event()
        self._update_status("editing… (Esc stops)")
        self._run_edit(request, self.edit_cancel)

    @work(thread=True, group="edit")
    def _run_edit(self, request: str, cancel: threading.Event) -> None:
        from codemm.ask import generation_settings
        from codemm.config import load_settings
        from codemm.edit import EditFailed, EditOptions, run_edit

        try:
            repo = self.backend.repo
            assert repo is not None
            # the repository's own codemm.toml says how to test it, read afresh for each /edit
            settings = load_settings({}, cwd=repo)
            generation = generation_settings(self.backend.settings)
            options = EditOptions(request, test_cmd=settings.test_cmd, lint_cmd=settings.lint_cmd,
                                  tries=settings.tries, generation=generation, graph=settings.graph)  # fmt: skip

            def notify(kind: str, data: Any) -> None:
                self.post_message(EditProgress(kind, data))

            index = getattr(self.backend, "index", None)
            model = self.backend.model
            assert model is not None  # /edit starts only with a loaded model
            result = run_edit(model, repo, options, index=index, notify=notify, cancel=cancel)
            self.post_message(EditDone(result, ""))
        except EditFailed as exc:
            self.post_message(EditDone(exc.result, str(exc)))
        except CodemmError as exc:
            self.post_message(EditDone(None, str(exc)))
        except Exception as exc:  # a bug: keep the app alive and say what happened
            self.post_message(EditDone(None, f"{type(exc).__name__}: {exc}"))

    def _edit_show(self, text: str) -> None:
        self.edit_text += text
        if self.edit_widget is not None and self.edit_widget.is_attached:
            self.edit_widget.update(self.edit_text)
            self.edit_widget.scroll_visible(animate=False)

    def on_edit_progress(self, message: EditProgress) -> None:
        if message.kind == "try":
            self._edit_show(f"**Try {message.data}**: asking the model…\n\n")
        elif message.kind == "check":
            self._edit_show(f"running `{message.data}`\n\n")
        elif message.kind == "tried":
            attempt = message.data
            self._edit_show(f"Try {attempt.number}: {attempt.verdict()} ({attempt.seconds:.1f} s)\n\n")
            if attempt.diff:
                self._edit_show(f"```diff\n{attempt.diff}```\n\n")

    def on_edit_done(self, message: EditDone) -> None:
        result, error = message.result, message.error
        if result is not None and not error:
            done = f"committed `{result.commit[:10]}`" if result.commit else "written, not committed"
            summary = f"**Done**: {', '.join(result.files)} {done} after {len(result.tries)} tries."
            if result.note:
                summary += f" ({result.note})"
        else:
            summary = f"**Not applied**: {error}"
        self._edit_show(summary)
        if self.edit_widget is not None:
            self.edit_widget.remove_class("partial")
        assert self.conversation is not None
        self.history.add(self.conversation, "assistant", self.edit_text)
        self.edit_cancel = None
        self.edit_widget = None
        self._update_status("edit stopped" if error.startswith("stopped") else "")
        if error:
            self.notify(error, severity="warning" if error.startswith("stopped") else "error", title="/edit")
