"""`codemm edit`: ask for a change, check it, feed failures back, and write it only once it passes.

One try: context (files named in the request, retrieval, repo map) -> SEARCH/REPLACE blocks ->
applied in memory -> lint of the changed files -> the user's test command in a scratch copy of the
repository. A failing try sends the model what went wrong (the first failing test and its
traceback, trimmed to the budget, or the real lines nearest to a SEARCH block that matched nothing)
and the next try starts from the original files again. The repository is written only after a try
passes, all files at once, and committed as one commit of exactly those files. Until then it is
never touched, so stopping at any point (Esc, Ctrl-C, a crash) leaves it as it was.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import shlex
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemm import ask as pipeline
from codemm import gitops
from codemm.checks import Cancelled, CheckResult, first_failure, lint_python, run_command, scratch_copy, trim_to_budget
from codemm.errors import BadInputError, CodemmError
from codemm.models.seam import ChatModel
from codemm.models.stream import GenerationSettings, Message
from codemm.patch import (
    EDIT_START_TOKENS,
    Patch,
    PatchError,
    apply_patch,
    build_patch,
    edit_started,
    parse_edits,
    safe_target,
)

NAMED_FILE_SHARE = 0.5
"""At most this share of the prompt budget goes to whole files the request names."""
FEEDBACK_SHARE = 0.25
"""At most this share of the context window goes to a failure fed back to the model."""
WHOLE_FILE_SIMILARITY = 0.5
"""A fenced reply counts as the whole new file only if it is at least this similar to the file (a
snippet must never replace a file)."""
FENCED = re.compile(r"^```[^\n`]*\n(.*?)(?:^```\s*$|\Z)", re.S | re.M)
SHELL_WORDS = {"cd", "export", "set", "source", ".", "exec", "env", "time", "nice", "test", "["}


@dataclass
class EditOptions:
    request: str
    test_cmd: str = ""
    """Run after each try in a scratch copy of the repository (sh -c); empty: no tests."""
    lint_cmd: str = ""
    """Run with the changed files as arguments; empty: ruff's error rules on changed Python files."""
    tries: int = 3
    commit: bool = True
    write: bool = True
    """False: check only (the eval suite); nothing is written or committed."""
    test_timeout: float = 120.0
    generation: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_new_tokens=512))
    k: int = 4
    map_tokens: int = 256
    graph: str = "names"
    """The reference graph the repo map ranks over (settings.graph)."""

    def __post_init__(self) -> None:
        if not self.request.strip():
            raise BadInputError("the edit request is empty")
        if self.tries < 1:
            raise BadInputError(f"--tries must be at least 1, got {self.tries}")
        if self.test_timeout <= 0:
            raise BadInputError("the test timeout must be positive")


@dataclass
class EditTry:
    number: int
    reply: str = ""
    diff: str = ""
    files: list[str] = field(default_factory=list)
    problem: str = ""
    """Why no patch came out of the reply (no blocks, a SEARCH that matched nothing, a path refused)."""
    lint: CheckResult | None = None
    test: CheckResult | None = None
    generation_s: float = 0.0
    new_tokens: int = 0
    prompt_tokens: int = 0
    seconds: float = 0.0
    whole_file: bool = False
    """The reply rewrote one file in a fenced block instead of edit blocks (weak models do)."""
    contents: dict[str, str] = field(default_factory=dict, repr=False)
    """The edited files' new text (relative path -> text)."""

    @property
    def passed(self) -> bool:
        return not self.problem and bool(self.diff) and all(c is None or c.ok for c in (self.lint, self.test))

    def verdict(self) -> str:
        if self.problem:
            return f"no patch: {self.problem}"
        parts = [f"lint {self.lint.verdict}" if self.lint else "lint -"]
        parts.append(f"tests {self.test.verdict}" if self.test else "tests not run")
        return ", ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "try": self.number, "passed": self.passed, "verdict": self.verdict(), "problem": self.problem,
            "files": self.files, "diff": self.diff, "lint": self.lint.as_json() if self.lint else None,
            "test": self.test.as_json() if self.test else None, "generation_s": round(self.generation_s, 3),
            "new_tokens": self.new_tokens, "prompt_tokens": self.prompt_tokens, "seconds": round(self.seconds, 3),
            "whole_file": self.whole_file,
            "reply": self.reply,
        }  # fmt: skip


@dataclass
class EditResult:
    request: str
    tries: list[EditTry] = field(default_factory=list)
    passed: bool = False
    diff: str = ""
    files: list[str] = field(default_factory=list)
    written: bool = False
    commit: str = ""
    note: str = ""
    """Said once: why there is no commit (no git, --no-commit)."""
    test_cmd: str = ""
    seconds: float = 0.0

    @property
    def lines_changed(self) -> int:
        return sum(1 for line in self.diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++ ", "--- ")))

    def as_json(self) -> dict[str, Any]:
        return {
            "request": self.request, "passed": self.passed, "diff": self.diff, "files": self.files,
            "written": self.written, "commit": self.commit or None, "note": self.note, "test_cmd": self.test_cmd,
            "tries_used": len(self.tries), "lines_changed": self.lines_changed, "seconds": round(self.seconds, 3),
            "tries": [t.as_json() for t in self.tries],
        }  # fmt: skip


class EditFailed(CodemmError):
    """No try passed; the tree is unchanged. ``result`` holds every try."""

    def __init__(self, message: str, result: EditResult) -> None:
        super().__init__(message)
        self.result = result


Notify = Callable[[str, Any], None]
"""Progress for a front end: ("try", n), ("piece", text), ("check", command line), ("tried", EditTry)."""


def check_test_command(command: str, root: Path) -> None:
    """Fails early, in one line, when the test command's program does not exist."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise BadInputError(f"the test command cannot be parsed ({exc}): {command}") from None
    while words and re.fullmatch(r"\w+=.*", words[0]):
        words.pop(0)  # VAR=value prefixes
    if not words or words[0] in SHELL_WORDS or any(c in command for c in "|;&$`()"):
        return  # shell syntax: the shell itself reports, at run time
    program = words[0]
    found = (root / program).exists() if "/" in program else shutil.which(program) is not None
    if not found:
        raise BadInputError(f"test command not found: {program} (from `{command}`); the tree is unchanged")


def named_files(request: str, root: Path, known: list[str] | None = None) -> list[str]:
    """Repository files the request names, by relative path or by a unique file name."""
    names: list[str] = []
    by_name: dict[str, list[str]] = {}
    for rel in known or []:
        by_name.setdefault(Path(rel).name, []).append(rel)
    for word in re.findall(r"[\w./-]+\.\w+", request):
        token = word.removeprefix("./").rstrip(".")
        found = ""
        try:
            if (root / token).is_file() and safe_target(root, token):
                found = Path(token).as_posix()
        except (PatchError, OSError):
            found = ""
        if not found and len(by_name.get(token, [])) == 1:
            found = by_name[token][0]
        if found and found not in names:
            names.append(found)
    return names


def nearest_lines(content: str, search: str, context: int = 1) -> str:
    """The run of real lines most like ``search`` (plus ``context`` lines around it)."""
    lines = content.splitlines()
    want = search.strip("\n").splitlines()
    if not lines or not want:
        return ""
    size = len(want)
    target = "\n".join(w.strip() for w in want)
    best, best_at = -1.0, 0
    for start in range(max(1, len(lines) - size + 1)):
        window = "\n".join(line.strip() for line in lines[start : start + size])
        matcher = difflib.SequenceMatcher(None, window, target, autojunk=False)
        if matcher.real_quick_ratio() <= best or matcher.quick_ratio() <= best:
            continue
        ratio = matcher.ratio()
        if ratio > best:
            best, best_at = ratio, start
    return "\n".join(lines[max(0, best_at - context) : best_at + size + context])


def _unmatched_feedback(root: Path, reply: str, reason: str) -> str:
    """For SEARCH blocks that match nothing: the real lines nearest to each, to copy from."""
    parts = [f"Your edit could not be applied: {reason}."]
    for edit in parse_edits(reply):
        if not edit.search.strip():
            continue
        try:
            content = safe_target(root, edit.path).read_text(encoding="utf-8")
        except (PatchError, OSError, UnicodeDecodeError):
            continue
        stripped = [line.strip() for line in content.splitlines()]
        wanted = [line.strip() for line in edit.search.splitlines()]
        if edit.search in content or any(
            stripped[i : i + len(wanted)] == wanted for i in range(len(stripped) - len(wanted) + 1)
        ):
            continue
        near = nearest_lines(content, edit.search)
        parts.append(
            f"This SEARCH text is not in {edit.path}:\n```\n{edit.search.rstrip()}\n```\n"
            f"The closest lines in {edit.path} are:\n```\n{near}\n```"
        )
    return "\n\n".join(parts)


def whole_file_edit(reply: str, root: Path, named: list[str]) -> str:
    """A reply with no edit blocks that rewrote the one file the request names in a fenced block (as
    weak models do, and aider's "whole" format asks), as one SEARCH/REPLACE block of the whole file;
    "" when that is not what it is: several or no named files, or a fence too unlike the file."""
    if len(named) != 1 or parse_edits(reply):
        return ""
    path = named[0]
    try:
        original = safe_target(root, path).read_text(encoding="utf-8")
    except (PatchError, OSError, UnicodeDecodeError):
        return ""
    fenced = [m.group(1) for m in FENCED.finditer(reply) if m.group(1).strip()]
    if not fenced or not original.strip():
        return ""
    new = max(fenced, key=lambda text: difflib.SequenceMatcher(None, original, text).ratio())
    if difflib.SequenceMatcher(None, original, new).ratio() < WHOLE_FILE_SIMILARITY:
        return ""
    old, new = (text if text.endswith("\n") else text + "\n" for text in (original, new))
    return f"{path}\n<<<<<<< SEARCH\n{old}=======\n{new}>>>>>>> REPLACE\n"


def _until_no_edit(stream: Any, fence_counts: bool) -> Iterator[str]:
    """The stream's pieces; stops it and raises PatchError once EDIT_START_TOKENS came without the
    start of an edit block (or, when a whole-file reply can count, of a fenced block)."""
    text = ""
    for piece in stream:
        text += piece
        yield piece
        if stream.stats.new_tokens >= EDIT_START_TOKENS and not (
            edit_started(text) or (fence_counts and "```" in text)
        ):
            stream.cancel()
            for _ in stream:  # let the engine wind down
                pass
            raise PatchError(f"the model wrote {EDIT_START_TOKENS} tokens without starting an edit block", text)


def _pinned_files(model: ChatModel, root: Path, paths: list[str], budget: int) -> str:
    """Whole files the request names, while they fit in ``budget`` tokens: SEARCH blocks copy them."""
    blocks: list[str] = []
    used = 0
    for rel in paths:
        try:
            text = (root / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        block = f"### {rel}\n```\n{text.rstrip()}\n```"
        cost = model.count_text(block)
        if used + cost <= budget:
            blocks.append(block)
            used += cost
    return "\n\n".join(blocks)


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Holds a Ctrl-C until the block ends (then raises it): the write and the commit finish or are
    rolled back as one. Only the main thread can own signal handlers; elsewhere (the chat's worker)
    Ctrl-C never reaches this code."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _write_and_commit(root: Path, patch: Patch, originals: dict[str, str], message: str, commit: bool) -> str:
    """Writes every file and makes the commit, or (on any failure) leaves the tree as it was."""
    for rel, before in originals.items():  # the user may have edited a file while the model worked
        target = safe_target(root, rel)
        now = target.read_text(encoding="utf-8") if target.exists() else ""
        if now != before:
            raise CodemmError(f"{rel} changed while codemm was working; nothing was written")
    with _sigint_deferred():
        apply_patch(root, patch)
        if not commit:
            return ""
        try:
            return gitops.commit_files(root, list(patch.files), message)
        except BaseException:
            for rel, before in originals.items():
                target = safe_target(root, rel)
                if rel in patch.created:
                    with contextlib.suppress(CodemmError):
                        gitops.unstage(root, [rel])
                    target.unlink(missing_ok=True)
                else:
                    target.write_text(before, encoding="utf-8")
            raise


def _default_checks(
    root: Path, options: EditOptions, files: dict[str, str], notify: Notify, cancel: threading.Event | None
) -> tuple[CheckResult | None, CheckResult | None]:
    """The configured lint command and the test command, in a scratch copy holding the edit."""
    lint = test = None
    if not (options.lint_cmd or options.test_cmd):
        return None, None
    with scratch_copy(root, files) as scratch:
        if options.lint_cmd:
            notify("check", f"{options.lint_cmd} {' '.join(files)}")
            lint = run_command(options.lint_cmd, scratch, options.test_timeout, cancel, extra=list(files))
            if not lint.ok:
                return lint, None
        if options.test_cmd:
            notify("check", options.test_cmd)
            test = run_command(options.test_cmd, scratch, options.test_timeout, cancel)
    return lint, test


Checker = Callable[[dict[str, str]], tuple[CheckResult | None, CheckResult | None]]
"""Runs the lint command and the tests on the edited files (relative path -> text); the eval suite
passes its own, which runs them in the sandbox."""


def run_edit(
    model: ChatModel,
    root: Path,
    options: EditOptions,
    index: Any = None,
    notify: Notify | None = None,
    cancel: threading.Event | None = None,
    checker: Checker | None = None,
) -> EditResult:
    """Runs the loop; returns the result once a try passed (written and committed as asked), raises
    EditFailed when none did, Cancelled on ``cancel``; the tree is unchanged unless it returns."""
    started = time.perf_counter()
    say: Notify = notify or (lambda kind, data: None)
    root = root.resolve()
    state = gitops.git_state(root) if options.write else gitops.GitState(False)
    commit = options.commit and options.write and state.available
    if commit:
        gitops.require_committable(state)
    note = ""
    if options.write and not state.available:
        note = state.why_not
    elif options.write and not options.commit:
        note = "--no-commit: the change is written but not committed"
    if options.test_cmd and checker is None:
        check_test_command(options.test_cmd, root)
    known = list(index.file_lines()) if index is not None else []
    named = named_files(options.request, root, known)
    if state.available and options.write:
        dirty = gitops.dirty_files(root, named)
        if dirty:
            raise BadInputError(
                f"uncommitted changes in {', '.join(dirty)}: commit or stash them first; nothing was changed"
            )
    result = EditResult(options.request, note=note, test_cmd=options.test_cmd)
    window = model.context_window
    pinned = _pinned_files(model, root, named, int((window - options.generation.max_new_tokens) * NAMED_FILE_SHARE))
    first_question = options.request + (f"\n\n## Files named in the request\n{pinned}" if pinned else "")
    history: list[Message] = []
    question = first_question
    accepted: Patch | None = None
    originals: dict[str, str] = {}
    for number in range(1, options.tries + 1):
        if cancel is not None and cancel.is_set():
            raise Cancelled("stopped; the tree is unchanged")
        say("try", number)
        attempt = EditTry(number)
        result.tries.append(attempt)
        try_started = time.perf_counter()
        request = pipeline.AskRequest(question, index=index, history=history, k=options.k,
                                      map_tokens=options.map_tokens, patch=True, graph=options.graph)  # fmt: skip
        prepared = pipeline.prepare(model, request, options.generation.max_new_tokens)
        stream = pipeline.start(model, prepared, options.generation)
        pieces: list[str] = []
        try:
            for piece in _until_no_edit(stream, fence_counts=len(named) == 1):
                pieces.append(piece)
                say("piece", piece)
                if cancel is not None and cancel.is_set():
                    raise Cancelled("stopped; the tree is unchanged")
        except PatchError as exc:
            attempt.problem = str(exc).removeprefix("could not build a valid patch: ")
        except BaseException:  # Esc, Ctrl-C: the engine stops generating too
            stream.cancel()
            raise
        attempt.reply = "".join(pieces)
        attempt.generation_s = stream.stats.total_s or (time.perf_counter() - try_started)
        attempt.new_tokens = stream.stats.new_tokens
        attempt.prompt_tokens = stream.stats.prompt_tokens
        feedback = ""
        patch: Patch | None = None
        if not attempt.problem:
            whole = whole_file_edit(attempt.reply, root, named)
            attempt.whole_file = bool(whole)
            try:
                patch = build_patch(root, whole or attempt.reply)
            except PatchError as exc:
                attempt.problem = str(exc).removeprefix("could not build a valid patch: ")
        if patch is not None:
            attempt.diff, attempt.files, attempt.contents = patch.diff, list(patch.files), dict(patch.files)
            if state.available and options.write:
                dirty = gitops.dirty_files(root, list(patch.files))
                if dirty:
                    raise BadInputError(
                        f"the edit touches {', '.join(dirty)}, which has uncommitted changes: commit or stash "
                        "them first; nothing was changed"
                    )
            originals = {}
            for rel in patch.files:
                target = safe_target(root, rel)
                originals[rel] = target.read_text(encoding="utf-8") if target.exists() else ""
            checks = checker or (lambda files: _default_checks(root, options, files, say, cancel))
            if options.lint_cmd:  # the configured linter replaces the default one
                attempt.lint, attempt.test = checks(patch.files)
            else:
                attempt.lint = lint_python(patch.files, originals)
                if attempt.lint.ok:
                    attempt.test = checks(patch.files)[1]
            if attempt.test is not None and attempt.test.verdict == "not-found":
                said = (attempt.test.output.strip().splitlines() or [attempt.test.command])[-1]
                raise BadInputError(f"the test command was not found: {said}; the tree is unchanged")
        attempt.seconds = time.perf_counter() - try_started
        say("tried", attempt)
        if attempt.passed:
            accepted = patch
            break
        feedback = _feedback(model, root, attempt, named)
        history = [{"role": "user", "content": first_question}, {"role": "assistant", "content": attempt.reply}]
        question = feedback
    result.seconds = time.perf_counter() - started
    if accepted is None:
        last = result.tries[-1]
        what = "the tests" if options.test_cmd else "lint"
        raise EditFailed(
            f"no try passed {what} in {len(result.tries)} {'try' if len(result.tries) == 1 else 'tries'} "
            f"(last: {_short_reason(last)}); the tree is unchanged",
            result,
        )
    result.passed, result.diff, result.files = True, accepted.diff, list(accepted.files)
    if options.write:
        message = gitops.commit_message(options.request, result.files, len(result.tries))
        result.commit = _write_and_commit(root, accepted, originals, message, commit)
        result.written = True
    result.seconds = time.perf_counter() - started
    return result


def _short_reason(attempt: EditTry) -> str:
    if attempt.problem:
        return attempt.problem
    for check in (attempt.test, attempt.lint):
        if check is not None and not check.ok:
            if check.verdict == "timeout":
                return f"`{check.command}` hung and was killed after the timeout"
            lines = [line.strip() for line in first_failure(check.output).splitlines() if line.strip()]
            errors = [line for line in lines if line.startswith("E ")]  # pytest marks the error lines
            said = (errors or lines or [""])[-1]
            return f"{'tests' if check is attempt.test else 'lint'} {check.verdict}" + (
                f": {said[:120]}" if said else ""
            )
    return "no change"


def _feedback(model: ChatModel, root: Path, attempt: EditTry, named: list[str]) -> str:
    """What the next try is told: why this one failed, trimmed to fit."""
    budget = max(64, int(model.context_window * FEEDBACK_SHARE))
    if attempt.problem:
        if "was not found" in attempt.problem or "not found in" in attempt.problem:
            text = _unmatched_feedback(root, attempt.reply, attempt.problem)
        elif "change nothing" in attempt.problem:
            text = "Your reply changes nothing: the code is the same as before. Make the change the request asks for."
        elif "no edit blocks" in attempt.problem or "without starting an edit" in attempt.problem:
            path = attempt.files[0] if attempt.files else (named[0] if named else "path/to/file.py")
            text = (
                "Your reply had no edit blocks. Write each change in this form, copying the SEARCH lines "
                f"exactly from the file:\n\n{path}\n<<<<<<< SEARCH\nlines to find\n=======\nnew lines\n>>>>>>> REPLACE"
            )
        else:
            text = f"Your edit could not be applied: {attempt.problem}."
    else:
        failed = attempt.lint if attempt.lint is not None and not attempt.lint.ok else attempt.test
        assert failed is not None
        if failed.verdict == "timeout":
            text = f"With your edit, `{failed.command}` did not finish and was killed:\n"
        else:
            text = f"With your edit, `{failed.command}` failed. The first failure:\n"
        text += "```\n" + trim_to_budget(first_failure(failed.output), model.count_text, budget) + "\n```"
    return trim_to_budget(
        text + "\n\nThe files are unchanged. Reply with corrected SEARCH/REPLACE blocks against the original "
        "files, copying SEARCH lines exactly.",
        model.count_text,
        budget + 64,
    )
