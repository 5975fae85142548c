"""Which code an adapter never saw, found the way a team lives it: code written after training.

Two splits, both over Python functions (``ast``: exact spans and qualified names):
- ``since``: in a git repository, the functions of HEAD whose lines ``git diff REV HEAD`` adds or
  changes (the adapter was trained at REV);
- ``heldout``: a later snapshot (a newer release), the functions whose qualified names
  (``module.Class.method``) did not exist in the snapshot the adapter was trained on.

A target is a function body given the code above it in its file: the adapter is scored on what it
would have been asked to write next, not on a held-out file of its own snapshot (whose siblings it
learnt). Nested functions belong to the function around them; a docstring is part of the context.
"""

from __future__ import annotations

import ast
import os
import random
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codemm.errors import BadInputError

MAX_BODY_CHARS = 4000
"""Like training's longest example: longer bodies would only be cut."""
MIN_BODY_LINES = 2
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".tox", ".nox", ".venv", "venv", "node_modules", "build", "dist"}
HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class Target:
    """A function body to score, with the code above it in its file."""

    path: str
    qualname: str
    """``module.Class.method``: what identifies a function across releases."""
    start: int
    """First line of the definition (decorators included), 1-based."""
    body_start: int
    end: int
    prefix: str
    """The file up to the body: imports, earlier code, the signature and the docstring."""
    body: str
    indent: int
    """Column of the ``def``: a completion ends at the first line indented no deeper."""

    @property
    def id(self) -> str:
        return f"{self.path}::{self.qualname}"


def module_name(path: str) -> str:
    """``src/pkg/mod.py`` -> ``pkg.mod``: a src/ layout change between releases is not a new name."""
    parts = list(Path(path).with_suffix("").parts)
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def targets_in(path: str, text: str) -> list[Target]:
    """The top-level functions and methods of a Python file (nested ones are part of their parent);
    a file that does not parse gives none."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    lines = text.splitlines()
    module = module_name(path)
    found: list[Target] = []

    def visit(node: ast.AST, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, [*scope, child.name])
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                target = _target(path, lines, child, ".".join([module, *scope, child.name]))
                if target is not None:
                    found.append(target)

    visit(tree, [])
    return found


def _target(path: str, lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str) -> Target | None:
    body = node.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        body = body[1:]  # the docstring is context: it says what to write
    end = node.end_lineno or node.lineno
    if not body:
        return None
    body_start = body[0].lineno
    # A statement on the signature's own line (def f(): return 1) has no body to complete.
    if body_start <= node.lineno or end - body_start + 1 < MIN_BODY_LINES:
        return None
    text = "\n".join(lines[body_start - 1 : end]) + "\n"
    if len(text) > MAX_BODY_CHARS or not text.strip():
        return None
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    prefix = "\n".join(lines[: body_start - 1]) + "\n"
    return Target(path, qualname, start, body_start, end, prefix, text, node.col_offset)


def python_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(posix path relative to root, file) for each .py file; links are never followed, so a
    snapshot cannot reach files outside itself."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            file = Path(folder) / name
            if name.endswith(".py") and not file.is_symlink():
                yield file.relative_to(root).as_posix(), file


def snapshot_targets(root: Path) -> list[Target]:
    if not root.is_dir():
        raise BadInputError(f"{root} is not a directory")
    out: list[Target] = []
    for rel, file in python_files(root):
        out += targets_in(rel, file.read_text(encoding="utf-8", errors="replace"))
    return out


def snapshot_names(root: Path) -> set[str]:
    """Every qualified function name of a snapshot, nested and short ones included: a name that
    existed at training time in any form is not new."""
    names: set[str] = set()
    for rel, file in python_files(root):
        try:
            tree = ast.parse(file.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError):
            continue
        module = module_name(rel)

        def visit(node: ast.AST, scope: list[str], module: str = module) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                    if not isinstance(child, ast.ClassDef):
                        names.add(".".join([module, *scope, child.name]))
                    visit(child, [*scope, child.name])

        visit(tree, [])
    return names


def heldout_targets(trained: Path, later: Path) -> list[Target]:
    """Functions of ``later`` whose qualified names ``trained`` did not have."""
    known = snapshot_names(trained)
    return [t for t in snapshot_targets(later) if t.qualname not in known]


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BadInputError(f"git failed in {repo}: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BadInputError(f"git {args[0]} failed in {repo}: {last}")
    return done.stdout


def changed_lines(repo: Path, rev: str) -> dict[str, set[int]]:
    """Lines of HEAD's Python files that ``rev..HEAD`` added or changed, by path."""
    if not (repo / ".git").exists():
        raise BadInputError(f"--since needs a git repository; {repo} is not one")
    _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    diff = _git(repo, "diff", "--unified=0", "--no-color", "--no-ext-diff", rev, "HEAD", "--", "*.py")
    changed: dict[str, set[int]] = {}
    path = ""
    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else ""
        elif path and (match := HUNK.match(line)):
            first, count = int(match.group(1)), int(match.group(2) or 1)
            changed.setdefault(path, set()).update(range(first, first + count))
    return changed


def since_targets(repo: Path, rev: str) -> list[Target]:
    """Functions of HEAD that hold a line added or changed since ``rev`` (their whole body is scored)."""
    out: list[Target] = []
    for path, lines in sorted(changed_lines(repo, rev).items()):
        text = _git(repo, "show", f"HEAD:{path}")
        out += [t for t in targets_in(path, text) if any(t.start <= n <= t.end for n in lines)]
    return out


def spread(targets: list[Target], limit: int | None, seed: int) -> list[Target]:
    """Up to ``limit`` targets taken round-robin across files in a seeded order, one file after
    another: a limit samples the whole split, not the first file's functions."""
    rng = random.Random(seed)
    by_file: dict[str, list[Target]] = {}
    for target in targets:
        by_file.setdefault(target.path, []).append(target)
    files = sorted(by_file)
    rng.shuffle(files)
    queues = [rng.sample(by_file[f], len(by_file[f])) for f in files]
    out: list[Target] = []
    while any(queues) and (limit is None or len(out) < limit):
        for queue in queues:
            if queue and (limit is None or len(out) < limit):
                out.append(queue.pop())
    return out
