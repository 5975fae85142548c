"""The LSP client and the precise tier it gives TypeScript, against the real typescript-language-server
that scripts/setup.sh installs from npm (its failure paths against tiny fake servers).

The fixture (tests/fixtures/ts_repo) marks the lines a test expects with ``// <- tag``.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import textwrap
import time
from pathlib import Path

import pytest

from codemm.intel.lsp import Document, LspClient, LspError, server_command
from codemm.intel.navigator import Navigator
from codemm.intel.results import PRECISE, SYNTACTIC

FIXTURE = Path(__file__).parent.parent / "fixtures" / "ts_repo"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "codemm" / "lsp"


def _server_bin() -> Path | None:
    """The server setup.sh installed (CODEMM_TSLS_BIN names its bin folder; else the newest pin in
    the cache). Never the global PATH: the tests must know which server they exercise."""
    named = os.environ.get("CODEMM_TSLS_BIN")
    folders = [Path(named)] if named else sorted(CACHE.glob("typescript-language-server-*/node_modules/.bin"))
    found = [f for f in folders if (f / "typescript-language-server").is_file()]
    return found[-1] if found else None


BIN = _server_bin()
needs_server = pytest.mark.skipif(
    BIN is None or shutil.which("node") is None,
    reason="typescript-language-server not installed: run scripts/setup.sh (needs node and npm)",
)


@pytest.fixture()
def ts_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "ts_repo"
    shutil.copytree(FIXTURE, repo)
    (repo / ".git").mkdir()  # settings lookups stop here, not at the codemm checkout
    if BIN is not None:
        monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return repo


def mark(repo: Path, tag: str) -> tuple[str, int, str]:
    """The file, 1-based line and text of the line tagged ``// <- tag``."""
    for path in sorted((repo / "src").glob("*.ts")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.rstrip().endswith(f"// <- {tag}"):
                return path.relative_to(repo).as_posix(), number, line
    raise AssertionError(f"no line tagged {tag}")


def column(line: str, needle: str) -> int:
    """1-based column of ``needle`` in the line."""
    return line.index(needle) + 1


@pytest.fixture()
def nav(ts_repo: Path):  # type: ignore[no-untyped-def]
    navigator = Navigator(ts_repo, lsp="auto")
    yield navigator
    navigator.close()


@needs_server
def test_goto_through_an_import_rename_lands_on_the_override(nav: Navigator) -> None:
    path, line, text = mark(nav.root, "describe-uses:use")
    found = nav.goto(path, line, column(text, "box.describe") + 4)  # Box is Square imported `as Box`
    want = mark(nav.root, "square-describe:def")
    assert [(f.path, f.line) for f in found] == [want[:2]]
    assert found[0].tier == PRECISE and found[0].source == "typescript-language-server"
    assert found[0].kind == "method" and found[0].name == "describe"


@needs_server
def test_goto_without_a_column_takes_the_call(nav: Navigator) -> None:
    path, line, _ = mark(nav.root, "shape-describe:use")
    found = nav.goto(path, line)
    assert [(f.path, f.line, f.tier) for f in found] == [(*mark(nav.root, "shape-describe:def")[:2], PRECISE)]


@needs_server
def test_references_keep_an_unrelated_same_named_method_apart(nav: Navigator) -> None:
    path, line, text = mark(nav.root, "logger-describe:def")
    logger = nav.references(f"{path}:{line}:{column(text, 'describe')}")
    uses = sorted((r.path, r.line) for r in logger.locations)
    main, other = mark(nav.root, "describe-uses:use"), mark(nav.root, "logger-describe:use")
    assert uses == sorted([main[:2], other[:2]])
    assert {r.tier for r in logger.locations} == {PRECISE} and logger.groups[0].definition.tier == PRECISE
    # Square's override: its uses (and Shape's, the method it overrides) in both files, never Logger's.
    path, line, text = mark(nav.root, "square-describe:def")
    square = nav.references(f"{path}:{line}:{column(text, 'describe')}")
    where = {(r.path, r.line, r.column) for r in square.locations}
    assert (main[0], main[1], column(main[2], "box.describe") + 4) in where
    assert mark(nav.root, "square-describe:use")[:2] in {(r.path, r.line) for r in square.locations}
    assert (main[0], main[1], column(main[2], "log.describe") + 4) not in where
    assert other[:2] not in {(r.path, r.line) for r in square.locations}


@needs_server
def test_references_by_name_become_precise_per_definition(nav: Navigator) -> None:
    found = nav.references("Logger.describe")
    assert [g.definition.path for g in found.groups] == ["src/logger.ts"]
    assert {r.tier for r in found.locations} == {PRECISE}
    assert len(found.locations) == 2 and not found.notes


@needs_server
def test_lsp_off_uses_the_syntactic_tier(ts_repo: Path) -> None:
    nav = Navigator(ts_repo, lsp="off")
    path, line, _ = mark(ts_repo, "logger-describe:use")
    assert {f.tier for f in nav.goto(path, line)} == {SYNTACTIC}
    assert nav.lsp._clients == {}


@needs_server
def test_client_follows_an_edit_and_closes_its_server(ts_repo: Path) -> None:
    command = server_command("typescript")
    assert command is not None and Path(command[0]).parent == BIN
    client = LspClient(command, ts_repo)
    text = (ts_repo / "src/other.ts").read_text()
    doc = Document("src/other.ts", "typescript", text)
    assert [loc.path for loc in client.definition(doc, 3, text.splitlines()[3].index("describe"))] == ["src/shapes.ts"]
    edited = text.replace("new Square(1).describe()", "new Logger().describe()  ")
    found = client.definition(
        Document("src/other.ts", "typescript", edited), 3, edited.splitlines()[3].index("describe")
    )
    assert [loc.path for loc in found] == ["src/logger.ts"]
    client.close()
    assert client._proc.poll() is not None


# -- failure paths, against fake servers (tiny Python scripts) ---------------------------------------


def fake_server(tmp_path: Path, body: str) -> tuple[str, ...]:
    script = tmp_path / "fake_server.py"
    script.write_text(textwrap.dedent(body))
    return (sys.executable, str(script))


def test_a_server_that_exits_at_once_is_one_line(tmp_path: Path) -> None:
    command = fake_server(tmp_path, "import sys\nprint('no project here', file=sys.stderr)\nsys.exit(3)\n")
    with pytest.raises(LspError) as caught:
        LspClient(command, tmp_path, timeout=10)
    message = str(caught.value)
    assert "\n" not in message and "exited with code 3" in message and "no project here" in message


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    command = fake_server(tmp_path, "import sys, time\nsys.stdin.read()\ntime.sleep(60)\n")
    started = time.monotonic()
    with pytest.raises(LspError, match=r"did not answer initialize within 0\.5 s"):
        LspClient(command, tmp_path, timeout=0.5)
    assert time.monotonic() - started < 5  # the hung process is killed, not waited for


def test_a_missing_executable_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(LspError, match="cannot start language server"):
        LspClient((str(tmp_path / "no-such-server"),), tmp_path)


def test_a_failing_server_falls_back_to_syntactic_with_a_note(ts_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = ts_repo.parent / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "typescript-language-server"
    fake.write_text(f"#!{sys.executable}\nimport sys\nprint('broken install', file=sys.stderr)\nsys.exit(1)\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    nav = Navigator(ts_repo, lsp="typescript")
    path, line, _ = mark(ts_repo, "logger-describe:use")
    assert {f.tier for f in nav.goto(path, line)} == {SYNTACTIC}
    found = nav.references("Logger.describe")
    assert found.locations and {r.tier for r in found.locations} == {SYNTACTIC}
    assert len(found.notes) == 1 and "broken install" in found.notes[0] and "syntactic" in found.notes[0]
    nav.close()


def test_the_setting_picks_languages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "gopls").write_text("#!/bin/sh\n")
    (tmp_path / "gopls").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert server_command("go") == (str(tmp_path / "gopls"),)
    assert server_command("go", "off") is None
    assert server_command("go", "typescript, rust") is None
    assert server_command("go", "typescript,go") is not None
    assert server_command("rust") is None  # not on PATH


@needs_server
def test_a_dropped_navigator_stops_its_server(ts_repo: Path) -> None:
    nav = Navigator(ts_repo, lsp="auto")
    path, line, _ = mark(ts_repo, "shape-describe:use")
    assert {f.tier for f in nav.goto(path, line)} == {PRECISE}
    (client,) = nav.lsp._clients.values()
    process = client._proc
    del nav, client
    gc.collect()
    assert process.wait(timeout=10) is not None


@needs_server
def test_without_a_tsconfig_the_repository_files_are_still_searched(ts_repo: Path) -> None:
    (ts_repo / "tsconfig.json").unlink()  # tsserver would see only the open file and its imports
    nav = Navigator(ts_repo, lsp="auto")
    path, line, text = mark(ts_repo, "logger-describe:def")
    uses = {(r.path, r.line) for r in nav.references(f"{path}:{line}:{column(text, 'describe')}").locations}
    assert uses == {mark(ts_repo, "describe-uses:use")[:2], mark(ts_repo, "logger-describe:use")[:2]}
    nav.close()
