"""The syntactic tier: receiver types and imports narrow a name's uses in TypeScript and Go."""

from __future__ import annotations

from pathlib import Path

from codemm.intel.navigator import Navigator
from tests.intel.conftest import marked


def lines(locations) -> set[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return {(loc.path, loc.line) for loc in locations}


def test_typescript_method_uses_follow_the_receiver_type(polyrepo: Path) -> None:
    refs = Navigator(polyrepo, lsp="off").references("Alpha.get")
    assert [g.definition.path for g in refs.groups] == ["web/a.ts"]
    expected = set().union(*(marked(polyrepo, f"alpha-get:{k}") for k in ("this", "typed", "inherited")))
    assert lines(refs.locations) == expected  # not Beta's, not the doc comment's
    assert {loc.tier for loc in refs.locations} == {"syntactic"}


def test_bare_shared_name_groups_by_owner(polyrepo: Path) -> None:
    refs = Navigator(polyrepo, lsp="off").references("get")
    by_path = {g.definition.path: lines(g.references) for g in refs.groups}
    assert by_path["web/a.ts"] == set().union(
        *(marked(polyrepo, f"alpha-get:{k}") for k in ("this", "typed", "inherited"))
    )
    assert not by_path["web/b.ts"] & by_path["web/a.ts"]


def test_go_receiver_types(polyrepo: Path) -> None:
    nav = Navigator(polyrepo, lsp="off")
    refs = nav.references("Server.Handle")
    assert lines(refs.locations) == marked(polyrepo, "server-handle:typed")
    ((path, line),) = marked(polyrepo, "server-handle:typed")
    (found,) = nav.goto(path, line)
    assert found.tier == "syntactic" and found.text.startswith("func (s *Server) Handle")


def test_typescript_goto_follows_the_declared_type(polyrepo: Path) -> None:
    nav = Navigator(polyrepo, lsp="off")
    ((path, line),) = marked(polyrepo, "alpha-get:typed")
    assert [(f.path, f.tier) for f in nav.goto(path, line)] == [("web/a.ts", "syntactic")]
    ((path, line),) = marked(polyrepo, "alpha-get:inherited")
    assert [f.path for f in nav.goto(path, line)] == ["web/a.ts"]  # this.get inside a subclass of Alpha


def test_call_hierarchy_outside_python_follows_receiver_types(polyrepo: Path) -> None:
    nav = Navigator(polyrepo, lsp="off")
    ((path, line),) = marked(polyrepo, "server-handle:typed")
    callers = nav.callers("Server.Handle")
    assert [(c.symbol.name, c.site.path, c.site.line) for c in callers.callers] == [("Run", path, line)]
    callees = nav.callees("Run").callees  # client.Handle() and server.Handle(): each to its own type's method
    assert sorted((c.symbol.symbol, c.symbol.name, c.site.tier) for c in callees) == [
        ("Client", "Handle", "syntactic"),
        ("Server", "Handle", "syntactic"),
    ]
    inherited = nav.callers("Alpha.get").callers  # this.get in Alpha and in its subclass Gamma, and a typed use
    assert {(c.symbol.symbol, c.symbol.name) for c in inherited} == {("Alpha", "run"), ("Gamma", "twice"),
                                                                      ("", "main")}  # fmt: skip


def test_call_hierarchy_of_a_line_the_file_lacks_is_one_line(polyrepo: Path) -> None:
    import pytest

    from codemm.errors import BadInputError

    with pytest.raises(BadInputError, match="web/a.ts has no line 9999"):
        Navigator(polyrepo, lsp="off").callers("web/a.ts:9999")


def test_callees_of_a_constructor_are_its_own_calls_not_its_class_body(tmp_path: Path) -> None:
    from tests.intel.conftest import write

    root = write(
        tmp_path / "j",
        {
            "src/Foo.java": """\
public class Foo {
    public Foo() {
        init(6);
    }
    void init(int n) {
        helper(n);
    }
    void helper(int n) {
    }
}
"""
        },
    )
    callees = Navigator(root, lsp="off").callees("src/Foo.java:2").callees
    assert [(c.symbol.name, c.site.line) for c in callees] == [("init", 3)]
