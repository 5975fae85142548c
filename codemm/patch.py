"""Code changes from model output: lenient parsing, a unified diff, validation, atomic apply.

Models write edits as SEARCH/REPLACE blocks (aider's format, asked for in the prompt) or as unified
diffs, often with fences, missing file names, truncated last blocks or wrong hunk line numbers.
Each edit is applied in memory by matching text, never line numbers; the result is one unified
diff, checked with `git apply --check` where git exists, and written only on request, all files
or none.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemm.errors import CodemmError

PATCH_SYSTEM_PROMPT = """You are codemm, a coding assistant that edits a repository.
Reply with one or more edit blocks, nothing else. Each block names the file, then the exact lines to
find, then their replacement:

path/to/file.py
<<<<<<< SEARCH
exact lines copied from the file
=======
the new lines
>>>>>>> REPLACE

To create a file, leave the SEARCH part empty. Copy SEARCH lines exactly, with their indentation."""

_SEARCH = re.compile(r"^\s*<{5,}\s*SEARCH\s*$", re.I)
_DIVIDER = re.compile(r"^\s*={5,}\s*$")
_REPLACE = re.compile(r"^\s*>{5,}\s*(REPLACE)?\s*$", re.I)
_PATH_TOKEN = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-][\w.-]*\.([A-Za-z0-9]{1,8}))(?![\w/])")
_FENCE = re.compile(r"^\s*```")


# A reply that has not begun an edit within this many tokens will not: stop it rather than wait
# for max_new_tokens of prose (a weak model can take 100 s to fill them).
EDIT_START_TOKENS = 160


def edit_started(text: str) -> bool:
    """True once the reply holds the start of a SEARCH block or of a unified diff."""
    return any(
        _SEARCH.match(line) or line.startswith(("@@", "--- ", "+++ ", "diff --git")) for line in text.splitlines()
    )


def require_edit_start(stream: Any, limit: int = EDIT_START_TOKENS) -> Iterator[str]:
    """The stream's pieces; stops it and raises PatchError once ``limit`` tokens came without an edit."""
    text = ""
    for piece in stream:
        text += piece
        yield piece
        if stream.stats.new_tokens >= limit and not edit_started(text):
            stream.cancel()
            for _ in stream:  # let the engine wind down
                pass
            raise PatchError(f"the model wrote {limit} tokens without starting an edit block", text)


class PatchError(CodemmError):
    """No valid patch could be built; ``raw`` is the model output, for the user to see."""

    def __init__(self, reason: str, raw: str = "") -> None:
        super().__init__(f"could not build a valid patch: {reason}")
        self.raw = raw


@dataclass(frozen=True)
class Edit:
    path: str
    search: str
    replace: str


@dataclass
class Patch:
    diff: str
    files: dict[str, str]
    """New content per relative path."""
    created: list[str]


def parse_edits(output: str) -> list[Edit]:
    """SEARCH/REPLACE blocks first; if there are none, unified-diff hunks."""
    edits = _parse_search_replace(output)
    return edits if edits else _parse_unified_diff(output)


def _named_path(line: str) -> str:
    """The last file path a short line names ('cli.py', 'In `src/app.ts`:', '```python cli.py'), or ''."""
    from codemm.repo.languages import EXTENSIONS

    if len(line) > 200:
        return ""
    bare = line.strip().strip("`*:#").strip()
    if bare and " " not in bare and "/" in bare and not bare.startswith(("<", "=", ">", "//")):
        return bare  # a line that is only a path, with or without an extension
    found = [
        m.group(1) for m in _PATH_TOKEN.finditer(line) if "." + m.group(2).lower() in EXTENSIONS or "/" in m.group(1)
    ]
    return found[-1] if found else ""


def _parse_search_replace(output: str) -> list[Edit]:
    edits: list[Edit] = []
    lines = output.splitlines()
    last_path = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        named = _named_path(line)
        if named:
            last_path = named
        if not _SEARCH.match(line):
            i += 1
            continue
        search: list[str] = []
        replace: list[str] = []
        target = search
        i += 1
        closed = False
        while i < len(lines):
            if _DIVIDER.match(lines[i]) and target is search:
                target = replace
            elif _REPLACE.match(lines[i]):
                closed = True
                i += 1
                break
            elif _SEARCH.match(lines[i]):
                break  # a new block began without closing this one
            else:
                target.append(lines[i])
            i += 1
        if target is replace and last_path:
            if not closed:  # truncated at the end: drop a trailing fence the model opened around it
                while replace and _FENCE.match(replace[-1]):
                    replace.pop()
            edits.append(Edit(last_path, _join(search), _join(replace)))
    return edits


def _parse_unified_diff(output: str) -> list[Edit]:
    edits: list[Edit] = []
    path = ""
    old: list[str] = []
    new: list[str] = []

    def flush() -> None:
        if path and (old or new):
            edits.append(Edit(path, _join(old), _join(new)))
        old.clear()
        new.clear()

    for line in output.splitlines():
        if line.startswith("+++ "):
            flush()
            name = line[4:].split("\t")[0].strip()
            path = name[2:] if name.startswith(("a/", "b/")) else name
        elif line.startswith(("--- ", "diff ", "index ", "@@")) or _FENCE.match(line):
            flush()
        elif path and line.startswith("-"):
            old.append(line[1:])
        elif path and line.startswith("+"):
            new.append(line[1:])
        elif path and (line.startswith(" ") or line == ""):
            old.append(line[1:])
            new.append(line[1:])
    flush()
    return edits


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + ("\n" if lines else "")


def safe_target(root: Path, rel: str) -> Path:
    """The file an edit may touch: inside the repository, never through a link out of it."""
    candidate = (root / rel).resolve()
    if os.path.isabs(rel) or ".." in Path(rel).parts or not candidate.is_relative_to(root.resolve()):
        raise PatchError(f"the edit of {rel} is outside the repository and was refused")
    return candidate


def _apply_edit(content: str, edit: Edit) -> str:
    if not edit.search.strip():
        return content + edit.replace if content else edit.replace
    if content.count(edit.search) == 1:
        return content.replace(edit.search, edit.replace, 1)
    if content.count(edit.search) > 1:
        raise PatchError(f"the text to replace in {edit.path} occurs more than once")
    # Lenient: match ignoring trailing whitespace and a uniform indentation shift.
    lines = content.splitlines(keepends=True)
    want = [line.rstrip() for line in edit.search.splitlines()]
    for start in range(len(lines) - len(want) + 1):
        window = [line.rstrip() for line in lines[start : start + len(want)]]
        shift = _indent_shift(window, want)
        if shift is not None:
            replacement = [(" " * shift + r if shift > 0 and r.strip() else r) for r in edit.replace.splitlines()]
            new = "".join(lines[:start]) + "\n".join(replacement) + "\n" + "".join(lines[start + len(want) :])
            return new
    raise PatchError(f"the text to replace was not found in {edit.path}")


def _indent_shift(window: list[str], want: list[str]) -> int | None:
    """How many spaces the file's lines are indented beyond the search lines, if that is all that differs."""
    shift = None
    for have, need in zip(window, want, strict=True):
        if not need.strip():
            if have.strip():
                return None
            continue
        if not have.endswith(need.lstrip()) or have.strip() != need.strip():
            return None
        delta = (len(have) - len(have.lstrip())) - (len(need) - len(need.lstrip()))
        if shift is None:
            shift = delta
        elif delta != shift:
            return None
    return shift if shift is not None and shift >= 0 else None


def build_patch(root: Path, output: str) -> Patch:
    edits = parse_edits(output)
    if not edits:
        raise PatchError("the model output holds no edit blocks or diff hunks", output)
    root = root.resolve()
    originals: dict[str, str] = {}
    files: dict[str, str] = {}
    created: list[str] = []
    try:
        for edit in edits:
            target = safe_target(root, edit.path)
            if edit.path not in files:
                if target.exists():
                    originals[edit.path] = target.read_text(encoding="utf-8")
                else:
                    if edit.search.strip():
                        raise PatchError(f"{edit.path} does not exist")
                    originals[edit.path] = ""
                    created.append(edit.path)
                files[edit.path] = originals[edit.path]
            files[edit.path] = _apply_edit(files[edit.path], edit)
    except PatchError as exc:
        exc.raw = output
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise PatchError(f"cannot read a file the edit names ({exc})", output) from None
    diff = "".join(_unified(path, originals[path], files[path], path in created) for path in files)
    if not diff:
        raise PatchError("the edits change nothing", output)
    # git needs its own file headers to tell where one file's hunks end with --recount (a "--- a/next"
    # line would otherwise count as a removed line of the previous hunk); the diff shown stays plain.
    headed = "".join(
        f"diff --git a/{path} b/{path}\n" + ("new file mode 100644\n" if path in created else "")
        + _unified(path, originals[path], files[path], path in created)
        for path in files
        if files[path] != originals[path]
    )  # fmt: skip
    _git_check(root, headed, output)
    return Patch(diff, {p: files[p] for p in files if files[p] != originals[p]}, created)


def _unified(path: str, old: str, new: str, created: bool) -> str:
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    text = ""
    for line in difflib.unified_diff(a, b, "/dev/null" if created else f"a/{path}", f"b/{path}"):
        text += line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
    return text


def _git_check(root: Path, diff: str, output: str) -> None:
    git = shutil.which("git")
    if git is None:
        return  # the in-memory application above already proved every hunk applies
    proc = subprocess.run(
        [git, "apply", "--check", "--recount", "-"], cwd=root, input=diff, capture_output=True, text=True
    )
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["git apply --check failed"])[0]
        raise PatchError(f"git apply --check rejects it ({first})", output)


def apply_patch(root: Path, patch: Patch) -> list[str]:
    """Writes every changed file atomically; on any failure restores what was written."""
    root = root.resolve()
    written: list[tuple[Path, str | None]] = []
    try:
        for rel, content in patch.files.items():
            target = safe_target(root, rel)
            previous = target.read_text(encoding="utf-8") if target.exists() else None
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.codemm-tmp")
            tmp.write_text(content, encoding="utf-8")
            if target.exists():
                shutil.copymode(target, tmp)
            os.replace(tmp, target)
            written.append((target, previous))
    except OSError as exc:
        for target, previous in reversed(written):
            if previous is None:
                target.unlink(missing_ok=True)
            else:
                target.write_text(previous, encoding="utf-8")
        from codemm.errors import error_from_oserror

        raise error_from_oserror(exc, "applying the patch (no file was changed)") from None
    return list(patch.files)
