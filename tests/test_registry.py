"""The tool registry: one declaration (plus its implementation) reaches the CLI, MCP through the
official client, the chat's /commands and serve's HTTP routes; arguments are checked once for every
surface, and results are bounded."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mcp import ClientSession, StdioServerParameters, stdio_client

from codemm.errors import BadInputError
from codemm.registry import TOOLS, cap_result, check_arguments, unregister

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-repo"
DATES_LINES = len((SAMPLE / "tasktracker" / "dates.py").read_text().splitlines())
TOY = textwrap.dedent(
    '''
    """A tool declared outside codemm, as a team would add one: a declaration and its implementation."""
    from typing import Annotated, Any

    from codemm.registry import Arg, tool


    @tool("count_lines", "How many lines a repository file has; a toy tool declared by the registry test.",
          cli="count-lines", chat="/count", render=lambda r: f"{r['path']}: {r['lines']} lines")
    def count_lines(
        tools: Any,
        path: Annotated[str, Arg("A file in the repository.", positional=True)],
        at_least: Annotated[int, Arg("Smallest count that is enough.", ge=0, le=1000)] = 0,
    ) -> dict[str, Any]:
        from codemm.repo.read import repo_file

        lines = len(repo_file(tools.root, path).read_text().splitlines())
        return {"path": path, "lines": lines, "enough": lines >= at_least}
    '''
)
# The toy module imported first, then codemm's CLI as `codemm` runs it.
RUN_CLI = "import toy_tool; from codemm.cli import main; main()"


@pytest.fixture
def toy_dir(tmp_path: Path) -> Path:
    (tmp_path / "toy_tool.py").write_text(TOY)
    return tmp_path


@pytest.fixture
def toy(toy_dir: Path) -> Iterator[None]:
    """The toy tool declared in this process, for the surfaces built in-process."""
    spec = importlib.util.spec_from_file_location("toy_tool", toy_dir / "toy_tool.py")
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    yield
    unregister("count_lines")


def env_with(toy_dir: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(toy_dir), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def cli(toy_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUN_CLI, *args], capture_output=True, text=True, timeout=300,
                          env={**env_with(toy_dir), "COLUMNS": "200"})  # fmt: skip


def test_a_declared_tool_is_a_cli_command_with_its_options(toy_dir: Path) -> None:
    helped = cli(toy_dir, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "count-lines" in helped.stdout and "How many lines a repository file has" in helped.stdout
    options = cli(toy_dir, "count-lines", "--help").stdout
    assert "--at-least" in options and "--repo" in options and "--json" in options
    ran = cli(toy_dir, "count-lines", "tasktracker/dates.py", "--repo", str(SAMPLE), "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"path": "tasktracker/dates.py", "lines": DATES_LINES, "enough": True}
    text = cli(toy_dir, "count-lines", "tasktracker/dates.py", "-r", str(SAMPLE)).stdout
    assert text.strip() == f"tasktracker/dates.py: {DATES_LINES} lines"
    # the declared limit holds on the CLI as everywhere: one line, exit 2
    bad = cli(toy_dir, "count-lines", "tasktracker/dates.py", "--at-least", "5000", "-r", str(SAMPLE))
    assert bad.returncode == 2 and bad.stderr.strip() == "codemm: error: at_least must be between 0 and 1000, got 5000"


def test_a_declared_tool_is_listed_and_called_over_mcp_by_the_official_client(toy_dir: Path, tmp_path: Path) -> None:
    params = StdioServerParameters(command=sys.executable, env=env_with(toy_dir),
                                   args=["-c", RUN_CLI, "mcp", "--repo", str(SAMPLE), "--no-embed"])  # fmt: skip

    async def session() -> tuple[Any, Any, Any]:
        with (tmp_path / "stderr.log").open("w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as client:
                await client.initialize()
                listed = await client.list_tools()
                called = await client.call_tool("count_lines", {"path": "tasktracker/dates.py", "at_least": 3})
                refused = await client.call_tool("count_lines", {"path": "tasktracker/dates.py", "at_least": "x"})
                return listed, called, refused

    listed, called, refused = asyncio.run(session())
    tools = {t.name: t for t in listed.tools}
    assert {"count_lines", "search_code", "find_references", "read_range"} <= set(tools)
    schema = tools["count_lines"].input_schema
    assert schema["required"] == ["path"]
    at_least = schema["properties"]["at_least"]
    assert {k: at_least[k] for k in ("type", "minimum", "maximum", "default")} == {
        "type": "integer", "minimum": 0, "maximum": 1000, "default": 0}  # fmt: skip
    assert tools["count_lines"].annotations.read_only_hint is True
    assert called.structured_content == {"path": "tasktracker/dates.py", "lines": DATES_LINES, "enough": True}
    assert refused.is_error
    message = refused.content[0].text  # type: ignore[union-attr]
    assert "at_least" in message and "\n" not in message  # pydantic's own error spans lines


async def test_a_declared_tool_is_a_chat_command_with_completion_and_help(toy: None, tmp_path: Path) -> None:
    from codemm.tui.app import ChatApp, ChunkScreen, PromptArea
    from codemm.tui.history import ChatHistory
    from tests.tui.fakes import FakeBackend
    from tests.tui.test_chat import send, wait_idle

    app = ChatApp(FakeBackend(repo=SAMPLE), ChatHistory(tmp_path / "chat.sqlite"))  # type: ignore[arg-type]
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        area = app.query_one(PromptArea)
        area.text = "/cou"
        area.move_cursor(area.document.end)
        await pilot.press("tab")
        assert area.text == "/count "
        await send(pilot, "/help")
        assert isinstance(app.screen, ChunkScreen) and "/count PATH [at_least=…]" in app.screen.text
        await pilot.press("escape")
        await send(pilot, "/count tasktracker/dates.py")
        await wait_idle(pilot, app)
        shown = [str(w.render()) for w in app.query(".notice.tool")]
        assert shown == [f"/count tasktracker/dates.py\ntasktracker/dates.py: {DATES_LINES} lines"]
        await send(pilot, "/count tasktracker/dates.py at_least=-1")
        await wait_idle(pilot, app)
        assert any("at_least must be between 0 and 1000, got -1" in n.message for n in app._notifications)
    app.close_repo_tools()


def test_a_declared_tool_is_an_http_route_on_serve(toy: None) -> None:
    from codemm.config import Settings
    from codemm.serve import create_app
    from codemm.session import AskSession

    with TestClient(create_app(AskSession(Settings(), repo=SAMPLE)), base_url="http://127.0.0.1") as client:
        listed = {t["name"]: t for t in client.get("/v1/tools").json()["data"]}
        assert "count_lines" in listed and "ask" not in listed  # answers go through the generation slots
        assert listed["count_lines"]["input_schema"]["properties"]["at_least"]["maximum"] == 1000
        ok = client.post("/v1/tools/count_lines", json={"path": "tasktracker/dates.py"})
        assert ok.status_code == 200 and ok.json()["lines"] == DATES_LINES
        refs = client.post("/v1/tools/find_references", json={"symbol": "parse_due_date"}).json()
        assert any(r["location"] == "tasktracker/__main__.py:36" for r in refs["references"])
        bad = client.post("/v1/tools/count_lines", json={"path": "tasktracker/dates.py", "at_least": 1001})
        assert (
            bad.status_code == 400 and bad.json()["error"]["message"] == "at_least must be between 0 and 1000, got 1001"
        )
        assert client.post("/v1/tools/nope", json={}).status_code == 404
        assert client.post("/v1/tools/count_lines", json=[1]).status_code == 400


def test_arguments_are_checked_once_for_every_surface(toy: None) -> None:
    spec = TOOLS["count_lines"]
    assert check_arguments(spec, {"path": "a.py", "at_least": "7"}) == {"path": "a.py", "at_least": 7}  # chat words
    for arguments, message in [
        ({}, "count_lines needs path: A file in the repository."),
        ({"path": "a.py", "colour": 1}, "count_lines takes no argument 'colour' (it takes path, at_least)"),
        ({"path": 3}, "count_lines: path must be a string, got int '3'"),
        ({"path": "a\x00b"}, "path contains a NUL byte"),
        ({"path": "a.py", "at_least": True}, "count_lines: at_least must be a whole number, got bool 'True'"),
        ({"path": "a.py", "at_least": 10**30}, f"at_least must be between 0 and 1000, got {10**30}"),
    ]:
        with pytest.raises(BadInputError) as caught:
            check_arguments(spec, arguments)
        assert str(caught.value) == message


def test_every_builtin_tool_reaches_each_surface_it_names() -> None:
    import codemm.tools  # noqa: F401
    from codemm.cli import app
    from codemm.tui.commands import chat_commands

    commands = {c.name for group in app.registered_groups for c in group.typer_instance.registered_commands}
    assert {"callers", "callees"} <= commands  # call_hierarchy's presets
    for spec in TOOLS.values():
        assert spec.cli is None or spec.cli in commands, spec.name
        assert all(preset in commands for preset, _ in spec.cli_presets), spec.name
        assert spec.cli is not None or spec.cli_note, f"{spec.name}: no CLI command and no note of which covers it"
        assert spec.chat is None or spec.chat in chat_commands(), spec.name
        assert spec.description and "\n" not in spec.description


def test_a_result_over_the_byte_cap_is_cut_and_says_so() -> None:
    result = {"path": "min.js", "text": "x" * 600_000, "lines": [{"text": "y" * 100} for _ in range(5)]}
    capped = cap_result(result, limit=64 * 1024)
    assert len(json.dumps(capped)) <= 64 * 1024
    assert capped["path"] == "min.js" and capped["text"].endswith("…[cut]") and "text" in capped["cut"]
    small = {"path": "a.py", "text": "short"}
    assert cap_result(small) is small
