"""The few git operations `codemm edit` and `codemm undo` need, through the git command itself.

codemm never commits a file it did not write: commits name their paths (``git commit --only``), so
whatever the user has staged stays staged and out of codemm's commit. Every commit codemm makes
carries the ``Codemm-Edit`` trailer; `codemm undo` touches only a HEAD commit that carries it.
Git runs in its own session so a Ctrl-C in the terminal never reaches it halfway through a commit.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from codemm.errors import BadInputError, CodemmError

TRAILER = "Codemm-Edit"


@dataclass(frozen=True)
class GitState:
    available: bool
    """A git binary exists and ``root`` is inside a work tree."""
    why_not: str = ""
    """Without git: the one line that says so."""
    top: Path | None = None
    has_commits: bool = False
    branch: str = ""
    """The checked-out branch; "" on a detached HEAD."""


def _git(root: Path, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    git = shutil.which("git")
    if git is None:
        raise CodemmError("git is not installed")
    proc = subprocess.run([git, *args], cwd=root, capture_output=True, text=True, input=input, start_new_session=True)
    if check and proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[0]
        raise CodemmError(f"git {args[0]} failed: {first}")
    return proc


def git_state(root: Path) -> GitState:
    if shutil.which("git") is None:
        return GitState(False, "git is not installed: the change is written but not committed, and cannot be undone")
    inside = _git(root, "rev-parse", "--show-toplevel", check=False)
    if inside.returncode != 0:
        return GitState(
            False, f"{root} is not a git repository: the change is written but not committed, and cannot be undone"
        )
    top = Path(inside.stdout.strip()).resolve()
    has_commits = _git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).returncode == 0
    branch = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()
    return GitState(True, "", top, has_commits, branch)


def require_committable(state: GitState) -> None:
    """Raises the one line that says why codemm cannot commit here."""
    if not state.has_commits:
        raise BadInputError(
            "the repository has no commits yet: make a first commit, or pass --no-commit to only write the change"
        )
    if not state.branch:
        raise BadInputError("HEAD is detached: check out a branch first, or pass --no-commit to only write the change")


def dirty_files(root: Path, paths: list[str]) -> list[str]:
    """Which of ``paths`` (relative to ``root``) differ from HEAD or the index, or are untracked."""
    if not paths:
        return []
    proc = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
    dirty = []
    for entry in proc.stdout.split("\0"):
        if len(entry) > 3:
            dirty.append(entry[3:])
    top = Path(_git(root, "rev-parse", "--show-toplevel").stdout.strip()).resolve()
    # git prints paths relative to the top of the work tree; report them as the user named them
    prefix = root.resolve().relative_to(top).as_posix()
    return sorted(p.removeprefix(prefix + "/") if prefix != "." else p for p in dirty)


def tracked(root: Path, path: str) -> bool:
    return _git(root, "ls-files", "--error-unmatch", "--", path, check=False).returncode == 0


def commit_files(root: Path, paths: list[str], message: str) -> str:
    """One commit of exactly ``paths`` (new ones are added first); returns its hash."""
    new = [p for p in paths if not tracked(root, p)]
    if new:
        _git(root, "add", "--", *new)
    _git(root, "commit", "--quiet", "--no-verify", "--only", "-F", "-", "--", *paths, input=message)
    return _git(root, "rev-parse", "HEAD").stdout.strip()


def unstage(root: Path, paths: list[str]) -> None:
    """Takes ``paths`` back out of the index (a new file added for a commit that did not happen)."""
    _git(root, "rm", "--cached", "--quiet", "--ignore-unmatch", "--", *paths, check=False)


def commit_message(request: str, paths: list[str], tries: int) -> str:
    """Subject from the request, a body naming the files, and the trailer `codemm undo` looks for."""
    subject = " ".join(request.split())
    if len(subject) > 66:
        subject = subject[:63].rstrip() + "..."
    files = ", ".join(paths)
    return (
        f"codemm: {subject}\n\nChanged {files} (after {tries} {'try' if tries == 1 else 'tries'}; "
        f"lint and tests passed as configured).\n\n{TRAILER}: yes\n"
    )


def is_codemm_commit(root: Path, rev: str = "HEAD") -> bool:
    body = _git(root, "log", "-1", "--format=%B", rev, check=False).stdout
    return any(line.strip() == f"{TRAILER}: yes" for line in body.splitlines())


@dataclass(frozen=True)
class UndoResult:
    action: str
    """reset (the commit is gone) or revert (a new commit undoes it: it had reached a remote)."""
    commit: str
    """The commit undone."""
    new_head: str
    files: list[str]


def undo_last(root: Path) -> UndoResult:
    """Undoes codemm's last commit when it is HEAD and the tree is clean; otherwise says why."""
    state = git_state(root)
    if not state.available:
        raise BadInputError(state.why_not.split(":")[0] + ": there is no codemm commit to undo")
    if not state.has_commits:
        raise BadInputError("the repository has no commits: nothing to undo")
    head = _git(root, "rev-parse", "HEAD").stdout.strip()
    if not is_codemm_commit(root):
        last = _git(root, "log", "-1", f"--grep=^{TRAILER}: yes$", "--format=%h", check=False).stdout.strip()
        where = f"codemm's last commit is {last}, not HEAD" if last else "no commit on this branch is codemm's"
        raise BadInputError(f"HEAD {head[:10]} is not a codemm commit ({where}); nothing was changed")
    status = _git(root, "status", "--porcelain=v1", "--untracked-files=no").stdout
    if status.strip():
        changed = sorted({line[3:] for line in status.splitlines() if len(line) > 3})
        raise BadInputError(
            f"the tree has uncommitted changes ({', '.join(changed[:5])}); "
            "commit or stash them first: nothing was changed"
        )
    files = [f for f in _git(root, "show", "--format=", "--name-only", "HEAD").stdout.splitlines() if f]
    parents = _git(root, "rev-list", "--parents", "-n", "1", "HEAD").stdout.split()[1:]
    pushed = bool(_git(root, "branch", "-r", "--contains", "HEAD", check=False).stdout.strip())
    if pushed or len(parents) != 1:
        # Published (or a root commit): history others may hold is not rewritten, a revert is added.
        _git(root, "revert", "--no-edit", "HEAD")
        action = "revert"
    else:
        _git(root, "reset", "--keep", "HEAD~1")
        action = "reset"
    return UndoResult(action, head, _git(root, "rev-parse", "HEAD").stdout.strip(), files)
