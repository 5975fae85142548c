"""Reading a line range of a repository file for a caller that is not trusted with the disk.

Agents (MCP clients, HTTP callers) name files by strings they were shown or made up. A path is
accepted only when it is relative, has no ``..`` part, and resolves, symbolic links followed,
to a regular file under the repository root; ``.git`` (objects, hooks, credentials in config) is
not a repository file. Anything else is a one-line ``BadInputError`` that names the path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from codemm.errors import BadInputError, error_from_oserror
from codemm.repo.walk import decode_source, sniff_head

MAX_LINES = 400
"""Most lines one read returns: a whole generated file would flood an agent's context."""
MAX_BYTES = 8 * 2**20
"""Larger files are logs or data, not code to read a range of (and reading them costs memory)."""


@dataclass
class LineRange:
    path: str
    start: int
    end: int
    """Last line returned (inclusive); ``start - 1`` for an empty file."""
    total_lines: int
    text: str
    truncated: bool = False
    """True when the range asked for was longer than ``MAX_LINES`` and was cut."""

    def as_json(self) -> dict[str, Any]:
        data = {"path": self.path, "start": self.start, "end": self.end, "total_lines": self.total_lines,
                "text": self.text, "truncated": self.truncated}  # fmt: skip
        if self.truncated:
            data["note"] = f"cut at {MAX_LINES} lines; read on from line {self.end + 1}"
        return data


def repo_file(root: Path, rel: str) -> Path:
    """The file ``rel`` names inside ``root`` (resolved), or a BadInputError saying why not."""
    shown = rel
    rel = rel.strip().replace("\\", "/")
    if not rel:
        raise BadInputError("the path is empty; give a path relative to the repository root")
    if os.path.isabs(rel) or PureWindowsPath(rel).is_absolute() or PureWindowsPath(rel).drive:
        raise BadInputError(f"path {shown} is absolute; give a path relative to the repository root")
    parts = PurePosixPath(rel).parts
    if ".." in parts:
        raise BadInputError(f"path {shown} goes up with '..'; only files inside the repository can be read")
    if ".git" in parts:
        raise BadInputError(f"path {shown} is inside .git, which is not a repository file")
    root = root.resolve()
    full = (root / rel).resolve()  # follows every symbolic link on the way
    if not full.is_relative_to(root):
        raise BadInputError(f"path {shown} is a link that leads outside the repository; it was refused")
    if not full.exists():
        raise BadInputError(f"no file {shown} in the repository")
    if not full.is_file():
        raise BadInputError(f"path {shown} is not a regular file")
    return full


def read_range(root: Path, rel: str, start: int = 1, end: int | None = None, max_lines: int = MAX_LINES) -> LineRange:
    """Lines ``start``..``end`` (1-based, inclusive; ``end`` None: to the end) of a repository
    file, at most ``max_lines`` of them."""
    if start < 1:
        raise BadInputError(f"start must be 1 or more, got {start}")
    if end is not None and end < start:
        raise BadInputError(f"end ({end}) is before start ({start})")
    full = repo_file(root, rel)
    try:
        size = full.stat().st_size
        data = full.read_bytes() if size <= MAX_BYTES else b""
    except OSError as exc:
        raise error_from_oserror(exc, f"reading {rel}") from None
    if size > MAX_BYTES:
        raise BadInputError(f"{rel} is {size / 2**20:.0f} MiB; files over {MAX_BYTES // 2**20} MiB are not read")
    if sniff_head(data) == "binary":
        raise BadInputError(f"{rel} is a binary file, not text")
    lines = decode_source(data)[0].splitlines()
    if start > max(len(lines), 1):
        raise BadInputError(f"{rel} has {len(lines)} lines; start {start} is past the end")
    last = len(lines) if end is None else min(end, len(lines))
    truncated = last - start + 1 > max_lines
    if truncated:
        last = start + max_lines - 1
    text = "".join(line + "\n" for line in lines[start - 1 : last])
    return LineRange(rel.strip().replace("\\", "/"), start, last, len(lines), text, truncated)
