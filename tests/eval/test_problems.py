"""Both standard problem formats load, and their reference solutions pass through codemm's sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codemm.errors import BadInputError
from codemm.eval.problems import humaneval_path, load_problems
from codemm.eval.sandbox import run_python


def test_humaneval_from_the_wheel_and_canonical_solutions_pass() -> None:
    problems = load_problems(humaneval_path())
    assert len(problems) == 164
    for task_id in ("HumanEval/0", "HumanEval/1", "HumanEval/2"):
        problem = problems[task_id]
        assert run_python(problem.program(problem.reference)).passed, task_id
    assert not run_python(problems["HumanEval/0"].program("    return None\n")).passed


def test_mbpp_prompt_names_the_tests_and_reference_passes(tmp_path: Path) -> None:
    rows = [
        {"task_id": 2, "text": "Write a function to find the shared elements from the given two lists.",
         "code": "def similar_elements(a, b):\n    return tuple(set(a) & set(b))",
         "test_list": ["assert set(similar_elements((3, 4, 5, 6), (5, 7, 4, 10))) == set((4, 5))"]},
    ]  # fmt: skip
    path = tmp_path / "mbpp.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    problem = load_problems(path)["2"]
    assert problem.style == "mbpp" and "similar_elements((3, 4, 5, 6)" in problem.prompt
    assert run_python(problem.program(problem.reference)).passed
    assert not run_python(problem.program("def similar_elements(a, b):\n    return ()")).passed


def test_unknown_format_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"task_id": 1, "prompt": "p"}\n')
    with pytest.raises(BadInputError, match=r"x.jsonl:1: neither HumanEval nor MBPP"):
        load_problems(path)
