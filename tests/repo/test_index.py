from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from codemm.repo.index import EMBEDDING, PARSING, WAITING, RepoIndex
from codemm.repo.repomap import build_repo_map, rank_definitions
from codemm.repo.retrieve import Retriever, retriever_for

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-repo"


def small_repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "geometry.py").write_text(
        'def polygon_area(points):\n    """Shoelace formula."""\n    return 0.0\n\n'
        "def perimeter(points):\n    return 0.0\n"
    )
    (root / "pkg" / "report.py").write_text(
        "from pkg.geometry import polygon_area\n\ndef describe(shape):\n    return polygon_area(shape)\n"
    )
    (root / "pkg" / "cli.py").write_text(
        "from pkg.report import describe\nfrom pkg.geometry import polygon_area\n\n"
        "def main():\n    print(describe([]), polygon_area([]))\n"
    )
    (root / "README.md").write_text("# Geometry\nComputes areas of polygons.\n")
    return root


def test_refresh_is_incremental(tmp_path: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    with RepoIndex(repo) as index:
        first = index.refresh(embed=False)
        assert (first.files, first.parsed) == (4, 4)
        assert first.languages == {"python": 3, "markdown": 1}
        again = index.refresh(embed=False)
        assert again.parsed == 0 and again.symbols == first.symbols

        target = repo / "pkg" / "geometry.py"
        target.write_text(target.read_text() + "\ndef centroid(points):\n    return (0, 0)\n")
        edited = index.refresh(embed=False)
        assert edited.parsed == 1
        assert [s.path for s in index.symbols("centroid")] == ["pkg/geometry.py"]

        os.utime(repo / "pkg" / "cli.py")  # touched, same content: no re-parse
        assert index.refresh(embed=False).parsed == 0

        (repo / "pkg" / "cli.py").unlink()
        gone = index.refresh(embed=False)
        assert gone.files == 3 and not [c for c in index.chunks() if c.path == "pkg/cli.py"]


def test_two_processes_index_the_same_repo_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = small_repo(tmp_path / "repo")
    code = (
        "import sys, json; from codemm.repo.index import RepoIndex; "
        "s = RepoIndex(sys.argv[1]).refresh(embed=False); print(json.dumps(s.as_json()))"
    )
    env = {**os.environ, "CODEMM_CACHE_DIR": str(tmp_path / "cache")}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(repo)], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    outputs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert {o["symbols"] for o in outputs} == {4} and {o["files"] for o in outputs} == {4}
    monkeypatch.setenv("CODEMM_CACHE_DIR", env["CODEMM_CACHE_DIR"])
    with RepoIndex(repo) as index:
        assert index.stats().chunks == outputs[0]["chunks"]  # no duplicated rows


def test_two_index_runs_at_once_embed_each_chunk_once(tmp_path: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    for n in range(6):  # distinct chunks, so the chunk count is the count of vectors to compute
        (repo / "pkg" / f"shape{n}.py").write_text(f"def area_{n}(side):\n    return side * {n + 2}\n")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "codemm.cli", "index", str(repo), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    results = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    stats = [json.loads(out) for out, _ in results]
    chunks = {s["chunks"] for s in stats}
    assert len(chunks) == 1 and chunks.pop() == sum(s["embedded"] for s in stats) > 0  # embedded once, not twice
    assert sum(s["parsed"] for s in stats) == stats[0]["files"]  # and each file parsed once


def test_refresh_reports_its_phases_and_waits_for_a_running_refresh(tmp_path: Path) -> None:
    from filelock import FileLock

    repo = small_repo(tmp_path / "repo")
    calls: list[tuple[str, int, int]] = []
    with RepoIndex(repo) as index:
        stats = index.refresh(embed=True, progress=lambda *call: calls.append(call))
        phases = list(dict.fromkeys(phase for phase, _, _ in calls))
        assert phases == [PARSING, EMBEDDING]
        assert calls[-1] == (EMBEDDING, stats.embedded, stats.embedded) and stats.embedded == stats.chunks
        assert [c for c in calls if c[0] == PARSING][-1] == (PARSING, stats.files, stats.files)

        other = FileLock(index.lock_path)  # as if another codemm were refreshing this index
        other.acquire()
        waited = threading.Event()
        done: list[object] = []

        def on_progress(phase: str, n: int, total: int) -> None:
            if phase == WAITING:
                waited.set()

        worker = threading.Thread(target=lambda: done.append(index.refresh(embed=False, progress=on_progress)))
        worker.start()
        assert waited.wait(30) and not done  # it says it waits, and does
        other.release()
        worker.join(30)
        assert done and not worker.is_alive()


def test_embeddings_are_committed_in_batches_and_a_rerun_embeds_only_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codemm.repo import embeddings

    monkeypatch.setattr(embeddings, "COMMIT_BATCH", 4)
    repo = small_repo(tmp_path / "repo")
    for n in range(10):  # distinct chunks, so the chunk count is the count of vectors to compute
        (repo / "pkg" / f"shape{n}.py").write_text(f"def area_{n}(side):\n    return side * {n + 2}\n")

    class Killed(Exception):
        pass

    def die_in_the_third_batch(phase: str, done: int, total: int) -> None:
        if phase == EMBEDDING and done > 8:  # the third batch is encoded, not yet committed
            raise Killed

    with RepoIndex(repo) as index:
        with pytest.raises(Killed):
            index.refresh(progress=die_in_the_third_batch)
        ready, total = embeddings.embedding_progress(index)
        assert (ready, total) == (8, index.stats().chunks) and total > 12  # two batches kept, one lost
        # A search meanwhile ranks by meaning only the chunks that have a vector.
        searcher = retriever_for(index)
        vectors = embeddings.load_vectors(index)
        ranked = searcher.rank_dense("area of a shape", 50) + searcher.rank_card_dense("area of a shape", 50)
        assert ranked and len(ranked) == sum(c.sha in vectors for c in searcher.chunks + searcher.cards)
        assert all(searcher.chunks[i].sha in vectors for i, _ in searcher.rank_dense("area", 50))

        again = index.refresh()
        assert again.embedded == total - 8  # only what was not committed
        assert embeddings.embedding_progress(index) == (total, total)
        assert retriever_for(index).matrix is not None  # the searcher took in the new vectors
        assert len(retriever_for(index).rank_dense("area", 50)) == len(retriever_for(index).chunks)


def test_empty_and_binary_only_repos_index_to_zero_with_counted_skips(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with RepoIndex(empty) as index:
        assert index.refresh(embed=False).files == 0
    binaries = tmp_path / "bin"
    binaries.mkdir()
    (binaries / "a.py").write_bytes(b"\0\1\2" * 10)
    (binaries / "b.js").write_bytes(b"\0" * 50)
    with RepoIndex(binaries) as index:
        stats = index.refresh(embed=False)
        assert stats.files == 0 and stats.skipped == {"binary": 2}


def test_search_finds_the_definition_by_description(tmp_path: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    with RepoIndex(repo) as index:
        index.refresh(embed=True)
        retriever = Retriever(index)
        hits = retriever.search("how is the area of a polygon computed", k=3)
        assert hits[0].path == "pkg/geometry.py" and hits[0].symbol == "polygon_area"
        # every chunk retriever found it, and its file's cards ranked the file
        assert set(hits[0].sources) == {"bm25", "dense", "symbols", "card_bm25", "card_dense"}
        assert all(h.score >= hits[i + 1].score for i, h in enumerate(hits[:-1]))
        only_bm25 = retriever.search("polygon_area", k=3, methods=("bm25",))
        assert only_bm25 and all(h.sources == ["bm25"] for h in only_bm25)


def test_repo_map_ranks_the_most_referenced_definition_first(tmp_path: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    with RepoIndex(repo) as index:
        index.refresh(embed=False)
        ranked = rank_definitions(index.symbols(), index.references(), sorted(index.file_lines()))
        assert ranked[0][0].name == "polygon_area"
        focused = build_repo_map(index, lambda t: len(t.split()), budget=1000, focus="what does describe do?")
        assert "describe" in focused.text and "pkg/report.py:" in focused.text
        tight = build_repo_map(index, lambda t: len(t.split()), budget=8)
        assert 0 < tight.shown < tight.total and tight.tokens <= 8


@pytest.mark.parametrize("args", [["search", "x", "--repo", "/nonexistent"], ["index", "/dev/null"]])
def test_cli_bad_repo_paths(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "codemm.cli", *args], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("codemm: error: repository path")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cli_index_json_and_search_json_on_the_sample_repo() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codemm.cli", "index", str(SAMPLE), "--json"], capture_output=True, text=True
    )
    summary = json.loads(proc.stdout)
    assert set(summary) >= {"files", "languages", "symbols", "chunks", "skipped", "seconds"}
    assert summary["languages"]["python"] >= 6
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "codemm.cli", "search", "parse a due date", "--repo", str(SAMPLE), "-k", "3", "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    hits = json.loads(proc.stdout)
    assert time.perf_counter() - started < 120
    assert hits[0]["path"] == "tasktracker/dates.py" and len(hits) == 3
    assert set(hits[0]) >= {"path", "start", "end", "score", "sources"}


def test_cli_index_counts_huge_files_links_and_syntax_errors(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    with (repo / "huge.py").open("wb") as handle:
        handle.truncate(50 * 2**20)  # 50 MB
    os.symlink("/etc", repo / "etc")
    (repo / "broken.py").write_text("def fine():\n    return 1\n\ndef broken(:\n")
    proc = subprocess.run(
        [sys.executable, "-m", "codemm.cli", "index", str(repo), "--json", "--no-embed"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["skipped"] == {"too large": 1, "link outside repo": 1}
    assert summary["skipped_files"] == [{"path": "etc", "reason": "link outside repo"},
                                        {"path": "huge.py", "reason": "too large"}]  # fmt: skip
    assert summary["files"] == 1 and summary["symbols"] >= 1


def test_cli_index_names_skipped_files_and_counts_the_rest(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "main.py").write_text("def main():\n    return 0\n")
    names = [f"blob{n:02}.py" for n in range(25)]
    for name in names:
        (repo / name).write_bytes(b"\0\1" * 20)
    args = [sys.executable, "-m", "codemm.cli", "index", str(repo), "--no-embed"]
    text = subprocess.run(args, capture_output=True, text=True).stdout.splitlines()
    listed = [line.strip() for line in text if line.startswith("  ")]
    assert "skipped: 25 files (binary 25)" in text
    assert listed == [f"{name} (binary)" for name in names[:20]] + ["and 5 more (--json lists them all)"]
    summary = json.loads(subprocess.run([*args, "--json"], capture_output=True, text=True).stdout)
    assert [f["path"] for f in summary["skipped_files"]] == names
