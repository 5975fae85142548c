"""A question that asks for a diagram gets one drawn from the code, ahead of the model's prose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codemm.diagram.answer import answer_diagram, wants_diagram
from codemm.repo.index import RepoIndex

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-repo"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> RepoIndex:
    index = RepoIndex(SAMPLE, db_path=tmp_path_factory.mktemp("answer") / "index.sqlite")
    index.refresh(embed=False)
    return index


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("Draw a call graph of what calls parse_due_date", True),
        ("Show me a class diagram of the storage", True),
        ("draw the modules under tasktracker/", True),
        ("Can you visualise the import graph?", True),
        ("How is the chart drawn on the page?", False),  # about code that draws, not a picture of it
        ("Where is parse_due_date defined?", False),
        ("Give me an architecture diagram of how tasks are saved", True),
        ("the call graph for parse_due_date", True),
        ("How does the Mermaid parser handle subgraphs?", False),
        ("Fix the crash in the flowchart renderer", False),
        ("What does visualize() return?", False),
        ("How does pip resolve the dependency tree?", False),
        ("How does Python compute the class hierarchy MRO here?", False),
        ("What does the import graph setting do?", False),
        ("Where does the code draw the callers' avatars?", False),
        ("Which function draws the diagram legend?", False),
    ],
)
def test_what_asks_for_a_diagram(question: str, asks: bool) -> None:
    assert wants_diagram(question) is asks


def test_the_kind_and_target_come_from_the_question(sample: RepoIndex) -> None:
    calls = answer_diagram(sample, "Draw a call graph of what calls parse_due_date", [])
    assert calls is not None and (calls.kind, calls.target) == ("calls", "parse_due_date")
    assert 'href "tasktracker/dates.py#L10"' in calls.mermaid and '"test_bad_date"' in calls.mermaid
    assert calls.render().endswith("```") and "```mermaid\nflowchart LR" in calls.render()
    modules = answer_diagram(sample, "a diagram of the imports of tasktracker/", [])
    assert modules is not None and (modules.kind, modules.target) == ("modules", "tasktracker")
    assert modules.edges == modules.mermaid.count(" --> ") > 0
    # A folder that is not the repository's: the modules around what retrieval found instead.
    lost = answer_diagram(sample, "a dependency graph of nowhere/", ["tasktracker/storage.py"])
    assert lost is not None and (lost.kind, lost.target) == ("modules", "tasktracker")
    assert answer_diagram(sample, "Where is parse_due_date defined?", []) is None


def test_ask_with_a_stale_diagram_picture_states_what_no_longer_holds(tmp_path: Path) -> None:
    """`ask --image arch.png "does the code still match this diagram?"`: the labels read off the
    picture are checked against the code ahead of the model's prose."""
    from codemm.config import Settings
    from codemm.diagram import draw
    from codemm.diagram.formats import render
    from codemm.session import AskSession
    from codemm.vision.ocr import available_backends
    from tests.diagram.fixtures import make_repo
    from tests.models.fake_model import FakeModel

    if not available_backends() or shutil.which("dot") is None:
        pytest.skip("needs OCR and Graphviz")
    index = RepoIndex(make_repo(tmp_path / "repo"), db_path=tmp_path / "index.sqlite")
    index.refresh(embed=False)
    picture = tmp_path / "arch.png"
    picture.write_bytes(render(draw(index, "modules", "shop"), "png"))
    (index.root / "shop" / "rates.py").unlink()  # the code moved on since the picture was drawn
    index.refresh(embed=False)
    session = AskSession(Settings(), model=FakeModel(), repo=index.root, index=index)
    session.attach_image(picture)
    prepared, stream = session.ask("Does the code still match this diagram?")
    result = session.finish(stream.text(), stream, prepared)
    (report,) = prepared.drift
    assert prepared.diagram is None  # the check was asked for, not a new drawing
    assert [f.source for f in report.findings] == ["shop.rates"]
    assert "Diagram check of arch.png" in result.answer
    assert "'shop.rates' is in the diagram, not in the code [arch.png:" in result.answer
    assert result.to_json()["diagram_checks"][0]["findings"][0]["source"] == "shop.rates"
    assert not session.ask("What does shop.money hold?")[0].drift  # not a question about the picture
    assert not session.ask("Why does the total not match the price I typed?")[0].drift  # nor a diagram
