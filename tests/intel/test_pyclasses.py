"""Class families read from Python class heads: what ``self`` in a class can reach."""

from __future__ import annotations

from pathlib import Path

from codemm.intel.navigator import Navigator
from codemm.intel.pyclasses import ClassFamilies
from codemm.intel.sources import RepoSources

OTHER = """\
def make():
    return object


Base = make()


class Unrelated:
    def build_request(self):
        return 1

    def run(self):
        return self.build_request()


class Odd(Base):
    def run(self):
        return self.build_request()


class Deep(Unrelated, metaclass=type):
    pass
"""


def test_families_follow_bases_both_ways_and_keep_unknown_bases(pyrepo: Path) -> None:
    (pyrepo / "pkg" / "other.py").write_text(OTHER, encoding="utf-8")
    families = ClassFamilies(RepoSources(pyrepo))
    assert families.may_reach("Client", {"BaseClient"})  # inherits
    assert families.may_reach("BaseClient", {"Client"})  # is inherited (an override)
    assert not families.may_reach("Unrelated", {"BaseClient"})
    assert not families.may_reach("Deep", {"BaseClient"})  # metaclass= is no base
    assert families.may_reach("Odd", {"BaseClient"})  # Base = make(): the heads cannot say


def test_self_in_an_unrelated_class_is_not_a_reference(pyrepo: Path) -> None:
    (pyrepo / "pkg" / "other.py").write_text(OTHER, encoding="utf-8")
    refs = Navigator(pyrepo).references("pkg.client.BaseClient.build_request")
    assert "pkg/other.py" not in {loc.path for loc in refs.locations}
    assert {loc.path for loc in refs.locations} == {"pkg/client.py", "app/use.py"}
