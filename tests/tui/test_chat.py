"""The chat UI driven with Textual's Pilot: sending, streaming, cancel, commands, history, latency."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from pathlib import Path

from PIL import Image
from textual import events

from codemm.tui.app import ChatApp, ChunkScreen, HistoryScreen, PromptArea
from codemm.tui.history import ChatHistory
from tests.tui.fakes import ANSWER, FakeBackend


def app_with(tmp_path: Path, **backend_options: object) -> tuple[ChatApp, FakeBackend, ChatHistory]:
    backend = FakeBackend(**backend_options)  # type: ignore[arg-type]
    history = ChatHistory(tmp_path / "chat.sqlite")
    return ChatApp(backend, history), backend, history  # type: ignore[arg-type]


def blank_shot(tmp_path: Path) -> Path:
    image = tmp_path / "shot.png"
    Image.new("RGB", (40, 20), (255, 255, 255)).save(image)
    return image


async def send(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    area = pilot.app.query_one(PromptArea)
    area.text = text
    area.focus()
    await pilot.press("enter")


async def wait_idle(pilot, app: ChatApp, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while (app.generating or app.loads or app.queue or app.workers) and time.monotonic() < deadline:
        await pilot.pause(0.02)
    await pilot.pause()


async def test_send_streams_the_answer_and_stores_it(tmp_path: Path) -> None:
    app, backend, history = app_with(tmp_path)
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        await send(pilot, "How do I reverse a string?")
        await wait_idle(pilot, app)
        assert backend.asked[0][0] == "How do I reverse a string?"
        messages = history.messages(app.conversation)
        assert [(m.role, m.partial) for m in messages] == [("user", False), ("assistant", False)]
        assert messages[1].content == "".join(ANSWER)
        assert messages[1].meta["citations"][0]["path"] == "tasktracker/dates.py"
        sources = app.query_one("#sources")
        assert len(sources.children) == 1
        status = str(app.query_one("#status").render())
        assert "12.5 tok/s" in status and "context 321/" in status
        # the second question carries the first exchange as history
        await send(pilot, "And in Go?")
        await wait_idle(pilot, app)
        assert [m["role"] for m in backend.asked[1][1]] == ["user", "assistant"]


async def test_multiline_input_with_ctrl_j(tmp_path: Path) -> None:
    app, backend, _ = app_with(tmp_path)
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        await pilot.press("a", "ctrl+j", "b", "enter")
        await wait_idle(pilot, app)
        assert backend.asked[0][0] == "a\nb"


async def test_escape_cancels_within_one_step_and_keeps_the_partial_answer(tmp_path: Path) -> None:
    app, backend, history = app_with(tmp_path, delay=0.05, tokens=[f"t{i} " for i in range(200)])
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        await send(pilot, "long answer please")
        while len(backend.streams[0].produced) < 3:
            await pilot.pause(0.01)
        produced_at_cancel = len(backend.streams[0].produced)
        await pilot.press("escape")
        await wait_idle(pilot, app)
        assert len(backend.streams[0].produced) <= produced_at_cancel + 1  # at most the step in flight
        stored = history.messages(app.conversation)[-1]
        assert stored.partial and stored.content.startswith("t0 t1 t2")


async def test_keystrokes_are_handled_quickly_during_generation(tmp_path: Path) -> None:
    app, backend, _ = app_with(tmp_path, delay=0.02, tokens=["x "] * 300)
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        await send(pilot, "stream a lot")
        while len(backend.streams[0].produced) < 5:
            await pilot.pause(0.01)
        area = app.query_one(PromptArea)
        latencies = []
        for key in "hello":
            before = area.text
            started = time.perf_counter()
            # The key goes in as the terminal driver would send it; Pilot's own settling waits are
            # not part of what a user feels, so they are left out of the measurement.
            area.post_message(events.Key(key, key))
            while area.text == before:
                await asyncio.sleep(0.001)
            latencies.append(time.perf_counter() - started)
        assert max(latencies) < 0.1, latencies
        assert app.generating, (len(backend.streams[0].produced), latencies)
        await pilot.press("escape")
        await wait_idle(pilot, app)


async def test_slash_commands(tmp_path: Path) -> None:
    image = blank_shot(tmp_path)
    app, backend, history = app_with(tmp_path)
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        await send(pilot, "give me code")
        await wait_idle(pilot, app)

        await send(pilot, f"/copy {tmp_path / 'code.py'}")
        assert (tmp_path / "code.py").read_text() == "def rev(s):\n    return s[::-1]\n"
        await send(pilot, f"/save {tmp_path / 'chat.md'}")
        saved = (tmp_path / "chat.md").read_text()
        assert "## user" in saved and "give me code" in saved and "## assistant" in saved

        await send(pilot, f"/image {image}")
        assert backend.images and "Traceback" in str(app.query_one("#images").render())
        await send(pilot, "/image /no/such.png")  # a notification, and the app goes on
        assert any("does not exist" in n.message for n in app._notifications)

        await send(pilot, "/adapter nope")
        assert any("no adapter named 'nope'" in n.message for n in app._notifications)
        await send(pilot, "/adapter known")
        assert backend.adapter == "known" and "adapter known" in str(app.query_one("#status").render())
        await send(pilot, "/adapter off")
        assert backend.adapter is None

        await send(pilot, "/model /nonexistent")
        await wait_idle(pilot, app)
        assert any("not found" in n.message for n in app._notifications)
        await send(pilot, f"/repo {tmp_path}")
        await wait_idle(pilot, app)
        assert backend.repo == tmp_path.resolve()

        first = app.conversation
        await send(pilot, "/clear")
        assert app.conversation != first and not backend.images

        await send(pilot, "/help")
        assert app.screen.__class__.__name__ == "ChunkScreen"
        await pilot.press("escape")

        await send(pilot, "/history")
        assert app.screen.__class__.__name__ == "HistoryScreen"
        await pilot.press("down", "enter")  # the older conversation (newest is first)
        await pilot.pause()
        assert app.conversation == first
        assert len(app.query(".user")) == 1

        await send(pilot, "/bogus")
        assert any("unknown command /bogus" in n.message for n in app._notifications)


async def test_tab_completes_commands(tmp_path: Path) -> None:
    app, _, _ = app_with(tmp_path)
    async with app.run_test() as pilot:
        area = app.query_one(PromptArea)
        area.text = "/his"
        area.move_cursor(area.document.end)
        await pilot.press("tab")
        assert area.text == "/history "


async def test_history_reload_shows_interrupted_answers(tmp_path: Path) -> None:
    history = ChatHistory(tmp_path / "chat.sqlite")
    conv = history.new_conversation()
    history.add(conv, "user", "first question")
    history.add(conv, "assistant", "half an ans", partial=True)
    app = ChatApp(FakeBackend(), history, conversation=conv)  # type: ignore[arg-type]
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        bubbles = app.query(".assistant")
        assert len(bubbles) == 1 and "partial" in bubbles.first().classes
        assert history.conversations()[0].title == "first question"


async def test_continue_restores_the_conversations_images_and_adapter(tmp_path: Path) -> None:
    image = blank_shot(tmp_path)
    app, backend, history = app_with(tmp_path)
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        await send(pilot, f"/image {image}")
        await send(pilot, "/adapter known")
        await send(pilot, "what does it say?")
        await wait_idle(pilot, app)
        conversation, attached = app.conversation, list(backend.images)
    assert conversation is not None

    # `codemm chat --continue`: a new process, a fresh backend, the same history.
    again = FakeBackend()
    resumed = ChatApp(again, history, conversation=conversation)  # type: ignore[arg-type]
    async with resumed.run_test() as pilot:
        await wait_idle(pilot, resumed)
        assert again.images == attached and again.adapter == "known"
        assert "adapter known" in str(resumed.query_one("#status").render())
        assert "shot.png" in str(resumed.query_one("#images").render())

    history.set_adapter(conversation, "deleted-since")
    third = FakeBackend()
    app3 = ChatApp(third, history, conversation=conversation)  # type: ignore[arg-type]
    async with app3.run_test() as pilot:
        await wait_idle(pilot, app3)
        assert third.adapter is None
        assert any("continuing without it" in n.message for n in app3._notifications)


async def test_model_that_fails_to_load_keeps_the_app_running(tmp_path: Path) -> None:
    app, backend, _ = app_with(tmp_path, fail_model=True)
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        assert any("not found" in n.message for n in app._notifications)
        await send(pilot, "/help")
        assert app.screen.__class__.__name__ == "ChunkScreen"


def text_of(app: ChatApp, selector: str) -> list[str]:
    return [str(widget.render()) for widget in app.query(selector)]


async def test_question_sent_while_the_model_loads_is_answered_when_it_is_ready(tmp_path: Path) -> None:
    gate = threading.Event()
    app, backend, history = app_with(tmp_path, load_gate=gate)
    async with app.run_test() as pilot:
        try:
            # the first frame: nothing awaited, the model is still loading
            assert any("Loading model fake-model" in t for t in text_of(app, ".notice.loading"))
            assert "loading model fake-model…" in str(app.query_one("#status").render())
            await send(pilot, "How do I reverse a string?")
            await send(pilot, "And in Go?")
            await pilot.pause(0.1)
            assert backend.asked == []  # both wait, neither dropped
            waiting = text_of(app, ".notice.waiting")
            assert len(waiting) == 2 and all("Waiting: loading model fake-model" in t for t in waiting)
            assert "2 waiting" in str(app.query_one("#status").render())
        finally:
            gate.set()
        await wait_idle(pilot, app)
        assert [question for question, _ in backend.asked] == ["How do I reverse a string?", "And in Go?"]
        # in order: the second question sees the first exchange, answered, as its history
        assert [(m["role"], m["content"][:4]) for m in backend.asked[1][1]] == [("user", "How "), ("assistant", "Use ")]
        stored = history.messages(app.conversation)
        assert [(m.role, m.partial) for m in stored] == [("user", False), ("assistant", False)] * 2
        assert len(app.query("Markdown.assistant")) == 2
        assert not app.query(".notice.waiting") and not app.query(".notice.loading")
        assert any("Model fake-model ready." in t for t in text_of(app, ".notice"))


async def test_a_failed_load_answers_the_waiting_question_with_the_reason(tmp_path: Path) -> None:
    gate = threading.Event()
    app, backend, history = app_with(tmp_path, load_gate=gate, fail_model=True)
    async with app.run_test() as pilot:
        await send(pilot, "Where is parse_due_date?")
        gate.set()
        await wait_idle(pilot, app)
        assert backend.asked == []
        errors = text_of(app, ".notice.error")
        assert any("Could not load model fake-model: model 'fake-model' not found" in t for t in errors), errors
        expected = "Not answered: the model could not be loaded (model 'fake-model' not found); load one with /model"
        assert any(t.startswith(expected) for t in errors), errors
        stored = history.messages(app.conversation)[-1]
        assert stored.role == "assistant" and stored.partial and "not found" in stored.meta["error"]
        conversation = app.conversation

    # reopened later, the conversation still says why there is no answer
    again = ChatApp(FakeBackend(), history, conversation=conversation)  # type: ignore[arg-type]
    async with again.run_test() as pilot:
        await wait_idle(pilot, again)
        assert any(t.startswith("Not answered: the model could not") for t in text_of(again, ".notice.error"))
        assert not again.query(".assistant")


async def test_escape_drops_questions_waiting_for_the_model(tmp_path: Path) -> None:
    gate = threading.Event()
    app, backend, history = app_with(tmp_path, load_gate=gate)
    async with app.run_test() as pilot:
        try:
            await send(pilot, "never mind")
            await pilot.press("escape")
            assert not app.queue
            assert any("dropped with Esc" in t for t in text_of(app, ".notice.error"))
        finally:
            gate.set()
        await wait_idle(pilot, app)
        assert backend.asked == []
        assert history.messages(app.conversation)[-1].meta["error"].startswith("dropped with Esc")


async def test_a_waiting_question_is_answered_in_its_own_conversation_after_clear(tmp_path: Path) -> None:
    gate = threading.Event()
    app, backend, history = app_with(tmp_path, load_gate=gate)
    async with app.run_test() as pilot:
        try:
            await send(pilot, "first question")
            first = app.conversation
            await send(pilot, "/clear")
        finally:
            gate.set()
        await wait_idle(pilot, app)
        assert backend.asked[0][0] == "first question"
        assert first is not None and history.messages(first)[-1].content == "".join(ANSWER)
        assert not app.query(".user")  # the new conversation's screen stays clean


async def test_typing_while_a_modal_is_open_goes_into_the_prompt(tmp_path: Path) -> None:
    app, _, _ = app_with(tmp_path)
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        prompt = app.query_one(PromptArea)
        await send(pilot, "/help")
        assert isinstance(app.screen, ChunkScreen)
        await pilot.press("w", "h", "y")
        assert not isinstance(app.screen, ChunkScreen)
        assert prompt.text == "why" and app.focused is prompt

        await pilot.press("f2")
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("space", "n", "o", "w")
        assert not isinstance(app.screen, HistoryScreen) and prompt.text == "why now"

        # a paste into a modal also lands once in the prompt
        await send(pilot, "/help")
        app.post_message(events.Paste(" pasted"))
        await pilot.pause()
        assert not isinstance(app.screen, ChunkScreen) and prompt.text == " pasted"
        app.post_message(events.Paste("!"))
        await pilot.pause()
        assert prompt.text == " pasted!"

        # focus on the sources list (not a text box): keys go to the prompt too
        await send(pilot, "show sources")
        await wait_idle(pilot, app)
        prompt.clear()
        app.query_one("#sources").focus()
        await pilot.press("enter")  # opens the chunk
        assert isinstance(app.screen, ChunkScreen)
        await pilot.press("x")
        await pilot.pause()
        assert prompt.text == "x" and app.focused is prompt


async def test_the_first_screen_says_what_to_do(tmp_path: Path) -> None:
    app, _, _ = app_with(tmp_path, repo=tmp_path)
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        (welcome,) = text_of(app, ".notice.welcome")
        for needle in ("press Enter", "/help", "/image PATH", "/repo PATH", "F2", f"Repository: {tmp_path}",
                       "Model: fake-model"):  # fmt: skip
            assert needle in welcome
        await send(pilot, "/clear")  # a new conversation starts with it again
        assert len(text_of(app, ".notice.welcome")) == 1


async def test_continue_restores_the_conversations_repository(tmp_path: Path) -> None:
    here, other = tmp_path / "here", tmp_path / "other"
    here.mkdir()
    other.mkdir()
    app, _, history = app_with(tmp_path, repo=here)
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        await send(pilot, f"/repo {other}")  # the latest switch is what --continue restores
        await wait_idle(pilot, app)
        await send(pilot, "what is here?")
        await wait_idle(pilot, app)
        conversation = app.conversation
    assert conversation is not None
    assert history.conversation(conversation).repo == str(other.resolve())  # type: ignore[union-attr]

    # `codemm chat --continue` run in `here`: the conversation's repository comes back
    backend = FakeBackend(repo=here)
    resumed = ChatApp(backend, history, conversation=conversation)  # type: ignore[arg-type]
    async with resumed.run_test() as pilot:
        await wait_idle(pilot, resumed)
        assert backend.repo == other.resolve()
        assert "repo other" in str(resumed.query_one("#status").render())

    # `codemm chat --continue --repo here`: the user's choice wins, and is what the conversation keeps
    backend = FakeBackend(repo=here)
    chosen = ChatApp(backend, history, conversation=conversation, repo_given=True)  # type: ignore[arg-type]
    async with chosen.run_test() as pilot:
        await wait_idle(pilot, chosen)
        assert backend.repo == here.resolve()
    assert history.conversation(conversation).repo == str(here.resolve())  # type: ignore[union-attr]

    history.set_repo(conversation, other.resolve())
    shutil.rmtree(other)
    backend = FakeBackend()
    gone = ChatApp(backend, history, conversation=conversation)  # type: ignore[arg-type]
    async with gone.run_test() as pilot:
        await wait_idle(pilot, gone)
        assert backend.repo is None
        expected = (
            f"This conversation's repository {other.resolve()} no longer exists; continuing without a repository."
        )
        assert expected in text_of(gone, ".notice.error")
        assert any("no longer exists" in n.message for n in gone._notifications)
        assert len(gone.query(".user")) == 1  # the conversation itself is there


def test_chat_command_tells_the_app_whether_repo_was_given(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from codemm import cli
    from codemm.tui import app as tui_app

    calls = []
    monkeypatch.setattr(tui_app, "run_chat", lambda backend, cont, repo_given=False: calls.append((cont, repo_given)))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli.app, ["chat", "--continue"]).exit_code == 0
    assert runner.invoke(cli.app, ["chat", "--continue", "--repo", str(tmp_path)]).exit_code == 0
    assert calls == [(True, False), (True, True)]


def test_loading_screen_snapshot(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gate = threading.Event()
    app, _, _ = app_with(tmp_path, load_gate=gate)

    async def ask_while_loading(pilot) -> None:  # type: ignore[no-untyped-def]
        await send(pilot, "How do I reverse a string?")
        await pilot.pause()

    try:
        assert snap_compare(app, run_before=ask_while_loading, terminal_size=(110, 32))
    finally:
        gate.set()


def test_main_screen_snapshot(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = app_with(tmp_path)

    async def ask(pilot) -> None:  # type: ignore[no-untyped-def]
        await wait_idle(pilot, app)
        await send(pilot, "How do I reverse a string?")
        await wait_idle(pilot, app)
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, run_before=ask, terminal_size=(110, 32))


def test_context_panel_snapshot(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = blank_shot(tmp_path)
    app, _, _ = app_with(tmp_path)

    async def open_chunk(pilot) -> None:  # type: ignore[no-untyped-def]
        await wait_idle(pilot, app)
        await send(pilot, "Where is parse_due_date?")
        await wait_idle(pilot, app)
        await send(pilot, f"/image {image}")
        app.clear_notifications()
        app.query_one("#sources").focus()
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(app, run_before=open_chunk, terminal_size=(110, 32))
