"""The chat's /commands: its own (attach an image, switch repository or model, edit, ...) and every
repository tool of ``codemm.registry`` that names a chat command (/search, /def, /refs, /read, ...).

A tool command runs the declared tool on a worker thread, over a ``RepoTools`` of the chat's
repository (opened on first use, its own index connection, so a search never waits for an answer
being generated), and its result shows in the conversation as the tool's own text: the same result
an agent gets over MCP and `codemm refs --json` prints. A tool that can draw a picture (``image``:
the diagram) is asked for one, shown under its text by textual-image: inline graphics where the
terminal has them (Kitty's protocol, Sixel), coloured half-block text art elsewhere.
"""

from __future__ import annotations

import base64
import io
import shlex
import threading
from typing import TYPE_CHECKING, Any

from textual import work
from textual.message import Message as TextualMessage
from textual.widgets import Static

import codemm.tools  # noqa: F401  (declares the built-in tools)
from codemm.errors import BadInputError, CodemmError
from codemm.registry import TOOLS, Tool

if TYPE_CHECKING:
    from pathlib import Path

    from codemm.session import AskSession
    from codemm.tools import RepoTools

OWN_COMMANDS = {
    "/image": "PATH  attach a screenshot or diagram",
    "/repo": "PATH  switch repository",
    "/adapter": "NAME|off  switch LoRA adapter",
    "/model": "NAME  load another model",
    "/edit": "REQUEST  change the code: edit, lint, test (test_cmd in codemm.toml), commit; Esc stops",
    "/clear": "start a new conversation",
    "/copy": "[FILE]  copy the last code block (clipboard, or FILE)",
    "/save": "FILE  save the conversation as Markdown",
    "/history": "open an earlier conversation",
}
HELP = {"/help": "show keys and commands"}


def chat_commands() -> dict[str, str]:
    """Every /command with its one-line help: the chat's own, the declared tools', then /help."""
    tools = {spec.chat: f"{spec.usage()}  {spec.description}".strip() for spec in TOOLS.values() if spec.chat}
    return {**OWN_COMMANDS, **tools, **HELP}


def tool_for(command: str) -> Tool | None:
    return next((spec for spec in TOOLS.values() if spec.chat == command), None)


def parse_tool_arguments(spec: Tool, text: str) -> dict[str, Any]:
    """``/read app.py start=10 end=20``, ``/search where are dates parsed k=5``: ``name=value`` sets
    a parameter; the other words fill the positional parameters in order, the last of them taking
    the rest of the line (a search needs no quotes)."""
    try:
        words = shlex.split(text)
    except ValueError:  # an unbalanced quote: take the words as they are
        words = text.split()
    names = {p.name for p in spec.params}
    arguments: dict[str, Any] = {}
    loose: list[str] = []
    for word in words:
        name, sep, value = word.partition("=")
        if sep and name in names:
            arguments[name] = value
        else:
            loose.append(word)
    positional = [p for p in spec.params if p.arg.positional and p.name not in arguments]
    for i, param in enumerate(positional):
        if not loose:
            break
        arguments[param.name] = " ".join(loose) if i == len(positional) - 1 else loose.pop(0)
        if i == len(positional) - 1:
            loose = []
    if loose:
        raise BadInputError(f"{spec.chat} does not take {' '.join(loose)!r} (usage: {spec.chat} {spec.usage()})")
    return arguments


class ToolDone(TextualMessage):
    def __init__(self, notice: Static, title: str, text: str, error: str | None, picture: bytes | None = None) -> None:
        super().__init__()
        self.notice, self.title, self.text, self.error, self.picture = notice, title, text, error, picture


def picture_widget(png: bytes) -> Any:
    """The picture as the terminal can show it. textual_image chose how (graphics protocol, Sixel,
    half cells, unicode) when it was first imported, which the chat does before Textual starts: the
    terminal cannot be asked once Textual owns it."""
    from PIL import Image as PILImage
    from textual_image.widget import Image

    return Image(PILImage.open(io.BytesIO(png)), classes="picture")


class ToolCommands:
    """The ChatApp's part that runs repository tools (a mixin: it uses the app's notices and workers)."""

    backend: AskSession
    _repo_tools: RepoTools | None = None
    _repo_tools_lock = threading.Lock()

    def run_tool_command(self, spec: Tool, text: str) -> None:
        app: Any = self
        if self.backend.repo is None:
            app.notify(f"{spec.chat} needs a repository: /repo PATH", severity="warning")
            return
        try:
            arguments = parse_tool_arguments(spec, text)
        except BadInputError as exc:
            app.notify(str(exc), severity="warning")
            return
        title = f"{spec.chat} {text}".strip()
        notice = app._add_notice(f"{title} …", "tool")
        self._run_tool(spec, arguments, notice, title)

    @work(thread=True, group="tools")
    def _run_tool(self, spec: Tool, arguments: dict[str, Any], notice: Static, title: str) -> None:
        app: Any = self
        picture = None
        try:
            result = self._call_with_picture(spec, arguments)
            text, error = spec.render(result), None
            if isinstance(result.get("png_base64"), str):
                picture = base64.b64decode(result["png_base64"])
        except CodemmError as exc:
            text, error = "", str(exc)
        except OSError as exc:
            text, error = "", f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug: one line in the chat, not a crashed screen
            text, error = "", f"internal error: {type(exc).__name__}: {exc}"
        app.post_message(ToolDone(notice, title, text, error, picture))

    def _call_with_picture(self, spec: Tool, arguments: dict[str, Any]) -> dict[str, Any]:
        """The tool's result, with its picture where it can draw one (``image=false`` says no)."""
        tools = self._tools_for(self.backend.repo)
        if "image" in arguments or "image" not in {p.name for p in spec.params}:
            return spec.call(tools, arguments)
        try:
            return spec.call(tools, {**arguments, "image": True})
        except CodemmError:  # no renderer here (Graphviz): the text alone, and the error if it was not that
            return spec.call(tools, arguments)

    def on_tool_done(self, message: ToolDone) -> None:
        app: Any = self
        if message.error is None:
            message.notice.update(f"{message.title}\n{message.text}")
            if message.picture is not None:
                app.query_one("#conversation").mount(picture_widget(message.picture), after=message.notice)
        else:
            message.notice.update(f"{message.title}: {message.error}")
            message.notice.add_class("error")
            app.notify(message.error, severity="error", title=message.title.split()[0])
        message.notice.scroll_visible()

    def _tools_for(self, repo: Path | None) -> RepoTools:
        """The tools of ``repo``, reopened when the chat switched repository."""
        from codemm.tools import RepoTools

        assert repo is not None
        with self._repo_tools_lock:
            if self._repo_tools is None or self._repo_tools.root != repo.resolve():
                if self._repo_tools is not None:
                    self._repo_tools.close()
                self._repo_tools = RepoTools(repo, self.backend.settings)
            return self._repo_tools

    def close_repo_tools(self) -> None:
        with self._repo_tools_lock:
            if self._repo_tools is not None:
                self._repo_tools.close()
                self._repo_tools = None
