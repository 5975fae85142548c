from __future__ import annotations

from pathlib import Path

import pytest

from codemm.config import find_project_file, load_settings
from codemm.errors import BadInputError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path, environ={})
    assert settings.model == "smollm2-135m-instruct"
    assert settings.quant == "none"
    assert set(settings.sources.values()) == {"default"}


def test_layers_in_increasing_priority(tmp_path: Path, isolated_dirs: Path) -> None:
    write(isolated_dirs / "config" / "config.toml", 'model = "user-model"\nquant = "8bit"\nseed = 1\n')
    project = write(tmp_path / "proj" / "codemm.toml", '[codemm]\nquant = "4bit"\nmax_new_tokens = 64\n')
    (tmp_path / "proj" / ".git").mkdir()
    sub = tmp_path / "proj" / "src"
    sub.mkdir()
    settings = load_settings(
        flags={"seed": 7, "device": None},
        cwd=sub,
        environ={"CODEMM_MAX_NEW_TOKENS": "32", "CODEMM_DEVICE": "cpu"},
    )
    assert settings.model == "user-model"  # user file, untouched by later layers
    assert settings.quant == "4bit"  # project file beats the user file
    assert settings.max_new_tokens == 32  # environment beats the project file
    assert settings.device == "cpu"  # a flag of None means "not given"
    assert settings.seed == 7  # flags beat everything
    assert settings.sources["quant"] == str(project)
    assert settings.sources["max_new_tokens"] == "CODEMM_MAX_NEW_TOKENS"
    assert settings.sources["seed"] == "flag"


def test_project_file_search_stops_at_repo_root(tmp_path: Path) -> None:
    write(tmp_path / "codemm.toml", 'quant = "8bit"\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    assert find_project_file(repo) is None
    assert find_project_file(tmp_path) == tmp_path / "codemm.toml"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CODEMM_QUANT": "3bit"}, "setting 'quant' from CODEMM_QUANT must be one of none, 8bit, 4bit"),
        (
            {"CODEMM_MAX_NEW_TOKENS": "many"},
            "setting 'max_new_tokens' from CODEMM_MAX_NEW_TOKENS must be a int",
        ),
        ({"CODEMM_DEVICE": "tpu"}, "must be one of auto, cpu, cuda, mps"),
        (
            {"CODEMM_SEARCH_RERANK": "maybe"},
            r"'search_rerank' from CODEMM_SEARCH_RERANK must be a bool \(true or false\)",
        ),
    ],
)
def test_bad_values_name_the_setting_and_source(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        load_settings(cwd=tmp_path, environ=environ)


def test_search_assist_switches_are_off_by_default_and_take_toml_or_env_booleans(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert not load_settings(cwd=tmp_path, environ={}).search_rerank
    write(tmp_path / "codemm.toml", "search_rewrite = true\nsearch_rerank = true\n")
    settings = load_settings(cwd=tmp_path, environ={"CODEMM_SEARCH_RERANK": "off"})
    assert settings.search_rewrite is True and settings.search_rerank is False
    assert settings.sources["search_rerank"] == "CODEMM_SEARCH_RERANK"
    assert load_settings(cwd=tmp_path, environ={}, flags={"search_rewrite": False}).search_rewrite is False
    with pytest.raises(BadInputError, match="'search_rewrite' from .*codemm.toml must be a bool"):
        write(tmp_path / "codemm.toml", 'search_rewrite = "sometimes"\n')
        load_settings(cwd=tmp_path, environ={})


def test_unknown_key_and_bad_toml_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "codemm.toml", "modle = 'x'\n")
    with pytest.raises(BadInputError, match="unknown setting 'modle'"):
        load_settings(cwd=tmp_path, environ={})
    write(tmp_path / "codemm.toml", "model = \n")
    with pytest.raises(BadInputError, match="is not valid TOML") as info:
        load_settings(cwd=tmp_path, environ={})
    assert "\n" not in str(info.value)
