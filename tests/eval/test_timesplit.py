"""The time split: which code counts as written after training, and the with/without-adapter run on it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from codemm.errors import BadInputError
from codemm.eval.timesplit import heldout_targets, since_targets, snapshot_targets, spread, targets_in

RELEASE_1 = {
    "src/pkg/a.py": '''import os


def f(x):
    """Doubles."""
    y = x * 2
    return y


def g(x):
    y = x + 1
    return y


class C:
    def m(self):
        a = 1
        return a
''',
    "src/pkg/util.py": """def helper(p):
    q = p.strip()
    return q.lower()
""",
}

RELEASE_2 = {
    "src/pkg/a.py": '''import os


def f(x):
    """Doubles."""
    y = x * 2
    return y


def g(x):
    y = x + 2
    return y


def h(x):
    z = os.path.join(x, "h")
    return z


class C:
    def m(self):
        a = 1
        return a

    def n(self):
        b = self.m()
        return b + 1
''',
    "src/pkg/b.py": """def k(v):
    w = [v]
    return w
""",
    "src/pkg/util.py": RELEASE_1["src/pkg/util.py"],
}


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x",
           "HOME": str(repo), "PATH": "/usr/bin:/bin"}  # fmt: skip
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def two_releases(repo: Path) -> str:
    """A git repository at release 2 whose first commit is release 1; returns release 1's revision."""
    repo.mkdir()
    _git(repo, "init", "-q")
    _write(repo, RELEASE_1)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "release 1")
    rev = _git(repo, "rev-parse", "HEAD")
    _write(repo, RELEASE_2)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "release 2")
    return rev


def test_since_selects_exactly_the_functions_added_or_changed_after_rev(tmp_path: Path) -> None:
    rev = two_releases(tmp_path / "repo")
    found = {t.qualname: t for t in since_targets(tmp_path / "repo", rev)}
    assert set(found) == {"pkg.a.g", "pkg.a.h", "pkg.a.C.n", "pkg.b.k"}
    h = found["pkg.a.h"]
    assert h.body == '    z = os.path.join(x, "h")\n    return z\n'
    assert h.prefix.startswith("import os\n") and h.prefix.endswith("def h(x):\n")
    assert found["pkg.a.C.n"].indent == 4
    # Nothing changed since HEAD itself.
    assert since_targets(tmp_path / "repo", "HEAD") == []


def test_since_refuses_an_unknown_revision_or_a_folder_without_git(tmp_path: Path) -> None:
    two_releases(tmp_path / "repo")
    with pytest.raises(BadInputError, match="git rev-parse failed|rev-parse"):
        since_targets(tmp_path / "repo", "no-such-rev")
    (tmp_path / "plain").mkdir()
    with pytest.raises(BadInputError, match="not one"):
        since_targets(tmp_path / "plain", "HEAD")


def test_heldout_repo_selects_exactly_the_new_qualified_names(tmp_path: Path) -> None:
    _write(tmp_path / "old", RELEASE_1)
    # A src/ layout dropped between releases does not make every name new.
    _write(tmp_path / "new", {k.removeprefix("src/"): v for k, v in RELEASE_2.items()})
    assert {t.qualname for t in heldout_targets(tmp_path / "old", tmp_path / "new")} == {
        "pkg.a.h",
        "pkg.a.C.n",
        "pkg.b.k",
    }


def test_docstring_is_context_and_nested_functions_belong_to_their_parent() -> None:
    text = (
        'def outer(a):\n    """Doc."""\n    def inner():\n        return a\n    return inner()\n\ndef one(): return 1\n'
    )
    (target,) = targets_in("m.py", text)  # one() has no body of its own to complete
    assert target.qualname == "m.outer"
    assert target.prefix == 'def outer(a):\n    """Doc."""\n'
    assert target.body.startswith("    def inner():")
    assert targets_in("bad.py", "def broken(:\n") == []


def test_spread_takes_a_seeded_sample_across_files(tmp_path: Path) -> None:
    files = {f"m{i}.py": "".join(f"def f{j}(x):\n    y = x\n    return y\n\n" for j in range(5)) for i in range(4)}
    _write(tmp_path / "lib", files)
    targets = snapshot_targets(tmp_path / "lib")
    assert len(targets) == 20
    picked = spread(targets, 8, seed=0)
    assert len(picked) == 8 and {t.path for t in picked} == set(files)  # two from each file, not eight from one
    assert picked == spread(targets, 8, seed=0)
    assert picked != spread(targets, 8, seed=1)
    assert len(spread(targets, None, seed=0)) == 20


def test_links_out_of_a_snapshot_are_not_followed(tmp_path: Path) -> None:
    _write(tmp_path / "outside", {"secret.py": "def s(x):\n    y = x\n    return y\n"})
    _write(tmp_path / "lib", {"own.py": "def o(x):\n    y = x\n    return y\n"})
    (tmp_path / "lib" / "link.py").symlink_to(tmp_path / "outside" / "secret.py")
    (tmp_path / "lib" / "dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert [t.qualname for t in snapshot_targets(tmp_path / "lib")] == ["own.o"]


def test_time_split_run_with_and_without_a_tiny_adapter(tmp_path: Path) -> None:
    """--since and the cost suite end to end: code-only loss on new bodies, completions, pass@1."""
    from codemm.adapters.recipe import Recipe
    from codemm.adapters.store import read_card
    from codemm.adapters.train import train_adapter
    from codemm.eval.bench.inhouse_repo import generate
    from codemm.eval.report import write_report
    from codemm.eval.runner import RunConfig, run_eval
    from tests.fixtures.tiny_models import build_tiny_llama

    repo = tmp_path / "quill"
    generate(repo)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "trained here")
    rev = _git(repo, "rev-parse", "HEAD")
    tiny = build_tiny_llama(tmp_path / "tiny", window=1024)
    recipe = Recipe(quant="none", r=4, alpha=8, seq_len=64, batch_size=2, grad_accum=1, lr=3e-3, warmup_steps=1,
                    max_steps=4, save_every=4, eval_batches=1)  # fmt: skip
    train_adapter("quill", repo, recipe, str(tiny), device="cpu")
    _write(repo, {"services/later.py": RELEASE_2["src/pkg/a.py"]})
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "written after training")

    config = RunConfig(suites=["adapter_gain"], variants=[], model=str(tiny), quant="none", device="cpu",
                       adapter="quill", samples=1, seed=0, jobs=1, limit=None, max_new_tokens=6, since=rev)  # fmt: skip
    run_eval(config, tmp_path / "gain")
    rows = [json.loads(line) for line in (tmp_path / "gain" / "results.jsonl").read_text().splitlines()]
    items = {r["item"] for r in rows}
    assert items == {f"services/later.py::services.later.{n}" for n in ("f", "g", "h", "C.m", "C.n")}
    assert [r["variant"] for r in rows] == ["no-adapter", "adapter"] * 5
    for row in rows:
        assert row["loss"] > 0 and 0.0 <= row["edit_similarity"] <= 1.0 and row["cost"]["new_tokens"] <= 6
        assert 0.0 <= row["token_accuracy"] <= 1.0
        assert 1 <= row["lines"] <= 4 and 0.0 <= row["line_edit_similarity"] <= 1.0 and row["line_new_tokens"] > 0
    pairs = {(r["item"], r["variant"]): r["loss"] for r in rows}
    assert any(pairs[(i, "adapter")] != pairs[(i, "no-adapter")] for i in items)
    # The report states the paired figures, and the adapter's card keeps them.
    md, _ = write_report(tmp_path / "gain")
    assert f"**time split, since {rev}**" in md.read_text()
    recorded = read_card("quill").metrics["time_split"][f"since {rev}"]
    assert recorded["loss"]["items"] == 5
    mean_diff = sum(pairs[(i, "adapter")] - pairs[(i, "no-adapter")] for i in items) / 5
    assert abs(recorded["loss"]["difference"] - mean_diff) < 1e-3

    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps({
        "task_id": "T/0", "prompt": "def add(a, b):\n", "canonical_solution": "    return a + b\n",
        "test": "def check(f):\n    assert f(1, 2) == 3\n", "entry_point": "add",
    }) + "\n")  # fmt: skip
    cost = RunConfig(suites=["adapter_cost"], variants=[], model=str(tiny), quant="none", device="cpu", adapter="quill",
                     samples=1, seed=0, jobs=1, limit=2, max_new_tokens=4, problems=str(problems),
                     unseen_repo=str(tmp_path / "unseen"))  # fmt: skip
    _write(tmp_path / "unseen", RELEASE_1)
    run_eval(cost, tmp_path / "cost")
    rows = [json.loads(line) for line in (tmp_path / "cost" / "results.jsonl").read_text().splitlines()]
    assert [(r["kind"], r["variant"]) for r in rows][:2] == [("humaneval", "no-adapter"), ("humaneval", "adapter")]
    assert all(r["passed"] is False for r in rows if r["kind"] == "humaneval")  # a random model cannot add
    assert len([r for r in rows if r["kind"] == "unseen_repo"]) == 4  # limit 2, with and without
    assert all("completion" not in r for r in rows if r["kind"] == "unseen_repo")  # loss only there
    write_report(tmp_path / "cost")
    cost_card = read_card("quill").metrics["cost"]
    assert cost_card["humaneval"]["passed"]["baseline"] == 0.0 and cost_card["unseen_repo"]["loss"]["items"] == 2


def test_paired_rows_pairs_by_item_and_counts_ups_and_downs() -> None:
    from codemm.eval.stats import paired_rows

    rows = [{"item": "a", "variant": "base", "m": 1.0}, {"item": "a", "variant": "new", "m": 0.5},
            {"item": "b", "variant": "new", "m": 2.0}, {"item": "b", "variant": "base", "m": 1.5},
            {"item": "c", "variant": "base", "m": 9.0}]  # fmt: skip
    p = paired_rows(rows, "m", "base", "new")
    assert (p["items"], p["baseline"], p["variant"], p["difference"], p["up"], p["down"]) == (2, 1.25, 1.25, 0.0, 1, 1)
    assert p["ci_low"] <= 0.0 <= p["ci_high"]


def test_the_cut_keeps_the_newline_with_the_body() -> None:
    """A context ending in a bare newline token made SmolLM2 start a top-level line instead of the body."""
    from codemm.eval.tasks.adapter_gain import body_ids, cut_at_dedent
    from tests.fixtures.tiny_models import build_tokenizer

    tokenizer = build_tokenizer()
    context, body = body_ids(tokenizer, "def f(x):\n", "    y = x\n    return y\n")
    assert tokenizer.decode(context) == "def f(x):"
    assert tokenizer.decode(body) == "\n    y = x\n    return y\n"
    assert cut_at_dedent("\n    y = x\n    return y\ndef g():\n    pass", 0) == "\n    y = x\n    return y"
    assert cut_at_dedent("\n        a = 1\n    def n(self):", 4) == "\n        a = 1"


def test_next_line_cursors_sit_at_the_end_of_the_code_above_spread_over_the_body() -> None:
    from codemm.eval.tasks.adapter_gain import body_ids, line_cursors, predicted_line
    from tests.fixtures.tiny_models import build_tokenizer

    tokenizer = build_tokenizer()
    lines = [
        "    y = x",
        "",
        "    # a comment is not code to complete",
        *(f"    y = y + {i}" for i in range(7)),
        "",
        "    return y",
    ]
    _, body = body_ids(tokenizer, "def f(x):\n", "\n".join(lines) + "\n")
    text = "\n" + "\n".join(lines) + "\n"
    cursors = line_cursors(tokenizer, text, len(body))
    # Nine code lines, four cursors: the first, the last and two evenly between.
    assert [line for _, line in cursors] == ["    y = x", "    y = y + 2", "    y = y + 4", "    return y"]
    for cursor, line in cursors:
        # The context ends on code, never on a newline; the written continuation predicts the line,
        # blank lines between included (the last cursor sits after "y = y + 6", before the blank line).
        before = tokenizer.decode(body[:cursor])
        assert text.startswith(before) and not before.endswith("\n")
        assert predicted_line(text[len(before) :]) == line
    assert tokenizer.decode(body[: cursors[-1][0]]).rstrip().endswith("y = y + 6")
    # A body cut short of its last lines offers no cursor there.
    assert [line for _, line in line_cursors(tokenizer, text, 4)] == ["    y = x"]
    assert predicted_line(")\n    return y\n    z") == "    return y"
    assert predicted_line("\n\n    return") == "    return" and predicted_line("no newline") == ""


def test_next_lines_from_the_forward_cache_match_fresh_generations(tmp_path: Path) -> None:
    """One forward pass's cache, cropped cursor by cursor, must complete exactly as a fresh prompt."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codemm.eval.tasks.adapter_gain import _next_lines, body_ids
    from tests.fixtures.tiny_models import build_tiny_llama

    tiny = build_tiny_llama(tmp_path / "tiny", window=1024)
    model = AutoModelForCausalLM.from_pretrained(tiny).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    body = "    total = 0\n    for item in items:\n        total += item\n\n    return total\n"
    context, body_tokens = body_ids(tokenizer, "def add(items):\n", body)
    ids = torch.tensor([context + body_tokens])
    with torch.no_grad():
        cache = model(input_ids=ids, use_cache=True).past_key_values
    cached = _next_lines(model, tokenizer, ids, len(context), "\n" + body, cache)
    fresh = _next_lines(model, tokenizer, ids, len(context), "\n" + body, None)
    assert cached["lines"] == fresh["lines"] == 4
    assert cached["line_guesses"] == fresh["line_guesses"]
    assert cached["line_edit_similarity"] == fresh["line_edit_similarity"]


def test_the_bench_reuses_an_adapter_only_if_it_was_trained_with_the_recipe(tmp_path: Path) -> None:
    """A changed default recipe must not be scored by an adapter the old one trained."""
    import dataclasses

    from codemm.adapters.recipe import load_recipe
    from codemm.adapters.store import AdapterCard, adapter_dir, write_card
    from codemm.eval.bench.adapter_timesplit import train

    recipe = load_recipe("default")
    folder = adapter_dir("ts-lib")
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    card = AdapterCard("ts-lib", "m", "id", "sha", {**recipe.as_dict(), "name": "renamed"}, {"steps": 3}, "now")
    write_card(folder, card)
    assert train("lib", tmp_path, "default", "m") == {"steps": 3}  # the same recipe under another name
    write_card(folder, dataclasses.replace(card, recipe={**card.recipe, "lr": recipe.lr * 10}))
    with pytest.raises(BadInputError, match="another lr"):
        train("lib", tmp_path, "default", "m")
