"""The import-resolved reference graph on small repositories: shared method names stay apart,
imports (absolute, relative, through a package's re-exports, module-qualified) resolve to their
file, and the switch reaches the repo map and search's propagation."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemm.errors import BadInputError
from codemm.repo.precise_graph import file_edges, import_edges
from codemm.repo.propagate import FileGraph
from codemm.repo.repomap import rank_definitions
from codemm.repo.symbols import Reference, Symbol, parse_source

REPO = {
    "shop/__init__.py": "from .orders import Order\nfrom shop.store import *\n",
    "shop/orders.py": (
        "class Order:\n    def total(self):\n        return 1\n\n    def close(self):\n        return None\n\n\n"
        "def place_order():\n    return Order()\n"
    ),
    "shop/files.py": "class Archive:\n    def close(self):\n        return None\n\n\ndef place_order():\n    return 0\n",
    "shop/store.py": "def open_store():\n    return 1\n",
    "shop/util/__init__.py": "",
    "shop/util/money.py": "from ..orders import place_order\n\n\ndef checkout():\n    return place_order()\n",
    "app/buy.py": (
        "from shop import Order, open_store\n\n\n"
        "def buy(order: Order):\n    open_store()\n    order.close()\n    return Order()\n"
    ),
    "app/pay.py": "import shop.orders\nimport shop.files as files\n\n\ndef pay():\n    shop.orders.place_order()\n"
    "    return files.place_order()\n",
    "app/local.py": "def place_order():\n    return 2\n\n\ndef run():\n    return place_order()\n",
}


def _parse(tmp_path: Path, repo: dict[str, str]) -> tuple[list[Symbol], list[Reference]]:
    symbols: list[Symbol] = []
    references: list[Reference] = []
    for path, text in repo.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
        parsed = parse_source(path, text, "python")
        symbols += parsed.symbols
        references += parsed.references
    return symbols, references


def _targets(edges: dict, name: str, user: str) -> set[str]:
    return {definer for (u, definer) in edges.get(name, {}) if u == user}


def test_a_method_call_links_only_to_class_members(tmp_path: Path) -> None:
    symbols, references = _parse(tmp_path, REPO)
    precise = import_edges(symbols, references, tmp_path)
    # order.close(): methods named close (Order's, Archive's), never a module-level function.
    assert _targets(precise, "close", "app/buy.py") == {"shop/orders.py", "shop/files.py"}
    names = file_edges(symbols, references, "names")
    assert _targets(names, "place_order", "app/local.py") == {"shop/orders.py", "shop/files.py", "app/local.py"}
    # A bare call of a name the file defines is that definition, not the others of the same name.
    assert _targets(precise, "place_order", "app/local.py") == {"app/local.py"}


def test_shared_method_name_does_not_link_a_caller_to_the_other_class(tmp_path: Path) -> None:
    repo = {
        "a.py": "class Reader:\n    def fetch(self):\n        return 1\n\n    def run(self):\n        return self.fetch()\n",
        "b.py": "class Writer:\n    def fetch(self):\n        return 2\n",
    }
    symbols, references = _parse(tmp_path, repo)
    assert _targets(import_edges(symbols, references, tmp_path), "fetch", "a.py") == {"a.py"}
    assert _targets(file_edges(symbols, references, "names"), "fetch", "a.py") == {"a.py", "b.py"}


def test_imports_resolve_through_relative_paths_reexports_and_modules(tmp_path: Path) -> None:
    symbols, references = _parse(tmp_path, REPO)
    edges = import_edges(symbols, references, tmp_path)
    # `from shop import Order`: re-exported by shop/__init__.py from .orders
    assert _targets(edges, "Order", "app/buy.py") == {"shop/orders.py"}
    # `from shop import open_store`: reaches store.py through the package's `from shop.store import *`
    assert _targets(edges, "open_store", "app/buy.py") == {"shop/store.py"}
    # `from ..orders import place_order` in shop/util/money.py
    assert _targets(edges, "place_order", "shop/util/money.py") == {"shop/orders.py"}
    # `shop.orders.place_order()` and `files.place_order()` (import ... as files)
    assert _targets(edges, "place_order", "app/pay.py") == {"shop/orders.py", "shop/files.py"}
    assert edges["place_order"][("app/pay.py", "shop/orders.py")] == 1


def test_a_name_imported_from_outside_the_repository_links_nowhere(tmp_path: Path) -> None:
    repo = {
        "x.py": "from json import loads\n\n\ndef run():\n    return loads('1')\n",
        "y.py": "def loads():\n    return 0\n",
    }
    symbols, references = _parse(tmp_path, repo)
    assert _targets(import_edges(symbols, references, tmp_path), "loads", "x.py") == set()
    assert _targets(file_edges(symbols, references, "names"), "loads", "x.py") == {"y.py"}


def test_an_unknown_graph_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="unknown reference graph"):
        file_edges([], [], "imports")  # no root to read sources from
    with pytest.raises(BadInputError, match="unknown reference graph"):
        file_edges([], [], "types", tmp_path)


def test_the_switch_reaches_propagation_and_the_repo_map(tmp_path: Path) -> None:
    symbols, references = _parse(tmp_path, REPO)
    files = sorted(REPO)
    by_names = dict(FileGraph(symbols, references, files, "names").rank({"app/local.py": 1.0}))
    by_imports = dict(FileGraph(symbols, references, files, "imports", tmp_path).rank({"app/local.py": 1.0}))
    # app/local.py calls its own place_order: the name graph walks to the two other place_orders.
    assert by_names.get("shop/files.py", 0) > 0 and by_names.get("shop/orders.py", 0) > 0
    assert by_imports.get("shop/files.py", 0) == 0 and by_imports.get("shop/orders.py", 0) == 0

    def edges_into(edges: str, path: str) -> float:
        ranked = rank_definitions(symbols, references, files, edges=edges, root=tmp_path)
        return sum(score for sym, score in ranked if sym.path == path and sym.name == "place_order")

    # shop/files.py's place_order is used only by `files.place_order()`: less credit than the
    # name graph gives it from every place_order call.
    assert edges_into("imports", "shop/files.py") < edges_into("names", "shop/files.py")
