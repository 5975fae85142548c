"""A repository's own tests, run on an edited copy of one function, inside the sandbox.

The sandbox sees no files but its program (a private /tmp, another user), so the program carries the
repository's Python modules as text and imports them through a meta-path finder. Test functions
without parameters run; ``pytest.raises`` is provided (the sandbox interpreter has no pytest). A
test file is usable only if the original function passes it: then a failure is the edit's.
"""

from __future__ import annotations

from pathlib import Path

from codemm.eval.sandbox import SandboxLimits, SandboxResult, run_python

LOADER = """
import importlib.abc, importlib.util, inspect, sys

SOURCES = {sources!r}


class _RepoModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name in SOURCES:
            return importlib.util.spec_from_loader(name, self, is_package=SOURCES[name][1])
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        source, is_package = SOURCES[module.__name__]
        if is_package:
            module.__path__ = []
        exec(compile(source, module.__name__.replace(".", "/") + ".py", "exec"), module.__dict__)


sys.meta_path.insert(0, _RepoModules())
"""

PYTEST_RAISES = """
import contextlib, sys, types


@contextlib.contextmanager
def _raises(expected, match=None):
    try:
        yield
    except expected:
        return
    raise AssertionError(f"did not raise {expected}")

"""
"""``pytest.raises`` for a sandbox without pytest (tests' other pytest use is not provided):
defines ``_raises``; a runner installs it as ``sys.modules["pytest"]``."""
INSTALL_PYTEST = 'sys.modules["pytest"] = types.SimpleNamespace(raises=_raises)\n'

CALL_TESTS = """

for _name, _test in list(globals().items()):
    if _name.startswith("test_") and callable(_test) and not inspect.signature(_test).parameters:
        _test()
"""


def modules(repo: Path, edited: dict[str, str] | None = None) -> dict[str, tuple[str, bool]]:
    """Module name -> (source, is a package) for the repository's Python files outside tests."""
    edited = edited or {}
    found: dict[str, tuple[str, bool]] = {}
    for path in sorted(repo.rglob("*.py")):
        rel = path.relative_to(repo)
        if rel.parts[0] in ("tests", "test") or path.is_symlink():
            continue
        parts = list(rel.with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        for i in range(1, len(parts)):
            found.setdefault(".".join(parts[:i]), ("", True))  # namespace packages
        if parts:
            found[".".join(parts)] = (edited.get(rel.as_posix(), path.read_text(encoding="utf-8")), is_package)
    return found


def find_test_files(repo: Path, name: str) -> list[Path]:
    return [p for p in sorted(repo.rglob("test_*.py")) if name in p.read_text(encoding="utf-8", errors="replace")]


def run_repo_tests(
    repo: Path, test_file: Path, edited: dict[str, str] | None = None, limits: SandboxLimits | None = None
) -> SandboxResult:
    program = (
        LOADER.format(sources=modules(repo, edited)) + PYTEST_RAISES + INSTALL_PYTEST
        + test_file.read_text(encoding="utf-8") + CALL_TESTS
    )  # fmt: skip
    return run_python(program, limits)
