"""The repository tools behind `codemm mcp` (codemm.tools), in process: line ranges and their limits,
paths that must be refused, inline images, names, and how failures reach an MCP client."""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from codemm.errors import BadInputError
from codemm.mcp_server import _run, build_mcp_server
from codemm.repo.read import MAX_LINES, read_range, repo_file
from codemm.tools import RepoTools
from codemm.vision.inline import decode_inline_image, is_inline

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-repo"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(SAMPLE, root)
    return root


@pytest.fixture
def tools(repo: Path) -> Iterator[RepoTools]:
    tools = RepoTools(repo, embed=False)
    yield tools
    tools.close()


def test_a_long_range_is_cut_and_says_where_to_go_on(repo: Path) -> None:
    (repo / "long.py").write_text("".join(f"x{i} = {i}\n" for i in range(1, 1001)))
    data = read_range(repo, "long.py", 101).as_json()
    assert (data["start"], data["end"], data["total_lines"]) == (101, 100 + MAX_LINES, 1000)
    assert data["truncated"] and "read on from line 501" in data["note"]
    assert data["text"].splitlines()[0] == "x101 = 101"
    assert read_range(repo, "long.py", 990, 5000).as_json()["text"].splitlines()[-1] == "x1000 = 1000"


def test_bad_ranges_and_paths_are_one_line_errors(repo: Path, tmp_path: Path) -> None:
    (repo / ".git").mkdir()
    (repo / ".git" / "config").write_text("[core]\n")
    (repo / "blob.bin").write_bytes(b"\0\1\2")
    (repo / "inside.py").symlink_to(repo / "tasktracker" / "dates.py")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "key.txt").write_text("secret\n")
    (repo / "out").symlink_to(tmp_path / "elsewhere")  # a linked folder leads out too
    cases = {
        ("tasktracker/dates.py", 0, None): "start must be 1 or more",
        ("tasktracker/dates.py", 5, 4): "end (4) is before start (5)",
        ("tasktracker/dates.py", 500, None): "start 500 is past the end",
        ("tasktracker/../tasktracker/dates.py", 1, None): "goes up with '..'",
        ("C:\\Windows\\win.ini", 1, None): "is absolute",
        (".git/config", 1, None): "inside .git",
        ("blob.bin", 1, None): "is a binary file",
        ("tasktracker", 1, None): "is not a regular file",
        ("out/key.txt", 1, None): "leads outside the repository",
        ("", 1, None): "the path is empty",
    }
    for (path, start, end), expected in cases.items():
        with pytest.raises(BadInputError, match=re.escape(expected)):
            read_range(repo, path, start, end)
    assert repo_file(repo, "inside.py") == (repo / "tasktracker" / "dates.py").resolve()  # a link within is fine


def test_inline_images_are_decoded_with_limits() -> None:
    png = (Path(__file__).resolve().parents[1] / "eval/suites/screenshots/traceback-dark-14.png").read_bytes()
    encoded = base64.b64encode(png).decode()
    assert is_inline(encoded) and is_inline("data:image/png;base64," + encoded) and not is_inline("shots/a.png")
    assert decode_inline_image(encoded.rstrip("="))[1] == ".png"  # padding may be lost on the way
    assert decode_inline_image("data:image/png;base64," + encoded)[0] == png
    with pytest.raises(BadInputError, match="the limit is 1 MiB"):
        decode_inline_image("A" * 2**21, max_bytes=2**20)
    with pytest.raises(BadInputError, match="must be base64"):
        decode_inline_image("data:image/png,rawbytes")


def test_definitions_by_qualified_name_and_references_with_their_callers(tools: RepoTools) -> None:
    found = tools.find_definition("TaskStore.load")["definitions"]
    assert [(d["parent"], d["name"]) for d in found] == [("TaskStore", "load")]
    assert tools.find_definition("Nothing.load")["definitions"] == []
    with pytest.raises(BadInputError, match="ends with a dot"):
        tools.find_definition("TaskStore.")
    refs = tools.find_references("TaskStore")["references"]
    assert refs and all(r["text"] and r["location"] == f"{r['path']}:{r['line']}" for r in refs)


def test_repo_map_counts_characters_when_no_model_is_loaded(tools: RepoTools) -> None:
    data = tools.repo_map(focus="due dates", tokens=60)
    assert data["counted_with"] == "characters / 4" and 0 < data["tokens"] <= 60
    assert "parse_due_date" in data["text"]
    with pytest.raises(BadInputError, match="tokens must be between"):
        tools.repo_map(tokens=0)


def test_a_bug_in_a_tool_reaches_the_client_as_one_line() -> None:
    def broken() -> dict[str, str]:
        raise RuntimeError("boom\nsecond line")

    with pytest.raises(ToolError) as caught:
        _run(broken)
    assert str(caught.value).startswith("internal error: RuntimeError: boom second line")
    with pytest.raises(ToolError, match="^disk full while running the tool"):
        _run(lambda: (_ for _ in ()).throw(OSError(28, "No space left on device")))


def test_the_server_can_be_mounted_over_http(tools: RepoTools) -> None:
    """`codemm serve` mounts the same server: its streamable HTTP app builds, with every tool."""
    server = build_mcp_server(tools)
    assert server.streamable_http_app(streamable_http_path="/mcp") is not None
    names = {tool.name for tool in asyncio.run(server.list_tools())}
    assert {"search_code", "read_screenshot", "ask", "goto_definition", "diagram"} <= names and len(names) == 12
