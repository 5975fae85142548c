from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from codemm.patch import PatchError, apply_patch, build_patch, parse_edits

SOURCE = 'import argparse\n\n\ndef build_parser():\n    parser = argparse.ArgumentParser()\n    parser.add_argument("--file")\n    return parser\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "cli.py").write_text(SOURCE)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return tmp_path


FENCED = """Sure! Here is the change:

```python
cli.py
<<<<<<< SEARCH
    parser.add_argument("--file")
=======
    parser.add_argument("--file")
    parser.add_argument("--verbose", action="store_true")
>>>>>>> REPLACE
```
"""

WRONG_LINE_NUMBERS = """```diff
--- a/cli.py
+++ b/cli.py
@@ -40,3 +40,4 @@
     parser = argparse.ArgumentParser()
     parser.add_argument("--file")
+    parser.add_argument("--verbose", action="store_true")
     return parser
```"""

TRUNCATED = """In `cli.py`:
<<<<<<< SEARCH
    parser.add_argument("--file")
=======
    parser.add_argument("--file")
    parser.add_argument("--verbose", action="store_true")
```"""

MISINDENTED = """cli.py
<<<<<<< SEARCH
parser.add_argument("--file")
return parser
=======
parser.add_argument("--file")
parser.add_argument("--verbose", action="store_true")
return parser
>>>>>>> REPLACE"""


@pytest.mark.parametrize("output", [FENCED, WRONG_LINE_NUMBERS, TRUNCATED, MISINDENTED])
def test_messy_outputs_become_the_same_valid_patch(repo: Path, output: str) -> None:
    patch = build_patch(repo, output)
    expected = SOURCE.replace(
        '    parser.add_argument("--file")\n',
        '    parser.add_argument("--file")\n    parser.add_argument("--verbose", action="store_true")\n',
    )
    assert patch.files == {"cli.py": expected}
    assert patch.diff.startswith("--- a/cli.py\n+++ b/cli.py\n")
    assert '+    parser.add_argument("--verbose", action="store_true")' in patch.diff
    assert (repo / "cli.py").read_text() == SOURCE  # nothing written yet
    assert apply_patch(repo, patch) == ["cli.py"]
    assert (repo / "cli.py").read_text() == expected


def test_new_file_from_empty_search(repo: Path) -> None:
    patch = build_patch(repo, "pkg/util.py\n<<<<<<< SEARCH\n=======\ndef helper():\n    return 1\n>>>>>>> REPLACE\n")
    assert patch.created == ["pkg/util.py"] and "+++ b/pkg/util.py" in patch.diff
    apply_patch(repo, patch)
    assert (repo / "pkg" / "util.py").read_text() == "def helper():\n    return 1\n"


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("I cannot help with that.", "holds no edit blocks"),
        ("cli.py\n<<<<<<< SEARCH\nnot in the file\n=======\nx\n>>>>>>> REPLACE", "was not found in cli.py"),
        ("../outside.py\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE", "outside the repository"),
        ("/etc/passwd\n<<<<<<< SEARCH\nroot\n=======\nx\n>>>>>>> REPLACE", "outside the repository"),
    ],
)
def test_botched_or_unsafe_edits_change_nothing(repo: Path, output: str, reason: str) -> None:
    with pytest.raises(PatchError, match=reason) as info:
        build_patch(repo, output)
    assert str(info.value).startswith("could not build a valid patch")
    assert info.value.raw == output
    assert (repo / "cli.py").read_text() == SOURCE
    assert not (repo.parent / "outside.py").exists()


def test_edit_through_a_link_out_of_the_repo_is_refused(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "victim.py").write_text("a = 1\n")
    (repo / "linked").symlink_to(outside)
    with pytest.raises(PatchError, match="outside the repository"):
        build_patch(repo, "linked/victim.py\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n>>>>>>> REPLACE")
    assert (outside / "victim.py").read_text() == "a = 1\n"


def test_parse_multiple_blocks_and_files() -> None:
    output = (
        "a.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n\nb.py\n<<<<<<< SEARCH\np\n=======\nq\n>>>>>>> REPLACE\n"
    )
    assert [(e.path, e.search, e.replace) for e in parse_edits(output)] == [
        ("a.py", "x\n", "y\n"),
        ("b.py", "p\n", "q\n"),
    ]
