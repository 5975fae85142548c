"""The navigation tools through the official MCP client, on a server over a small package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.intel.conftest import PY_FILES, marked, write
from tests.test_mcp import StdioClient, server_env


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StdioClient, Path]]:
    home = tmp_path_factory.mktemp("mcp-nav-home")
    repo = write(tmp_path_factory.mktemp("mcp-nav") / "repo", PY_FILES)
    client = StdioClient(["--repo", str(repo)], server_env(home), home / "server.log")
    yield client, repo
    client.close()


def lines(items: list[dict]) -> set[tuple[str, int]]:  # type: ignore[type-arg]
    return {(item["path"], item["line"]) for item in items}


def test_find_references_by_qualified_name_keeps_only_its_uses(served: tuple[StdioClient, Path]) -> None:
    client, repo = served
    data = client.ok("find_references", {"symbol": "pkg.get"})
    expected = set().union(
        *(marked(repo, f"get:{k}") for k in ("import", "all", "call", "call-local", "default", "value"))
    )
    assert lines(data["references"]) == expected
    assert {r["tier"] for r in data["references"]} == {"precise"}
    assert [d["path"] for d in data["definitions"]] == ["pkg/api.py"]


def test_find_references_takes_a_location(served: tuple[StdioClient, Path]) -> None:
    client, repo = served
    ((path, line),) = marked(repo, "client-get:use")
    column = (repo / path).read_text().splitlines()[line - 1].index("get") + 1
    data = client.ok("find_references", {"symbol": f"{path}:{line}:{column}"})
    assert [d["symbol"] for d in data["definitions"]] == ["Client"]
    assert (path, line) in lines(data["references"])


def test_find_references_of_an_unknown_name_is_a_text_match(served: tuple[StdioClient, Path]) -> None:
    client, _ = served
    data = client.ok("find_references", {"symbol": "isinstance"})
    assert data["references"] and {r["tier"] for r in data["references"]} == {"text"}


def test_goto_definition_and_inherited_find_definition(served: tuple[StdioClient, Path]) -> None:
    client, repo = served
    ((path, line),) = marked(repo, "build:inherited")
    (found,) = client.ok("goto_definition", {"location": f"{path}:{line}"})["definitions"]
    assert (found["path"], found["symbol"], found["tier"]) == ("pkg/client.py", "BaseClient", "precise")
    (inherited,) = client.ok("find_definition", {"symbol": "Client.build_request"})["definitions"]
    assert (inherited["path"], inherited["line"]) == (found["path"], found["line"])
    (qualified,) = client.ok("find_definition", {"symbol": "pkg.get"})["definitions"]
    assert qualified["path"] == "pkg/api.py"


def test_call_and_type_hierarchy(served: tuple[StdioClient, Path]) -> None:
    client, _ = served
    calls = client.ok("call_hierarchy", {"symbol": "Client.send", "direction": "callers"})
    assert [(c["symbol"]["name"], c["symbol"]["symbol"]) for c in calls["callers"]] == [("get", "Client")]
    assert calls["callees"] == []
    types = client.ok("type_hierarchy", {"symbol": "BaseClient"})
    assert {s["name"] for s in types["subclasses"]} == {"Client", "AsyncClient"}


def test_bad_locations_are_one_line_errors(served: tuple[StdioClient, Path]) -> None:
    client, _ = served
    assert "not a file" in client.error("goto_definition", {"location": "missing.py:3"})
    assert "not a location" in client.error("goto_definition", {"location": "pkg/api.py"})
    assert "direction" in client.error("call_hierarchy", {"symbol": "pkg.get", "direction": "up"})
    assert "not a class" in client.error("type_hierarchy", {"symbol": "pkg.get"})
