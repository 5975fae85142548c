"""`codemm eval run`: every item of every suite under every variant, results streamed to
``results.jsonl`` (one line per item, variant and sample), so an interrupted run resumes where it
stopped; ``run.json`` holds everything needed to reproduce it (`codemm eval rerun DIR`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codemm import __version__
from codemm.config import Settings
from codemm.errors import BadInputError, error_from_oserror
from codemm.eval.context import RunContext, Variant, peak_rss_mib
from codemm.eval.risks import probe_detectors
from codemm.eval.sandbox import sandbox_layers
from codemm.eval.tasks import get_task
from codemm.files import write_text_atomic
from codemm.vision.ocr import available_backends

DEFAULT_SUITES = ("synthesis", "repoqa", "completion", "screenshots")


@dataclass
class RunConfig:
    suites: list[str]
    variants: list[str]
    """Empty: each suite's own default variants."""
    model: str
    quant: str
    device: str
    adapter: str | None
    samples: int
    seed: int
    jobs: int
    limit: int | None
    max_new_tokens: int
    problems: str | None = None
    backend: str = "transformers"
    api_base: str = ""
    api_key_env: str = ""
    context_window: int = 0
    concurrency: int = 1
    """Generations in flight at once: a server (vLLM, llama.cpp) batches them."""
    since: str | None = None
    """adapter_gain: score code added or changed after this git revision (the adapter trained at it)."""
    heldout_repo: str | None = None
    """adapter_gain: score the functions of this later snapshot that training's snapshot lacked."""
    unseen_repo: str | None = None
    """adapter_cost: a library the adapter never saw, besides HumanEval."""

    def settings(self) -> Settings:
        settings = Settings(
            model=self.model, quant=self.quant, device=self.device, seed=self.seed, backend=self.backend,
            api_key_env=self.api_key_env, context_window=self.context_window,
        )  # fmt: skip
        settings.api_base = self.api_base or settings.api_base
        return settings

    @classmethod
    def load(cls, out: Path) -> RunConfig:
        path = out / "run.json"
        if not path.is_file():
            raise BadInputError(f"{out} holds no run.json: not an eval run folder")
        try:
            return cls(**json.loads(path.read_text())["config"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BadInputError(f"{path} is damaged ({type(exc).__name__}: {exc})") from None


def _key(row: dict[str, Any]) -> tuple[str, str, str, int]:
    return (row["suite"], row["item"], row["variant"], row["sample"])


def _versions() -> dict[str, str]:
    import torch
    import transformers

    return {"codemm": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__}  # fmt: skip


def _prompt_templates() -> str:
    from codemm.eval.tasks import completion, screenshots, synthesis
    from codemm.prompt import SYSTEM_PROMPT

    text = synthesis.INSTRUCTION + synthesis.MBPP_REPLY + SYSTEM_PROMPT + Path(completion.__file__).read_text()
    text += Path(screenshots.__file__).read_text()
    from codemm import edit as edit_loop
    from codemm.patch import PATCH_SYSTEM_PROMPT

    text += PATCH_SYSTEM_PROMPT + Path(edit_loop.__file__).read_text()  # the edit suite's prompts and feedback
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _generated(
    task: Any, item: dict[str, Any], variant: Variant, sample: int, ctx: RunContext, head: dict[str, Any]
) -> dict[str, Any]:
    started = time.perf_counter()
    record = task.run_item(item, variant, sample, ctx)
    gen = record.pop("_generation", None)
    return {**head, **record,
            "cost": {"prompt_tokens": getattr(gen, "prompt_tokens", 0),
                     "new_tokens": getattr(gen, "new_tokens", 0),
                     "latency_s": round(time.perf_counter() - started, 3),
                     "tokens_per_s": round(getattr(gen, "tokens_per_s", 0.0), 2),
                     "peak_rss_mib": round(peak_rss_mib(), 1)}}  # fmt: skip


def _scored(task: Any, item: dict[str, Any], row: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {**row, **task.score(item, row, ctx)}


def _scored_when_made(task: Any, item: dict[str, Any], made: Future[dict[str, Any]], ctx: RunContext) -> dict[str, Any]:
    return _scored(task, item, made.result(), ctx)


def run_eval(
    config: RunConfig, out: Path, resume: bool = False, root: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Path:  # fmt: skip
    """Runs (or resumes) an evaluation into ``out``; returns the results file."""
    from codemm.eval.repoqa import project_root

    results = out / "results.jsonl"
    done: set[tuple[str, str, str, int]] = set()
    try:
        out.mkdir(parents=True, exist_ok=True)
        if results.exists() and not resume:
            raise BadInputError(f"{out} already holds results; pass --resume to continue or pick another --out")
        if resume and results.exists():
            previous = RunConfig.load(out)
            if dataclasses.asdict(previous) != dataclasses.asdict(config):
                raise BadInputError(
                    f"--resume with different settings than {out / 'run.json'}; use `codemm eval rerun`"
                )
            done = {_key(json.loads(line)) for line in results.read_text().splitlines() if line.strip()}
    except OSError as exc:
        raise error_from_oserror(exc, f"preparing {out}") from None

    if config.concurrency > 1 and config.backend != "openai":
        raise BadInputError(
            f"--concurrency {config.concurrency} needs --backend openai: an in-process model answers one at a time"
        )
    ctx = RunContext(config.settings(), seed=config.seed, samples=config.samples, max_new_tokens=config.max_new_tokens,
                     root=root or project_root())  # fmt: skip
    detectors = probe_detectors()
    described = ctx.model(Variant("base", adapter=None)).describe()
    # Atomic: restarting an interrupted run on a full disk must not truncate the config --resume needs.
    write_text_atomic(out / "run.json", json.dumps({
        "config": dataclasses.asdict(config),
        "versions": _versions(),
        "model": {key: described.get(key) for key in ("name", "backend", "server_model", "api_base", "sha256",
                                                      "checkpoint", "context_window")},
        "prompt_templates_sha256": _prompt_templates(),
        "sandbox": sandbox_layers(),
        "detectors": detectors,
        "ocr": available_backends(),
        "decoding": {"repetition_penalty": ctx.settings.repetition_penalty or "engine default (1.1 in process)",
                     "loop_guard": True},  # fmt: skip
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }, indent=2))  # fmt: skip

    # Generation is sequential in process; against a server, --concurrency N keeps N requests in
    # flight. With --jobs > 1, scoring (sandbox runs) overlaps it on worker threads; --jobs 1 scores
    # inline: nothing competes with a sample for its wall-clock limit. Rows are written in item
    # order whatever finishes first, so runs compare line by line.
    pending: deque[tuple[Future[dict[str, Any]], str, int, int]] = deque()
    in_flight = max(2 * config.jobs if config.jobs > 1 else 0, config.concurrency - 1)
    with (
        results.open("a", encoding="utf-8") as sink,
        ThreadPoolExecutor(max(1, config.jobs)) as pool,
        ThreadPoolExecutor(config.concurrency) as generators,
    ):

        def write(keep: int) -> None:
            """Writes finished rows in order; waits while more than ``keep`` are in flight."""
            while len(pending) > keep or (pending and pending[0][0].done()):
                future, suite, count, total = pending.popleft()
                sink.write(json.dumps(future.result(), default=str) + "\n")
                sink.flush()  # an interrupted run loses at most the items in progress
                if progress:
                    progress(suite, count, total)

        for suite in config.suites:
            task = get_task(
                suite, adapter=config.adapter, limit=config.limit, problems=config.problems, since=config.since,
                heldout_repo=config.heldout_repo, unseen_repo=config.unseen_repo,
            )  # fmt: skip
            variant_names = config.variants or list(task.default_variants)
            variants = [Variant.parse(v, config.adapter) for v in variant_names]
            items = task.items(ctx)
            samples = config.samples if task.samples_matter else 1
            total = len(items) * len(variants) * samples
            count = 0
            for item in items:
                for variant in variants:
                    for sample in range(samples):
                        count += 1
                        key = (suite, str(item["id"]), variant.name, sample)
                        if key in done:
                            continue
                        head = {"suite": suite, "item": str(item["id"]), "variant": variant.name, "sample": sample,
                                "adapter": variant.adapter}  # fmt: skip
                        if config.concurrency == 1:
                            row = _generated(task, item, variant, sample, ctx, head)
                            scored = pool.submit(_scored, task, item, row, ctx)
                        else:
                            made = generators.submit(_generated, task, item, variant, sample, ctx, head)
                            scored = pool.submit(_scored_when_made, task, item, made, ctx)
                        pending.append((scored, suite, count, total))
                        write(keep=in_flight)
        write(keep=0)
    ctx.close()
    return results
