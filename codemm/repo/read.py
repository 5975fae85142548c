"""Reading a line range of a repository file for a caller that is not trusted with the disk.

Agents (MCP clients, HTTP callers) name files by strings they were shown or made up. A path is
accepted only when it is a string a file name can be (no NUL, not absurdly long), relative, has no
``..`` part, and resolves, symbolic links followed, to a regular file under the repository root
and outside ``.git`` (objects, hooks, credentials in config): a link into ``.git`` is refused like
``.git`` itself. Anything else is a one-line ``BadInputError`` that names the path as the caller
gave it, never where it resolves on the server.

What one read returns is bounded in lines and in bytes, so that a minified bundle or a data file
of one huge line cannot flood an agent's context (the result says what was cut).
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from codemm.errors import BadInputError
from codemm.repo.walk import decode_source, sniff_head

MAX_LINES = 400
"""Most lines one read returns: a whole generated file would flood an agent's context."""
MAX_LINE_BYTES = 4096
"""Longer lines are shown cut to this: hand-written code stays under ~120 characters, and longer
lines are minified bundles, embedded data or logs, of which the first 4 KiB say what they are."""
MAX_TEXT_BYTES = 64 * 2**10
"""Most UTF-8 bytes of text one read returns: 400 lines of 160 bytes (code averages 30-40, so a
400-line read of code never meets it), about 16k tokens. An MCP result carries the text twice
(content and structured content), so a tool result stays under ~130 KiB."""
MAX_BYTES = 8 * 2**20
"""Larger files are logs or data, not code to read a range of (and reading them costs memory)."""
MAX_PATH_CHARS = 4096
"""PATH_MAX on Linux; a longer string is not a path."""
MAX_NAME_BYTES = 255
"""NAME_MAX: the longest file or folder name common file systems hold."""


@dataclass
class LineRange:
    path: str
    start: int
    end: int
    """Last line returned (inclusive); ``start - 1`` for an empty file."""
    total_lines: int
    text: str
    truncated: bool = False
    """True when anything asked for was left out: the range was cut (``cut_by``) or lines were
    shortened (``cut_lines``)."""
    cut_by: str = ""
    """Why the range ended before the end asked for: ``lines`` (MAX_LINES) or ``bytes``
    (MAX_TEXT_BYTES); empty when it did not."""
    cut_lines: list[int] = field(default_factory=list)
    """Lines longer than MAX_LINE_BYTES, shown cut to it."""
    long_line_bytes: int = 0
    """The length in bytes of the longest cut line."""

    def as_json(self) -> dict[str, Any]:
        data = {"path": self.path, "start": self.start, "end": self.end, "total_lines": self.total_lines,
                "text": self.text, "truncated": self.truncated, "cut_lines": self.cut_lines}  # fmt: skip
        if self.truncated:
            data["note"] = self.note()
        return data

    def note(self) -> str:
        notes = []
        if self.cut_by == "lines":
            notes.append(f"cut at {MAX_LINES} lines; read on from line {self.end + 1}")
        elif self.cut_by == "bytes":
            notes.append(f"cut at {MAX_TEXT_BYTES // 2**10} KiB; read on from line {self.end + 1}")
        if len(self.cut_lines) == 1:
            notes.append(f"line {self.cut_lines[0]} is {self.long_line_bytes} bytes long; only its first "
                         f"{MAX_LINE_BYTES} bytes are shown")  # fmt: skip
        elif self.cut_lines:
            notes.append(f"{len(self.cut_lines)} lines (cut_lines) are longer than {MAX_LINE_BYTES} bytes; only "
                         f"their first {MAX_LINE_BYTES} bytes are shown")  # fmt: skip
        return "; ".join(notes)


def shown(value: str) -> str:
    """``value`` fit for a one-line message: control characters as ``?``, a long one elided."""
    text = "".join(c if c.isprintable() else "?" for c in value)
    return text if len(text) <= 120 else f"{text[:80]}...{text[-30:]}"


def check_path(value: object, what: str = "path") -> str:
    """``value`` when it is a string that can name a file at all, else a one-line BadInputError."""
    if not isinstance(value, str):
        raise BadInputError(f"the {what} must be a string, got {type(value).__name__}")
    if "\0" in value:
        raise BadInputError(f"the {what} {shown(value)} contains a NUL byte, which no file name can hold")
    if len(value) > MAX_PATH_CHARS:
        raise BadInputError(f"the {what} is {len(value)} characters long, too long for a path "
                            f"(at most {MAX_PATH_CHARS})")  # fmt: skip
    if any(len(part.encode("utf-8", "replace")) > MAX_NAME_BYTES for part in re.split(r"[\\/]", value)):
        raise BadInputError(f"the {what} {shown(value)} has a name too long for a file "
                            f"(at most {MAX_NAME_BYTES} bytes)")  # fmt: skip
    return value


def _resolve(path: Path, given: str) -> Path:
    """``path`` with every link followed; a loop or an unreadable link is a BadInputError."""
    try:
        full = path.resolve()
        full.stat()
    except (FileNotFoundError, NotADirectoryError):  # a missing file, or a dangling link
        if path.is_symlink():
            raise BadInputError(f"path {shown(given)} is a broken link") from None
        return full
    except RuntimeError:  # Python 3.11's "Symlink loop from <the full path>"
        raise BadInputError(f"path {shown(given)} is a link loop") from None
    except OSError as exc:  # its text would name the resolved path
        if exc.errno == errno.ELOOP:
            raise BadInputError(f"path {shown(given)} is a link loop") from None
        raise BadInputError(f"path {shown(given)} cannot be resolved ({exc.strerror})") from None
    return full


def _git_part(parts: tuple[str, ...]) -> bool:
    # casefold: .GIT is .git on case-insensitive file systems (macOS, Windows)
    return any(part.casefold() == ".git" for part in parts)


def repo_file(root: Path, rel: str, given: str | None = None) -> Path:
    """The file ``rel`` names inside ``root`` (resolved), or a BadInputError saying why not;
    messages name ``given`` (what the caller wrote; default ``rel``)."""
    rel = check_path(rel)
    name = shown(given if given is not None else rel)
    rel = rel.strip().replace("\\", "/")
    if not rel:
        raise BadInputError("the path is empty; give a path relative to the repository root")
    if os.path.isabs(rel) or PureWindowsPath(rel).is_absolute() or PureWindowsPath(rel).drive:
        raise BadInputError(f"path {name} is absolute; give a path relative to the repository root")
    parts = PurePosixPath(rel).parts
    if ".." in parts:
        raise BadInputError(f"path {name} goes up with '..'; only files inside the repository can be read")
    if _git_part(parts):
        raise BadInputError(f"path {name} is inside .git, which is not a repository file")
    root = root.resolve()
    full = _resolve(root / rel, name)  # follows every symbolic link on the way
    if not full.is_relative_to(root):
        raise BadInputError(f"path {name} is a link that leads outside the repository; it was refused")
    if _git_part(full.relative_to(root).parts):
        raise BadInputError(f"path {name} is a link into .git, which is not a repository file; it was refused")
    if not full.exists():
        raise BadInputError(f"no file {name} in the repository")
    if not full.is_file():
        raise BadInputError(f"path {name} is not a regular file")
    return full


def image_folders(setting: str) -> list[Path]:
    """The folders of the ``images_from`` setting (``os.pathsep``-separated; ``~`` and ``$VARS``
    expanded), resolved."""
    folders = []
    for entry in setting.split(os.pathsep):
        entry = entry.strip()
        if not entry:
            continue
        folder = Path(os.path.expandvars(os.path.expanduser(entry)))
        if not folder.is_absolute():
            raise BadInputError(f"setting images_from: {entry} is not an absolute folder (like ~/Desktop)")
        folders.append(folder.resolve())
    return folders


def screenshot_file(root: Path, given: str, folders: list[Path]) -> tuple[Path, bool]:
    """The file an image path names, and whether it lies outside the repository (then the caller
    must check that its content is an image). A relative path is a repository file
    (``repo_file``); an absolute one (or ``~/...``) is one too when it resolves into the
    repository, else it must resolve, links followed, into one of ``folders``."""
    given = check_path(given, "image path")
    path = Path(os.path.expanduser(given.strip()))
    if not path.is_absolute():
        return repo_file(root, given), False
    full = _resolve(Path(os.path.normpath(path)), given)
    root = root.resolve()
    if full.is_relative_to(root):
        rel = full.relative_to(root)
        if _git_part(rel.parts):
            raise BadInputError(f"image {shown(given)} leads into .git, which is not a repository file; it was refused")
        return repo_file(root, rel.as_posix() or ".", given), False
    if not any(full.is_relative_to(folder) for folder in folders):
        raise BadInputError(f"image {shown(given)} is an absolute path outside the repository and the folders "
                            "images_from allows (a setting: codemm.toml, CODEMM_IMAGES_FROM)")  # fmt: skip
    if not full.exists():
        raise BadInputError(f"no file {shown(given)}")
    if not full.is_file():
        raise BadInputError(f"image {shown(given)} is not a regular file")
    return full, True


def read_range(root: Path, rel: str, start: int = 1, end: int | None = None, max_lines: int = MAX_LINES) -> LineRange:
    """Lines ``start``..``end`` (1-based, inclusive; ``end`` None: to the end) of a repository
    file, at most ``max_lines`` of them and MAX_TEXT_BYTES of text, each line at most
    MAX_LINE_BYTES."""
    if start < 1:
        raise BadInputError(f"start must be 1 or more, got {start}")
    if end is not None and end < start:
        raise BadInputError(f"end ({end}) is before start ({start})")
    full = repo_file(root, rel)
    name = shown(rel)
    try:
        size = full.stat().st_size
        data = full.read_bytes() if size <= MAX_BYTES else b""
    except OSError as exc:  # its own text would name the resolved path
        raise BadInputError(f"cannot read {name}: {exc.strerror or type(exc).__name__}") from None
    if size > MAX_BYTES:
        raise BadInputError(f"{name} is {size / 2**20:.0f} MiB; files over {MAX_BYTES // 2**20} MiB are not read")
    if sniff_head(data) == "binary":
        raise BadInputError(f"{name} is a binary file, not text")
    lines = decode_source(data)[0].splitlines()
    if start > max(len(lines), 1):
        raise BadInputError(f"{name} has {len(lines)} lines; start {start} is past the end")
    last = len(lines) if end is None else min(end, len(lines))
    result = LineRange(rel.strip().replace("\\", "/"), start, start - 1, len(lines), "")
    pieces: list[str] = []
    used = 0
    for number in range(start, last + 1):
        if number - start == max_lines:
            result.cut_by = "lines"
            break
        line = lines[number - 1]
        encoded = line.encode()
        if len(encoded) > MAX_LINE_BYTES:
            line = encoded[:MAX_LINE_BYTES].decode("utf-8", "ignore")  # "ignore": a character cut in two
        size = len(line.encode()) + 1
        if used + size > MAX_TEXT_BYTES:  # the first line always fits: MAX_LINE_BYTES < MAX_TEXT_BYTES
            result.cut_by = "bytes"
            break
        if len(encoded) > MAX_LINE_BYTES:
            result.cut_lines.append(number)
            result.long_line_bytes = max(result.long_line_bytes, len(encoded))
        pieces.append(line + "\n")
        used += size
        result.end = number
    result.text = "".join(pieces)
    result.truncated = bool(result.cut_by or result.cut_lines)
    return result
