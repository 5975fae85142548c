"""The precise tier's speed-ups keep its answers: one shared jedi state per repository, a quick
state without the callers' search asked first, and what a literal assignment says when jedi cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemm.intel import sources as sources_module
from codemm.intel.navigator import Navigator
from codemm.intel.python import _literal_types
from tests.intel.conftest import marked, write


def lines(locations) -> set[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return {(loc.path, loc.line) for loc in locations}


def test_a_receiver_known_only_from_its_callers_is_still_confirmed(tmp_path: Path) -> None:
    """``client`` has no annotation: only jedi's search for ``handle``'s callers (the full state,
    asked when the quick one finds nothing) says it is a Client."""
    root = write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/client.py": "class Client:\n    def send(self, data):\n        return data\n\n\n"
                         "class Other:\n    def send(self, data):\n        return None\n",
        "pkg/handler.py": "def handle(client):\n    return client.send(1)  # <- dyn\n",
        "app/main.py": "from pkg.client import Client\nfrom pkg.handler import handle\n\n"
                       "c: Client = Client()\nc.send(2)  # <- typed\nhandle(Client())\n",
    })  # fmt: skip
    nav = Navigator(root)
    got = lines(nav.references("pkg.client.Client.send").locations)
    assert got == marked(root, "dyn") | marked(root, "typed")
    assert lines(nav.references("pkg.client.Other.send").locations) == set()


def test_files_share_one_inference_state_until_an_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources_module, "WALK_EVERY_S", 0.0)
    root = write(tmp_path, {"a.py": "from b import f\nf()\n", "b.py": "def f():\n    return 1\n"})
    nav = Navigator(root)
    jedi = nav.python.jedi
    assert nav.goto("a.py", 2)[0].path == "b.py"
    shared = jedi.script("a.py")._inference_state
    assert jedi.script("b.py")._inference_state is shared
    assert jedi.script("a.py", quick=True)._inference_state is not shared  # no callers' search in it
    (root / "b.py").write_text("\ndef f():\n    return 1\n", encoding="utf-8")
    (moved,) = nav.goto("a.py", 2)
    assert (moved.path, moved.line) == ("b.py", 2)
    assert jedi.script("a.py")._inference_state is not shared


def test_jedis_per_state_inference_cap_does_not_run_across_questions(tmp_path: Path) -> None:
    """jedi gives up on a node inferred 300 times in one state; a shared state would reach that over
    a session, so each question starts the count afresh."""
    root = write(tmp_path, {
        "m.py": "class A:\n    def run(self):\n        return 1\n\n\ndef make():\n    return A()\n\n\n"
                "make().run()  # <- one\nx = make()\nx.run()  # <- two\n",
    })  # fmt: skip
    nav = Navigator(root)
    ((_, one),) = marked(root, "one")
    assert nav.goto("m.py", one, 8)[0].line == 2
    for state in nav.python.jedi._states.values():
        for node in state.inferred_element_counts:
            state.inferred_element_counts[node] = 10_000
    ((_, two),) = marked(root, "two")
    assert nav.goto("m.py", two, 3)[0].line == 2


def test_a_literal_alternative_answers_where_jedi_cannot(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "run.py": "import importlib\nimport sys\n\nmod = importlib.import_module(sys.argv[1])\n"
                  "kwargs = getattr(mod, 'kwargs', {})\nkwargs.update(port=1)\n"
                  "names = mod.names or []\nnames.append('x')\n",
    })  # fmt: skip
    nav = Navigator(root)
    (update,) = nav.goto("run.py", 6, 8)
    assert update.tier == "syntactic" and update.name == "update" and update.path.endswith("typing.pyi")
    (append,) = nav.goto("run.py", 8, 7)
    assert append.tier == "syntactic" and append.name == "append" and append.path.endswith("builtins.pyi")


def test_literal_types_read_only_literal_alternatives() -> None:
    assert _literal_types("x = getattr(m, 'a', {})", "x") == ["dict"]
    assert _literal_types("x = a or [] if c else ''", "x") == ["str", "list"]
    assert _literal_types("x: set[int] = {i for i in y}", "x") == ["set"]
    assert _literal_types("x = getattr(m, 'a')", "x") == []
    assert _literal_types("y = {}", "x") == []
    assert _literal_types("x = (", "x") == []


def test_a_qualified_name_is_resolved_again_after_an_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources_module, "WALK_EVERY_S", 0.0)
    root = write(tmp_path, {"pkg/__init__.py": "from pkg.api import get\n", "pkg/api.py": "def get():\n    return 1\n"})
    nav = Navigator(root)
    assert [(d.path, d.line) for d in nav.definition("pkg.get")] == [("pkg/api.py", 1)]
    assert [(d.path, d.line) for d in nav.definition("pkg.get")] == [("pkg/api.py", 1)]  # the kept answer
    (root / "pkg" / "api.py").write_text("\n\ndef get():\n    return 1\n", encoding="utf-8")
    assert [(d.path, d.line) for d in nav.definition("pkg.get")] == [("pkg/api.py", 3)]
