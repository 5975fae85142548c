"""Small repositories written for the navigation tests. Lines a test expects carry a marker comment
(``# <- tag``), so the tests read what is expected from the fixture rather than from line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

PY_FILES = {
    "pkg/__init__.py": """\
from pkg.api import fetch, get  # <- get:import
from pkg.client import AsyncClient, BaseClient, Client
from pkg.errors import AppError, NotFound

__all__ = [
    "get",  # <- get:all
    "fetch",
    "Client",
]
""",
    "pkg/api.py": """\
from pkg.client import Client


def get(url):
    return Client().get(url)  # <- client-get:call


def fetch(url, parse=None):
    return get(url)  # <- get:call-local
""",
    "pkg/client.py": """\
class BaseClient:
    def build_request(self, method, url):
        return (method, url)

    def close(self):
        return None


class Client(BaseClient):
    def get(self, url):
        request = self.build_request("GET", url)  # <- build:self
        return self.send(request)  # <- send:self

    def send(self, request):
        return request

    @property
    def timeout(self):
        return self._timeout

    @timeout.setter  # <- timeout:setter
    def timeout(self, value):
        self._timeout = value


class AsyncClient(BaseClient):
    def get(self, url):
        return self.build_request("GET", url)  # <- build:async

    def close(self):  # <- async-close:def
        return super().close()
""",
    "pkg/errors.py": """\
class AppError(Exception):
    pass


class NotFound(AppError):  # <- apperror:base
    pass
""",
    "app/use.py": """\
import pkg
from pkg.client import AsyncClient, Client
from pkg.errors import AppError, NotFound  # <- apperror:import


def raises(kind):
    return kind


def with_default(loader=pkg.get):  # <- get:default
    return loader


def run(client: Client, other: AsyncClient, err):
    data = {"get": 1}
    data.get("get")
    handlers = [pkg.get]  # <- get:value
    try:
        pkg.get("x")  # <- get:call
    except AppError:  # <- apperror:except
        pass
    if isinstance(err, AppError):  # <- apperror:isinstance
        raises(AppError)  # <- apperror:raises
    client.get("u")  # <- client-get:use
    other.get("u")
    client.build_request("GET", "u")  # <- build:inherited
    client.timeout = 5  # <- timeout:set
    other.close()  # <- async-close:use
    client.close()  # <- base-close:use
    return client.timeout, handlers  # <- timeout:get
""",
}

TS_FILES = {
    "web/a.ts": """\
export class Alpha {
  get(key: string): string {
    return key;
  }
  run(): string {
    return this.get("x"); // <- alpha-get:this
  }
}
""",
    "web/b.ts": """\
export class Beta {
  get(key: string): number {
    return key.length;
  }
}
""",
    "web/main.ts": """\
import { Alpha } from "./a";
import { Beta } from "./b";

/**
 * Not code: first.get("in a doc comment")
 */
const first = new Alpha();
const second = new Beta();
first.get("a"); // <- alpha-get:typed
second.get("b");
""",
    "web/gamma.ts": """\
import { Alpha } from "./a";

export class Gamma extends Alpha {
  twice(): string {
    return this.get("y"); // <- alpha-get:inherited
  }
}
""",
}

GO_FILES = {
    "srv/server.go": """\
package srv

type Server struct{}
type Client struct{}

func (s *Server) Handle() int { return 1 }
func (c *Client) Handle() int { return 2 }

func Run() int {
\tserver := &Server{}
\tclient := &Client{}
\tclient.Handle()
\treturn server.Handle() // <- server-handle:typed
}
""",
}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def marked(root: Path, tag: str) -> set[tuple[str, int]]:
    """(path, line) of every line marked ``# <- tag`` (or ``// <- tag``)."""
    found = set()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.rstrip().endswith(f"<- {tag}"):
                found.add((path.relative_to(root).as_posix(), number))
    return found


@pytest.fixture
def pyrepo(tmp_path: Path) -> Path:
    return write(tmp_path / "repo", PY_FILES)


@pytest.fixture
def polyrepo(tmp_path: Path) -> Path:
    return write(tmp_path / "poly", {**TS_FILES, **GO_FILES})
