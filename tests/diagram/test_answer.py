"""A question that asks for a diagram gets one drawn from the code, ahead of the model's prose."""

from __future__ import annotations

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
