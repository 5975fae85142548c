"""Checking an edit before it reaches the user's files: lint, then the user's test command.

The edited files never touch the repository while they are checked: each try runs in a scratch copy
of it (same layout, the edit applied; ignored folders such as a virtualenv or node_modules linked,
not copied), so a failing, hung or interrupted try leaves nothing behind. The test command runs
there as the user would run it (``sh -c``), in its own process group, which is killed on timeout,
on Esc and on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from codemm.errors import CodemmError

OUTPUT_CAP = 256 * 1024
# Ignored folders not worth linking into the scratch copy: caches tools rebuild.
CACHES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".codemm"}
# Without git, the usual heavy ignored folders are linked instead of copied.
HEAVY = {".venv", "venv", "node_modules", ".tox", "target", "build", "dist"}
# ruff's rules for edits that cannot run: syntax errors, impossible statements, undefined names.
RUFF_RULES = "E9,F63,F7,F82"


class Cancelled(CodemmError):
    """The user stopped the edit (Esc); nothing was written."""


@dataclass
class CheckResult:
    verdict: str
    """passed | failed | timeout | not-found | skipped"""
    seconds: float = 0.0
    output: str = ""
    """What the check printed (capped); for failures, what goes back to the model after trimming."""
    command: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict in ("passed", "skipped")

    def as_json(self) -> dict[str, object]:
        return {"verdict": self.verdict, "seconds": round(self.seconds, 3), "command": self.command,
                "output": self.output[-4000:]}  # fmt: skip


def _ruff() -> str | None:
    try:
        from ruff.__main__ import find_ruff_bin

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("ruff")


def _ruff_findings(ruff: str, path: str, text: str) -> list[str]:
    proc = subprocess.run(
        [ruff, "check", "--isolated", "--no-cache", "--select", RUFF_RULES, "--output-format", "concise",
         "--stdin-filename", path, "-"],
        input=text, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return [line for line in proc.stdout.splitlines() if line.startswith(path + ":")]


def lint_python(files: dict[str, str], originals: dict[str, str]) -> CheckResult:
    """Errors the edit introduced in the changed Python files (those the original had don't count)."""
    started = time.perf_counter()
    ruff = _ruff()
    changed = [p for p in files if p.endswith((".py", ".pyi"))]
    if not changed:
        return CheckResult("skipped")
    if ruff is None:
        return CheckResult("skipped", output="ruff is not installed")

    def key(line: str) -> str:  # "path:12:5: F821 Undefined name `x`" -> "F821 Undefined name `x`"
        return line.split(": ", 1)[-1]

    found: list[str] = []
    for path in changed:
        before = {key(line) for line in _ruff_findings(ruff, path, originals.get(path, ""))}
        found += [line for line in _ruff_findings(ruff, path, files[path]) if key(line) not in before]
    verdict = "failed" if found else "passed"
    return CheckResult(verdict, time.perf_counter() - started, "\n".join(found), f"ruff check --select {RUFF_RULES}")


def _ignored_dirs(root: Path) -> set[str]:
    """Folders git ignores (relative paths), or the usual heavy ones without git."""
    git = shutil.which("git")
    if git and (root / ".git").exists():
        proc = subprocess.run(
            [git, "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"],
            cwd=root, capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode == 0:
            return {p.rstrip("/") for p in proc.stdout.split("\0") if p.endswith("/")}
    return {p.name for p in root.iterdir() if p.is_dir() and p.name in HEAVY}


@contextlib.contextmanager
def scratch_copy(root: Path, files: dict[str, str]) -> Iterator[Path]:
    """A temporary copy of the repository with ``files`` (relative path -> new text) written into it."""
    root = root.resolve()
    holder = Path(tempfile.mkdtemp(prefix="codemm-edit-"))
    dest = holder / root.name
    try:
        linked = _ignored_dirs(root)

        def ignore(folder: str, names: list[str]) -> set[str]:
            rel = Path(folder).relative_to(root)
            skip = {n for n in names if n in CACHES or (rel / n).as_posix() in linked}
            if rel == Path("."):
                skip.add(".git")
            return skip

        shutil.copytree(root, dest, symlinks=True, ignore=ignore)
        for rel in sorted(linked):
            if Path(rel).name in CACHES or not (root / rel).is_dir() or (dest / rel).exists():
                continue
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(root / rel, dest / rel)
        for rel, text in files.items():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink():
                target.unlink()
            target.write_text(text, encoding="utf-8")
        yield dest
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_command(
    command: str, cwd: Path, timeout: float, cancel: threading.Event | None = None, extra: list[str] | None = None
) -> CheckResult:
    """Runs ``command`` through ``sh -c`` in ``cwd``; its whole process group dies on timeout, on
    ``cancel`` and on any exception here (Ctrl-C included)."""
    import shlex

    line = command + "".join(" " + shlex.quote(a) for a in extra or [])
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["/bin/sh", "-c", line], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    chunks: list[bytes] = []

    def read() -> None:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        size = 0
        for chunk in iter(lambda: os.read(fd, 65536), b""):
            if size < OUTPUT_CAP:
                chunks.append(chunk)
            size += len(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    verdict = ""
    try:
        while proc.poll() is None:
            if cancel is not None and cancel.is_set():
                raise Cancelled("stopped; the tree is unchanged")
            if time.perf_counter() - started > timeout:
                verdict = "timeout"
                break
            time.sleep(0.05)
    finally:
        _kill_group(proc)  # also whatever the command left running in its group
        proc.wait()
        reader.join(timeout=5)
    output = b"".join(chunks).decode("utf-8", errors="replace")
    seconds = time.perf_counter() - started
    if verdict == "timeout":
        return CheckResult("timeout", seconds, output + f"\n[killed after {timeout:g} s]", line)
    if proc.returncode == 127 and "not found" in output:
        return CheckResult("not-found", seconds, output, line)
    return CheckResult("passed" if proc.returncode == 0 else "failed", seconds, output, line)


_PYTEST_HEADER = re.compile(r"^_{3,} (.+?) _{3,}$")
_SECTION = re.compile(r"^(={3,}|_{3,}|-{3,} Captured)")
_UNITTEST = re.compile(r"^(FAIL|ERROR): ")
_TAP_NOT_OK = re.compile(r"^(\s*)not ok \d+")
_SPEC_FAIL = re.compile(r"^\s*✖ ")
_NODE_INTERNAL = re.compile(r"^\s+at .*\bnode:internal/|^\s+at \[eval\]|^\s+at runScriptInThisContext")


def first_failure(output: str) -> str:
    """The first failing test and its traceback in a test run's output (pytest, unittest, node --test),
    or the end of the output when the format is unknown."""
    # Node's own frames say nothing about the code under test and would crowd the budget.
    lines = [line for line in output.splitlines() if not _NODE_INTERNAL.match(line)]
    for i, line in enumerate(lines):
        if _PYTEST_HEADER.match(line) and "summary" not in line:
            end = next((j for j in range(i + 1, len(lines)) if _SECTION.match(lines[j])), len(lines))
            return "\n".join(lines[i:end]).strip()
    for i, line in enumerate(lines):
        if _UNITTEST.match(line):
            end = next((j for j in range(i + 2, len(lines)) if lines[j].startswith(("=" * 20, "-" * 20))), len(lines))
            end = next((j for j in range(end + 1, len(lines)) if lines[j].startswith(("=" * 20, "-" * 20))), end)
            return "\n".join(lines[i:end]).strip()
    for i, line in enumerate(lines):
        if match := _TAP_NOT_OK.match(line):
            depth = len(match.group(1))
            end = i + 1
            while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > depth):
                if lines[end].strip() == "...":
                    end += 1
                    break
                end += 1
            return "\n".join(lines[i:end]).strip()
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            end = next((j + 1 for j in range(i + 1, len(lines)) if lines[j] and not lines[j][0].isspace()), len(lines))
            return "\n".join(lines[i:end]).strip()
    for i, line in enumerate(lines):
        if _SPEC_FAIL.match(line):
            return "\n".join(lines[i : i + 30]).strip()
    return "\n".join(lines[-40:]).strip()


def trim_to_budget(text: str, count: Callable[[str], int], budget: int) -> str:
    """Cuts lines from the middle (the test's name and the error at the end stay) until it fits."""
    if count(text) <= budget:
        return text
    lines = text.splitlines()
    head, tail = lines[:3], lines[3:]
    while tail and count("\n".join([*head, "[...]", *tail])) > budget:
        tail = tail[max(1, len(tail) // 4) :]
    trimmed = "\n".join([*head, "[...]", *tail])
    while count(trimmed) > budget and len(trimmed) > 200:
        trimmed = trimmed[len(trimmed) // 4 :]
    return trimmed
