"""The precise tier on a small package, with the real jedi."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemm.errors import BadInputError
from codemm.intel import sources as sources_module
from codemm.intel.navigator import Navigator
from tests.intel.conftest import marked


def lines(locations) -> set[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return {(loc.path, loc.line) for loc in locations}


def line_of(root: Path, path: str, needle: str) -> int:
    return next(i for i, line in enumerate((root / path).read_text().splitlines(), 1) if needle in line)


def test_module_qualified_and_reexported_names_resolve(pyrepo: Path) -> None:
    nav = Navigator(pyrepo)
    (found,) = nav.definition("pkg.get")
    assert (found.path, found.line) == ("pkg/api.py", line_of(pyrepo, "pkg/api.py", "def get"))
    assert found.tier == "precise" and found.kind == "function"
    (direct,) = nav.definition("pkg.api.get")
    assert direct == found


def test_inherited_method_resolves_to_the_base_class(pyrepo: Path) -> None:
    nav = Navigator(pyrepo)
    (found,) = nav.definition("Client.build_request")
    assert (found.path, found.line) == ("pkg/client.py", line_of(pyrepo, "pkg/client.py", "def build_request"))
    assert found.kind == "method" and found.symbol == "BaseClient"


def test_references_of_a_shared_name_keep_only_its_own_uses(pyrepo: Path) -> None:
    refs = Navigator(pyrepo).references("pkg.get")
    assert len(refs.groups) == 1
    got = lines(refs.locations)
    expected = set().union(*(marked(pyrepo, f"get:{k}") for k in
                              ("import", "all", "call", "call-local", "default", "value")))  # fmt: skip
    assert got == expected  # no dict.get, Client.get or AsyncClient.get
    kinds = {(loc.path, loc.line): loc.kind for loc in refs.locations}
    assert kinds[next(iter(marked(pyrepo, "get:all")))] == "string"
    assert kinds[next(iter(marked(pyrepo, "get:call")))] == "call"
    assert all(loc.tier == "precise" for loc in refs.locations)


def test_non_call_references_of_a_class(pyrepo: Path) -> None:
    refs = Navigator(pyrepo).references("pkg.errors.AppError")
    expected = set().union(*(marked(pyrepo, f"apperror:{k}") for k in
                              ("import", "except", "isinstance", "raises", "base")))  # fmt: skip
    assert expected <= lines(refs.locations)
    kinds = {(loc.path, loc.line): loc.kind for loc in refs.locations}
    assert kinds[next(iter(marked(pyrepo, "apperror:except")))] == "except"
    assert kinds[next(iter(marked(pyrepo, "apperror:base")))] == "base"


def test_inherited_method_references_through_subclasses(pyrepo: Path) -> None:
    refs = Navigator(pyrepo).references("Client.build_request")
    assert lines(refs.locations) == marked(pyrepo, "build:self") | marked(pyrepo, "build:async") | marked(
        pyrepo, "build:inherited"
    )


def test_bare_name_groups_each_definition_with_its_uses(pyrepo: Path) -> None:
    refs = Navigator(pyrepo).references("get")
    by_owner = {(g.definition.path, g.definition.symbol): g for g in refs.groups}
    assert set(by_owner) == {("pkg/api.py", ""), ("pkg/client.py", "Client"), ("pkg/client.py", "AsyncClient")}
    client_uses = lines(by_owner[("pkg/client.py", "Client")].references)
    assert client_uses == marked(pyrepo, "client-get:use") | marked(pyrepo, "client-get:call")
    assert marked(pyrepo, "get:call") <= lines(by_owner[("pkg/api.py", "")].references)
    assert not lines(by_owner[("pkg/client.py", "AsyncClient")].references) & client_uses


def test_references_from_a_location(pyrepo: Path) -> None:
    ((path, line),) = marked(pyrepo, "client-get:use")
    column = (pyrepo / path).read_text().splitlines()[line - 1].index("get") + 1
    refs = Navigator(pyrepo).references(f"{path}:{line}:{column}")
    assert [g.definition.symbol for g in refs.groups] == ["Client"]
    assert (path, line) in lines(refs.locations)


def test_a_property_getter_and_setter_are_one_symbol(pyrepo: Path) -> None:
    refs = Navigator(pyrepo).references("Client.timeout")
    assert len(refs.groups) == 1
    expected = marked(pyrepo, "timeout:setter") | marked(pyrepo, "timeout:set") | marked(pyrepo, "timeout:get")
    assert lines(refs.locations) == expected


def test_an_override_named_by_its_location_is_itself(pyrepo: Path) -> None:
    nav = Navigator(pyrepo)
    ((path, line),) = marked(pyrepo, "async-close:def")
    refs = nav.references(f"{path}:{line}")
    assert [g.definition.symbol for g in refs.groups] == ["AsyncClient"]
    assert lines(refs.locations) == marked(pyrepo, "async-close:use")
    base = nav.references("pkg.client.BaseClient.close")
    assert marked(pyrepo, "base-close:use") <= lines(base.locations)
    assert not marked(pyrepo, "async-close:use") & lines(base.locations)


def test_references_as_json_name_their_tiers(pyrepo: Path) -> None:
    data = Navigator(pyrepo).references("pkg.get").as_json()
    assert data["count"] == len(data["groups"][0]["references"]) > 0
    assert set(data["tiers"]) == {"precise"}
    assert all(r["tier"] == "precise" and r["text"] for r in data["groups"][0]["references"])


def test_goto_without_a_column_takes_the_call(pyrepo: Path) -> None:
    nav = Navigator(pyrepo)
    ((path, line),) = marked(pyrepo, "build:inherited")
    (found,) = nav.goto(path, line)
    assert found.name == "build_request" and found.symbol == "BaseClient"
    data = found.as_json()
    assert {"path", "line", "column", "tier", "kind", "symbol", "text"} <= set(data)
    assert data["text"].startswith("def build_request")


def test_goto_with_a_column_picks_the_name_there(pyrepo: Path) -> None:
    nav = Navigator(pyrepo)
    ((path, line),) = marked(pyrepo, "apperror:isinstance")
    column = (pyrepo / path).read_text().splitlines()[line - 1].index("AppError") + 2
    (found,) = nav.goto(path, line, column)
    assert (found.path, found.name, found.kind) == ("pkg/errors.py", "AppError", "class")


def test_callers_and_callees(pyrepo: Path) -> None:
    nav = Navigator(pyrepo)
    callers = nav.callers("Client.send").callers
    assert [(c.symbol.name, c.symbol.symbol) for c in callers] == [("get", "Client")]
    callees = {(c.symbol.name, c.symbol.symbol) for c in nav.callees("Client.get").callees}
    assert {("build_request", "BaseClient"), ("send", "Client")} <= callees
    # `@timeout.setter` uses the property but calls nothing; `client.timeout` reads it.
    assert nav.callers("Client.timeout").callers == []


def test_type_hierarchy(pyrepo: Path) -> None:
    nav = Navigator(pyrepo)
    base = nav.hierarchy("BaseClient")
    assert {s.name for s in base.subclasses} == {"Client", "AsyncClient"}
    app = nav.hierarchy("AppError")
    assert [s.name for s in app.subclasses] == ["NotFound"]
    assert [b.name for b in app.bases] == ["Exception"]  # from the standard library's stubs
    assert [b.name for b in nav.hierarchy("pkg.client.Client").bases] == ["BaseClient"]


def test_an_edit_is_seen_by_the_next_lookup(pyrepo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources_module, "WALK_EVERY_S", 0.0)
    nav = Navigator(pyrepo)
    before = lines(nav.references("pkg.api.fetch").locations)
    extra = pyrepo / "app" / "more.py"
    extra.write_text("from pkg import fetch\n\nfetch('u')\n", encoding="utf-8")
    after = lines(nav.references("pkg.api.fetch").locations)
    assert after - before == {("app/more.py", 1), ("app/more.py", 3)}


def test_bad_input_is_one_line_errors(pyrepo: Path) -> None:
    nav = Navigator(pyrepo)
    with pytest.raises(BadInputError, match="not a name"):
        nav.references("get(")
    with pytest.raises(BadInputError, match="not a file"):
        nav.references("missing.py:3")
    with pytest.raises(BadInputError, match="no line"):
        nav.goto("pkg/api.py", 999)
    with pytest.raises(BadInputError, match="not a class"):
        nav.hierarchy("pkg.get")


def test_unresolvable_names_fall_back_to_text_labelled_as_such(pyrepo: Path) -> None:
    (pyrepo / "pkg" / "dyn.py").write_text("def handle(x):\n    return x.close()\n", encoding="utf-8")
    nav = Navigator(pyrepo)
    found = nav.goto("pkg/dyn.py", 2)
    assert found and all(loc.tier == "text" and loc.name == "close" for loc in found)
    assert nav.references("nothing_is_called_this").groups == []


def test_an_edit_elsewhere_moves_the_answer(pyrepo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm answer that lands in a file edited since is recomputed, not served stale."""
    monkeypatch.setattr(sources_module, "WALK_EVERY_S", 0.0)
    nav = Navigator(pyrepo)
    ((path, line),) = marked(pyrepo, "get:call")
    (before,) = nav.goto(path, line)
    api = pyrepo / "pkg" / "api.py"
    api.write_text("\n\n\n" + api.read_text(encoding="utf-8"), encoding="utf-8")
    (after,) = nav.goto(path, line)
    assert (after.path, after.line) == (before.path, before.line + 3)
