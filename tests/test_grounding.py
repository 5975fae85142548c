"""Grounded facts: a qualified name in the question is the one definition it names."""

from __future__ import annotations

import pytest

from codemm.grounding import grounded_facts
from codemm.repo.index import RepoIndex
from tests.intel.conftest import PY_FILES, write


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> RepoIndex:
    idx = RepoIndex(write(tmp_path_factory.mktemp("ground") / "py", PY_FILES))
    idx.refresh(embed=False)
    return idx


def facts(index: RepoIndex, question: str) -> list[tuple[str, str, str]]:
    return [(f.symbol.path, f.symbol.parent, f.symbol.name) for f in grounded_facts(index, question, [])]


def test_a_method_of_a_class_and_not_its_namesakes(index: RepoIndex) -> None:
    assert facts(index, "What does AsyncClient.close do?")[0] == ("pkg/client.py", "AsyncClient", "close")
    assert ("pkg/client.py", "BaseClient", "close") not in facts(index, "What does AsyncClient.close do?")


def test_an_inherited_method_resolves_to_the_base_that_defines_it(index: RepoIndex) -> None:
    assert facts(index, "What does Client.build_request return?")[0] == ("pkg/client.py", "BaseClient", "build_request")
    assert facts(index, "And Client.close?")[0] == ("pkg/client.py", "BaseClient", "close")


def test_a_module_qualified_function_is_the_packages_not_a_method(index: RepoIndex) -> None:
    assert facts(index, "What does pkg.get return?") == [
        ("pkg/api.py", "", "get")
    ]  # not Client.get nor AsyncClient.get
    assert facts(index, "What does pkg.api.fetch call?") == [("pkg/api.py", "", "fetch")]


def test_a_dotted_word_that_names_no_code_is_left_alone(index: RepoIndex) -> None:
    assert facts(index, "Is there a README.md, e.g. for users?") == []
