"""The ranking pieces added for the harder suite: per-file cards, file-level ranking, the test-file
prior, explanations, and the schema bump that makes old indexes rebuild with cards."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from codemm.repo.chunks import chunk_file
from codemm.repo.index import SCHEMA_VERSION, RepoIndex
from codemm.repo.retrieve import BASELINE, RetrievalOptions, Retriever
from codemm.repo.symbols import parse_source

SESSION_SOURCE = '''# Copyright 2020 Someone
# Licensed under the Apache License, Version 2.0

"""Keeping users signed in between visits."""

import hmac


def create_signed_value(secret, name, value):
    """Produce a value protected by an HMAC so that a client cannot forge it."""
    return hmac.new(secret, value).hexdigest()


class CookieJar:
    """Holds the cookies of one client."""

    def __init__(self):
        self.items = {}

    def remember(self, name, value):
        self.items[name] = value
'''


def ranking_repo(root: Path) -> Path:
    """A library whose answer shares words with the question only through a docstring and a name
    read as words, and a test file that repeats the question's words in its code."""
    (root / "lib").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "lib" / "session.py").write_text(SESSION_SOURCE)
    (root / "lib" / "pages.py").write_text(
        "def render_page(template, values):\n    return template.format(**values)\n\n"
        "def escape_markup(text):\n    return text.replace('<', '&lt;')\n"
    )
    (root / "tests" / "test_session.py").write_text(
        "from lib.session import create_signed_value\n\n"
        "def test_forge():\n    value = create_signed_value(b'k', 'n', b'v')\n"
        "    forged = value + 'x'  # a client that tries to forge a value protected by hmac\n"
        "    assert forged != value\n"
    )
    return root


def test_card_lists_definitions_as_words_with_their_docstrings_and_skips_the_licence() -> None:
    parsed = parse_source("lib/session.py", SESSION_SOURCE, "python")
    cards = [c for c in chunk_file(parsed, SESSION_SOURCE) if c.kind == "card"]
    assert len(cards) == 1
    text = cards[0].text
    lines = text.splitlines()
    assert lines[0] == "lib/session.py (lib session py)"
    assert lines[1] == "Keeping users signed in between visits."  # the docstring, not the licence comment
    assert "function create_signed_value (create signed value): Produce a value protected by an HMAC" in text
    assert "class CookieJar (cookie jar): Holds the cookies of one client." in text
    assert "method remember (remember)" in text and "__init__" not in text  # dunder methods say nothing
    assert (cards[0].start, cards[0].end) == (1, len(SESSION_SOURCE.splitlines()))


def test_big_files_get_several_cards_and_text_files_none() -> None:
    source = "\n".join(f"def handler_{i}():\n    pass\n" for i in range(40))
    cards = [c for c in chunk_file(parse_source("big.py", source, "python"), source) if c.kind == "card"]
    assert len(cards) == 3  # 40 definitions, 16 per card
    assert all(c.text.startswith("big.py (big py)\n") for c in cards)
    notes = "just some words\n"
    assert all(c.kind != "card" for c in chunk_file(parse_source("notes.txt", notes, "text"), notes))


def test_cards_rank_files_and_hits_show_real_chunks(tmp_path: Path) -> None:
    repo = ranking_repo(tmp_path / "repo")
    with RepoIndex(repo) as index:
        index.refresh(embed=False)
        retriever = Retriever(index, dense=False)
        assert len(retriever.cards) == 3 and all(c.kind != "card" for c in retriever.chunks)
        hits = retriever.search("where are signed cookie contents produced so they cannot be forged", k=3, per_file=1)
        assert hits[0].path == "lib/session.py"
        assert "card_bm25" in hits[0].sources
        assert all(h.kind != "card" for h in hits)
        assert len({h.path for h in hits}) == len(hits)  # per_file=1: one hit per file
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))  # ordered by file score


def test_tests_are_down_weighted_unless_the_question_is_about_tests(tmp_path: Path) -> None:
    repo = ranking_repo(tmp_path / "repo")
    question = "how does a client forge a value protected by hmac"
    with RepoIndex(repo) as index:
        index.refresh(embed=False)
        plain = Retriever(index, dense=False, options=RetrievalOptions(cards=False, file_rank=True, test_weight=1.0))
        weighted = Retriever(index, dense=False, options=RetrievalOptions(cards=False, file_rank=True))
        assert plain.search(question, k=2, per_file=1)[0].path == "tests/test_session.py"
        assert weighted.search(question, k=2, per_file=1)[0].path == "lib/session.py"
        about_tests = weighted.search("which test checks that a forged hmac value differs", k=2, per_file=1)
        assert about_tests[0].path == "tests/test_session.py"


def test_baseline_options_rank_chunks_without_cards(tmp_path: Path) -> None:
    repo = ranking_repo(tmp_path / "repo")
    with RepoIndex(repo) as index:
        index.refresh(embed=False)
        hits = Retriever(index, dense=False, options=BASELINE).search("signed value hmac", k=5)
        assert hits and not any(s.startswith("card") for h in hits for s in h.sources)
        assert all(h.score >= hits[i + 1].score for i, h in enumerate(hits[:-1]))


def test_explain_names_retrievers_ranks_and_fields(tmp_path: Path) -> None:
    repo = ranking_repo(tmp_path / "repo")
    with RepoIndex(repo) as index:
        index.refresh(embed=False)
        retriever = Retriever(index, dense=False)
        hit = retriever.search("create_signed_value hmac forge", k=1, explain=True)[0]
        assert hit.path == "lib/session.py" and hit.explain is not None
        assert set(hit.explain) == set(hit.sources)
        assert hit.explain["bm25"]["rank"] >= 1 and hit.explain["bm25"]["score"] > 0
        assert {"name", "docstring/comment"} <= set(hit.explain["bm25"]["fields"])
        assert hit.explain["symbols"]["fields"] == ["name"]
        assert hit.explain["card_bm25"]["fields"] == ["card"]
        assert "create_signed_value" in hit.explain["card_bm25"]["card_line"]
        assert hit.as_json()["explain"] == hit.explain
        assert "explain" not in retriever.search("hmac", k=1)[0].as_json()  # only when asked


def test_an_index_of_the_previous_schema_is_rebuilt(tmp_path: Path) -> None:
    repo = ranking_repo(tmp_path / "repo")
    db_path = tmp_path / "old" / "index.sqlite"
    with RepoIndex(repo, db_path) as index:
        index.refresh(embed=False)
    db = sqlite3.connect(db_path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION - 1),))
    db.execute("DELETE FROM chunks WHERE kind = 'card'")  # what a version-1 index holds
    db.commit()
    db.close()
    with RepoIndex(repo, db_path) as index:
        assert index.stats().files == 0  # rebuilt from nothing, not trusted
        index.refresh(embed=False)
        assert sum(c.kind == "card" for c in index.chunks()) == 3


def test_cli_search_explain_in_text_and_json(tmp_path: Path) -> None:
    repo = ranking_repo(tmp_path / "repo")
    base = [sys.executable, "-m", "codemm.cli", "search", "signed cookie hmac", "--repo", str(repo), "-k", "2"]
    proc = subprocess.run([*base, "--explain", "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)
    assert hits[0]["path"] == "lib/session.py"
    assert set(hits[0]["explain"]) == set(hits[0]["sources"])
    assert all({"rank", "score", "fields"} <= set(why) for why in hits[0]["explain"].values())
    text = subprocess.run([*base, "--explain"], capture_output=True, text=True, timeout=300)
    lines = text.stdout.splitlines()
    assert lines[0].startswith("lib/session.py:")
    assert any(line.strip().startswith("card_bm25") and "matched card" in line for line in lines[1:])
    # A retriever that ranked the file by another of its chunks says which (files are fused).
    elsewhere = [why["chunk"] for why in hits[0]["explain"].values() if "chunk" in why]
    assert elsewhere and all(any(f"in {label}" in line for line in lines) for label in elsewhere)


def test_the_symbol_index_scores_like_a_scan_of_every_symbol(tmp_path: Path) -> None:
    from codemm.repo.retrieve import SymbolIndex, symbol_scores

    repo = ranking_repo(tmp_path / "repo")
    (repo / "lib" / "consts.py").write_text("MAX_SIZE = 3\nSIGNED = True\n\ndef signed_size():\n    return MAX_SIZE\n")
    with RepoIndex(repo) as index:
        index.refresh(embed=False)
        symbols = index.symbols()
        fast = SymbolIndex(symbols)
        for query in ["create_signed_value", "signed cookie jar", "MAX_SIZE of a signed value", "remember", "nothing"]:
            assert fast.scores(query) == symbol_scores(query, symbols)
        assert fast.scores("signed size")  # not a vacuous comparison


def test_file_fusion_credits_a_file_with_each_retrievers_best_chunk(tmp_path: Path) -> None:
    """BM25 finds one chunk of session.py first, the embedding another; both find the same chunk of
    pages.py second. Fusing chunks, pages.py's one chunk (found twice) beats either session chunk;
    fusing files, session.py is each retriever's first file and wins."""
    repo = ranking_repo(tmp_path / "repo")
    with RepoIndex(repo) as index:
        index.refresh(embed=False)
        rankers = {}
        for fusion in (False, True):
            retriever = Retriever(index, dense=False, options=RetrievalOptions(cards=False, file_fusion=fusion))
            chunks = {(c.path, c.symbol): n for n, c in enumerate(retriever.chunks)}
            signed = chunks[("lib/session.py", "create_signed_value")]
            jar = chunks[("lib/session.py", "CookieJar")]
            page = chunks[("lib/pages.py", "render_page")]
            retriever.rank_bm25 = lambda query, k, a=signed, p=page: [(a, 9.0), (p, 8.0)]  # type: ignore[method-assign,misc]
            retriever.rank_dense = lambda query, k, b=jar, p=page: [(b, 0.9), (p, 0.8)]  # type: ignore[method-assign,misc]
            rankers[fusion] = retriever
        by_chunks = rankers[False].search("anything", k=2, per_file=1, methods=("bm25", "dense"))
        assert [h.path for h in by_chunks] == ["lib/pages.py", "lib/session.py"]
        by_files = rankers[True].search("anything", k=2, per_file=1, methods=("bm25", "dense"), explain=True)
        assert [h.path for h in by_files] == ["lib/session.py", "lib/pages.py"]
        top = by_files[0]
        assert set(top.sources) == {"bm25", "dense"}  # both retrievers ranked the file first
        assert top.explain is not None and top.explain["bm25"]["rank"] == top.explain["dense"]["rank"] == 1
        shown = f"{top.path}:{top.start}-{top.end}"
        other = [why["chunk"] for why in top.explain.values() if "chunk" in why]
        assert len(other) == 1 and other[0] != shown  # the retriever that found the file elsewhere says where


def test_asking_for_more_hits_only_extends_the_list(tmp_path: Path) -> None:
    """Every retriever ranks to the same depth for k=3 and k=20 (a depth growing with k let deeper
    tails reorder the first files), so the longer list starts with the shorter one."""
    repo = ranking_repo(tmp_path / "repo")
    (repo / "lib" / "more.py").write_text(
        "".join(f"def signed_helper_{i}(value):\n    return hmac_value(value, {i})\n\n" for i in range(30))
    )
    with RepoIndex(repo) as index:
        index.refresh(embed=False)
        retriever = Retriever(index, dense=False)
        depths: list[int] = []
        bm25 = retriever.rank_bm25

        def spy(query: str, k: int) -> list[tuple[int, float]]:
            depths.append(k)
            return bm25(query, k)

        retriever.rank_bm25 = spy  # type: ignore[method-assign]
        question = "where is a signed value protected by hmac"
        few = retriever.search(question, k=3)
        many = retriever.search(question, k=20)
        assert depths[0] == depths[1]
        assert len(many) > len(few) == 3
        assert [(h.path, h.start, h.score) for h in few] == [(h.path, h.start, h.score) for h in many[:3]]
