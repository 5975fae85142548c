"""The persistent, incremental repository index (SQLite).

One database per repository root, at ``<cache>/index/<sha256(root)[:16]>/index.sqlite``. A file is
re-parsed only when its size or mtime changed and its content hash differs.

One refresh at a time per index: parsing holds a file lock next to the database
(``index.sqlite.lock``) and embedding another (``index.sqlite.embed.lock``), so a second codemm
indexing the same repo waits for the first and then finds the files parsed and the chunks embedded
(each chunk is embedded once, not once per process). Two locks, so that a lexical refresh (the MCP
tools' lookups) never waits for an embedding build. The locks are the operating system's, released
when their holder exits, even by a crash. The parse's writes go in one IMMEDIATE transaction with
WAL and a busy timeout, for readers; embeddings are committed in batches (see embeddings.py), so a
kill while embedding loses at most one batch.

Progress is reported per phase (``progress(phase, done, total)``): ``waiting`` for the lock,
``parsing`` files, ``embedding`` chunks, so a caller can label each and show its own ETA.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError, error_from_oserror
from codemm.paths import cache_dir
from codemm.repo.chunks import Chunk, chunk_file
from codemm.repo.embeddings import EmbeddingConfig
from codemm.repo.symbols import Reference, Symbol, parse_source
from codemm.repo.walk import (
    DEFAULT_MAX_FILE_BYTES,
    SourceFile,
    WalkResult,
    check_repo_root,
    decode_source,
    sniff_head,
    walk_repo,
)

SCHEMA_VERSION = 2
"""2: chunks include per-file cards (kind "card"), see chunks.py."""
WAITING, PARSING, EMBEDDING = "waiting", "parsing", "embedding"
"""Phases a refresh reports to its progress callback."""
Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``; ``total`` is 0 while it is not known (waiting)."""
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sha TEXT, size INTEGER, mtime_ns INTEGER,
    language TEXT, lines INTEGER, non_utf8 INTEGER, has_errors INTEGER);
CREATE TABLE IF NOT EXISTS symbols (path TEXT, name TEXT, kind TEXT, start INTEGER, end_line INTEGER,
    signature TEXT, docstring TEXT, parent TEXT);
CREATE TABLE IF NOT EXISTS refs (path TEXT, name TEXT, kind TEXT, line INTEGER);
CREATE TABLE IF NOT EXISTS chunks (id INTEGER PRIMARY KEY, path TEXT, start INTEGER, end_line INTEGER,
    kind TEXT, symbol TEXT, text TEXT, sha TEXT);
CREATE TABLE IF NOT EXISTS embeddings (sha TEXT, model TEXT, vector BLOB, PRIMARY KEY (sha, model));
CREATE TABLE IF NOT EXISTS skipped (path TEXT PRIMARY KEY, reason TEXT);
CREATE INDEX IF NOT EXISTS symbols_name ON symbols(name);
CREATE INDEX IF NOT EXISTS symbols_path ON symbols(path);
CREATE INDEX IF NOT EXISTS refs_path ON refs(path);
CREATE INDEX IF NOT EXISTS chunks_path ON chunks(path);
"""


@dataclass
class IndexStats:
    files: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    symbols: int = 0
    chunks: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    """How many files were skipped, by reason."""
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    """Each skipped file and why, by path."""
    parsed: int = 0
    """Files parsed by this refresh (0 when nothing changed)."""
    lines: int = 0
    seconds: float = 0.0
    parse_seconds: float = 0.0
    embed_seconds: float = 0.0
    embedded: int = 0
    """Chunks embedded by this refresh."""

    def as_json(self) -> dict[str, Any]:
        data = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}
        data["skipped_files"] = [{"path": path, "reason": reason} for path, reason in self.skipped_files]
        return data


@dataclass
class Parsed:
    """One file read, parsed and chunked (outside any lock, possibly in a worker process), as the
    rows to insert: plain tuples cross the process boundary far faster than dataclasses."""

    file: SourceFile
    sha: str
    file_row: tuple[Any, ...]
    symbol_rows: list[tuple[Any, ...]]
    ref_rows: list[tuple[Any, ...]]
    chunk_rows: list[tuple[Any, ...]]


# Below this many files, a worker pool costs more than it saves.
PARALLEL_MIN_FILES = 200


def _parse_one(file: SourceFile) -> Parsed | str:
    """The file's parse, or the reason it could not be read."""
    try:
        data = file.abs_path.read_bytes()
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    reason = sniff_head(data)
    if reason:
        return reason
    text, non_utf8 = decode_source(data)
    sha = hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
    parsed = parse_source(file.path, text, file.language)
    return Parsed(
        file,
        sha,
        (file.path, sha, file.size, file.mtime_ns, file.language, text.count("\n") + 1, int(non_utf8),
         int(parsed.has_errors)),
        [(s.path, s.name, s.kind, s.start, s.end, s.signature, s.docstring, s.parent)
         for s in parsed.symbols],
        [(r.path, r.name, r.kind, r.line) for r in parsed.references],
        [(c.path, c.start, c.end, c.kind, c.symbol, c.text, c.sha) for c in chunk_file(parsed, text)],
    )  # fmt: skip


def _parse_all(files: list[SourceFile]) -> Iterator[Parsed | str]:
    """Parses files, on every core when there are many. Workers are forked (cheap: grammars are
    already loaded) only while no torch is imported, since forking a process with torch's thread
    pools running can deadlock; otherwise the parse stays in this process."""
    import multiprocessing
    import os
    import sys

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if len(files) < PARALLEL_MIN_FILES or cores < 2 or "torch" in sys.modules or sys.platform != "linux":
        yield from map(_parse_one, files)
        return
    with multiprocessing.get_context("fork").Pool(cores) as pool:
        # imap, in order: the caller writes each result while the workers parse the next ones.
        yield from pool.imap(_parse_one, files, chunksize=max(1, len(files) // (cores * 8)))


@contextlib.contextmanager
def _file_lock(path: Path, progress: Progress | None) -> Iterator[None]:
    """Holds the operating system's lock on ``path``, saying ``waiting`` when another has it."""
    from filelock import FileLock, Timeout

    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if progress:
            progress(WAITING, 0, 0)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def index_path(root: Path) -> Path:
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / "index" / key / "index.sqlite"


class RepoIndex:
    """An open index of one repository. ``embedding`` names the model that embeds its chunks and
    the queries compared with them (default: the built-in one); see ``codemm/repo/embeddings.py``."""

    def __init__(self, root: Path, db_path: Path | None = None, embedding: EmbeddingConfig | None = None) -> None:
        self.root = check_repo_root(root)
        self.embedding = embedding or EmbeddingConfig()
        self.db_path = db_path or index_path(self.root)
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            self.db = self._open()
        except sqlite3.DatabaseError as exc:
            raise BadInputError(f"the index at {self.db_path} is unreadable ({exc}); delete it to rebuild") from None
        except OSError as exc:
            raise error_from_oserror(exc, f"opening the index at {self.db_path}") from None

    def _open(self) -> sqlite3.Connection:
        # Two processes creating the same index at once can see SQLITE_BUSY while one switches the
        # file to WAL (SQLite does not wait on that lock), so set-up is retried for a while.
        deadline = time.monotonic() + 60
        while True:
            db = sqlite3.connect(self.db_path, timeout=60, check_same_thread=False)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: a crash can lose the last refresh, never corrupt the index (re-derivable).
                db.execute("PRAGMA synchronous=NORMAL")
                self.db = db
                if self._schema_version() not in (None, SCHEMA_VERSION):  # an older layout: rebuild
                    db.close()
                    self.db_path.unlink()
                    continue
                db.executescript(SCHEMA)
                db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                db.execute("INSERT OR REPLACE INTO meta VALUES ('root', ?)", (str(self.root),))
                db.commit()
                return db
            except sqlite3.OperationalError as exc:
                db.close()
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _schema_version(self) -> int | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.OperationalError:
            return None
        return int(row[0]) if row else None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> RepoIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- refresh -------------------------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self.db_path.with_name(self.db_path.name + ".lock")

    @property
    def embed_lock_path(self) -> Path:
        return self.db_path.with_name(self.db_path.name + ".embed.lock")

    def refresh(
        self,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        embed: bool = True,
        progress: Progress | None = None,
    ) -> IndexStats:
        """Brings the index up to date with the working tree; returns what it holds and what it did.
        Waits while another process refreshes the same index (see the module's docstring)."""
        started = time.perf_counter()
        with _file_lock(self.lock_path, progress):
            stats = self._refresh(max_file_bytes, progress)
        if embed:
            embed_started = time.perf_counter()
            stats.embedded = self.embed(progress)
            stats.embed_seconds = time.perf_counter() - embed_started
        stats.seconds = time.perf_counter() - started
        return stats

    def embed(self, progress: Progress | None = None, db_lock: AbstractContextManager[Any] | None = None) -> int:
        """Embeds the chunks that have no vector from the index's model, in committed batches;
        returns how many it embedded. ``db_lock`` guards the connection between batches (see
        ``embed_missing``). Waits while another process embeds this index."""
        from codemm.repo.embeddings import embed_missing

        on_batch = (lambda done, total: progress(EMBEDDING, done, total)) if progress else None
        with _file_lock(self.embed_lock_path, progress):
            return embed_missing(self, on_batch, db_lock)

    def _refresh(self, max_file_bytes: int, progress: Progress | None) -> IndexStats:
        walked = walk_repo(self.root, max_file_bytes, sniff=False)  # the parse sniffs what it reads
        known = {row[0]: row[1:] for row in self.db.execute("SELECT path, sha, size, mtime_ns FROM files")}
        todo: list[SourceFile] = []
        for done, file in enumerate(walked.files, 1):
            old = known.get(file.path)
            if not (old and old[1] == file.size and old[2] == file.mtime_ns):
                todo.append(file)
            elif progress:
                progress(PARSING, done, len(walked.files))
        parse_started = time.perf_counter()
        try:
            parsed = self._write(walked, todo, known, progress)
        except sqlite3.OperationalError as exc:
            if "disk" in str(exc).lower() or "full" in str(exc).lower():
                raise error_from_oserror(OSError(28, "No space left on device"), "writing the index") from None
            raise
        parse_s = time.perf_counter() - parse_started
        stats = self.stats()
        stats.parsed = parsed
        stats.parse_seconds = parse_s
        return stats

    def _write(
        self,
        walked: WalkResult,
        todo: list[SourceFile],
        known: dict[str, tuple[Any, ...]],
        progress: Progress | None,
    ) -> int:
        """Parses ``todo`` and writes the results in one transaction, as they arrive; returns how
        many files were (re)parsed into the index."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            # Read under the write lock: another process may have indexed these files since our walk.
            in_db = {row[0] for row in db.execute("SELECT path FROM files")}
            offset = len(walked.files) - len(todo)
            parsed = 0
            for done, (file, outcome) in enumerate(zip(todo, _parse_all(todo), strict=True), 1):
                if progress:
                    progress(PARSING, offset + done, len(walked.files))
                if isinstance(outcome, str):
                    walked.skipped.append((file.path, outcome))
                    continue
                if file.path in known and known[file.path][0] == outcome.sha:
                    db.execute(
                        "UPDATE files SET mtime_ns = ?, size = ? WHERE path = ?",
                        (file.mtime_ns, file.size, file.path),
                    )
                    continue
                if file.path in in_db:
                    self._delete(file.path)
                db.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)", outcome.file_row)
                db.executemany("INSERT INTO symbols VALUES (?, ?, ?, ?, ?, ?, ?, ?)", outcome.symbol_rows)
                db.executemany("INSERT INTO refs VALUES (?, ?, ?, ?)", outcome.ref_rows)
                db.executemany(
                    "INSERT INTO chunks (path, start, end_line, kind, symbol, text, sha) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    outcome.chunk_rows,
                )
                parsed += 1
            present = {f.path for f in walked.files} - {path for path, _ in walked.skipped}
            for path in in_db - present:
                self._delete(path)
            db.execute("DELETE FROM skipped")
            db.executemany("INSERT OR REPLACE INTO skipped VALUES (?, ?)", walked.skipped)
            db.execute("DELETE FROM embeddings WHERE sha NOT IN (SELECT sha FROM chunks)")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(time.time_ns()),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return parsed

    def _delete(self, path: str) -> None:
        for table in ("files", "symbols", "refs", "chunks"):
            self.db.execute(f"DELETE FROM {table} WHERE path = ?", (path,))

    # -- reads ---------------------------------------------------------------------------------

    def stats(self) -> IndexStats:
        db = self.db
        languages = dict(db.execute("SELECT language, COUNT(*) FROM files GROUP BY language ORDER BY 2 DESC"))
        return IndexStats(
            files=sum(languages.values()),
            languages=languages,
            symbols=db.execute("SELECT COUNT(*) FROM symbols").fetchone()[0],
            chunks=db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
            skipped=dict(Counter(r for (r,) in db.execute("SELECT reason FROM skipped"))),
            skipped_files=self.skipped(),
            lines=db.execute("SELECT COALESCE(SUM(lines), 0) FROM files").fetchone()[0],
        )

    def generation(self) -> str:
        """Changes whenever the files, symbols or chunks do."""
        return self._meta("generation")

    def vectors_generation(self) -> str:
        """Changes whenever embeddings are added or removed (each committed batch)."""
        return self._meta("vectors")

    def _meta(self, key: str) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else ""

    def chunks(self) -> list[Chunk]:
        rows = self.db.execute("SELECT path, start, end_line, kind, symbol, text FROM chunks ORDER BY id")
        return [Chunk(*row) for row in rows]

    def chunks_at(self, path: str, line: int) -> list[Chunk]:
        """The chunks of ``path`` that contain ``line`` (a skeleton and a method can both)."""
        rows = self.db.execute(
            "SELECT path, start, end_line, kind, symbol, text FROM chunks "
            "WHERE path = ? AND start <= ? AND end_line >= ? ORDER BY end_line - start",
            (path, line, line),
        )
        return [Chunk(*row) for row in rows][:1]

    def symbols(self, name: str | None = None) -> list[Symbol]:
        sql = "SELECT name, kind, path, start, end_line, signature, docstring, parent FROM symbols"
        rows = self.db.execute(sql + " WHERE name = ?", (name,)) if name else self.db.execute(sql)
        return [Symbol(*row) for row in rows]

    def references(self) -> list[Reference]:
        return [Reference(*row) for row in self.db.execute("SELECT name, kind, path, line FROM refs")]

    def file_lines(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT path, lines FROM files"))

    def skipped(self) -> list[tuple[str, str]]:
        return list(self.db.execute("SELECT path, reason FROM skipped ORDER BY path"))
