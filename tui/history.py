"""Chat history in SQLite (``<data dir>/chat.sqlite``), queryable by the user with any SQLite client.

An answer is written while it streams (every few tokens), marked ``partial`` until it completes: a
killed app loses only the tokens it had not yet written.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemm.paths import data_dir
from codemm.prompt import ImageText

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (id INTEGER PRIMARY KEY, title TEXT, created REAL, updated REAL,
    repo TEXT, model TEXT, adapter TEXT);
CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, conversation INTEGER REFERENCES conversations(id),
    role TEXT, content TEXT, created REAL, partial INTEGER DEFAULT 0, meta TEXT DEFAULT '{}');
CREATE INDEX IF NOT EXISTS messages_conversation ON messages(conversation);
CREATE TABLE IF NOT EXISTS images (id INTEGER PRIMARY KEY, conversation INTEGER REFERENCES conversations(id),
    name TEXT, text TEXT);
"""


@dataclass
class StoredMessage:
    id: int
    role: str
    content: str
    partial: bool
    meta: dict[str, Any]


@dataclass
class Conversation:
    id: int
    title: str
    updated: float
    repo: str
    model: str
    adapter: str


class ChatHistory:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "chat.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def new_conversation(self, repo: str = "", model: str = "", adapter: str = "") -> int:
        now = time.time()
        with self.db:
            cur = self.db.execute(
                "INSERT INTO conversations (title, created, updated, repo, model, adapter) VALUES (?, ?, ?, ?, ?, ?)",
                ("New conversation", now, now, repo, model, adapter),
            )
        return int(cur.lastrowid or 0)

    def add(
        self, conversation: int, role: str, content: str, partial: bool = False, meta: dict[str, Any] | None = None
    ) -> int:
        now = time.time()
        with self.db:
            cur = self.db.execute(
                "INSERT INTO messages (conversation, role, content, created, partial, meta) VALUES (?, ?, ?, ?, ?, ?)",
                (conversation, role, content, now, int(partial), json.dumps(meta or {})),
            )
            self.db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation))
            if role == "user":  # the first question names the conversation
                self.db.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title = 'New conversation'",
                    (content.strip().splitlines()[0][:80] if content.strip() else "New conversation", conversation),
                )
        return int(cur.lastrowid or 0)

    def update(self, message: int, content: str, partial: bool, meta: dict[str, Any] | None = None) -> None:
        with self.db:
            if meta is None:
                self.db.execute(
                    "UPDATE messages SET content = ?, partial = ? WHERE id = ?", (content, int(partial), message)
                )
            else:
                self.db.execute(
                    "UPDATE messages SET content = ?, partial = ?, meta = ? WHERE id = ?",
                    (content, int(partial), json.dumps(meta), message),
                )

    def messages(self, conversation: int) -> list[StoredMessage]:
        rows = self.db.execute(
            "SELECT id, role, content, partial, meta FROM messages WHERE conversation = ? ORDER BY id", (conversation,)
        )
        return [StoredMessage(r[0], r[1], r[2], bool(r[3]), json.loads(r[4] or "{}")) for r in rows]

    def conversations(self, limit: int = 100) -> list[Conversation]:
        rows = self.db.execute(
            "SELECT id, title, updated, repo, model, adapter FROM conversations ORDER BY updated DESC, id DESC LIMIT ?",
            (limit,),
        )
        return [Conversation(*r) for r in rows]

    def conversation(self, conversation: int) -> Conversation | None:
        row = self.db.execute(
            "SELECT id, title, updated, repo, model, adapter FROM conversations WHERE id = ?", (conversation,)
        ).fetchone()
        return Conversation(*row) if row else None

    def set_adapter(self, conversation: int, adapter: str | None) -> None:
        with self.db:
            self.db.execute("UPDATE conversations SET adapter = ? WHERE id = ?", (adapter or "", conversation))

    def set_repo(self, conversation: int, repo: Path | None) -> None:
        """The repository the conversation now uses: what `codemm chat --continue` puts back."""
        with self.db:
            self.db.execute("UPDATE conversations SET repo = ? WHERE id = ?", (str(repo or ""), conversation))

    def add_image(self, conversation: int, image: ImageText) -> None:
        """The image's text (OCR or diagram source), not its path: the file may move or change."""
        with self.db:
            self.db.execute(
                "INSERT INTO images (conversation, name, text) VALUES (?, ?, ?)", (conversation, image.name, image.text)
            )

    def images(self, conversation: int) -> list[ImageText]:
        rows = self.db.execute("SELECT name, text FROM images WHERE conversation = ? ORDER BY id", (conversation,))
        return [ImageText(name, text) for name, text in rows]

    def last_conversation(self) -> int | None:
        found = self.conversations(1)
        return found[0].id if found else None

    def close(self) -> None:
        self.db.close()
