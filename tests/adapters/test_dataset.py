from __future__ import annotations

from pathlib import Path

import pytest

from codemm.adapters.dataset import build_dataset, heldout_file
from codemm.eval.bench.inhouse_repo import generate
from codemm.repo.index import RepoIndex


@pytest.fixture(scope="module")
def quill(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("quill")
    generate(root)
    (root / "quillstack" / "settings.py").write_text('API_TOKEN = "AKIAIOSFODNN7EXAMPLE"\nDEBUG = False\n')
    (root / "quillstack" / "services" / "copy_of_billing.py").write_text(
        (root / "quillstack" / "services" / "billing.py").read_text()
    )
    return root


def test_split_by_file_dedup_secrets_and_excludes(quill: Path) -> None:
    with RepoIndex(quill) as index:
        index.refresh(embed=False)
        data = build_dataset(index, heldout_fraction=0.2, exclude=["quillstack/services/tax.py"], seed=0)
    train_paths = {e.path for e in data.train}
    heldout_paths = {e.path for e in data.heldout}
    assert train_paths and heldout_paths and not train_paths & heldout_paths  # no file on both sides
    assert data.stats.secret_files == ["quillstack/settings.py"]
    assert "quillstack/settings.py" not in train_paths | heldout_paths
    assert "quillstack/services/tax.py" not in train_paths | heldout_paths and data.stats.excluded_files == 1
    assert data.stats.duplicates > 0  # the copied service adds nothing new
    texts = [e.text for e in data.train + data.heldout]
    assert len(texts) == len(set(texts))
    assert set(data.stats.by_kind) == {"fim", "body", "file", "chat"}
    fim = next(e for e in data.train if e.kind == "fim")
    assert fim.text.index("<PRE>") < fim.text.index("<SUF>") < fim.text.index("<MID>")
    body = next(e for e in data.train if e.kind == "body" and "/services/" in e.path)
    assert body.text.startswith("def qk_") and '"""' in body.text


def test_split_is_stable_per_file() -> None:
    assert [heldout_file(f"f{i}.py", 0.3, 1) for i in range(50)] == [
        heldout_file(f"f{i}.py", 0.3, 1) for i in range(50)
    ]
    assert 5 < sum(heldout_file(f"f{i}.py", 0.3, 1) for i in range(100)) < 50
