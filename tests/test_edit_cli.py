"""`codemm edit` and `codemm undo` as the user runs them: output, --json, codemm.toml, one-line errors.
The model is the scripted one behind the seam (open_model is replaced), the CLI is the real one."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codemm import cli
from tests.test_edit import CALC, RIGHT, TEST_CMD, WRONG, ScriptedModel, git, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


@pytest.fixture(autouse=True)
def keep_sigint() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, previous)


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], replies: list[str], *args: str) -> Any:
    import codemm.session

    model = ScriptedModel(replies=replies)
    monkeypatch.setattr(codemm.session, "open_model", lambda settings, *a: model)
    monkeypatch.setattr(cli.asking, "refresh_index", lambda root, embed=True, quiet=False: _index(root))
    monkeypatch.setattr(sys, "argv", ["codemm", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err, model


def _index(root: Path) -> tuple[Any, None]:
    from codemm.repo.index import RepoIndex

    index = RepoIndex(root)
    index.refresh(embed=False)
    return index, None


def test_edit_prints_each_try_the_test_command_the_diff_and_the_commit(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err, _ = run(monkeypatch, capsys, [WRONG, RIGHT], "edit", "fix add in calc.py", "--repo", str(repo),
                            "--test", TEST_CMD)  # fmt: skip
    assert code == 0, err
    assert f"codemm: running: {TEST_CMD}" in err
    assert "try 1: lint passed, tests failed" in err and "try 2: lint passed, tests passed" in err
    head = git(repo, "rev-parse", "HEAD").strip()
    assert f"committed {head[:10]} after 2 tries" in err
    assert out.startswith("--- a/calc.py\n+++ b/calc.py\n") and "+    return a + b" in out

    code, out, err, _ = run(monkeypatch, capsys, [], "undo", "--repo", str(repo))
    assert code == 0 and f"undid codemm commit {head[:10]} (reset: the commit is gone)" in out
    assert (repo / "calc.py").read_text() == CALC


def test_edit_json_carries_every_try_and_takes_settings_from_codemm_toml(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "codemm.toml").write_text(f'test_cmd = "{TEST_CMD}"\ntries = 2\n')
    git(repo, "add", "codemm.toml")
    git(repo, "commit", "-qm", "config")
    code, out, err, _ = run(monkeypatch, capsys, [WRONG, RIGHT], "edit", "fix the add function", "--repo", str(repo),
                            "--json")  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["passed"] and data["tries_used"] == 2 and data["test_cmd"] == TEST_CMD
    assert [t["test"]["verdict"] for t in data["tries"]] == ["failed", "passed"]
    assert data["commit"] == git(repo, "rev-parse", "HEAD").strip() and data["lines_changed"] == 2
    assert data["files"] == ["calc.py"] and "+    return a + b" in data["diff"]


def test_edit_that_never_passes_exits_non_zero_with_one_line_and_the_tree_unchanged(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err, _ = run(monkeypatch, capsys, [WRONG], "edit", "fix add in calc.py", "--repo", str(repo),
                            "--test", TEST_CMD, "--tries", "2")  # fmt: skip
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("codemm: error: no try passed the tests in 2 tries")
    assert "Traceback" not in err and "last try's diff (not applied)" in out
    assert (repo / "calc.py").read_text() == CALC and git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--tries", "0"], "--tries must be at least 1"),
        (["--test", "no-such-tester"], "test command not found: no-such-tester"),
    ],
)
def test_edit_bad_input_is_one_line_and_exit_2(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, out, err, model = run(monkeypatch, capsys, [RIGHT], "edit", "fix add in calc.py", "--repo", str(repo), *args)
    assert code == 2 and err.strip().splitlines() == [f"codemm: error: {err.strip().removeprefix('codemm: error: ')}"]
    assert needle in err and model.prompts == []


def test_undo_with_nothing_to_undo_says_why(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err, _ = run(monkeypatch, capsys, [], "undo", "--repo", str(repo))
    assert code == 2 and "is not a codemm commit" in err and "nothing was changed" in err
