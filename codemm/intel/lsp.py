"""One generic Language Server Protocol client over stdio: the precise tier for the languages whose
server is installed (gopls, typescript-language-server, rust-analyzer, clangd, jdtls).

Hand-written over ``subprocess`` and ``json`` rather than pygls: navigation is synchronous and
asks four requests (definition, references), so a reader thread and one event per request is
simpler than driving pygls's asyncio client from sync code, and it adds no dependency. Every
request has a timeout: a hung or dead server is a one-line ``CodemmError``, never a hang.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import subprocess
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlparse

from codemm.errors import CodemmError

REQUEST_TIMEOUT_S = 20.0
"""Per request; a server's first answer also pays for loading the project (rxjs: a few seconds)."""
SERVERS: dict[str, tuple[str, ...]] = {
    "go": ("gopls",),
    "typescript": ("typescript-language-server", "--stdio"),
    "tsx": ("typescript-language-server", "--stdio"),
    "javascript": ("typescript-language-server", "--stdio"),
    "rust": ("rust-analyzer",),
    "c": ("clangd",),
    "cpp": ("clangd",),
    "java": ("jdtls",),
}
"""The server each language uses when its executable is on PATH."""
INIT_OPTIONS: dict[str, dict[str, Any]] = {
    # tsserver's syntax-only server answers while the project loads, with empty definitions and
    # references: navigation would rather wait for the answer that knows the types.
    "typescript-language-server": {"tsserver": {"useSyntaxServer": "never"}},
}
PROJECT_FILES: dict[str, tuple[str, ...]] = {
    # Without one of these at the root, tsserver's project is the open files and what they import:
    # references elsewhere would be missed, so the client opens the repository's files first.
    "typescript-language-server": ("tsconfig.json", "jsconfig.json"),
}
MAX_OPENED = 5000
"""Files opened for a server without a project file; beyond this, it sees the ones asked about."""
LANGUAGE_IDS = {"tsx": "typescriptreact"}
"""LSP's languageId where it differs from codemm's language name."""


class LspError(CodemmError):
    """A language server could not start, broke off or did not answer in time."""


@dataclass(frozen=True)
class Document:
    path: str
    """Relative to the repository root, POSIX separators."""
    language: str
    """codemm's language name (typescript, tsx, go...)."""
    text: str


@dataclass(frozen=True)
class LspLocation:
    path: str
    """Relative to the repository root, POSIX separators."""
    line: int
    """0-based, as LSP counts."""
    column: int
    """0-based, in code points of the line (converted from LSP's UTF-16 units)."""


def server_command(language: str, setting: str = "auto") -> tuple[str, ...] | None:
    """The command that serves ``language`` under the ``lsp`` setting (auto, off, or the languages
    to use a server for, comma-separated); None when none is set or its executable is missing."""
    setting = setting.strip().lower()
    if setting == "off" or (setting != "auto" and language not in {w.strip() for w in setting.split(",")}):
        return None
    command = SERVERS.get(language)
    if command is None:
        return None
    found = shutil.which(command[0])
    return None if found is None else (found, *command[1:])


class LspClient:
    """One running server for one repository, initialized with the repository as its workspace."""

    def __init__(self, command: tuple[str, ...], root: Path, timeout: float = REQUEST_TIMEOUT_S) -> None:
        self.root = root.resolve()
        self.name = Path(command[0]).name
        self.timeout = timeout
        try:
            self._proc = subprocess.Popen(
                command, cwd=self.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise LspError(f"cannot start language server {command[0]}: {exc.strerror}") from None
        self._finalizer = weakref.finalize(self, _stop, self._proc)
        self._lock = threading.Lock()
        self._next_id = 0
        self._pending: dict[int, tuple[threading.Event, list[Any]]] = {}
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._opened: dict[str, tuple[int, str]] = {}
        self._gone: str | None = None
        assert self._proc.stdout is not None and self._proc.stderr is not None
        threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True).start()
        threading.Thread(target=self._drain, args=(self._proc.stderr,), daemon=True).start()
        uri = self.root.as_uri()
        try:
            result = self.request("initialize", {
                "processId": os.getpid(), "rootUri": uri, "rootPath": str(self.root),
                "workspaceFolders": [{"uri": uri, "name": self.root.name}],
                "initializationOptions": INIT_OPTIONS.get(self.name, {}),
                "capabilities": {"general": {"positionEncodings": ["utf-16"]},
                                 "textDocument": {"definition": {"linkSupport": False},
                                                  "references": {}, "synchronization": {}}},
            })  # fmt: skip
        except LspError:
            self.close()
            raise
        self.capabilities: dict[str, Any] = (result or {}).get("capabilities", {})
        self.notify("initialized", {})

    # -- the requests navigation asks ---------------------------------------------------------------

    def definition(self, doc: Document, line: int, column: int) -> list[LspLocation]:
        """Where the name at ``doc`` (0-based ``line`` and code-point ``column``) is defined."""
        return self._locations(self._at("textDocument/definition", doc, line, column, {}))

    def references(self, doc: Document, line: int, column: int) -> list[LspLocation]:
        """The uses of the name at ``doc``:``line``:``column``, its declaration left out."""
        extra = {"context": {"includeDeclaration": False}}
        return self._locations(self._at("textDocument/references", doc, line, column, extra))

    def _at(self, method: str, doc: Document, line: int, column: int, extra: dict[str, Any]) -> Any:
        text = doc.text
        uri = self.open(doc)
        lines = text.splitlines()
        character = _utf16(lines[line], column) if line < len(lines) else column
        return self.request(method, {"textDocument": {"uri": uri},
                                     "position": {"line": line, "character": character}, **extra})  # fmt: skip

    def open(self, doc: Document) -> str:
        """Sends the file's text the first time it is asked about, and again when it changed."""
        path, text = doc.path, doc.text
        uri = (self.root / path).as_uri()
        known = self._opened.get(path)
        if known is None:
            language = LANGUAGE_IDS.get(doc.language, doc.language)
            self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": language,
                                                                  "version": 1, "text": text}})  # fmt: skip
            self._opened[path] = (1, text)
        elif known[1] != text:
            version = known[0] + 1
            self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                   "contentChanges": [{"text": text}]})  # fmt: skip
            self._opened[path] = (version, text)
        return uri

    def _locations(self, result: Any) -> list[LspLocation]:
        items = result if isinstance(result, list) else [result] if result else []
        found = []
        for item in items:
            uri = item.get("targetUri", item.get("uri", ""))
            span = item.get("targetSelectionRange", item.get("range"))
            if not uri.startswith("file://") or span is None:
                continue
            try:
                path = Path(_uri_path(uri)).resolve().relative_to(self.root)
            except ValueError:
                continue  # outside the repository (a library's declarations): not a place codemm shows
            start = span["start"]
            found.append(LspLocation(path.as_posix(), start["line"], self._column(path, start)))
        return found

    def _column(self, path: Path, start: dict[str, int]) -> int:
        opened = self._opened.get(path.as_posix())
        try:
            text = opened[1] if opened else (self.root / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return start["character"]
        lines = text.splitlines()
        return _code_points(lines[start["line"]], start["character"]) if start["line"] < len(lines) else 0

    # -- JSON-RPC over stdio ------------------------------------------------------------------------

    def request(self, method: str, params: Any) -> Any:
        event, box = threading.Event(), list[Any]()
        with self._lock:
            self._next_id += 1
            number = self._next_id
            self._pending[number] = (event, box)
        self._send({"jsonrpc": "2.0", "id": number, "method": method, "params": params})
        if not event.wait(self.timeout):
            self._pending.pop(number, None)
            raise LspError(f"language server {self.name} did not answer {method} within {self.timeout:g} s")
        reply = box[0]
        if "error" in reply:
            message = str(reply["error"].get("message", "")).splitlines()[0:1] or ["no message"]
            raise LspError(f"language server {self.name} refused {method}: {message[0]}")
        return reply.get("result")

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def _send(self, message: dict[str, Any]) -> None:
        if self._gone is not None:
            raise LspError(self._gone)
        body = json.dumps(message).encode("utf-8")
        try:
            with self._lock:
                assert self._proc.stdin is not None
                self._proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
                self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise LspError(self._exited()) from None

    def _read(self, stream: IO[bytes]) -> None:
        try:
            while (message := _read_message(stream)) is not None:
                if "id" in message and "method" in message:
                    self._answer(message)
                elif "id" in message:
                    waiting = self._pending.pop(message["id"], None)
                    if waiting is not None:
                        waiting[1].append(message)
                        waiting[0].set()
        except (OSError, ValueError):
            pass
        self._gone = self._exited()
        for event, box in list(self._pending.values()):
            box.append({"error": {"message": self._gone}})
            event.set()

    def _answer(self, message: dict[str, Any]) -> None:
        """Requests the server makes of the client (its settings, progress tokens): a neutral reply."""
        params = message.get("params") or {}
        result = [None] * len(params.get("items", [])) if message["method"] == "workspace/configuration" else None
        with contextlib.suppress(LspError):  # the server is gone: the reader will say so
            self._send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def _drain(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self._stderr.append(raw.decode("utf-8", "replace").strip())

    def _exited(self) -> str:
        try:
            code = self._proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return f"language server {self.name} closed its output"
        last = next((line for line in reversed(self._stderr) if line), "")
        return f"language server {self.name} exited with code {code}" + (f": {last[:200]}" if last else "")

    def close(self) -> None:
        """shutdown, exit, and the process ended whatever it does."""
        if self._gone is None and self._proc.poll() is None:
            try:
                self.timeout = min(self.timeout, 2.0)
                self.request("shutdown", None)
                self.notify("exit", None)
            except LspError:
                pass
        self._finalizer()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ends the process: a server whose input closes exits; one that does not within 2 s is killed."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _read_message(stream: IO[bytes]) -> dict[str, Any] | None:
    length = None
    while True:
        header = stream.readline()
        if not header:
            return None
        if header in (b"\r\n", b"\n"):
            break
        name, _, value = header.decode("ascii").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length is None:
        raise ValueError("a message without Content-Length")
    body = stream.read(length)
    return json.loads(body) if len(body) == length else None


def _uri_path(uri: str) -> str:
    return unquote(urlparse(uri).path)


def _utf16(line: str, column: int) -> int:
    return len(line[:column].encode("utf-16-le")) // 2


def _code_points(line: str, units: int) -> int:
    count = 0
    for index, char in enumerate(line):
        if count >= units:
            return index
        count += 2 if ord(char) > 0xFFFF else 1
    return len(line)
