"""The diagram on every surface: MCP through the official client (Mermaid text, and a PNG as
base64 when asked), the CLI (text, files, check's exit code), and `/diagram` in the chat."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from tests.diagram.fixtures import make_repo
from tests.diagram.test_render import needs_graphviz

ROOT = Path(__file__).resolve().parents[2]
DIAGRAMS = Path(__file__).parent / "diagrams"


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}


def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "codemm.cli", *args], capture_output=True, timeout=300, env=env())


@needs_graphviz
def test_mcp_diagram_tool_through_the_official_client(tmp_path: Path) -> None:
    from PIL import Image

    repo = make_repo(tmp_path / "repo")
    params = StdioServerParameters(command=sys.executable, env=env(),
                                   args=["-m", "codemm.cli", "mcp", "--repo", str(repo), "--no-embed"])  # fmt: skip

    async def session() -> tuple[Any, Any, Any]:
        with (tmp_path / "stderr.log").open("w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as client:
                await client.initialize()
                listed = await client.list_tools()
                called = await client.call_tool("diagram", {"kind": "modules", "target": "shop", "image": True})
                refused = await client.call_tool("diagram", {"kind": "modules", "max_nodes": 1})
                return listed, called, refused

    listed, called, refused = asyncio.run(session())
    tool = next(t for t in listed.tools if t.name == "diagram")
    assert tool.input_schema["required"] == ["kind"] and tool.annotations.read_only_hint is True
    result = called.structured_content
    assert result["mermaid"].startswith("flowchart LR") and "shop/money.py:1" in result["mermaid"]
    assert ["shop.money", "shop.rates"] in result["cycles"]
    assert {n["location"] for n in result["nodes"]} >= {"shop/models.py:1", "shop/api/views.py:1"}
    png = Image.open(io.BytesIO(base64.b64decode(result["png_base64"])))
    assert png.format == "PNG" and png.width > 100
    text, image = called.content  # the Mermaid for a reader, the picture as an MCP image
    assert text.type == "text" and text.text.startswith("flowchart LR") and "svg: " in text.text
    assert image.type == "image" and image.mime_type == "image/png" and image.data == result["png_base64"]
    assert Path(result["svg_path"]).read_text().count("<svg") == 1
    message = refused.content[0].text
    assert refused.is_error and "max_nodes" in message and "\n" not in message


@needs_graphviz
def test_cli_text_files_json_and_check(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    text = cli("diagram", "modules", "shop", "--repo", str(repo))
    assert text.returncode == 0, text.stderr
    assert text.stdout.decode().startswith("flowchart LR") and b"shop.api.views" in text.stdout
    dot = cli("diagram", "classes", "shop", "-f", "dot", "-r", str(repo))
    assert dot.stdout.startswith(b'digraph "classes"') and b'arrowhead="empty"' in dot.stdout
    for fmt, magic in (("svg", b"<?xml"), ("png", b"\x89PNG")):
        out = tmp_path / f"modules.{fmt}"
        made = cli("diagram", "modules", "--format", fmt, "--out", str(out), "--repo", str(repo))
        assert made.returncode == 0, made.stderr
        assert out.read_bytes().startswith(magic) and out.stat().st_size > 1000
    as_json = json.loads(cli("diagram", "classes", "OrderView", "--json", "-r", str(repo)).stdout)
    assert {n["id"] for n in as_json["nodes"]} >= {"shop.api.views.OrderView", "shop.models.Order"}
    bad = cli("diagram", "modules", "-f", "gif", "-r", str(repo))
    assert bad.returncode == 2 and bad.stderr.decode().strip() == (
        "codemm: error: unknown format 'gif'; use one of mermaid, dot, svg, png"
    )
    stale = cli("diagram", "check", str(DIAGRAMS / "arch.mmd"), "-r", str(repo))
    assert stale.returncode == 1  # drift fails a CI step
    lines = stale.stdout.decode().splitlines()
    assert any(ln.startswith("missing_node") and "shop.billing" in ln for ln in lines)
    assert lines[-1] == "4 nodes matched the code, 5 differences"
    assert cli("diagram", "check", str(DIAGRAMS / "classes.mmd"), "-r", str(repo)).returncode == 0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_chat_diagram_command_shows_the_mermaid_and_the_svg(tmp_path: Path) -> None:
    from codemm.tui.app import ChatApp
    from codemm.tui.history import ChatHistory
    from tests.tui.fakes import FakeBackend
    from tests.tui.test_chat import send, wait_idle

    repo = make_repo(tmp_path / "repo")
    app = ChatApp(FakeBackend(repo=repo), ChatHistory(tmp_path / "chat.sqlite"))  # type: ignore[arg-type]
    async with app.run_test() as pilot:
        await wait_idle(pilot, app)
        await send(pilot, "/diagram classes OrderView")
        await wait_idle(pilot, app)
        for _ in range(100):
            shown = [str(w.render()) for w in app.query(".notice.tool")]
            if shown and "…" not in shown[-1].splitlines()[0]:
                break
            await pilot.pause(0.05)
        text = shown[-1]
        assert text.startswith("/diagram classes OrderView\nclassDiagram")
        assert '["OrderView"]' in text and "--|>" in text and "shop/api/views.py:12" in text
        for _ in range(100):  # the picture, under the text (here no terminal graphics: unicode art)
            if app.query(".picture"):
                break
            await pilot.pause(0.05)
        (picture,) = app.query(".picture")
        assert picture.image.size[0] > 100 and picture.size.height > 3
        assert str(picture.render()).strip()  # drawn as text where the terminal has no graphics
        await send(pilot, "/diagram modules shop image=true")
        await wait_idle(pilot, app)
        for _ in range(100):
            shown = [str(w.render()) for w in app.query(".notice.tool")]
            if len(shown) == 2 and "svg: " in shown[-1]:
                break
            await pilot.pause(0.05)
        svg = Path(shown[-1].rsplit("svg: ", 1)[1].strip())
        assert svg.suffix == ".svg" and "shop.models" in svg.read_text()
        assert "cycle: shop.money -> shop.rates" in shown[-1]
        await send(pilot, "/diagram modules shop image=false")  # asked for none: the text alone
        await wait_idle(pilot, app)
        for _ in range(100):
            if len(app.query(".notice.tool")) == 3 and "…" not in str(app.query(".notice.tool")[-1].render()):
                break
            await pilot.pause(0.05)
        assert len(app.query(".picture")) == 2
    app.close_repo_tools()
