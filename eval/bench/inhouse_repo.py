"""A fixture repository with distinctive internal APIs, for measuring what an adapter learns.

    python -m codemm.eval.bench.inhouse_repo OUT_DIR

"quillstack" is a fictional in-house platform: every service module talks to the core through
``qk_fetch``/``qk_emit``, stages work in a ``QuillBatch``, raises ``QuillFault`` and guards calls
with a ``fence``. No public model knows these names, so held-out perplexity and answers about them
show what fine-tuning on the repository added. Deterministic for a seed; about 2,500 lines.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

DOMAINS = ["billing", "ledger", "shipping", "inventory", "payroll", "refunds", "invoices", "audit",
           "pricing", "catalog", "orders", "returns", "vendors", "tax", "warehouse", "customers",
           "rewards", "claims", "quotes", "subscriptions"]  # fmt: skip
VERBS = ["close", "reopen", "settle", "sync", "archive", "reconcile", "export", "verify", "rebuild", "purge"]
NOUNS = ["period", "batch", "snapshot", "cursor", "window", "journal", "manifest", "bundle"]

CORE = '''"""quillstack core: the only way services reach storage and the event bus."""

from __future__ import annotations

from dataclasses import dataclass, field


class QuillFault(Exception):
    """Raised by every quillstack service when a row or fence is invalid."""


@dataclass
class QuillRow:
    qk_id: str
    qk_amount: int
    qk_state: str = "open"
    qk_tags: list[str] = field(default_factory=list)


class QuillBatch:
    """Stages row changes under a fence; nothing is visible until qk_seal()."""

    def __init__(self, ref: str, fence: int) -> None:
        self.qk_ref = ref
        self.qk_fence = fence
        self.qk_staged: list[tuple[str, int]] = []
        self.qk_sealed = False

    @classmethod
    def qk_begin(cls, ref: str, *, fence: int = 3) -> "QuillBatch":
        if fence < 1:
            raise QuillFault(f"fence must be positive for {ref}")
        return cls(ref, fence)

    def qk_stage(self, row_id: str, amount: int) -> None:
        if self.qk_sealed:
            raise QuillFault(f"batch {self.qk_ref} is sealed")
        self.qk_staged.append((row_id, amount))

    def qk_seal(self) -> dict[str, object]:
        self.qk_sealed = True
        return {"ref": self.qk_ref, "rows": len(self.qk_staged), "total": sum(a for _, a in self.qk_staged)}


_STORE: dict[str, list[QuillRow]] = {}
_EVENTS: list[tuple[str, dict[str, object]]] = []


def qk_fetch(domain: str, ref: str, *, fence: int = 3) -> list[QuillRow]:
    """Rows of ``domain`` for ``ref``; a fence above 9 is refused."""
    if fence > 9:
        raise QuillFault(f"fence {fence} too wide for {domain}")
    return list(_STORE.get(f"{domain}:{ref}", []))


def qk_emit(topic: str, payload: dict[str, object]) -> None:
    """Publishes an event on the quillstack bus."""
    _EVENTS.append((topic, payload))
'''


def _function(rng: random.Random, domain: str, verb: str, noun: str) -> str:
    name = f"qk_{domain}_{verb}_{noun}"
    fence = rng.choice([2, 3, 4, 5])
    state = rng.choice(["void", "held", "stale", "locked"])
    tag = rng.choice(["priority", "legacy", "manual", "audit"])
    body = rng.choice([
        f"""    batch = QuillBatch.qk_begin(ref, fence=fence)
    for row in qk_fetch("{domain}", ref, fence=fence):
        if row.qk_state == "{state}":
            raise QuillFault(f"{domain} row {{row.qk_id}} is {state}")
        batch.qk_stage(row.qk_id, row.qk_amount)
    qk_emit("{domain}.{verb}_{noun}", batch.qk_seal())
    return batch""",
        f"""    rows = [r for r in qk_fetch("{domain}", ref, fence=fence) if "{tag}" not in r.qk_tags]
    if not rows:
        raise QuillFault(f"no {domain} rows to {verb} for {{ref}}")
    batch = QuillBatch.qk_begin(ref, fence=fence)
    for row in rows:
        batch.qk_stage(row.qk_id, -row.qk_amount if row.qk_state == "{state}" else row.qk_amount)
    qk_emit("{domain}.{verb}_{noun}", batch.qk_seal())
    return batch""",
        f"""    total = 0
    batch = QuillBatch.qk_begin(ref, fence=fence)
    for row in qk_fetch("{domain}", ref, fence=fence):
        total += row.qk_amount
        batch.qk_stage(row.qk_id, row.qk_amount)
    if total < 0:
        raise QuillFault(f"{domain} {noun} for {{ref}} would go negative")
    qk_emit("{domain}.{verb}_{noun}", {{"total": total, **batch.qk_seal()}})
    return batch""",
    ])  # fmt: skip
    return (f'def {name}(ref: str, *, fence: int = {fence}) -> QuillBatch:\n'
            f'    """{verb.capitalize()}s the {domain} {noun} for ``ref`` under a quillstack fence."""\n'
            f"{body}\n")  # fmt: skip


def generate(out: Path, seed: int = 0) -> int:
    rng = random.Random(seed)
    pkg = out / "quillstack"
    (pkg / "services").mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text('"""quillstack: the in-house platform."""\n')
    (pkg / "core.py").write_text(CORE)
    (pkg / "services" / "__init__.py").write_text("")
    lines = CORE.count("\n")
    for domain in DOMAINS:
        pairs = rng.sample([(v, n) for v in VERBS for n in NOUNS], 10)
        header = f'"""quillstack {domain} service."""\n\n'
        parts = [header + "from quillstack.core import QuillBatch, QuillFault, qk_emit, qk_fetch\n"]
        parts += [_function(rng, domain, v, n) for v, n in pairs]
        text = "\n\n".join(parts)
        (pkg / "services" / f"{domain}.py").write_text(text)
        lines += text.count("\n")
    (out / "README.md").write_text(
        "# quillstack\n\nIn-house platform: services reach storage only through qk_fetch and qk_emit.\n"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"wrote {generate(args.out, args.seed)} lines to {args.out}")


if __name__ == "__main__":
    main()
