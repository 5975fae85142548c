"""The UI-text index of a repository: every visible string (``uitext``) with its ``path:line``,
cached per file content hash, plus what matching needs (word rarity over files, i18n keys resolved
to the code that uses them).

The cache is its own small SQLite file beside the repository index (``uitext.sqlite``), keyed by
content hash and extractor version, not a table inside ``index.sqlite``: the strings are derived
data that only screenshot work reads, so they need no migration of the main schema, can be deleted
alone, and a file moved or copied costs no re-parse. One ``ask`` is one process, so an in-memory
cache alone would re-parse the whole repository on every screenshot question.

Files come from the repository index (its walk already applied .gitignore, the size limits and the
no-links-out rule), plus the files it skipped only for an unknown type that hold UI text
(``.tcss``, ``.po``, ``.vue``, ``.svelte``, Jinja) — regular files inside the repository by then.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sqlite3
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from codemm.repo.walk import DEFAULT_MAX_FILE_BYTES, decode_source
from codemm.vision.uitext import LOCALE_DIRS, PLACEHOLDER, UI_SUFFIXES, UIString, ui_strings

if TYPE_CHECKING:
    from codemm.repo.index import RepoIndex

EXTRACTOR_VERSION = 2
"""Bump when ``uitext`` extracts differently: cached rows of older versions are ignored."""
WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if len(w) > 1 or w.isdigit()]


def match_form(text: str) -> str:
    """Lower case, placeholders out, whitespace collapsed: what OCR text is compared with."""
    return " ".join(text.replace(PLACEHOLDER, " ").lower().split())


@dataclass(frozen=True)
class Source:
    path: str
    line: int
    kind: str


@dataclass
class UIText:
    """One distinct visible text (in match form) and everywhere it is defined."""

    form: str
    shown: str
    """As written (markup out), placeholders as ``…``: for labels."""
    words: list[str]
    sources: list[Source] = field(default_factory=list)

    @property
    def files(self) -> set[str]:
        return {s.path for s in self.sources}


@dataclass
class UITextIndex:
    texts: list[UIText]
    idf: dict[str, float]
    """Inverse document frequency of each word over the files that show text."""
    postings: dict[str, list[int]]
    """word -> indexes into ``texts``."""
    files: int
    generation: str = ""
    file_texts: dict[str, int] = field(default_factory=dict)
    """How many distinct texts each file shows: a file that shows everything (a pattern portfolio,
    a long help text) matches every screen a little, and its score is damped by this."""

    _squeezed: list[str] = field(default_factory=list, repr=False)

    def squeezed(self) -> list[str]:
        """Each text's match form without spaces, for OCR that ran words together (built on first use)."""
        if not self._squeezed:
            self._squeezed = [text.form.replace(" ", "") for text in self.texts]
        return self._squeezed

    @classmethod
    def from_strings(cls, per_file: dict[str, list[UIString]], generation: str = "") -> UITextIndex:
        per_file = resolve_messages(per_file)
        by_form: dict[str, UIText] = {}
        df: dict[str, int] = defaultdict(int)
        for path, strings in per_file.items():
            seen: set[str] = set()
            for s in strings:
                form = match_form(s.text)
                if not form:
                    continue
                text = by_form.get(form)
                if text is None:
                    shown = " ".join(s.text.replace(PLACEHOLDER, "…").split())
                    text = by_form[form] = UIText(form, shown, words(form))
                text.sources.append(Source(path, s.line, s.kind))
                seen.update(text.words)
            for word in seen:
                df[word] += 1
        n = max(1, len(per_file))
        idf = {w: math.log((n + 1) / (count + 0.5)) for w, count in df.items()}
        texts = list(by_form.values())
        postings: dict[str, list[int]] = defaultdict(list)
        for number, text in enumerate(texts):
            for word in set(text.words):
                postings[word].append(number)
        file_texts: dict[str, int] = defaultdict(int)
        for text in texts:
            for path in text.files:
                file_texts[path] += 1
        return cls(texts, idf, dict(postings), n, generation, dict(file_texts))


def resolve_messages(per_file: dict[str, list[UIString]]) -> dict[str, list[UIString]]:
    """A catalogue message is shown by the code that uses its key: each ``message`` entry is
    copied to every code literal equal to its key (``_("Save changes?")``, ``t("dialog.save")``)."""
    messages: dict[str, list[UIString]] = defaultdict(list)
    for strings in per_file.values():
        for s in strings:
            if s.kind == "message":
                messages[s.key].append(s)
    if not messages:
        return per_file
    out = {}
    used: set[str] = set()
    for path, strings in per_file.items():
        extra = []
        for s in strings:
            if s.kind != "message" and s.text in messages:
                extra += [UIString(m.text, s.line, "message", m.key) for m in messages[s.text]]
                used.add(s.text)
        out[path] = strings + extra
    for path, strings in per_file.items():  # a used key's catalogue entry stays, behind the code showing it
        demoted = [UIString(s.text, s.line, "catalogue", s.key) if s.kind == "message" and s.key in used else s
                   for s in strings]  # fmt: skip
        out[path] = demoted + out[path][len(strings) :]
    return out


_LOADED: dict[str, UITextIndex] = {}


def ui_text_index(index: RepoIndex, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> UITextIndex:
    """The UI-text index of an opened, refreshed repository index: re-extracts only files whose
    content is new, and is kept in memory while the index's generation and the UI files it does not
    hold (``.tcss``, ``.po``: their size and mtime) stay the same (chat and serve ask again and again)."""
    key = str(index.db_path)
    extra = _extra_files(index, max_file_bytes)
    generation = index.generation() + ":" + hashlib.sha256(repr(sorted(extra.items())).encode()).hexdigest()[:16]
    cached = _LOADED.get(key)
    if cached is not None and cached.generation == generation and index.generation():
        return cached
    files = [(p, sha) for p, sha in index.db.execute("SELECT path, sha FROM files") if _shows_text(p)]
    for path in extra:
        try:
            files.append((path, hashlib.sha256((index.root / path).read_bytes()).hexdigest()))
        except OSError:
            continue
    with closing(_cache(index)) as db:
        per_file = _load_or_extract(index, db, files)
    built = UITextIndex.from_strings(per_file, generation)
    _LOADED[key] = built
    return built


def _shows_text(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in UI_SUFFIXES


def _extra_files(index: RepoIndex, max_file_bytes: int) -> dict[str, tuple[int, int]]:
    """The UI files the walk skipped only for their type, with (size, mtime_ns)."""
    found = {}
    for path, reason in index.skipped():
        if reason == "unknown file type" and _shows_text(path):
            try:
                stat = (index.root / path).stat()
            except OSError:
                continue
            if stat.st_size <= max_file_bytes:
                found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


def _cache(index: RepoIndex) -> sqlite3.Connection:
    db = sqlite3.connect(index.db_path.with_name("uitext.sqlite"), timeout=60)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS strings (key TEXT PRIMARY KEY, rows TEXT)")
    return db


def _cache_key(path: str, sha: str) -> str:
    # The extractor reads the suffix (and, for JSON, whether a folder is locale-like) besides the content.
    suffix = PurePosixPath(path).suffix.lower()
    locale = suffix == ".json" and bool(LOCALE_DIRS & {p.lower() for p in PurePosixPath(path).parts[:-1]})
    return f"{EXTRACTOR_VERSION}:{sha}:{suffix}:{int(locale)}"


def _load_or_extract(
    index: RepoIndex, db: sqlite3.Connection, files: list[tuple[str, str]]
) -> dict[str, list[UIString]]:
    keys = {path: _cache_key(path, sha) for path, sha in files}
    stored: dict[str, str] = {}
    wanted = list(set(keys.values()))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        stored.update(db.execute(f"SELECT key, rows FROM strings WHERE key IN ({marks})", chunk))  # noqa: S608
    out: dict[str, list[UIString]] = {}
    new: list[tuple[str, str]] = []
    for path, key in keys.items():
        if key in stored:
            out[path] = [UIString(*row) for row in json.loads(stored[key])]
            continue
        try:
            text, _ = decode_source((index.root / path).read_bytes())
        except OSError:
            continue
        strings = ui_strings(path, text)
        out[path] = strings
        rows = json.dumps([s.as_row() for s in strings])
        stored[key] = rows
        new.append((key, rows))
    if new:
        db.executemany("INSERT OR REPLACE INTO strings VALUES (?, ?)", new)
        db.commit()
    return out
