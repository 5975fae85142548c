"""`/edit` in the chat, driven with Textual's Pilot: each try and its diff shown, one commit when a
try passes, Esc stops with the tree unchanged. The model is the scripted one behind the seam."""

from __future__ import annotations

import sys
from pathlib import Path

from codemm import gitops
from codemm.tui.app import ChatApp
from codemm.tui.history import ChatHistory
from tests.test_edit import CALC, RIGHT, WRONG, ScriptedModel, git, make_repo
from tests.tui.fakes import FakeBackend
from tests.tui.test_chat import send, wait_idle

SLOW_TEST = f"{sys.executable} -c 'import time; time.sleep(30)'"


def edit_app(tmp_path: Path, test_cmd: str, replies: list[str]) -> tuple[ChatApp, FakeBackend, ChatHistory, Path]:
    repo = make_repo(tmp_path)
    (repo / "codemm.toml").write_text(f"test_cmd = {test_cmd!r}\n")
    git(repo, "add", "codemm.toml")
    git(repo, "commit", "-qm", "how to test")
    backend = FakeBackend(repo=repo)
    history = ChatHistory(tmp_path / "chat.sqlite")
    app = ChatApp(backend, history)  # type: ignore[arg-type]
    app.scripted = ScriptedModel(replies=replies)  # type: ignore[attr-defined]
    return app, backend, history, repo


async def wait_edit(pilot, app: ChatApp, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while app.edit_cancel is not None and time.monotonic() < deadline:
        await pilot.pause(0.05)
    await pilot.pause()


async def test_edit_shows_each_try_and_the_diff_and_commits_once(tmp_path: Path) -> None:
    app, backend, history, repo = edit_app(tmp_path, f"{sys.executable} test_calc.py", [WRONG, RIGHT])
    head = git(repo, "rev-parse", "HEAD").strip()
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        backend.model = app.scripted  # type: ignore[attr-defined]
        await send(pilot, "/edit fix add in calc.py")
        await wait_edit(pilot, app)
        shown = history.messages(app.conversation)[-1].content
        assert "Try 1: lint passed, tests failed" in shown and "Try 2: lint passed, tests passed" in shown
        assert "```diff" in shown and "+    return a + b" in shown
        assert f"committed `{git(repo, 'rev-parse', 'HEAD').strip()[:10]}`" in shown
    assert git(repo, "rev-list", "--count", f"{head}..HEAD").strip() == "1" and gitops.is_codemm_commit(repo)


async def test_escape_stops_the_edit_and_leaves_the_tree_unchanged(tmp_path: Path) -> None:
    app, backend, history, repo = edit_app(tmp_path, SLOW_TEST, [RIGHT])
    head = git(repo, "rev-parse", "HEAD").strip()
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        backend.model = app.scripted  # type: ignore[attr-defined]
        await send(pilot, "/edit fix add in calc.py")
        while "running" not in app.edit_text:  # the slow test command has started
            await pilot.pause(0.05)
        await pilot.press("escape")
        await wait_edit(pilot, app, timeout=10)
        assert app.edit_cancel is None
        assert "**Not applied**: stopped; the tree is unchanged" in history.messages(app.conversation)[-1].content
    assert (repo / "calc.py").read_text() == CALC and git(repo, "rev-parse", "HEAD").strip() == head


async def test_edit_without_a_request_says_what_is_missing(tmp_path: Path) -> None:
    app, backend, history, repo = edit_app(tmp_path, "true", [RIGHT])
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        await send(pilot, "/edit")
        await pilot.pause()
        assert app.edit_cancel is None
        assert any("/edit needs a request" in str(n.message) for n in app._notifications)
