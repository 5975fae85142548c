"""`codemm mcp` against hostile calls (issue 23), through the official MCP SDK's stdio client: NUL
bytes, huge ranges, wrong types, negative numbers, ``..``, links into ``.git``, a directory, a binary
file, an image that is not one, base64 garbage. Each must be a tool error of ONE line with no
traceback and no absolute server path, and the server must go on answering."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_mcp import SAMPLE, SCREENSHOT, StdioClient, server_env

SECRET = "https://alice:ghp_secret_token@example.com/team/repo.git"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StdioClient, Path]]:
    """A server on a copy of the sample repository holding the traps the calls aim at."""
    home = tmp_path_factory.mktemp("mcp-hostile-home")
    repo = tmp_path_factory.mktemp("mcp-hostile") / "sample-repo"
    shutil.copytree(SAMPLE, repo)
    (repo / ".git").mkdir()
    (repo / ".git" / "config").write_text(f'[remote "origin"]\n\turl = {SECRET}\n')
    (repo / "cfg.txt").symlink_to(".git/config")
    (repo / "g").symlink_to(".git")
    (repo / "blob.bin").write_bytes(bytes(range(256)) * 4)
    (repo / "fake.png").write_text("not a picture\n")
    (repo / "cut.png").write_bytes(SCREENSHOT.read_bytes()[:300])
    (repo / "one_line.js").write_text("x" * 5_000_000)
    (repo / "loop_a.py").symlink_to("loop_b.py")
    (repo / "loop_b.py").symlink_to("loop_a.py")
    client = StdioClient(["--repo", str(repo), "--no-embed"], server_env(home), home / "server.log")
    yield client, repo
    client.close()


CALLS: list[Any] = [
    ("read_range", {"path": "\u0000"}, "NUL"),
    ("read_range", {"path": "tasktracker/\u0000dates.py"}, "NUL"),
    ("read_range", {"path": "a/" * 3000 + "b.py"}, "too long"),
    ("read_range", {"path": "tasktracker/dates.py", "start": 10**12}, "past the end"),
    ("read_range", {"path": "tasktracker/dates.py", "start": 5, "end": -1}, "before start"),
    ("read_range", {"path": "../../etc/passwd"}, "'..'"),
    ("read_range", {"path": "/etc/passwd"}, "absolute"),
    ("read_range", {"path": "cfg.txt"}, "into .git"),
    ("read_range", {"path": "g/config"}, "into .git"),
    ("read_range", {"path": ".git/config"}, "inside .git"),
    ("read_range", {"path": "loop_a.py"}, "loop_a.py"),
    ("read_range", {"path": "tasktracker"}, "not a regular file"),
    ("read_range", {"path": "blob.bin"}, "binary"),
    ("read_screenshot", {"image": "\u0000"}, "NUL"),
    ("read_screenshot", {"image": "cfg.txt"}, "into .git"),
    ("read_screenshot", {"image": "../shot.png"}, "'..'"),
    ("read_screenshot", {"image": "/etc/shadow.png"}, "outside the repository"),
    ("read_screenshot", {"image": "fake.png"}, "not an image"),
    ("read_screenshot", {"image": "cut.png"}, "truncated or corrupt"),
    ("read_screenshot", {"image": "blob.bin"}, "not an image"),
    ("read_screenshot", {"image": "not base64 at all!"}, "neither a repository path"),
    ("read_screenshot", {"image": "data:image/png;base64,@@@@"}, "neither a repository path"),
    ("read_screenshot", {"image": base64.b64encode(b"GIF89a" + b"\0" * 64).decode()}, "not a PNG or JPEG"),
    ("read_screenshot", {"image": "A" * (15 * 2**20)}, "the limit is 10 MiB"),
    ("find_definition", {"symbol": "."}, "ends with a dot"),
    ("read_range", {"path": 3}, "path"),  # pydantic validation, on one line
    ("read_range", {"path": None}, "path"),  # pydantic validation, on one line
    ("read_range", {"path": "tasktracker/dates.py", "start": -5}, "start"),  # pydantic validation, on one line
    ("read_range", {"path": "tasktracker/dates.py", "start": "x"}, "start"),  # pydantic validation, on one line
    ("read_range", {"path": "tasktracker/dates.py", "end": 1.5}, "end"),  # pydantic validation, on one line
    ("read_range", {}, "path"),  # pydantic validation, on one line
    ("read_screenshot", {"image": ["a.png"]}, "image"),  # pydantic validation, on one line
    ("search_code", {"query": "dates", "k": -1}, "k"),  # pydantic validation, on one line
    ("search_code", {"query": "dates", "k": 10**6}, "k"),  # pydantic validation, on one line
    ("repo_map", {"tokens": -1}, "tokens"),  # pydantic validation, on one line
    ("repo_map", {"tokens": 10**9}, "tokens"),  # pydantic validation, on one line
    ("find_definition", {"symbol": {"a": 1}}, "symbol"),  # pydantic validation, on one line
]


def call_id(case: Any) -> str:
    name, arguments, _ = case.values if hasattr(case, "values") else case
    return f"{name}-{json.dumps(arguments)[:40]}"


@pytest.mark.parametrize(("name", "arguments", "expected"), CALLS, ids=[call_id(c) for c in CALLS])
def test_a_hostile_call_is_a_one_line_tool_error(
    hostile: tuple[StdioClient, Path], name: str, arguments: dict[str, Any], expected: str | None
) -> None:
    client, repo = hostile
    result = client.call(name, arguments)
    assert result.is_error, f"{name} answered {str(result.structured_content)[:200]}"
    text: str = result.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text and "internal error" not in text, text
    assert str(repo) not in text and str(repo.resolve()) not in text and str(Path.home()) not in text, text
    assert "ghp_secret" not in text and "\0" not in text
    if expected:
        assert expected in text, text
    assert "\n" not in text, text
    assert len(text) < 500, text[:500]


def test_huge_results_are_bounded_and_say_they_were_cut(hostile: tuple[StdioClient, Path]) -> None:
    client, _ = hostile
    data = client.ok("read_range", {"path": "one_line.js", "end": 10**12})
    assert data["truncated"] is True and data["cut_lines"] == [1] and "5000000 bytes long" in data["note"]
    result = client.call("read_range", {"path": "one_line.js"})
    assert len(result.model_dump_json()) < 200_000  # text and structured content together


def test_the_server_keeps_answering_after_every_hostile_call(hostile: tuple[StdioClient, Path]) -> None:
    client, _ = hostile
    for name, arguments, _ in (c.values if hasattr(c, "values") else c for c in CALLS):
        client.call(name, arguments)
    data = client.ok("read_range", {"path": "tasktracker/dates.py", "start": 10, "end": 10})
    assert data["text"].startswith("def parse_due_date")
    assert client.ok("find_definition", {"symbol": "parse_due_date"})["definitions"]
    assert client.transport_errors == []
