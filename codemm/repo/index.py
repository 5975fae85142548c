"""The persistent, incremental repository index (SQLite).

One database per repository root, at ``<cache>/index/<sha256(root)[:16]>/index.sqlite``. A file is
re-parsed only when its size or mtime changed and its content hash differs. Parsing happens
outside any lock; writes go in one IMMEDIATE transaction with WAL and a busy timeout, so two codemm
processes indexing the same repo at once both finish with a consistent index.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemm.errors import BadInputError, error_from_oserror
from codemm.paths import cache_dir
from codemm.repo.chunks import Chunk, chunk_file
from codemm.repo.symbols import ParsedFile, Reference, Symbol, parse_source
from codemm.repo.walk import DEFAULT_MAX_FILE_BYTES, SourceFile, check_repo_root, read_source, walk_repo

SCHEMA_VERSION = 1
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
    parsed: int = 0
    """Files parsed by this refresh (0 when nothing changed)."""
    lines: int = 0
    seconds: float = 0.0
    parse_seconds: float = 0.0
    embed_seconds: float = 0.0
    embedded: int = 0
    """Chunks embedded by this refresh."""

    def as_json(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def index_path(root: Path) -> Path:
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / "index" / key / "index.sqlite"


class RepoIndex:
    """An open index of one repository."""

    def __init__(self, root: Path, db_path: Path | None = None) -> None:
        self.root = check_repo_root(root)
        self.db_path = db_path or index_path(self.root)
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.db_path, timeout=60, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA busy_timeout=60000")
            version = self._schema_version()
            if version not in (None, SCHEMA_VERSION):  # an older codemm's layout: rebuild from scratch
                self.db.close()
                self.db_path.unlink()
                self.db = sqlite3.connect(self.db_path, timeout=60, check_same_thread=False)
                self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('root', ?)", (str(self.root),))
            self.db.commit()
        except sqlite3.DatabaseError as exc:
            raise BadInputError(
                f"the index at {self.db_path} is unreadable ({exc}); delete it to rebuild"
            ) from None
        except OSError as exc:
            raise error_from_oserror(exc, f"opening the index at {self.db_path}") from None

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

    def refresh(
        self,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        embed: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> IndexStats:
        """Brings the index up to date with the working tree; returns what it holds and what it did."""
        started = time.perf_counter()
        walked = walk_repo(self.root, max_file_bytes)
        known = {row[0]: row[1:] for row in self.db.execute("SELECT path, sha, size, mtime_ns FROM files")}
        changed: list[tuple[SourceFile, str, str, bool, ParsedFile, list[Chunk]]] = []
        touched: list[SourceFile] = []
        parse_started = time.perf_counter()
        for done, file in enumerate(walked.files, 1):
            old = known.get(file.path)
            if old and old[1] == file.size and old[2] == file.mtime_ns:
                if progress:
                    progress(done, len(walked.files))
                continue
            try:
                text, non_utf8 = read_source(file)
            except OSError as exc:
                walked.skipped.append((file.path, f"unreadable ({exc.strerror})"))
                continue
            sha = hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
            if old and old[0] == sha:
                touched.append(file)
            else:
                parsed = parse_source(file.path, text, file.language)
                changed.append((file, sha, text, non_utf8, parsed, chunk_file(parsed, text)))
            if progress:
                progress(done, len(walked.files))
        parse_s = time.perf_counter() - parse_started
        present = {f.path for f in walked.files}
        gone = [p for p in known if p not in present or p in {s for s, _ in walked.skipped}]
        try:
            self._write(changed, touched, gone, walked.skipped)
        except sqlite3.OperationalError as exc:
            if "disk" in str(exc).lower() or "full" in str(exc).lower():
                raise error_from_oserror(
                    OSError(28, "No space left on device"), "writing the index"
                ) from None
            raise
        stats = self.stats()
        stats.parsed = len(changed)
        stats.parse_seconds = parse_s
        if embed:
            from codemm.repo.embeddings import embed_missing

            embed_started = time.perf_counter()
            stats.embedded = embed_missing(self)
            stats.embed_seconds = time.perf_counter() - embed_started
        stats.seconds = time.perf_counter() - started
        return stats

    def _write(
        self, changed: list[Any], touched: list[SourceFile], gone: list[str], skipped: list[Any]
    ) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            for path in gone + [c[0].path for c in changed]:
                for table in ("files", "symbols", "refs", "chunks"):
                    db.execute(f"DELETE FROM {table} WHERE path = ?", (path,))
            for file, sha, text, non_utf8, parsed, chunks in changed:
                db.execute(
                    "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (file.path, sha, file.size, file.mtime_ns, file.language, text.count("\n") + 1,
                     int(non_utf8), int(parsed.has_errors)),
                )  # fmt: skip
                db.executemany(
                    "INSERT INTO symbols VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (s.path, s.name, s.kind, s.start, s.end, s.signature, s.docstring, s.parent)
                        for s in parsed.symbols
                    ],
                )
                db.executemany(
                    "INSERT INTO refs VALUES (?, ?, ?, ?)",
                    [(r.path, r.name, r.kind, r.line) for r in parsed.references],
                )
                db.executemany(
                    "INSERT INTO chunks (path, start, end_line, kind, symbol, text, sha) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(c.path, c.start, c.end, c.kind, c.symbol, c.text, c.sha) for c in chunks],
                )
            for file in touched:
                db.execute(
                    "UPDATE files SET mtime_ns = ?, size = ? WHERE path = ?",
                    (file.mtime_ns, file.size, file.path),
                )
            db.execute("DELETE FROM skipped")
            db.executemany("INSERT OR REPLACE INTO skipped VALUES (?, ?)", skipped)
            live = "SELECT sha FROM chunks"
            db.execute(f"DELETE FROM embeddings WHERE sha NOT IN ({live})")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(time.time_ns()),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

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
            lines=db.execute("SELECT COALESCE(SUM(lines), 0) FROM files").fetchone()[0],
        )

    def generation(self) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return str(row[0]) if row else ""

    def chunks(self) -> list[Chunk]:
        rows = self.db.execute("SELECT path, start, end_line, kind, symbol, text FROM chunks ORDER BY id")
        return [Chunk(*row) for row in rows]

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
