"""Which files can reach a module through imports: the precise tier asks jedi only there."""

from __future__ import annotations

from pathlib import Path

from codemm.intel.navigator import Navigator
from codemm.intel.pyimports import ImportGraph
from codemm.intel.sources import RepoSources
from tests.intel.conftest import write

FILES = {
    "src/lib/__init__.py": "from .core import Thing\n",
    "src/lib/core.py": "class Thing:\n    def send(self):\n        return 1\n",
    "src/lib/sub/__init__.py": "",
    "src/lib/sub/deep.py": "from ..core import Thing\n\n\ndef make():\n    return Thing()\n",
    "src/lib/helpers.py": "def run(thing):\n    return thing.send()\n",
    "src/app.py": "import lib.sub.deep as d\nfrom lib import helpers\n\nhelpers.run(d.make())\n",
    "src/user.py": "from lib import (\n    Thing,\n)\n\nThing().send()\n",
    "src/vendored/net.py": "class Socket:\n    def send(self):\n        return 2\n\n\nSocket().send()\n",
}


def test_reaching_follows_absolute_relative_and_package_imports(tmp_path: Path) -> None:
    graph = ImportGraph(RepoSources(write(tmp_path, FILES)))
    reach = graph.reaching("src/lib/core.py")
    # relative (``..core``), through the package's __init__, ``import a.b as c``, parenthesised
    assert {"src/lib/core.py", "src/lib/__init__.py", "src/lib/sub/deep.py", "src/app.py", "src/user.py"} <= reach
    assert "src/lib/helpers.py" in reach  # app.py imports it and can hand it a Thing
    assert "src/vendored/net.py" not in reach
    assert graph.reaching("src/vendored/net.py") == {"src/vendored/net.py"}


def test_references_skip_files_the_module_cannot_reach(tmp_path: Path) -> None:
    root = write(tmp_path, FILES)
    nav = Navigator(root)
    asked: list[str] = []
    goto = nav.python.jedi.goto
    nav.python.jedi.goto = lambda path, line, column: asked.append(path) or goto(path, line, column)  # type: ignore[method-assign]
    refs = nav.references("src/lib/core.py:2:9")
    got = {(r.path, r.line) for r in refs.locations}
    assert got == {("src/lib/helpers.py", 2), ("src/user.py", 5)}
    assert "src/vendored/net.py" not in asked
    socket = nav.references("src/vendored/net.py:2:9")
    assert {(r.path, r.line) for r in socket.locations} == {("src/vendored/net.py", 6)}
