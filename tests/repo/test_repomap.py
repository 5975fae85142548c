"""The unfocused repo map of a small library: its core classes above its module constants, and
each method listed under its class."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from codemm.repo.index import RepoIndex
from codemm.repo.repomap import build_repo_map, rank_definitions, render

# A small HTTP-client-like library: classes used from many files, constants imported from a few,
# and a compat module that re-exports a builtin (as requests' compat.py does with `str = str`).
LIBRARY = {
    "shelf/config.py": 'DEFAULT_TIMEOUT = 30\nMAX_RETRIES = 3\nUSER_AGENT = "shelf/1.0"\nENCODING = "utf-8"\n',
    "shelf/compat.py": "str = str\nbytes = bytes\n",
    "shelf/errors.py": "class ShelfError(Exception):\n    pass\n\n\nclass FetchTimeout(ShelfError):\n    pass\n",
    "shelf/models.py": (
        "from shelf.config import ENCODING\nfrom shelf.errors import ShelfError\n\n\n"
        "class Request:\n    def __init__(self, url: str) -> None:\n        self.url = url\n\n"
        "    def prepare(self) -> bytes:\n        return self.url.encode(ENCODING)\n\n\n"
        "class Reply:\n    def __init__(self, body: bytes) -> None:\n        self.body = body\n\n"
        "    def text(self) -> str:\n        return self.body.decode()\n\n"
        "    def raise_for_status(self) -> None:\n        raise ShelfError(self.text())\n"
    ),
    "shelf/client.py": (
        "from shelf.config import DEFAULT_TIMEOUT, USER_AGENT\nfrom shelf.errors import FetchTimeout\n"
        "from shelf.models import Reply, Request\n\n\n"
        "class Client:\n    def __init__(self, timeout: int = DEFAULT_TIMEOUT) -> None:\n        self.timeout = timeout\n\n"
        "    def send(self, request: Request) -> Reply:\n        if not request.url:\n"
        "            raise FetchTimeout(USER_AGENT)\n        return Reply(request.prepare())\n\n"
        "    def fetch(self, url: str) -> Reply:\n        return self.send(Request(url))\n"
    ),
    "shelf/api.py": (
        "from shelf.client import Client\nfrom shelf.models import Reply\n\n\n"
        "def fetch(url: str) -> Reply:\n    return Client().fetch(url)\n"
    ),
    "shelf/retry.py": (
        "from shelf.client import Client\nfrom shelf.config import MAX_RETRIES\nfrom shelf.errors import FetchTimeout\n"
        "from shelf.models import Reply, Request\n\n\n"
        "def with_retries(client: Client, request: Request) -> Reply:\n    for _ in range(MAX_RETRIES):\n"
        "        try:\n            return client.send(request)\n        except FetchTimeout:\n            pass\n"
        "    return Client().send(Request(request.url))\n"
    ),
    "shelf/auth.py": (
        "from shelf.models import Request\n\n\n"
        "def sign(request: Request, token: str) -> Request:\n    return Request(request.url + token)\n"
    ),
    "tests/test_client.py": (
        "from shelf.client import Client\nfrom shelf.config import DEFAULT_TIMEOUT\nfrom shelf.models import Reply, Request\n\n\n"
        "def test_send() -> None:\n    assert isinstance(Client().send(Request('x')), Reply)\n\n\n"
        "def test_timeout() -> None:\n    assert Client(DEFAULT_TIMEOUT).timeout == DEFAULT_TIMEOUT\n"
    ),
    "tests/test_models.py": (
        "from shelf.models import Reply, Request\n\n\n"
        "def test_text() -> None:\n    assert Reply(Request('x').prepare()).text() == 'x'\n"
    ),
}


@pytest.fixture
def library(tmp_path: Path):  # type: ignore[no-untyped-def]
    for rel, text in LIBRARY.items():
        path = tmp_path / "lib" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    with RepoIndex(tmp_path / "lib") as index:
        index.refresh(embed=False)
        yield index


def test_classes_rank_above_module_constants(library: RepoIndex) -> None:
    ranked = rank_definitions(library.symbols(), library.references(), sorted(library.file_lines()))
    position = {(sym.path, sym.name): n for n, (sym, _) in enumerate(ranked)}
    classes = [position[(s.path, s.name)] for s in library.symbols() if s.kind == "class"]
    constants = [position[(s.path, s.name)] for s in library.symbols() if s.kind == "constant"]
    assert len(classes) == 5 and len(constants) == 6
    assert max(classes) < min(constants)
    # `str` in an annotation is the builtin: compat's `str = str` is not credited with every one.
    functions = [position[(s.path, s.name)] for s in library.symbols() if s.kind == "function"]
    assert position[("shelf/compat.py", "str")] > max(functions)


def outline(text: str) -> dict[str, list[tuple[int, bool, str]]]:
    """The map as {path: [(line, indented, signature)]}."""
    blocks: dict[str, list[tuple[int, bool, str]]] = {}
    path = ""
    for line in text.splitlines():
        row = re.match(r"\s*(\d+)│ ( {4})?(.*)$", line)
        if row:
            blocks[path].append((int(row[1]), bool(row[2]), row[3]))
        else:
            path = line.removesuffix(":")
            blocks[path] = []
    return blocks


def test_methods_are_listed_under_their_class(library: RepoIndex) -> None:
    blocks = outline(build_repo_map(library, lambda t: len(t.split()), budget=10_000).text)
    methods = [s for s in library.symbols() if s.kind == "method"]
    assert len(methods) == 8
    for method in methods:
        rows = blocks[method.path]
        at = next(n for n, (start, _, _) in enumerate(rows) if start == method.start)
        assert rows[at][1] and rows[at][2].startswith(f"def {method.name}(")  # indented
        owner = next(signature for _, indented, signature in reversed(rows[:at]) if not indented)
        assert owner == f"class {method.parent}"


def test_a_method_that_ranks_alone_still_shows_its_class(library: RepoIndex) -> None:
    files = sorted(library.file_lines())
    ranked = rank_definitions(library.symbols(), library.references(), files, focus_names={"prepare"})
    names = [sym.name for sym, _ in ranked]
    assert names.index("prepare") < names.index("Request")  # the method the question names ranks first
    shown = render(ranked, names.index("prepare") + 1)
    assert "class Request" in shown and outline(shown)["shelf/models.py"][-2:] == [
        (5, False, "class Request"), (9, True, "def prepare(self) -> bytes")]  # fmt: skip


def test_cli_map_footer_is_a_line_of_its_own(library: RepoIndex, tiny_llama_dir: Path) -> None:
    # stdout and stderr in one pipe, as in a terminal: the map, then the footer on its own line.
    proc = subprocess.run([sys.executable, "-m", "codemm.cli", "map", str(library.root), "--model", str(tiny_llama_dir)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    footer = [n for n, line in enumerate(lines) if "definitions," in line]
    assert footer == [len(lines) - 1] and re.fullmatch(r"\[(\d+) of \1 definitions, \d+ tokens\]", lines[-1])
    assert lines[lines.index("shelf/models.py:") + 1].endswith("│ class Request")
