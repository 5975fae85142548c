from __future__ import annotations

from codemm.citations import attribute_sources, find_citations
from codemm.repo.retrieve import Hit

FILES = {"tasktracker/dates.py": 28, "tasktracker/models.py": 48, "README.md": 5}


def test_valid_invalid_and_suffix_citations() -> None:
    answer = (
        "It is defined in tasktracker/dates.py:10-28 and used by models.py:40. "
        "See also tasktracker/dates.py:99 and src/missing.py:3, and README.md#L1-L2."
    )
    found = {(c.path, c.start, c.end): c for c in find_citations(answer, FILES)}
    assert found[("tasktracker/dates.py", 10, 28)].valid
    assert found[("tasktracker/models.py", 40, 40)].valid  # unambiguous suffix resolved
    assert not found[("tasktracker/dates.py", 99, 99)].valid
    assert found[("tasktracker/dates.py", 99, 99)].reason == "file has 28 lines"
    assert not found[("src/missing.py", 3, 3)].valid
    assert found[("README.md", 1, 2)].valid
    assert len(found) == 5


def test_non_citations_are_ignored() -> None:
    assert find_citations("Use version 1.2 at 10:30, ratio 3:4, http://x.org:8080", FILES) == []


def test_attribution_needs_the_answer_to_name_the_chunk() -> None:
    hits = [
        Hit("tasktracker/dates.py", 10, 28, 1.0, ["bm25"], "function", "parse_due_date", ""),
        Hit("tasktracker/models.py", 17, 48, 0.5, ["bm25"], "class", "Task", ""),
    ]
    cited = attribute_sources("parse_due_date returns a date.", hits)
    assert [(c.path, c.source, c.valid) for c in cited] == [("tasktracker/dates.py", "attributed", True)]


def test_traceback_style_citations_are_checked_too() -> None:
    answer = 'It was raised at File "/tmp/test_dates.py", line 28 and File "tasktracker/dates.py", line 28.'
    found = {c.path: c.valid for c in find_citations(answer, FILES)}
    assert found == {"tmp/test_dates.py": False, "tasktracker/dates.py": True}
    assert find_citations('File "<string>", line 3, in <module>', FILES) == []
