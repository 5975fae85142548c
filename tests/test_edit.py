"""`codemm edit` and `codemm undo` on a scripted model: the loop, the writes, git, and bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from codemm import gitops
from codemm.checks import Cancelled, first_failure, run_command
from codemm.edit import EditFailed, EditOptions, nearest_lines, run_edit
from codemm.errors import BadInputError, CodemmError
from codemm.models.stream import GenerationSettings, Message, TokenStream
from tests.models.fake_model import FakeModel

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\nif __name__ == '__main__':\n    test_add()\n"
TEST_CMD = f"{sys.executable} test_calc.py"


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


WRONG = block("calc.py", "    return a - b\n", "    return a * b\n")
RIGHT = block("calc.py", "    return a - b\n", "    return a + b\n")


@dataclass
class ScriptedModel(FakeModel):
    """Answers each request with the next reply of the script (the last one repeats)."""

    replies: list[str] = field(default_factory=list)

    def stream(self, messages: list[Message], settings: GenerationSettings, images: Any = None) -> TokenStream:
        reply = self.replies[min(len(self.prompts), len(self.replies) - 1)]
        self.pieces = [line + "\n" for line in reply.splitlines()]
        return super().stream(messages, settings, images)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def make_repo(tmp_path: Path) -> Path:
    """A committed git repository whose add() is wrong and whose test says so."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TESTS)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "Dev")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "start")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


def options(**kw: Any) -> EditOptions:
    return EditOptions(**{"request": "fix add in calc.py", "test_cmd": TEST_CMD, **kw})


def test_a_failing_first_try_then_a_passing_one_makes_one_commit_with_the_right_diff(repo: Path) -> None:
    model = ScriptedModel(replies=[WRONG, RIGHT])
    head = git(repo, "rev-parse", "HEAD").strip()
    result = run_edit(model, repo, options())
    assert [t.passed for t in result.tries] == [False, True]
    assert result.tries[0].test is not None and result.tries[0].test.verdict == "failed"
    # the second prompt carries the first failure back to the model
    feedback = model.prompts[1][-1]["content"]
    assert "AssertionError" in feedback and "assert add(2, 3) == 5" in feedback
    assert (repo / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert "-    return a - b\n+    return a + b\n" in result.diff
    assert git(repo, "rev-list", "--count", f"{head}..HEAD").strip() == "1"
    assert git(repo, "rev-parse", "HEAD").strip() == result.commit
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["calc.py"]
    assert gitops.is_codemm_commit(repo)
    assert git(repo, "status", "--porcelain") == ""


def test_a_model_that_never_passes_leaves_the_tree_unchanged(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    with pytest.raises(EditFailed) as err:
        run_edit(ScriptedModel(replies=[WRONG]), repo, options(tries=2))
    assert "no try passed the tests in 2 tries" in str(err.value) and "unchanged" in str(err.value)
    assert len(err.value.result.tries) == 2
    assert (repo / "calc.py").read_text() == CALC
    assert git(repo, "rev-parse", "HEAD").strip() == head and git(repo, "status", "--porcelain") == ""


def test_undo_resets_codemms_commit_and_restores_the_file(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    result = run_edit(ScriptedModel(replies=[RIGHT]), repo, options())
    undone = gitops.undo_last(repo)
    assert undone.action == "reset" and undone.commit == result.commit and undone.files == ["calc.py"]
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert (repo / "calc.py").read_text() == CALC
    with pytest.raises(BadInputError, match="not a codemm commit"):
        gitops.undo_last(repo)  # the second undo finds no codemm commit at HEAD


def test_undo_reverts_a_commit_that_reached_a_remote(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    result = run_edit(ScriptedModel(replies=[RIGHT]), repo, options())
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    undone = gitops.undo_last(repo)
    assert undone.action == "revert"
    assert git(repo, "rev-parse", "HEAD~1").strip() == result.commit  # history kept, a revert on top
    assert (repo / "calc.py").read_text() == CALC


def test_undo_refuses_when_head_is_not_codemms_or_the_tree_is_dirty(repo: Path) -> None:
    with pytest.raises(BadInputError, match="no commit on this branch is codemm's"):
        gitops.undo_last(repo)
    run_edit(ScriptedModel(replies=[RIGHT]), repo, options())
    (repo / "test_calc.py").write_text(TESTS + "# mine\n")
    with pytest.raises(BadInputError, match="uncommitted changes .*test_calc.py"):
        gitops.undo_last(repo)
    assert gitops.is_codemm_commit(repo) and "# mine" in (repo / "test_calc.py").read_text()
    git(repo, "commit", "-qam", "mine")
    with pytest.raises(BadInputError, match="codemm's last commit is [0-9a-f]+, not HEAD"):
        gitops.undo_last(repo)


def test_without_a_test_command_lint_decides_and_a_syntax_error_is_fed_back(repo: Path) -> None:
    broken = block("calc.py", "    return a - b\n", "    return a +\n")
    model = ScriptedModel(replies=[broken, RIGHT])
    result = run_edit(model, repo, options(test_cmd=""))
    assert result.tries[0].lint is not None and result.tries[0].lint.verdict == "failed"
    assert "calc.py:2" in model.prompts[1][-1]["content"]
    assert result.tries[1].test is None and result.commit


def test_an_undefined_name_fails_lint_but_one_the_file_already_had_does_not(repo: Path) -> None:
    (repo / "calc.py").write_text(CALC + "\n\ndef legacy():\n    return missing_name\n")
    git(repo, "commit", "-qam", "legacy")
    undefined = block("calc.py", "    return a - b\n", "    return a + bb\n")
    with pytest.raises(EditFailed, match="lint failed"):
        run_edit(ScriptedModel(replies=[undefined]), repo, options(test_cmd="", tries=1))
    result = run_edit(ScriptedModel(replies=[RIGHT]), repo, options(test_cmd=""))
    assert result.tries[0].lint is not None and result.tries[0].lint.verdict == "passed"


def test_a_search_block_that_matches_nothing_gets_the_nearest_real_lines_back(repo: Path) -> None:
    miss = block("calc.py", "def add(x, y):\n    return x - y\n", "def add(x, y):\n    return x + y\n")
    model = ScriptedModel(replies=[miss, RIGHT])
    result = run_edit(model, repo, options())
    assert "not found" in result.tries[0].problem
    feedback = model.prompts[1][-1]["content"]
    assert "The closest lines in calc.py are:" in feedback and "def add(a, b):\n    return a - b" in feedback
    assert result.passed


def test_nearest_lines_picks_the_most_similar_run() -> None:
    text = "import os\n\ndef one():\n    return 1\n\ndef two():\n    return 2\n"
    assert "def two():\n    return 2" in nearest_lines(text, "def two():\n    return 3\n", context=0)


def test_no_blocks_and_a_path_outside_the_repository_are_refused_with_the_tree_unchanged(repo: Path) -> None:
    with pytest.raises(EditFailed, match="no edit blocks"):
        run_edit(ScriptedModel(replies=["I would change the add function."]), repo, options(tries=1))
    outside = block("../evil.py", "", "print('x')\n")
    with pytest.raises(EditFailed, match="outside the repository"):
        run_edit(ScriptedModel(replies=[outside]), repo, options(tries=1))
    assert not (repo.parent / "evil.py").exists()
    assert git(repo, "status", "--porcelain") == ""


def test_dirty_files_are_named_and_nothing_changes(repo: Path) -> None:
    (repo / "calc.py").write_text(CALC + "# work in progress\n")
    model = ScriptedModel(replies=[RIGHT])
    with pytest.raises(BadInputError, match="uncommitted changes in calc.py"):
        run_edit(model, repo, options())
    assert model.prompts == []  # refused before asking the model
    # a dirty file the request did not name is caught once the edit names it
    with pytest.raises(BadInputError, match="the edit touches calc.py, which has uncommitted changes"):
        run_edit(model, repo, options(request="fix the add function"))
    assert (repo / "calc.py").read_text() == CALC + "# work in progress\n"


def test_other_staged_files_stay_out_of_codemms_commit(repo: Path) -> None:
    (repo / "notes.txt").write_text("mine\n")
    git(repo, "add", "notes.txt")
    result = run_edit(ScriptedModel(replies=[RIGHT]), repo, options(request="fix the add function"))
    assert git(repo, "show", "--name-only", "--format=", result.commit).split() == ["calc.py"]
    assert git(repo, "diff", "--cached", "--name-only").split() == ["notes.txt"]


def test_detached_head_and_no_commits_are_refused_unless_no_commit(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(BadInputError, match="HEAD is detached"):
        run_edit(ScriptedModel(replies=[RIGHT]), repo, options())
    result = run_edit(ScriptedModel(replies=[RIGHT]), repo, options(commit=False))
    assert result.written and not result.commit and "--no-commit" in result.note
    assert git(repo, "status", "--porcelain").strip() == "M calc.py"  # written, not staged
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "calc.py").write_text(CALC)
    git(fresh, "init", "-q")
    with pytest.raises(BadInputError, match="no commits yet"):
        run_edit(ScriptedModel(replies=[RIGHT]), fresh, options(test_cmd=""))


def test_without_git_the_change_is_written_and_the_note_says_once_why_there_is_no_commit(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "calc.py").write_text(CALC)
    (plain / "test_calc.py").write_text(TESTS)
    result = run_edit(ScriptedModel(replies=[RIGHT]), plain, options())
    assert result.written and not result.commit and "not a git repository" in result.note
    assert (plain / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    with pytest.raises(BadInputError, match="not a git repository"):
        gitops.undo_last(plain)


def test_a_test_command_that_does_not_exist_is_one_line_before_the_model_runs(repo: Path) -> None:
    model = ScriptedModel(replies=[RIGHT])
    with pytest.raises(BadInputError, match="test command not found: no-such-tester"):
        run_edit(model, repo, options(test_cmd="no-such-tester -q"))
    assert model.prompts == []
    with pytest.raises(BadInputError, match="test command was not found"):  # caught by the shell at run time
        run_edit(model, repo, options(test_cmd="true && no-such-tester -q"))
    assert (repo / "calc.py").read_text() == CALC


def test_a_hung_test_is_killed_with_its_process_group(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "child-alive"
    hang = f"(sleep 3; touch {marker}) & sleep 30"
    with pytest.raises(EditFailed, match="hung and was killed"):
        run_edit(ScriptedModel(replies=[RIGHT]), repo, options(test_cmd=hang, tries=1, test_timeout=0.5))
    import time

    time.sleep(3.5)
    assert not marker.exists()  # the background child died with the group
    assert (repo / "calc.py").read_text() == CALC


def test_tests_run_in_a_scratch_copy_never_in_the_repository(repo: Path) -> None:
    seen = repo / "seen.txt"
    cmd = f"cat calc.py > {seen} && {TEST_CMD}"
    run_edit(ScriptedModel(replies=[WRONG, RIGHT]), repo, options(test_cmd=cmd))
    # the command saw the edited file, in a copy: the repository's own file changed only at the end
    assert "a + b" in seen.read_text()


@pytest.fixture
def ctrl_c_raises() -> Any:
    """Ctrl-C as `codemm edit` sets it up: a KeyboardInterrupt (importing codemm.cli installs an
    exit-at-once handler for the other commands)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_during_the_tests_leaves_the_tree_unchanged(repo: Path, ctrl_c_raises: None) -> None:
    # the test command sends SIGINT to codemm itself, as a Ctrl-C in the terminal would
    cmd = f"kill -INT {os.getpid()}; sleep 5"
    with pytest.raises(KeyboardInterrupt):
        run_edit(ScriptedModel(replies=[RIGHT]), repo, options(test_cmd=cmd))
    assert (repo / "calc.py").read_text() == CALC and git(repo, "status", "--porcelain") == ""


def test_ctrl_c_during_the_commit_finishes_it_first(
    repo: Path, monkeypatch: pytest.MonkeyPatch, ctrl_c_raises: None
) -> None:
    real = gitops.commit_files

    def interrupted_commit(*args: Any) -> str:
        os.kill(os.getpid(), signal.SIGINT)  # lands between the write and the commit
        return real(*args)

    monkeypatch.setattr(gitops, "commit_files", interrupted_commit)
    with pytest.raises(KeyboardInterrupt):
        run_edit(ScriptedModel(replies=[RIGHT]), repo, options())
    assert gitops.is_codemm_commit(repo) and git(repo, "status", "--porcelain") == ""
    assert "a + b" in (repo / "calc.py").read_text()


def test_a_failed_commit_rolls_the_written_files_back(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_commit(*args: Any) -> str:
        raise CodemmError("git commit failed: simulated")

    monkeypatch.setattr(gitops, "commit_files", broken_commit)
    create = block("extra.py", "", "X = 1\n") + RIGHT
    with pytest.raises(CodemmError, match="simulated"):
        run_edit(ScriptedModel(replies=[create]), repo, options())
    assert (repo / "calc.py").read_text() == CALC and not (repo / "extra.py").exists()
    assert git(repo, "status", "--porcelain") == ""


def test_cancel_stops_the_loop_and_writes_nothing(repo: Path) -> None:
    cancel = threading.Event()

    def notify(kind: str, data: Any) -> None:
        if kind == "check":
            cancel.set()

    with pytest.raises(Cancelled):
        run_edit(ScriptedModel(replies=[RIGHT]), repo, options(test_cmd="sleep 5"), notify=notify, cancel=cancel)
    assert (repo / "calc.py").read_text() == CALC


def test_bad_options_are_one_line_errors() -> None:
    with pytest.raises(BadInputError, match="at least 1"):
        EditOptions("x", tries=0)
    with pytest.raises(BadInputError, match="empty"):
        EditOptions("  ")


def test_first_failure_finds_the_first_failing_test_in_pytest_and_node_output(tmp_path: Path) -> None:
    (tmp_path / "test_two.py").write_text(
        "def test_ok():\n    pass\n\ndef test_bad():\n    assert 1 == 2, 'first'\n\ndef test_worse():\n    assert 0\n"
    )
    run = run_command(f"{sys.executable} -m pytest -q -p no:cacheprovider test_two.py", tmp_path, 60)
    failure = first_failure(run.output)
    assert failure.splitlines()[0].strip("_ ") == "test_bad" and "first" in failure and "test_worse" not in failure
    tap = "TAP version 13\nok 1 - fine\nnot ok 2 - slug\n  ---\n  error: 'Expected values to be equal'\n  ...\nnot ok 3 - other\n"
    assert first_failure(tap) == "not ok 2 - slug\n  ---\n  error: 'Expected values to be equal'\n  ..."


def test_a_fenced_rewrite_of_the_one_named_file_counts_as_its_whole_new_text(repo: Path) -> None:
    fixed = CALC.replace("a - b", "a + b")
    unchanged = f"### calc.py\n```python\n{CALC}```\n"
    model = ScriptedModel(replies=[unchanged, f"Here is the fix:\n```python\n{fixed}```\n"])
    result = run_edit(model, repo, options())
    assert result.tries[0].problem == "the edits change nothing"  # a rewrite that changes nothing is fed back
    assert result.tries[1].whole_file and result.passed
    assert (repo / "calc.py").read_text() == fixed and "-    return a - b\n+    return a + b\n" in result.diff


def test_a_fenced_snippet_never_replaces_a_file(repo: Path) -> None:
    snippet = "```python\nprint(add(2, 3))\n```\n"
    with pytest.raises(EditFailed, match="no edit blocks"):
        run_edit(ScriptedModel(replies=[snippet]), repo, options(tries=1, test_cmd=""))
    # two named files: which one a fence rewrites is unknown, so it is not taken as either
    fixed = f"```python\n{CALC.replace('a - b', 'a + b')}```\n"
    with pytest.raises(EditFailed, match="no edit blocks"):
        run_edit(ScriptedModel(replies=[fixed]), repo, options(request="fix calc.py so test_calc.py passes", tries=1))
    assert (repo / "calc.py").read_text() == CALC


def test_first_failure_drops_nodes_own_stack_frames() -> None:
    output = (
        "AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:\n\n7 !== 6\n\n"
        "    at Object.<anonymous> (/tmp/x/sum.test.js:4:8)\n"
        "    at Module._compile (node:internal/modules/cjs/loader:1521:14)\n"
        "    at [eval]:4:1\n"
    )
    failure = first_failure(output)
    assert "sum.test.js:4:8" in failure and "7 !== 6" in failure and "node:internal" not in failure
