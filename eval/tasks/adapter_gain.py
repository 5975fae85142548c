"""What an adapter gains on in-house code, and what it costs elsewhere, with vs without the adapter.

``adapter_gain`` scores code the adapter never saw, the way a team lives it (eval/timesplit.py):
- ``since`` (``--since REV``): functions added or changed in the adapter's git repository after REV;
- ``heldout_repo`` (``--heldout-repo PATH``): functions of a later snapshot whose qualified names did
  not exist in the snapshot the adapter was trained on;
- neither: the held-out files of the training snapshot (a weak test: their siblings were learnt).
For each function: the token loss of its body given the code above it in its file (code tokens
only: no chat template, so the figure is not inflated by the template tokens training optimised)
and how often the model's first choice is the body's next token; a greedy completion of the body
from the same context (exact match, edit similarity, identifier recall against the body's first
``max_new_tokens`` tokens); and next-line completions inside the body (the cursor at the end of a
body line, as an editor completes while the function is being written: the next line's exact match
and edit similarity, averaged over up to LINE_CURSORS lines per function).

``adapter_cost`` is the same on code the adapter never saw and never could: HumanEval (loss of the
canonical solution, pass@1 of the completion in the sandbox) and another library (``unseen_repo``).
"""

from __future__ import annotations

import math
import random
import re
import time
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError
from codemm.eval.context import Generation, RunContext, Variant
from codemm.eval.tasks.base import Task, register
from codemm.eval.tasks.completion import defined_name, fenced
from codemm.eval.timesplit import Target, heldout_targets, since_targets, snapshot_targets, spread

CALLABLE = re.compile(r"([A-Za-z_]\w*)\s*[(<]")
CONTEXT_TOKENS = 512
"""Code above the body kept for loss and completion: the nearest tokens, as an editor would send."""
BODY_TOKENS = 256
DEFAULT_LIMIT = 40
LINE_CURSORS = 4
"""Next-line completions per function, spread over its body: several lines narrow a function's own
figure; the function stays the unit the paired bootstrap resamples."""
LINE_TOKENS = 48
"""Enough for a long line; generation stops at the line's end."""
GAIN_METRICS = ("loss", "token_accuracy", "edit_similarity", "exact_match", "identifier_recall", "line_edit_similarity",
                "line_exact_match")  # fmt: skip


def _trained_repo(name: str) -> Path:
    from codemm.adapters.store import read_card

    repo = read_card(name).repo
    if not repo or not Path(repo).is_dir():
        raise BadInputError(f"adapter '{name}' was trained on {repo or 'an unknown folder'}, which is gone")
    return Path(repo)


def _target_item(target: Target, **extra: Any) -> dict[str, Any]:
    return {"id": target.id, "prefix": target.prefix, "body": target.body, "indent": target.indent,
            "kind": "function", **extra}  # fmt: skip


@register
class AdapterGain(Task):
    name = "adapter_gain"
    default_variants = ("no-adapter", "adapter")
    primary = "loss"

    def items(self, ctx: RunContext) -> list[dict[str, Any]]:
        name = self.options.get("adapter")
        if not name:
            raise BadInputError("the adapter_gain suite needs --adapter NAME")
        limit = self.options.get("limit") or DEFAULT_LIMIT
        since, later = self.options.get("since"), self.options.get("heldout_repo")
        if since and later:
            raise BadInputError("give --since REV or --heldout-repo PATH, not both")
        if since:
            repo = Path(self.options.get("repo") or _trained_repo(name))
            found = since_targets(repo, since)
            what = f"no Python function was added or changed in {repo} since {since}"
            split = f"since {since}"
        elif later:
            found = heldout_targets(_trained_repo(name), Path(later))
            what = f"{later} defines no function that the adapter's training snapshot lacked"
            split = f"heldout-repo {Path(later).resolve().name}"
        else:
            return self._snapshot_items(name, limit, ctx.seed)
        if not found:
            raise BadInputError(what)
        return [_target_item(t, split=split) for t in spread(found, limit, ctx.seed)]

    def summary(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return _paired_summary(rows, "time_split", GAIN_METRICS, "split")

    def _snapshot_items(self, name: str, limit: int, seed: int) -> list[dict[str, Any]]:
        """The adapter's own held-out files, sampled across files."""
        from codemm.adapters.dataset import read_examples
        from codemm.adapters.store import adapter_dir, read_card

        heldout = adapter_dir(name) / "run" / "data" / "heldout.jsonl"
        if not heldout.is_file():
            raise BadInputError(f"adapter '{name}' has no held-out set at {heldout}")
        examples = list(enumerate(read_examples(heldout)))
        by_file: dict[str, list[Any]] = {}
        for i, e in examples:
            by_file.setdefault(e.path, []).append((i, e))
        rng = random.Random(seed)
        files = sorted(by_file)
        rng.shuffle(files)
        picked: list[Any] = []
        while len(picked) < min(limit, len(examples)):
            for f in files:
                if by_file[f] and len(picked) < limit:
                    picked.append(by_file[f].pop(rng.randrange(len(by_file[f]))))
        # The repository it was trained on, if still there: its names are not hallucinations.
        repo = read_card(name).repo
        repo_dir = Path(repo) if repo and Path(repo).is_dir() else None
        return [{"id": f"{e.path}:{i}", "example": e, "kind": e.kind, "repo": repo_dir} for i, e in picked]

    def run_item(self, item: dict[str, Any], variant: Variant, sample: int, ctx: RunContext) -> dict[str, Any]:
        if "example" not in item:
            return score_target(ctx, variant, item)
        return _snapshot_record(item, variant, sample, ctx)


@register
class AdapterCost(Task):
    """Forgetting: the adapter on code it never saw (HumanEval, another library)."""

    name = "adapter_cost"
    default_variants = ("no-adapter", "adapter")
    primary = "loss"

    def items(self, ctx: RunContext) -> list[dict[str, Any]]:
        from codemm.eval.problems import humaneval_path, load_problems

        if not self.options.get("adapter"):
            raise BadInputError("the adapter_cost suite needs --adapter NAME")
        limit = self.options.get("limit") or DEFAULT_LIMIT
        problems = load_problems(Path(self.options.get("problems") or humaneval_path()))
        chosen = sorted(random.Random(ctx.seed).sample(sorted(problems), min(limit, len(problems))))
        items = [{"id": task_id, "prefix": problems[task_id].prompt, "body": problems[task_id].reference,
                  "indent": 0, "kind": "humaneval", "problem": problems[task_id]}
                 for task_id in chosen if problems[task_id].style == "humaneval"]  # fmt: skip
        unseen = self.options.get("unseen_repo")
        if unseen:
            # Loss only: a completion there says nothing HumanEval's pass@1 does not.
            found = spread(snapshot_targets(Path(unseen)), limit, ctx.seed)
            items += [_target_item(t, kind="unseen_repo", complete=False) for t in found]
        return items

    def run_item(self, item: dict[str, Any], variant: Variant, sample: int, ctx: RunContext) -> dict[str, Any]:
        return score_target(ctx, variant, item)

    def summary(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return _paired_summary(rows, "cost", ("loss", "passed"), "kind")

    def score(self, item: dict[str, Any], record: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        if item["kind"] != "humaneval" or "completion" not in record:
            return {}
        from codemm.eval.sandbox import run_python

        result = run_python(item["problem"].program(record["completion"]), ctx.limits)
        return {"passed": result.passed}


def _paired_summary(rows: list[dict[str, Any]], key: str, metrics: tuple[str, ...], group: str) -> dict[str, Any]:
    """Adapter − no adapter per metric and split (paired bootstrap), as report notes, and recorded
    on the adapter's card so the adapter carries its own measure."""
    from codemm.adapters.store import record_metrics
    from codemm.eval.stats import paired_rows

    adapters = {r["adapter"] for r in rows if r.get("adapter")}
    figures: dict[str, Any] = {}
    notes: list[str] = []
    for split in sorted({r[group] for r in rows if r.get(group) and r.get("split")}):
        chosen = [r for r in rows if r.get(group) == split]
        paired = {m: paired_rows(chosen, m, "no-adapter", "adapter") for m in metrics}
        paired = {m: p for m, p in paired.items() if p["items"]}
        figures[split] = {m: {k: round(v, 4) for k, v in p.items()} for m, p in paired.items()}
        notes += [f"**{key.replace('_', ' ')}, {split}** (adapter − no adapter, paired bootstrap 95% CI): " + "; ".join(
            f"{m} {p['baseline']:.3f} → {p['variant']:.3f}, {p['difference']:+.3f} [{p['ci_low']:+.3f}, "
            f"{p['ci_high']:+.3f}] on {int(p['items'])}" for m, p in paired.items())]  # fmt: skip
    if len(adapters) == 1 and figures:
        record_metrics(adapters.pop(), key, figures)
    return {"notes": notes, key: figures} if figures else {}


def cut_at_dedent(text: str, indent: int) -> str:
    """A generated body up to the first line indented no deeper than its ``def``: the function ended."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            return "\n".join(lines[:i]).rstrip()
    return text.rstrip()


def cut_before_newline(prefix: str, body: str) -> tuple[str, str]:
    """The code above and the body, cut before the newline that ends the signature (or docstring):
    code tokenizers merge a newline with the next line's indentation, and a context ending in a bare
    newline token makes the model start a top-level line (SmolLM2 wrote ``#`` or nothing at all in
    place of the body)."""
    return (prefix[:-1], "\n" + body) if prefix.endswith("\n") else (prefix, body)


def body_ids(tokenizer: Any, prefix: str, body: str) -> tuple[list[int], list[int]]:
    """The nearest CONTEXT_TOKENS of the code above and the first BODY_TOKENS of the body, cut as
    cut_before_newline says."""
    prefix, body = cut_before_newline(prefix, body)
    context = tokenizer(prefix, add_special_tokens=False)["input_ids"][-CONTEXT_TOKENS:]
    return context, tokenizer(body, add_special_tokens=False)["input_ids"][:BODY_TOKENS]


def line_cursors(tokenizer: Any, body: str, limit: int) -> list[tuple[int, str]]:
    """(cursor, the line after it) for up to LINE_CURSORS code lines of ``body`` (which starts with
    the newline that ends the signature: cut_before_newline), spread evenly over the body.

    The cursor is the number of body tokens before the end of the last non-blank line above: like
    body_ids, the newline goes with the completion, and so do blank lines between (SmolLM2's
    tokenizer merges a blank line, the newline and the next indent into one token), and a token that
    straddles the cut. Blank and comment-only lines are no code to complete; lines past the first
    ``limit`` tokens lie outside the scored body."""
    offsets = tokenizer(body, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"][:limit]
    found: list[tuple[int, str]] = []
    for match in re.finditer("\n", body):
        line = body[match.end() :].split("\n", 1)[0]
        cut = len(body[: match.start()].rstrip())
        cursor = sum(1 for _, end in offsets if end <= cut)
        if line.strip() and not line.strip().startswith("#") and cursor < len(offsets):
            found.append((cursor, line))
    if len(found) <= LINE_CURSORS:
        return found
    step = (len(found) - 1) / (LINE_CURSORS - 1)
    return [found[round(i * step)] for i in range(LINE_CURSORS)]


def predicted_line(generated: str) -> str:
    """The first non-blank line a completion wrote after the cursor (which sits before a newline)."""
    return next((line for line in generated.split("\n")[1:] if line.strip()), "")


def _keep(cache: Any, tokens: int) -> None:
    """Keep a cache's first ``tokens`` positions (crop only takes how many to drop from the end)."""
    extra = cache.get_seq_length() - tokens
    if extra > 0:
        cache.crop(-extra)


def _next_lines(model: Any, tokenizer: Any, ids: Any, context: int, body: str, cache: Any) -> dict[str, Any]:
    """Next-line completions at the body's cursors. With the forward pass's ``cache``, cursors go
    last to first, so each crop only drops what the one before appended; None prefills each anew."""
    import torch
    from transformers import StoppingCriteria

    from codemm.eval.tasks.completion import completion_metrics

    class LineDone(StoppingCriteria):
        """A non-blank line ended after the cursor's newline: the predicted line is whole."""

        def __init__(self, start: int) -> None:
            self.start = start

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            parts = tokenizer.decode(input_ids[0, self.start :], skip_special_tokens=True).split("\n")
            done = any(part.strip() for part in parts[1:-1])
            return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

    started = time.perf_counter()
    guesses: list[str] = []
    edit, exact, tokens = [], [], 0
    for cursor, gold in sorted(line_cursors(tokenizer, body, ids.shape[1] - context), reverse=True):
        start = context + cursor
        reuse = {} if cache is None else {"cache": cache}
        if cache is not None:
            _keep(cache, start - 1)
        prompt = ids[:, :start]
        with torch.no_grad():
            out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                                 max_new_tokens=LINE_TOKENS, pad_token_id=tokenizer.eos_token_id,
                                 stopping_criteria=[LineDone(start)], **reuse)  # fmt: skip
        tokens += int(out.shape[1]) - start
        guess = predicted_line(tokenizer.decode(out[0, start:], skip_special_tokens=True))
        metrics = completion_metrics(guess, gold)
        edit.append(metrics["edit_similarity"])
        exact.append(metrics["exact_match"])
        guesses.insert(0, guess)
    if not edit:
        return {}
    return {"line_edit_similarity": sum(edit) / len(edit), "line_exact_match": sum(exact) / len(exact),
            "lines": len(edit), "line_guesses": guesses, "line_new_tokens": tokens,
            "line_seconds": round(time.perf_counter() - started, 3)}  # fmt: skip


def score_target(ctx: RunContext, variant: Variant, item: dict[str, Any]) -> dict[str, Any]:
    """Body loss (nats per body token) given the code above, a greedy completion of the body, and
    next-line completions inside it."""
    import torch

    from codemm.eval.tasks.completion import completion_metrics

    loaded = ctx.weights(variant)
    model, tokenizer = loaded.model, loaded.tokenizer
    context, body = body_ids(tokenizer, item["prefix"], item["body"])
    ids = torch.tensor([context + body], device=model.device)
    started = time.perf_counter()
    with torch.no_grad():
        forward = model(input_ids=ids, use_cache=True)
        # Only the body is scored: the context is given. Logit i predicts token i + 1.
        logits = forward.logits[0, len(context) - 1 : -1].float()
        loss = float(torch.nn.functional.cross_entropy(logits, ids[0, len(context) :]))
        # Whether the model's first choice is the written token, the real one before it (teacher
        # forcing): between the loss (all of the distribution) and a completion (its own errors compound).
        accuracy = float((logits.argmax(-1) == ids[0, len(context) :]).float().mean())
    record: dict[str, Any] = {"loss": loss, "perplexity": math.exp(loss), "token_accuracy": accuracy,
                              "tokens": len(body), "kind": item["kind"],
                              "split": item.get("split", item["kind"])}  # fmt: skip
    if not item.get("complete", True) or ctx.max_new_tokens <= 0:  # --max-new-tokens 0: the loss alone
        return record
    cache = forward.past_key_values  # computed once for every measure
    if item["kind"] == "function":  # new code; HumanEval's measure is pass@1
        lines_started = time.perf_counter()
        text = cut_before_newline(item["prefix"], item["body"])[1]  # the body as body_ids tokenized it
        record.update(_next_lines(model, tokenizer, ids, len(context), text, cache))
        started += time.perf_counter() - lines_started  # the body completion's time is its own
    _keep(cache, len(context) - 1)  # the context's keys and values
    with torch.no_grad():
        prompt = ids[:, : len(context)]
        out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), cache=cache, do_sample=False,
                             max_new_tokens=ctx.max_new_tokens, pad_token_id=tokenizer.eos_token_id)  # fmt: skip
    new = out[0, len(context) :]
    seconds = time.perf_counter() - started
    completion = cut_at_dedent(tokenizer.decode(new, skip_special_tokens=True), item["indent"])
    gold = cut_at_dedent(tokenizer.decode(body[: ctx.max_new_tokens], skip_special_tokens=True), item["indent"])
    generation = Generation(completion, len(context), int(new.shape[0]), seconds, new.shape[0] / max(seconds, 1e-9))
    return {**record, **completion_metrics(completion, gold), "completion": completion, "_generation": generation}


def _snapshot_record(item: dict[str, Any], variant: Variant, sample: int, ctx: RunContext) -> dict[str, Any]:
    import torch

    from codemm.eval.tasks.completion import completion_metrics, guess_body

    loaded = ctx.weights(variant)
    example = item["example"]
    text = example.training_text(loaded.tokenizer)  # what training optimised, chat template included
    ids = loaded.tokenizer(text, return_tensors="pt", truncation=True, max_length=512)["input_ids"]
    with torch.no_grad():
        loss = float(loaded.model(input_ids=ids.to(loaded.model.device), labels=ids.to(loaded.model.device)).loss)
    record: dict[str, Any] = {"loss": loss, "perplexity": math.exp(loss), "tokens": int(ids.shape[-1]),
                              "kind": item["kind"]}  # fmt: skip
    if example.prompt:  # "Complete this function from PATH": generate it, as ask/chat would
        gen = ctx.generate(variant, [{"role": "user", "content": example.prompt}], sample, 128)
        name = _function_name(example.prompt)
        gold = guess_body(example.text, name)
        guess = guess_body(gen.text, name)
        record.update(completion_metrics(guess, gold), output=gen.text, _generation=gen)
        if example.path.endswith(".py"):
            record["risks"] = ctx.risks(fenced(gen.text), variant, item["repo"])
    return record


def _function_name(prompt: str) -> str:
    """The name in the prompt's signature; else the first name called like a function."""
    code = prompt.split("```", 1)[-1]
    match = CALLABLE.search(code)
    return defined_name(code) or (match.group(1) if match else "")
