"""The chat UI on the real pipeline (tiny random model, sample repository): what the fakes stand for."""

from __future__ import annotations

import time
from pathlib import Path

from codemm.config import Settings
from codemm.session import AskSession
from codemm.tui.app import ChatApp, PromptArea
from codemm.tui.history import ChatHistory

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-repo"


async def test_real_backend_answers_with_sources(tiny_llama_long_dir: Path, tmp_path: Path) -> None:
    backend = AskSession(Settings(model=str(tiny_llama_long_dir), max_new_tokens=12), repo=SAMPLE)
    history = ChatHistory(tmp_path / "chat.sqlite")
    app = ChatApp(backend, history)
    async with app.run_test() as pilot:
        deadline = time.monotonic() + 120
        while (backend.model is None or backend.index is None) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        area = app.query_one(PromptArea)
        area.text = "Where is parse_due_date defined?"
        await pilot.press("enter")
        while (app.generating or backend.model is None) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause()
        stored = history.messages(app.conversation)
        assert [m.role for m in stored] == ["user", "assistant"] and not stored[1].partial
        assert app.last_result.prepared.prompt.included[0].path == "tasktracker/dates.py"
        assert len(app.query_one("#sources").children) >= 1
