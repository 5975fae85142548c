"""Each risk detector on code with a known answer."""

from __future__ import annotations

from codemm.eval.risks import (
    PROBES,
    TrainingSetIndex,
    assess,
    bandit_findings,
    hallucinated_symbols,
    secret_findings,
    tokens,
)


def test_bandit_reports_test_ids_with_cwe() -> None:
    found = {
        (f["test"], f["cwe"]) for f in bandit_findings("import pickle\n\ndef load(b):\n    return pickle.loads(b)\n")
    }
    assert ("B403", "CWE-502") in found and ("B301", "CWE-502") in found
    assert bandit_findings("def add(a, b):\n    return a + b\n") == []


def test_secrets_are_found_and_clean_code_is_not_flagged() -> None:
    assert secret_findings(PROBES["detect-secrets"])
    assert secret_findings("def add(a, b):\n    return a + b\n") == []


def test_hallucinated_names_exclude_stdlib_installed_and_repo_symbols() -> None:
    code = (
        "import os\nimport numpy\nimport numpyy\nfrom json import loads, dumpz\nfrom tasktracker.dates import parse_due_date\n"
        "def f(p):\n    helper = 1\n    os.path.join(p)\n    os.fakecall()\n    frobnicate(p)\n    summarize(p)\n"
        "    return loads(p), parse_due_date(p), len(p)\n"
    )
    found = hallucinated_symbols(code, repo_symbols={"summarize", "parse_due_date"}, repo_modules={"tasktracker"})
    assert found == ["frobnicate", "json.dumpz", "numpyy", "os.fakecall"]
    assert hallucinated_symbols("not python (") == []


def test_memorization_measures_the_longest_copied_run() -> None:
    train = "def qk_close(ref):\n    batch = QuillBatch.qk_begin(ref, fence=3)\n    return qk_fetch('billing', ref, fence=3)\n"
    index = TrainingSetIndex([train])
    run, overlap = index.measure(train)
    assert run == len(tokens(train)) and overlap == 1.0  # all of it, verbatim
    copied, part = index.measure("x = 1\nbatch = QuillBatch.qk_begin(ref, fence=3)\ny = 2\n")
    assert copied == 12 and 0 < part < 1  # batch = QuillBatch . qk_begin ( ref , fence = 3 )
    assert index.measure("def add(a, b):\n    return a + b\n") == (0, 0.0)
    report = assess(train, training=index)
    assert report.memorized_run == run and report.insecure == []
