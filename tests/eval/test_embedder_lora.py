"""The embedding fine-tune recipe: pairs that cannot be matched word for word, batches of one library
without twin queries, and a trained dir that codemm opens as an embedding model."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from codemm.eval.bench.embedder_lora import BATCH, Pair, batches, pairs_from_source, pairs_from_wheel, train
from codemm.repo.embed_local import LocalEncoder
from tests.fixtures.tiny_models import build_tiny_embedder

SOURCE = '''
def decode_chunked(stream):
    """Read a body sent in pieces, each preceded by its length in hex.

    Stops at the zero-length piece.
    """
    while True:
        size = int(stream.readline(), 16)
        if not size:
            return


def short():
    """Too short."""
    return 1


class Pool:
    """Keep idle connections around for the next request to the same host."""

    def __init__(self):
        self.idle = {}
'''


def test_a_pair_is_the_summary_and_the_code_without_it() -> None:
    pairs = pairs_from_source("lib/http.py", SOURCE, "lib")
    assert [p.query for p in pairs] == [
        "Read a body sent in pieces, each preceded by its length in hex.",
        "Keep idle connections around for the next request to the same host.",
    ]
    chunked = pairs[0].document
    assert chunked.startswith("lib/http.py\ndef decode_chunked(stream):")
    assert "preceded by its length" not in chunked  # the summary is taken out...
    assert "Stops at the zero-length piece." in chunked and "int(stream.readline(), 16)" in chunked  # ...the rest stays
    assert pairs_from_source("bad.py", "def broken(:\n", "lib") == []


def test_reserved_vendored_and_test_files_are_never_mined(tmp_path: Path) -> None:
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in ("demo/http.py", "demo/_vendor/http.py", "demo/tests/test_http.py", "rich/http.py",
                     "demo/click/http.py", "demo/http.txt"):  # fmt: skip
            archive.writestr(name, SOURCE)
    pairs = pairs_from_wheel(wheel)
    assert {p.document.split("\n")[0] for p in pairs} == {"demo/http.py"}
    assert {p.library for p in pairs} == {"demo"}


def test_batches_hold_one_library_and_no_twin_queries() -> None:
    pairs = [Pair("a", f"query {i % 40}", f"doc {i}") for i in range(80)]
    pairs += [Pair("b", f"other {i}", f"doc b{i}") for i in range(BATCH * 2 + 5)]
    plan = batches(pairs, per_library=1000)
    assert len(plan) == 4  # 80 // 32 = 2 for a, 69 // 32 = 2 for b: the remainders are left out
    for group in plan:
        assert len({p.library for p in group}) == 1
        assert len({p.query for p in group}) == len(group)
    assert batches(pairs, per_library=1000) == plan  # seeded: the same plan every run
    assert all(len(g) <= BATCH for g in batches(pairs, per_library=BATCH))


def test_training_writes_a_model_codemm_embeds_with(tmp_path: Path) -> None:
    base = build_tiny_embedder(tmp_path / "base", hidden=32)
    plan = batches(
        [Pair("lib", f"what number {i} does", f"lib/x.py\ndef f{i}(): return {i}") for i in range(BATCH)], 99
    )
    out = tmp_path / "tuned"
    train(base, plan, out, lr=1e-2, doc_tokens=32)
    texts = ["def f(): return 1", "what number does"]
    before, after = LocalEncoder(base).encode(texts), LocalEncoder(out).encode(texts)
    assert after.shape == before.shape == (2, 32)
    assert np.allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(after, before, atol=1e-4)  # the LoRA was merged into the saved weights
    assert (out / "modules.json").is_file() and not list(out.glob("adapter_*"))
