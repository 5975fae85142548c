"""Real SVG and PNG files from Graphviz, read back: the SVG's text and links, the PNG's size and
its labels by OCR; Mermaid and DOT text; the one-line error when no renderer is installed."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from codemm.diagram import DiagramOptions, draw
from codemm.diagram.formats import render, to_dot, to_mermaid, write
from codemm.errors import CodemmError
from codemm.repo.index import RepoIndex
from tests.diagram.fixtures import make_repo

needs_graphviz = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")


@pytest.fixture
def index(tmp_path: Path) -> RepoIndex:
    idx = RepoIndex(make_repo(tmp_path / "repo"))
    idx.refresh(embed=False)
    return idx


def test_mermaid_and_dot_text_link_every_node_to_its_code(index: RepoIndex) -> None:
    graph = draw(index, "modules", "shop")
    mermaid = to_mermaid(graph)
    assert mermaid.startswith("flowchart LR\n")
    assert 'href "shop/money.py#L1" "shop/money.py:1"' in mermaid
    assert mermaid.count("click ") == len(graph.nodes)
    assert "linkStyle" in mermaid and "stroke:red" in mermaid  # the money <-> rates cycle
    dot = to_dot(graph)
    assert dot.count("tooltip=") == len(graph.nodes) + len(graph.edges)
    assert 'color="red"' in dot
    classes = to_mermaid(draw(index, "classes", "shop"))
    assert classes.startswith("classDiagram") and "--|>" in classes and "*--" in classes


@needs_graphviz
def test_svg_and_png_are_rendered_and_read_back(index: RepoIndex, tmp_path: Path) -> None:
    from PIL import Image

    from codemm.vision.ocr import available_backends, ocr_image

    graph = draw(index, "classes", "shop")
    svg = write(graph, "svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert ">OrderView</text>" in svg and "shop/api/views.py#L12" in svg  # the label, the node's link
    png = render(graph, "png")
    (tmp_path / "classes.png").write_bytes(png)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width > 200 and image.height > 100
    if available_backends():  # OCR reads the drawn labels back
        text = ocr_image(image.convert("RGB")).text
        assert {"OrderView", "RefundView", "Money"} <= set(text.replace("|", " ").split()), text


def test_a_missing_renderer_is_one_line(index: RepoIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    graph = draw(index, "modules", "shop")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(CodemmError) as caught:
        write(graph, "png")
    assert str(caught.value) == (
        "no renderer for png: install Graphviz (apt-get install graphviz), or use --format mermaid or dot"
    )
    assert write(graph, "mermaid").startswith(b"flowchart")  # text formats need no renderer
    with pytest.raises(CodemmError, match="unknown format 'pdf'"):
        write(graph, "pdf")


def test_a_big_clustered_graph_renders_quickly(tmp_path: Path) -> None:
    """Package-level drawing keeps dot's input small (its time is the benchmark's, not this test's)."""
    root = tmp_path / "r"
    for p in range(30):
        for m in range(8):
            target = root / "app" / f"p{p:02d}" / f"m{m}.py"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"from app.p{(p + 1) % 30:02d} import m{m}\n")
    with RepoIndex(root) as idx:
        idx.refresh(embed=False)
        graph = draw(idx, "modules", "", DiagramOptions(max_nodes=20))
    assert len(graph.nodes) <= 20 and graph.clustered
    assert "concentrate=true" in to_dot(graph) or len(graph.nodes) <= 25
