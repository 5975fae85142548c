"""The path-taking repository tools (``RepoTools.read_range``, ``read_screenshot``) against hostile
input (issue 23): links into ``.git``, link loops, NUL bytes and absurd paths, huge lines, error
messages that would show the server's absolute paths, and screenshots outside the repository."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from codemm.config import Settings, load_settings
from codemm.errors import BadInputError
from codemm.repo.read import MAX_LINE_BYTES, MAX_TEXT_BYTES, read_range
from codemm.repo.walk import walk_repo
from codemm.tools import RepoTools
from codemm.vision.inline import MAX_INLINE_BYTES

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-repo"
SCREENSHOT = ROOT / "eval" / "suites" / "screenshots" / "traceback-dark-14.png"
SECRET = "https://alice:ghp_secret_token@example.com/team/repo.git"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the sample repository with a .git whose config holds a credential."""
    root = tmp_path / "repo"
    shutil.copytree(SAMPLE, root)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text(f'[remote "origin"]\n\turl = {SECRET}\n')
    return root


@pytest.fixture
def desktop(tmp_path: Path) -> Path:
    folder = tmp_path / "home" / "Desktop"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def tools(repo: Path, desktop: Path) -> Iterator[RepoTools]:
    tools = RepoTools(repo, settings=Settings(images_from=str(desktop)), embed=False)
    yield tools
    tools.close()


def refusal(call: object, *args: object) -> str:
    """The one-line BadInputError message of ``call(*args)``."""
    with pytest.raises(BadInputError) as caught:
        call(*args)  # type: ignore[operator]
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message
    return message


def assert_no_server_path(message: str, *paths: Path) -> None:
    for path in paths:
        assert str(path) not in message and str(path.resolve()) not in message, message


# -- row 2: links into .git ---------------------------------------------------------------------


def test_a_link_into_git_is_refused_by_both_tools(repo: Path, tools: RepoTools) -> None:
    (repo / "cfg.txt").symlink_to(".git/config")  # relative, as `ln -s .git/config cfg.txt` makes it
    (repo / "cfg.png").symlink_to(repo / ".git" / "config")
    (repo / "g").symlink_to(".git")  # a linked folder: g/config is .git/config
    for path in ("cfg.txt", "cfg.png", "g/config"):
        for call in (tools.read_range, tools.read_screenshot):
            message = refusal(call, path)
            assert "into .git" in message and path in message, message
            assert "ghp_secret" not in message
            assert_no_server_path(message, repo)


def test_the_walk_never_indexes_a_link_into_git(repo: Path, tools: RepoTools) -> None:
    (repo / "cfg.txt").symlink_to(".git/config")
    walked = walk_repo(repo)
    assert "cfg.txt" not in [f.path for f in walked.files] and ("cfg.txt", "link inside repo") in walked.skipped
    assert all(h["path"] != "cfg.txt" for h in tools.search_code("alice ghp_secret_token origin url")["hits"])


def test_a_link_loop_is_a_refusal_and_does_not_break_the_walk(repo: Path, tools: RepoTools) -> None:
    (repo / "loop_a.py").symlink_to("loop_b.py")
    (repo / "loop_b.py").symlink_to("loop_a.py")
    (repo / "dangling.py").symlink_to("nowhere.py")
    assert "loop_a.py" in refusal(tools.read_range, "loop_a.py")
    assert "dangling.py" in refusal(tools.read_range, "dangling.py")
    skipped = dict(walk_repo(repo).skipped)
    assert skipped["loop_a.py"] == skipped["loop_b.py"] == "broken link"
    assert skipped["dangling.py"] == "broken link"
    assert tools.find_definition("parse_due_date")["definitions"]  # the index still builds


# -- row 3: bytes, not only lines -----------------------------------------------------------------


def test_a_five_million_character_line_gives_a_bounded_result_that_says_it_was_cut(
    repo: Path, tools: RepoTools
) -> None:
    (repo / "one_line.js").write_text("x" * 5_000_000)
    data = tools.read_range("one_line.js")
    assert len(json.dumps(data)) < 2 * MAX_TEXT_BYTES
    assert data["truncated"] is True and data["cut_lines"] == [1] and data["text"] == "x" * MAX_LINE_BYTES + "\n"
    assert "line 1 is 5000000 bytes long" in data["note"]


def test_many_long_lines_are_cut_at_the_byte_cap_and_say_where_to_go_on(repo: Path) -> None:
    line = "é" * 1000  # 2000 bytes, each character two
    (repo / "wide.py").write_text("".join(f"{line}\n" for _ in range(300)))
    data = read_range(repo, "wide.py").as_json()
    assert data["truncated"] is True and data["cut_lines"] == []
    assert len(data["text"].encode()) <= MAX_TEXT_BYTES and data["end"] < 300
    assert data["text"] == f"{line}\n" * data["end"]  # whole lines only
    assert f"read on from line {data['end'] + 1}" in data["note"] and "KiB" in data["note"]
    again = read_range(repo, "wide.py", data["end"] + 1).as_json()
    assert again["start"] == data["end"] + 1


def test_a_long_line_is_cut_on_a_character_boundary(repo: Path) -> None:
    (repo / "wide.txt").write_text("short\n" + "€" * MAX_LINE_BYTES + "\nlast\n")  # 3 bytes a character
    data = read_range(repo, "wide.txt").as_json()
    second = data["text"].splitlines()[1]
    assert set(second) == {"€"} and len(second.encode()) <= MAX_LINE_BYTES
    assert data["cut_lines"] == [2] and data["end"] == 3 and data["text"].endswith("last\n")


def test_a_short_read_is_not_marked_cut(repo: Path) -> None:
    data = read_range(repo, "tasktracker/dates.py", 1, 3).as_json()
    assert data["truncated"] is False and data["cut_lines"] == [] and "note" not in data


# -- rows 7 and 10: invalid paths, and messages without server paths ------------------------------

BAD_PATHS = {
    "\0": "NUL",
    "tasktracker/\0dates.py": "NUL",
    "x" * 5000 + ".py": "too long",
    "a/" * 3000 + "b.py": "too long",
    "d" * 300 + "/b.py": "too long",
    "/etc/passwd": "absolute",
    "../outside.png": "'..'",
    "tasktracker/../../outside.png": "'..'",
    "nope/missing.png": "no file",
    "folder.png": "not a regular file",
    ".git/config": "inside .git",
    ".GIT/config": "inside .git",
}


@pytest.mark.parametrize("path", list(BAD_PATHS), ids=[repr(p)[:30] for p in BAD_PATHS])
def test_an_invalid_path_is_a_one_line_refusal_in_both_tools(path: str, repo: Path, tools: RepoTools) -> None:
    (repo / "folder.png").mkdir()
    for call in (tools.read_range, tools.read_screenshot):
        message = refusal(call, path)
        assert BAD_PATHS[path] in message, message
        assert "\0" not in message
        assert_no_server_path(message, repo)


def test_a_path_that_is_not_a_string_is_a_refusal(tools: RepoTools) -> None:
    assert "must be a string" in refusal(tools.read_range, 3)
    assert "must be a string" in refusal(tools.read_screenshot, None)


def test_image_errors_name_the_path_as_given(repo: Path, tools: RepoTools) -> None:
    (repo / "docs").mkdir()
    (repo / "docs" / "fake.png").write_text("not a picture\n")
    (repo / "docs" / "cut.png").write_bytes(SCREENSHOT.read_bytes()[:200])
    (repo / "docs" / "linked.png").symlink_to("fake.png")
    (repo / "docs" / "arch.mmd").write_bytes(b"graph TD\0binary")
    cases = {"docs/fake.png": "not an image", "docs/cut.png": "truncated or corrupt",
             "docs/linked.png": "not an image", "docs/arch.mmd": "binary"}  # fmt: skip
    for path, expected in cases.items():
        message = refusal(tools.read_screenshot, path)
        assert expected in message and path in message, message
        assert_no_server_path(message, repo)


# -- row 13: screenshots outside the repository ----------------------------------------------------


def test_a_screenshot_in_an_allowed_folder_is_read(desktop: Path, tools: RepoTools) -> None:
    shot = desktop / "Screenshot 2026-12-06.png"
    shutil.copy(SCREENSHOT, shot)
    data = tools.read_screenshot(str(shot))
    assert data["image"] == str(shot) and data["width"] > 0 and "parse_due_date" in data["text"]


def test_outside_the_repository_only_images_in_allowed_folders_are_read(
    tmp_path: Path, repo: Path, desktop: Path, tools: RepoTools
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(SCREENSHOT, elsewhere / "shot.png")
    (desktop / "notes.png").write_text(f"url = {SECRET}\n")  # a text file named like an image
    (desktop / "arch.mmd").write_text("graph TD; secret-->ghp_secret_token\n")  # text is never read out here
    (desktop / "huge.png").write_bytes(SCREENSHOT.read_bytes()[:64] + b"\0" * MAX_INLINE_BYTES)
    (desktop / "out.png").symlink_to(elsewhere / "shot.png")  # a link out of the allowed folder
    (desktop / "git.png").symlink_to(repo / ".git" / "config")
    (desktop / "folder.png").mkdir()
    cases = {
        elsewhere / "shot.png": "outside the repository and the folders images_from allows",
        desktop / "notes.png": "not a PNG, JPEG, WebP, BMP or GIF image",
        desktop / "arch.mmd": "not a PNG, JPEG, WebP, BMP or GIF image",
        desktop / "huge.png": "the limit is 10 MiB",
        desktop / "out.png": "outside the repository and the folders images_from allows",
        desktop / "git.png": "into .git",
        desktop / "folder.png": "not a regular file",
        desktop / "missing.png": "no file",
    }
    for path, expected in cases.items():
        message = refusal(tools.read_screenshot, str(path))
        assert expected in message and str(path) in message, message
        assert "ghp_secret" not in message
        assert_no_server_path(message.replace(str(path), "<given>"), tmp_path)
    assert "absolute" in refusal(tools.read_range, str(desktop / "notes.png"))  # read_range stays in the repo


def test_an_absolute_path_inside_the_repository_is_a_repository_file(repo: Path, tools: RepoTools) -> None:
    (repo / "cfg.png").symlink_to(".git/config")
    message = refusal(tools.read_screenshot, str(repo / "cfg.png"))
    assert "into .git" in message
    assert "not an image" in refusal(tools.read_screenshot, str(repo / "tasktracker" / "dates.py"))


def test_no_allowed_folders_means_repository_images_only(repo: Path, desktop: Path) -> None:
    shutil.copy(SCREENSHOT, desktop / "shot.png")
    tools = RepoTools(repo, settings=Settings(images_from=""), embed=False)
    try:
        assert "images_from allows" in refusal(tools.read_screenshot, str(desktop / "shot.png"))
    finally:
        tools.close()


def test_the_default_folders_are_where_screenshots_are_saved() -> None:
    folders = re.split(r"[:;]", Settings().images_from)
    assert {"~/Desktop", "~/Downloads", "~/Pictures"} <= set(folders)


def test_the_folders_come_from_the_settings_layers(tmp_path: Path, repo: Path, desktop: Path) -> None:
    shutil.copy(SCREENSHOT, desktop / "shot.png")
    settings = load_settings(cwd=repo, environ={"CODEMM_IMAGES_FROM": f"{tmp_path / 'nothing'}{os.pathsep}{desktop}"})
    tools = RepoTools(repo, settings=settings, embed=False)
    try:
        assert tools.read_screenshot(str(desktop / "shot.png"))["width"] > 0
        relative = RepoTools(repo, settings=load_settings(cwd=repo, environ={"CODEMM_IMAGES_FROM": "shots"}))
        assert "not an absolute folder" in refusal(relative.read_screenshot, str(desktop / "shot.png"))
        relative.close()
        (repo / "codemm.toml").write_text('images_from = "/"\n')  # a cloned repository widening it
        assert "a repository may not widen" in refusal(load_settings, None, repo, {})
    finally:
        tools.close()


def test_long_base64_with_slashes_is_inline_not_a_path(tools: RepoTools) -> None:
    gif = base64.b64encode(b"GIF89a" + bytes(range(256)) * 40).decode()
    assert "/" in gif and len(gif) > 4096
    assert "not a PNG or JPEG" in refusal(tools.read_screenshot, gif)
