"""Repository completion: the body is found in what small models actually reply, and the
repository's own tests judge an edited function inside the sandbox."""

from __future__ import annotations

from pathlib import Path

from codemm.eval.repotests import find_test_files, run_repo_tests
from codemm.eval.tasks.completion import _indent_like, completion_metrics, defined_name, guess_body

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-repo"


def test_body_is_cut_out_of_a_whole_function_with_imports_and_prose() -> None:
    reply = (
        "Here you go:\n```python\nfrom datetime import date\n\ndef parse_due_date(text: str, today: date) -> date:\n"
        '    """Parses it."""\n    value = text.strip()\n    return date.fromisoformat(value)\n\n'
        "def other():\n    pass\n```\nThis parses the date."
    )
    assert guess_body(reply, "parse_due_date") == "    value = text.strip()\n    return date.fromisoformat(value)"
    assert guess_body("```\n    return a + b\n```", "add") == "    return a + b"  # a bare body, as asked


def test_brace_languages_stop_at_the_closing_brace() -> None:
    reply = '```go\nfunc (s *Store) Add(e Entry) error {\n\tif e.ID == "" {\n\t\treturn ErrNoID\n\t}\n\treturn nil\n}\n\nfunc x() {}\n```'
    assert guess_body(reply, "Add") == '\tif e.ID == "" {\n\t\treturn ErrNoID\n\t}\n\treturn nil\n}'


def test_a_call_or_import_is_not_the_definition() -> None:
    reply = (
        '```ts\nimport { parseCron, expandField } from "./cron";\n\nfunction parseCron(e: string) {\n'
        "  return expandField(e, 0, 59);\n}\n\nconst expandField = (field: string, min: number): Set<number> => {\n"
        "  return new Set([min]);\n};\n```"
    )
    assert guess_body(reply, "expandField") == "  return new Set([min]);\n};"
    method = "```ts\nclass Q {\n  siftUp(i: number): void {\n    this.swap(i);\n  }\n}\n```"
    assert guess_body(method, "siftUp") == "    this.swap(i);\n  }"
    unrelated = "```python\nclass TaskStore:\n    def load(self):\n        return [Task.from_dict(x) for x in y]\n```"
    assert guess_body(unrelated, "from_dict").startswith("class TaskStore:")  # no definition: all of it


def test_the_defined_name_is_read_from_a_signature() -> None:
    assert defined_name("def qk_close(ref, fence=3):\n    pass") == "qk_close"
    assert defined_name("func (s *Store) Add(e Entry) error {") == "Add"
    assert defined_name("const expandField = (field: string): Set<number> => {") == "expandField"
    assert defined_name("  siftUp(i: number): void {") == "siftUp"
    assert defined_name("x = compute(1)") == ""


def test_metrics_and_reindenting_a_method_body() -> None:
    assert _indent_like("return 1\n", "        return 2\n") == "        return 1\n"
    same = completion_metrics("  return a + b\n", "return a + b")
    assert same["exact_match"] and same["edit_similarity"] == 1.0 and same["identifier_recall"] == 1.0
    other = completion_metrics("return total", "return subtotal + total")
    assert not other["exact_match"] and 0 < other["edit_similarity"] < 1 and other["identifier_recall"] == 2 / 3


def test_repository_tests_pass_the_original_and_fail_a_broken_edit() -> None:
    [test_file] = find_test_files(SAMPLE, "parse_due_date")
    assert run_repo_tests(SAMPLE, test_file).passed
    source = (SAMPLE / "tasktracker" / "dates.py").read_text()
    broken = source.replace("return today + timedelta(days=1)", "return today")
    result = run_repo_tests(SAMPLE, test_file, {"tasktracker/dates.py": broken})
    assert result.status == "failed" and "AssertionError" in result.detail
