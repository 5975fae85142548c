"""Errors a user can act on.

Library code raises these with a one-line message; the CLI prints the line and exits with
``exit_code``. Anything else that escapes is a bug and is reported as one.
"""

from __future__ import annotations

import errno


class CodemmError(Exception):
    """A failure the user can act on. ``str(err)`` is one line."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        # One line, always: multi-line messages break the CLI's contract.
        super().__init__(" ".join(message.split()))


class BadInputError(CodemmError):
    """The user's input (a path, a flag, a file) is wrong."""

    exit_code = 2


class ModelNotFoundError(BadInputError):
    """A model spec names nothing available locally."""


class ModelFormatError(BadInputError):
    """A model file exists but cannot be used (corrupt, truncated, unsupported architecture)."""


class ModelServerError(CodemmError):
    """An inference server (llama.cpp, Ollama, vLLM...) is unreachable, refused or broke off."""


class RepoUnavailableError(CodemmError):
    """The repository a long-running server answers about is gone (deleted, moved, unmounted)."""


def error_from_oserror(exc: OSError, doing: str) -> CodemmError:
    """Turns an OSError met while ``doing`` something into a one-line CodemmError."""
    if exc.errno == errno.ENOSPC:
        return CodemmError(f"disk full while {doing}; free some space and run the command again")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return CodemmError(f"permission denied while {doing}: {exc.filename or exc}")
    return CodemmError(f"{exc.strerror or exc} while {doing}")
