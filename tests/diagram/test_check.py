"""Drift: small diagrams in each format read exactly, then checked against the fixture repository;
every difference is reported with its path:line evidence, and only the true ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemm.diagram import draw
from codemm.diagram.check import check_diagram, compare
from codemm.diagram.formats import render, to_dot
from codemm.diagram.readers import parse_diagram
from codemm.errors import BadInputError
from codemm.repo.index import RepoIndex
from tests.diagram.fixtures import make_repo
from tests.diagram.test_render import needs_graphviz

DIAGRAMS = Path(__file__).parent / "diagrams"


@pytest.fixture
def index(tmp_path: Path) -> RepoIndex:
    idx = RepoIndex(make_repo(tmp_path / "repo"))
    idx.refresh(embed=False)
    return idx


def findings(index: RepoIndex, name: str) -> set[tuple[str, str, str, str]]:
    report = check_diagram(index, DIAGRAMS / name)
    return {(f.what, f.source, f.target, f.evidence) for f in report.findings}


def test_a_stale_mermaid_flowchart(index: RepoIndex) -> None:
    assert findings(index, "arch.mmd") == {
        ("missing_node", "shop.billing", "", f"{DIAGRAMS / 'arch.mmd'}:6"),
        ("extra_edge", "shop.api.views", "shop.models", "shop/api/views.py:1 (and shop/models.py:1)"),
        ("missing_edge", "shop.models", "shop.money", "shop/models.py:3"),
        ("missing_edge", "shop.rates", "shop.money", "shop/rates.py:1"),
        ("missing_edge", "shop.api.views", "shop.rates", "shop/api/views.py:5"),
    }


def test_a_stale_plantuml_class_diagram_checks_only_the_relations_it_draws(index: RepoIndex) -> None:
    assert findings(index, "classes.puml") == {
        ("missing_node", "Invoice", "", f"{DIAGRAMS / 'classes.puml'}:6"),
        ("extra_edge", "shop.api.views.RefundView", "shop.api.views.Base",
         "shop/api/views.py:17 (and shop/api/views.py:8)"),
        ("missing_edge", "shop.api.views.RefundView", "shop.api.views.OrderView", "shop/api/views.py:17"),
    }  # fmt: skip


def test_dot_nodes_named_by_path(index: RepoIndex) -> None:
    assert findings(index, "modules.dot") == {
        ("missing_edge", "shop.money", "shop.rates", "shop/money.py:1"),
        ("missing_edge", "shop.rates", "shop.money", "shop/rates.py:1"),
    }


def test_drawio_vertices_with_markup_and_a_composition_edge(index: RepoIndex) -> None:
    assert findings(index, "model.drawio") == {
        ("missing_edge", "shop.models.Item", "shop.money.Money", "shop/models.py:8"),
        ("missing_edge", "shop.models.Order", "shop.models.Item", "shop/models.py:13"),
    }


def test_a_class_diagram_that_matches_has_no_findings(index: RepoIndex) -> None:
    assert findings(index, "classes.mmd") == set()
    source = parse_diagram((DIAGRAMS / "classes.mmd").read_text())
    assert {(e.source, e.target, e.kind) for e in source.edges} == {
        ("OrderView", "Base", "inherits"), ("RefundView", "OrderView", "inherits"),
        ("OrderView", "Order", "composes")}  # fmt: skip


@needs_graphviz
def test_codemm_own_svg_and_dot_round_trip_without_findings(index: RepoIndex) -> None:
    graph = draw(index, "modules", "shop")
    for text, suffix in ((render(graph, "svg").decode(), ".svg"), (to_dot(graph), ".dot")):
        source = parse_diagram(text, suffix)
        assert len(source.labels) == len(graph.nodes) and len(source.edges) == len(graph.edges)
        report = compare(index, source, f"modules{suffix}")
        assert report.findings == [] and len(report.matched) == len(graph.nodes)


def test_an_svg_without_graph_structure_gives_its_labels_and_says_edges_were_not_read() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><text x="1" y="2">shop.models</text><text>shop.money</text></svg>'
    source = parse_diagram(svg, ".svg")
    assert sorted(source.labels.values()) == ["shop.models", "shop.money"] and not source.edges
    assert "edges are not" in source.notes[0]


def test_not_a_diagram_is_one_line(tmp_path: Path, index: RepoIndex) -> None:
    (tmp_path / "notes.txt").write_text("just words\n")
    with pytest.raises(BadInputError, match="not a diagram source"):
        check_diagram(index, tmp_path / "notes.txt")
    with pytest.raises(BadInputError, match="cannot read the diagram"):
        check_diagram(index, tmp_path / "absent.mmd")


@needs_graphviz
def test_a_png_picture_is_read_by_ocr_and_its_stale_box_is_reported(index: RepoIndex, tmp_path: Path) -> None:
    from codemm.vision.ocr import available_backends

    if not available_backends():
        pytest.skip("no OCR backend installed")
    picture = tmp_path / "modules.png"
    picture.write_bytes(render(draw(index, "modules", "shop"), "png"))
    (index.root / "shop" / "rates.py").unlink()  # the code moved on since the picture was drawn
    index.refresh(embed=False)
    report = check_diagram(index, picture)
    assert report.format == "picture" and "edges could not be read" in report.notes[0]
    assert set(report.matched.values()) == {"shop", "shop.api", "shop.api.views", "shop.models", "shop.money"}
    assert [(f.what, f.source) for f in report.findings] == [("missing_node", "shop.rates")]
