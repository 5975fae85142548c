"""The people's text of navigation results: every hit's location, tier and line, and what the tiers mean."""

from __future__ import annotations

from pathlib import Path

from codemm.intel import render
from codemm.intel.navigator import Navigator


def test_references_text_shows_each_use_with_its_tier_and_line(pyrepo: Path) -> None:
    data = Navigator(pyrepo).references("pkg.get").as_json()
    text = render.references(data)
    for ref in data["groups"][0]["references"]:
        assert f"{ref['location']}  [precise] {ref['kind']}" in text
    assert "precise: resolved by analysis" in text
    assert render.references({"target": "nothing", "groups": []}) == "no definition found for nothing"


def test_text_tier_is_said_to_be_a_name_match(pyrepo: Path) -> None:
    (pyrepo / "pkg" / "dyn.py").write_text("def handle(x):\n    return x.close()\n", encoding="utf-8")
    found = [loc.as_json() for loc in Navigator(pyrepo).goto("pkg/dyn.py", 2)]
    text = render.definitions({"target": "pkg/dyn.py:2", "definitions": found})
    assert "[text]" in text and "matched by name only" in text


def test_hierarchy_and_calls_text(pyrepo: Path) -> None:
    nav = Navigator(pyrepo)
    hierarchy = render.hierarchy(nav.hierarchy("BaseClient").as_json())
    assert hierarchy.count("subclass: ") == 2 and "class Client(BaseClient):" in hierarchy
    calls = render.calls(nav.callers("Client.send").as_json())
    assert "<- pkg/client.py:" in calls and "def get(self, url):" in calls
