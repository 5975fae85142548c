"""Screenshot locations: verified only when file, line and function agree with the index; kept,
with the reason, when they do not; OCR misreads never become other line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemm.repo.index import RepoIndex
from codemm.repo.symbols import Symbol
from codemm.vision.locations import Location, locations_in_index, locations_in_text, resolve_path

DATES = '''"""Due dates."""

LIMIT = 3


def parse_due_date(text):
    value = text.strip()
    if not value:
        raise ValueError(text)
    return value


def tomorrow(today):
    return today + 1
'''


def frame(path: str, line: int | str, function: str = "parse_due_date") -> str:
    return (
        f'Traceback (most recent call last):\n  File "{path}", line {line}, in {function}\n    raise ValueError(text)\n'
    )


@pytest.fixture
def index(tmp_path: Path):  # type: ignore[no-untyped-def]
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "dates.py").write_text(DATES)
    with RepoIndex(repo) as opened:
        opened.refresh(embed=False)
        yield opened


def test_a_frame_that_agrees_with_the_index_is_verified(index: RepoIndex) -> None:
    [loc] = locations_in_index(frame("pkg/dates.py", 9), index)
    assert loc == Location("pkg/dates.py", 9, "parse_due_date", verified=True, reason="")
    assert loc.label == "pkg/dates.py:9 (in parse_due_date)"


def test_a_line_past_the_end_is_kept_unverified_with_the_reason(index: RepoIndex) -> None:
    lines = index.file_lines()["pkg/dates.py"]
    [loc] = locations_in_index(frame("pkg/dates.py", 400), index)
    assert not loc.verified and loc.reason == f"line 400 is past the end of dates.py ({lines} lines)"
    assert loc.label == f"pkg/dates.py:400 (in parse_due_date) (unverified: {loc.reason})"


def test_a_line_outside_the_named_function_is_unverified(index: RepoIndex) -> None:
    [symbol] = index.symbols("parse_due_date")
    assert (symbol.start, symbol.end) == (6, 10)  # the fixture's definition, as the index holds it
    [loc] = locations_in_index(frame("pkg/dates.py", 13), index)
    assert not loc.verified and loc.reason == "line 13 is not inside parse_due_date (defined at 6-10)"
    [other] = locations_in_index(frame("pkg/dates.py", 8, "parse_dates"), index)
    assert not other.verified and other.reason == "dates.py defines no parse_dates"
    [module] = locations_in_index(frame("pkg/dates.py", 3, "<module>"), index)
    assert module.verified  # a module-level frame names no definition to check


def test_without_symbols_a_named_function_is_not_passed_off_as_checked() -> None:
    [loc] = locations_in_text(frame("pkg/dates.py", 9), {"pkg/dates.py": 15})
    assert not loc.verified and "(unverified: parse_due_date was not checked" in loc.label
    [mention] = locations_in_text("see pkg/dates.py:9", {"pkg/dates.py": 15})
    assert mention.verified and mention.label == "pkg/dates.py:9"


@pytest.mark.parametrize(
    "text",
    [frame("pkg/dates.py", "7o0"), frame("pkg/dates.py", "1l"), "see pkg/dates.py:7o0 and pkg/dates.py:1O"],
)
def test_a_number_glued_to_letters_is_not_a_line_number(text: str) -> None:
    assert locations_in_text(text, {"pkg/dates.py": 900}) == []


def test_absolute_paths_map_to_the_longest_same_trailing_path() -> None:
    shown = "/usr/lib/python3/site-packages/requests/adapters.py"
    files = {"src/requests/adapters.py": 700, "tests/adapters.py": 50, "requests/api.py": 90}
    assert resolve_path(shown, files) == ["src/requests/adapters.py"]
    [loc] = locations_in_text(frame(shown, 500, "send"), files, lambda name: [
        Symbol("send", "method", "src/requests/adapters.py", 480, 560, "def send(self)", parent="HTTPAdapter")])  # fmt: skip
    assert loc.verified and loc.label == "src/requests/adapters.py:500 (in send)"


def test_an_ambiguous_tie_is_unverified() -> None:
    shown = "/usr/lib/python3/site-packages/requests/adapters.py"
    files = {"src/requests/adapters.py": 700, "requests/adapters.py": 700}
    [loc] = locations_in_text(frame(shown, 10, "send"), files, lambda name: [])
    assert not loc.verified and loc.path == shown
    assert loc.reason == "could be requests/adapters.py or src/requests/adapters.py"


def test_frames_outside_the_repository_are_left_out() -> None:
    text = frame("/usr/lib/python3.11/json/decoder.py", 355, "raw_decode") + frame("pkg/dates.py", 9)
    assert [loc.path for loc in locations_in_text(text, {"pkg/dates.py": 15})] == ["pkg/dates.py"]
