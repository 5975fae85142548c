"""`codemm mcp`: the official MCP SDK's own stdio client starts the server, lists its tools and calls
each one, as an editor or agent would. Also: refused paths, corrupt images, wrong arguments, an
edit between calls, the repository deleted while serving, and a stdout that carries nothing but
the protocol."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult

from codemm.vision.ocr import available_backends

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-repo"
SCREENSHOT = ROOT / "eval" / "suites" / "screenshots" / "traceback-dark-14.png"
TRACEBACK_LOCATION = "tasktracker/dates.py:28 (in parse_due_date)"
TOOLS = {"search_code", "repo_map", "find_definition", "find_references", "read_range", "read_screenshot", "ask",
         "goto_definition", "call_hierarchy", "type_hierarchy", "diagram",
         "list_adapters"}  # fmt: skip
needs_ocr = pytest.mark.skipif(not available_backends(), reason="no OCR backend installed")


class StdioClient:
    """The SDK's async client on a loop of its own, so one server can serve a module's tests."""

    def __init__(self, args: list[str], env: dict[str, str], errlog: Path) -> None:
        self.transport_errors: list[Exception] = []
        """Anything on the server's stdout that is not a protocol message ends up here."""
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.errlog = errlog.open("w")
        params = StdioServerParameters(command=sys.executable, args=["-m", "codemm.cli", "mcp", *args], env=env)
        ready: concurrent.futures.Future[ClientSession] = concurrent.futures.Future()
        self.main = asyncio.run_coroutine_threadsafe(self._serve(params, ready), self.loop)
        self.session = ready.result(timeout=120)

    async def _serve(self, params: StdioServerParameters, ready: concurrent.futures.Future[ClientSession]) -> None:
        self.stop = asyncio.Event()

        async def on_message(message: Any) -> None:
            if isinstance(message, Exception):
                self.transport_errors.append(message)

        try:
            async with (
                stdio_client(params, errlog=self.errlog) as (read, write),
                ClientSession(read, write, message_handler=on_message) as session,
            ):
                await session.initialize()
                ready.set_result(session)
                await self.stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        future = asyncio.run_coroutine_threadsafe(self.session.call_tool(name, arguments or {}), self.loop)
        return future.result(timeout=300)

    def ok(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        result = self.call(name, arguments)
        assert not result.is_error, result.content
        assert isinstance(result.structured_content, dict)
        return result.structured_content

    def error(self, name: str, arguments: dict[str, Any] | None = None) -> str:
        result = self.call(name, arguments)
        assert result.is_error, result.structured_content
        text: str = result.content[0].text  # type: ignore[union-attr]
        assert "Traceback" not in text
        return text

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        try:
            self.main.result(timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.errlog.close()


def server_env(home: Path, **extra: str) -> dict[str, str]:
    """The test's own environment (the SDK passes only a few variables by default), with codemm's
    dirs in ``home`` and this checkout first on the path."""
    env = dict(os.environ)
    env.update(CODEMM_CONFIG_DIR=str(home / "config"), CODEMM_DATA_DIR=str(home / "data"),
               CODEMM_CACHE_DIR=str(home / "cache"), HF_HUB_OFFLINE="1", **extra)  # fmt: skip
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory, tiny_llama_long_dir: Path) -> Iterator[StdioClient]:
    """A server on the sample repository itself; its ask runs the tiny random model."""
    home = tmp_path_factory.mktemp("mcp-home")
    env = server_env(home, CODEMM_MODEL=str(tiny_llama_long_dir), CODEMM_MAX_NEW_TOKENS="8")
    client = StdioClient(["--repo", str(SAMPLE)], env, home / "server.log")
    yield client
    client.close()


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StdioClient, Path]]:
    """A server on a copy of the sample repository, with a link out of it and a screenshot in it."""
    home = tmp_path_factory.mktemp("mcp-copy-home")
    repo = tmp_path_factory.mktemp("mcp-copy") / "sample-repo"
    shutil.copytree(SAMPLE, repo)
    secret = home / "secret.txt"
    secret.write_text("not for agents\n")
    (repo / "notes.txt").symlink_to(secret)
    (repo / "docs").mkdir()
    shutil.copy(SCREENSHOT, repo / "docs" / "traceback.png")
    client = StdioClient(["--repo", str(repo)], server_env(home), home / "server.log")
    yield client, repo
    client.close()


# -- the sample repository ----------------------------------------------------------------------


def test_lists_every_tool_with_a_schema_and_a_one_line_description(sample: StdioClient) -> None:
    listed = asyncio.run_coroutine_threadsafe(sample.session.list_tools(), sample.loop).result(timeout=60)
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and "\n" not in tool.description and len(tool.description) < 200, tool.name
        assert tool.input_schema["type"] == "object"
    search = tools["search_code"].input_schema
    assert search["required"] == ["query"] and search["properties"]["query"]["type"] == "string"
    assert search["properties"]["k"]["type"] == "integer" and search["properties"]["k"]["default"] == 10
    assert set(tools["read_range"].input_schema["properties"]) == {"path", "start", "end"}


def test_search_code_puts_the_due_date_parser_first(sample: StdioClient) -> None:
    hits = sample.ok("search_code", {"query": "parse a due date"})["hits"]
    assert hits[0]["path"] == "tasktracker/dates.py"
    assert hits[0]["start"] <= 10 <= hits[0]["end"] and "def parse_due_date" in hits[0]["text"]
    assert {"score", "sources"} <= set(hits[0]) and len(hits) <= 10


def test_find_definition_gives_path_and_line(sample: StdioClient) -> None:
    found = sample.ok("find_definition", {"symbol": "parse_due_date"})["definitions"]
    assert [d["location"] for d in found] == ["tasktracker/dates.py:10"]
    assert found[0]["signature"].startswith("def parse_due_date(")
    assert sample.ok("find_definition", {"symbol": "no_such_function"})["definitions"] == []


def test_find_references_lists_the_callers(sample: StdioClient) -> None:
    refs = sample.ok("find_references", {"symbol": "parse_due_date"})["references"]
    calls = {(r["location"], r["in"]) for r in refs if r["kind"] == "call"}
    assert ("tasktracker/__main__.py:36", "main") in calls
    assert ("tests/test_dates.py:11", "test_relative_dates") in calls
    assert all("parse_due_date" in r["text"] for r in refs)


def test_read_range_returns_the_lines_asked_for(sample: StdioClient) -> None:
    data = sample.ok("read_range", {"path": "tasktracker/dates.py", "start": 10, "end": 12})
    lines = (SAMPLE / "tasktracker" / "dates.py").read_text().splitlines(keepends=True)
    assert data["text"] == "".join(lines[9:12]) and (data["start"], data["end"]) == (10, 12)
    assert data["truncated"] is False


def test_read_range_refuses_paths_outside_the_repository(sample: StdioClient) -> None:
    assert "goes up with '..'" in sample.error("read_range", {"path": "../../etc/passwd"})
    assert "is absolute" in sample.error("read_range", {"path": "/etc/passwd", "start": 1, "end": 3})
    assert "no file tasktracker/nope.py" in sample.error("read_range", {"path": "tasktracker/nope.py"})


@needs_ocr
def test_read_screenshot_from_base64_verifies_the_traceback_location(sample: StdioClient) -> None:
    data = sample.ok("read_screenshot", {"image": base64.b64encode(SCREENSHOT.read_bytes()).decode()})
    assert "parse_due_date" in data["text"] and data["read_by"].startswith("ocr:")
    verified = [loc["label"] for loc in data["locations"] if loc["verified"]]
    assert TRACEBACK_LOCATION in verified


def test_a_corrupt_or_undecodable_image_is_a_tool_error(sample: StdioClient) -> None:
    corrupt = base64.b64encode(SCREENSHOT.read_bytes()[:200]).decode()  # a PNG cut short
    message = sample.error("read_screenshot", {"image": corrupt})
    assert "the inline image is truncated or corrupt" in message and "\n" not in message
    assert "not a PNG or JPEG" in sample.error("read_screenshot", {"image": base64.b64encode(b"GIF89a...").decode()})
    assert "neither a repository path" in sample.error("read_screenshot", {"image": "not base64 at all!"})


def test_unknown_tools_and_wrong_argument_types_are_tool_errors(sample: StdioClient) -> None:
    assert "Unknown tool" in sample.error("no_such_tool", {})
    assert "query" in sample.error("search_code", {"query": 3})
    assert "k" in sample.error("search_code", {"query": "dates", "k": "many"})
    assert "Field required" in sample.error("read_range", {})


def test_ask_answers_with_checked_citations(sample: StdioClient) -> None:
    data = sample.ok("ask", {"question": "What does parse_due_date do?"})
    assert isinstance(data["answer"], str) and data["repo"] == str(SAMPLE)
    assert any(c["path"] == "tasktracker/dates.py" and c["valid"] for c in data["citations"]), data["citations"]
    assert "no adapter named 'nope'" in sample.error("ask", {"question": "What does it do?", "adapter": "nope"})
    assert sample.ok("ask", {"question": "And parse_due_date?"})["adapter"] is None  # the model stays usable


def test_list_adapters_is_empty_in_a_fresh_store(sample: StdioClient) -> None:
    assert sample.ok("list_adapters") == {"adapters": []}


def test_the_sample_server_wrote_only_protocol_to_stdout(sample: StdioClient) -> None:
    sample.ok("repo_map", {"tokens": 200})
    assert sample.transport_errors == []


# -- a copy of it: links, files on disk, edits, deletion --------------------------------------------


def test_a_symlink_out_of_the_repository_is_refused(copy: tuple[StdioClient, Path]) -> None:
    client, _ = copy
    message = client.error("read_range", {"path": "notes.txt"})
    assert "leads outside the repository" in message and "not for agents" not in message


@needs_ocr
def test_read_screenshot_from_a_repository_path(copy: tuple[StdioClient, Path]) -> None:
    client, _ = copy
    data = client.ok("read_screenshot", {"image": "docs/traceback.png"})
    assert TRACEBACK_LOCATION in [loc["label"] for loc in data["locations"] if loc["verified"]]
    assert "leads outside" in client.error("read_screenshot", {"image": "notes.txt"})


def test_a_file_written_between_calls_is_found_by_the_next_search(copy: tuple[StdioClient, Path]) -> None:
    client, repo = copy
    query = "count the public holidays between two dates"
    assert all(h["path"] != "tasktracker/holidays.py" for h in client.ok("search_code", {"query": query})["hits"])
    (repo / "tasktracker" / "holidays.py").write_text(
        'def count_public_holidays(start, end):\n    """Counts the public holidays between two dates."""\n'
        "    return sum(1 for day in HOLIDAYS if start <= day <= end)\n"
    )
    assert client.ok("search_code", {"query": query})["hits"][0]["path"] == "tasktracker/holidays.py"
    found = client.ok("find_definition", {"symbol": "count_public_holidays"})["definitions"]
    assert [d["location"] for d in found] == ["tasktracker/holidays.py:1"]


def test_the_repository_deleted_while_serving_is_a_clear_tool_error(copy: tuple[StdioClient, Path]) -> None:
    client, repo = copy  # the last test on this server: it takes the repository away
    shutil.rmtree(repo)
    for name, arguments in [("search_code", {"query": "due date"}), ("find_definition", {"symbol": "Task"}),
                            ("read_range", {"path": "tasktracker/dates.py"})]:  # fmt: skip
        message = client.error(name, arguments)
        assert f"the repository {repo} is gone" in message, message
    assert client.transport_errors == []
