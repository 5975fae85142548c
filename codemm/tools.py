"""The repository tools codemm offers editors and agents, as plain methods over one open index.

`codemm mcp` serves them over stdio (``codemm.mcp_server.build_mcp_server``); `codemm serve` can
mount the same server over HTTP. Each method brings the index up to date first (incremental: one
stat per file when nothing changed), so an edit made between two calls is seen by the second;
returns a plain JSON-able dict; and raises a ``CodemmError`` with a one-line message for bad input.

Calls are serialised by one lock: the MCP SDK runs each tool on a worker thread, and the index's
SQLite connection, its refresh and the model must not be used by two calls at once. A search made
while an ``ask`` generates therefore waits for the answer.

Embeddings are built apart, on a background thread that takes the lock only to read the chunks and
to commit each batch of vectors: a lexical tool (definitions, references, map, read) on a fresh
repository answers as soon as the parse is done, not after the embedding build (minutes on a large
repository). ``search_code`` ranks with the vectors ready so far and says how far they are.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from codemm import tool_text as text
from codemm.config import Settings, load_settings
from codemm.errors import BadInputError, CodemmError, error_from_oserror
from codemm.registry import Arg, tool
from codemm.repo.embeddings import EmbeddingConfig
from codemm.repo.index import RepoIndex
from codemm.repo.symbols import Reference, Symbol

if TYPE_CHECKING:
    from codemm.session import AskSession

MAX_HITS = 50
MAX_MAP_TOKENS = 16_384
MAX_REFERENCES = 200
"""More than this many uses of one name is a question for search_code, not a list to read."""
MAX_LINE_CHARS = 300
"""A reference's line as shown: enough for the call and its arguments."""
CHARS_PER_TOKEN = 4
"""The repo map's token count when no model is loaded: loading one only to count would take
seconds to minutes, and the budget is a size hint for the agent, not a context window."""


class RepoTools:
    """One repository's tools. ``settings`` choose the model ``ask`` loads (on its first call, then
    kept); ``embed=False`` skips dense embeddings (search is then BM25 + symbols only)."""

    def __init__(self, root: Path, settings: Settings | None = None, embed: bool = True) -> None:
        self.index = RepoIndex(root)
        self.root = self.index.root
        self.settings = settings if settings is not None else load_settings(cwd=self.root)
        self.index.embedding = EmbeddingConfig.from_settings(self.settings)  # the repo's embedding model
        self.embed = embed
        self.session: AskSession | None = None
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._embedder: threading.Thread | None = None
        self._embed_error = ""
        """The last background embedding's failure (one line), reported by search_code."""

    # -- the tools ------------------------------------------------------------------------------

    @tool("search_code", "Find the code that matches a description or names (BM25 + embeddings + symbols, fused); "
          "use it first when you do not know where something lives.",
          cli=None, cli_note="codemm search", chat="/search", render=text.hits)  # fmt: skip
    def search_code(
        self,
        query: Annotated[str, Arg("What to look for, in words or identifiers.", positional=True)],
        k: Annotated[int, Arg("How many hits.", ge=1, le=MAX_HITS, flag="-k")] = 10,
    ) -> dict[str, Any]:
        """Fused retrieval (BM25, embeddings, symbol names) over the repository's chunks."""
        from codemm.repo.retrieve import retriever_for

        if not query.strip():
            raise BadInputError("the query is empty; say what to look for")
        if not 1 <= k <= MAX_HITS:
            raise BadInputError(f"k must be between 1 and {MAX_HITS}, got {k}")
        with self._lock:
            self._refresh(embed=True)
            hits = retriever_for(self.index, dense=self.embed).search(query, k=k)
            data: dict[str, Any] = {"query": query, "hits": [{**hit.as_json(), "text": hit.text} for hit in hits]}
            if self.embed:
                data.update(self._embedding_status())
        return data

    @tool("repo_map", "An outline of the repository's most used classes and functions with their files; "
          "use it to get oriented before reading code.",
          cli=None, cli_note="codemm map", chat="/map", render=text.repo_map)  # fmt: skip
    def repo_map(
        self,
        focus: Annotated[str, Arg("A question or names to rank around (empty: the whole repo).", positional=True)] = "",
        tokens: Annotated[int, Arg("Size budget of the map, in tokens.", ge=1, le=MAX_MAP_TOKENS)] = 1024,
    ) -> dict[str, Any]:
        """The most referenced definitions, ranked around ``focus``, within ``tokens``."""
        from codemm.repo.repomap import build_repo_map

        if not 1 <= tokens <= MAX_MAP_TOKENS:
            raise BadInputError(f"tokens must be between 1 and {MAX_MAP_TOKENS}, got {tokens}")
        with self._lock:
            self._refresh(embed=False)
            count, counted_with = self._token_counter()
            repo_map = build_repo_map(self.index, count, tokens, focus)
        return {"text": repo_map.text, "tokens": repo_map.tokens, "counted_with": counted_with,
                "shown": repo_map.shown, "total": repo_map.total}  # fmt: skip

    @tool(
        "find_definition",
        "Where a function, class or method is defined (path:line, signature, docstring); "
        "use it when you know the name.",
        cli="definition",
        chat="/def",
        render=text.definitions,
    )
    def find_definition(
        self, symbol: Annotated[str, Arg("A function, class or method name, or Class.method.", positional=True)]
    ) -> dict[str, Any]:
        """Where ``symbol`` (a name, or ``Class.method``) is defined, from the index."""
        name, parent = _split_name(symbol)
        with self._lock:
            self._refresh(embed=False)
            found = [s for s in self.index.symbols(name) if not parent or s.parent == parent]
        found.sort(key=lambda s: (s.path, s.start))
        if not found and parent:  # httpx.get, pkg.mod.func, an inherited Client.build_request
            from codemm.intel.tools import definitions_result

            return {"symbol": symbol, "definitions": definitions_result(self, symbol)}
        return {"symbol": symbol, "definitions": [_definition_json(s) for s in found]}

    @tool("find_references", "Every use of a name or of the name at PATH:LINE[:COL] (path:line, the function it is "
          "in, the line, its tier); use it for 'who calls X' or before changing X.", cli="refs", chat="/refs",
          render=text.references)  # fmt: skip
    def find_references(
        self,
        symbol: Annotated[
            str,
            Arg(
                "A name (get, pkg.mod.func, Class.method) or a location PATH:LINE[:COL] whose uses to list.",
                positional=True,
            ),
        ],
    ) -> dict[str, Any]:
        """The uses of what ``symbol`` names, resolved by codemm.intel (precise for Python, syntactic
        for the other languages); a name it knows no definition of is matched by name (tier text)."""
        from codemm.intel.tools import references_result

        self._check_root()
        resolved = references_result(self, symbol)
        if resolved is not None:
            return resolved
        name, _ = _split_name(symbol)
        with self._lock:
            self._refresh(embed=False)
            refs = sorted((r for r in self.index.references() if r.name == name), key=lambda r: (r.path, r.line))
            truncated = len(refs) > MAX_REFERENCES
            refs = refs[:MAX_REFERENCES]
            by_path: dict[str, list[Symbol]] = defaultdict(list)
            for sym in self.index.symbols():
                by_path[sym.path].append(sym)
        texts = self._line_texts(refs)
        found = [_reference_json(r, _enclosing(by_path[r.path], r.line), texts.get((r.path, r.line), "")) for r in refs]
        data: dict[str, Any] = {"symbol": symbol, "references": found, "truncated": truncated}
        if truncated:
            data["note"] = f"only the first {MAX_REFERENCES} references are listed"
        return data

    @tool(
        "read_range",
        "Read lines of a repository file (at most 400 lines and 64 KiB per call; the result says when it was cut); "
        "use it to see the code around a path:line.",
        cli="read",
        chat="/read",
        render=text.line_range,
    )
    def read_range(
        self,
        path: Annotated[str, Arg("File path relative to the repository root.", positional=True)],
        start: Annotated[int, Arg("First line, 1-based.", ge=1)] = 1,
        end: Annotated[int | None, Arg("Last line, inclusive (default: to the end).")] = None,
    ) -> dict[str, Any]:
        """Lines ``start``..``end`` of a file inside the repository (see ``codemm.repo.read``): at
        most 400 lines and 64 KiB, each line at most 4 KiB; the result says what was cut."""
        from codemm.repo.read import read_range

        self._check_root()  # the disk is read directly: nothing in the index to refresh
        return read_range(self.root, path, start, end).as_json()

    @tool("read_screenshot", "Read a screenshot of code or an error: its text (OCR, layout kept) and the path:line "
          "locations it shows, checked against the repository; use it when the user shares a screenshot.",
          cli="screenshot", chat="/screenshot", render=text.screenshot)  # fmt: skip
    def read_screenshot(
        self,
        image: Annotated[
            str,
            Arg(
                "A PNG/JPEG path inside the repository or in a folder the images_from setting allows "
                "(Desktop, Downloads, Pictures, temp), or the image as base64.",
                positional=True,
            ),
        ],
    ) -> dict[str, Any]:
        """OCR text (with layout) of a screenshot given as a repository path, a path in a folder the
        ``images_from`` setting allows (an image by content only), or base64 PNG/JPEG; the code
        locations it shows (traceback frames, path:line) checked against the index; and, for an
        application's UI, the files that define its visible text (``ui_matches``: files ranked, each
        match's text, path:line and score). Messages name
        the image as the caller gave it, never where it resolved."""
        import os

        from codemm.repo.read import check_path, image_folders, screenshot_file, shown
        from codemm.vision.images import check_image_content, read_image_input
        from codemm.vision.inline import INLINE_NAME, MAX_INLINE_BYTES, inline_image_file, is_inline
        from codemm.vision.locations import locations_in_index
        from codemm.vision.uimatch import ui_matches

        if not isinstance(image, str) or "\0" in image:  # neither a path nor base64
            check_path(image, "image")
        # A bare word is base64 unless it names something in the repository (a file without suffix).
        if is_inline(image) and not (len(image) <= 255 and os.path.lexists(self.root / image.strip())):
            with inline_image_file(image) as path:
                read = read_image_input(path, name=INLINE_NAME)
            given = "inline"
        else:
            self._check_root()
            full, outside = screenshot_file(self.root, image, image_folders(self.settings.images_from))
            given = shown(image)
            if outside:  # the same bound as an inline image: a screenshot, not any file
                check_image_content(full, given, MAX_INLINE_BYTES)
            read = read_image_input(full, name=given)
        with self._lock:
            self._refresh(embed=False)
            locations = locations_in_index(read.text, self.index)
            ui = ui_matches(read.ocr or read.text, self.index, read.pixels)
        return {"image": given, "width": read.width, "height": read.height, "read_by": read.source,
                "text": read.text, "locations": [loc.as_json() for loc in locations],
                "ui_matches": ui.as_json(), "notes": read.notes}  # fmt: skip

    @tool("ask", "Ask codemm's local code model about the repository: an answer with checked path:line citations; "
          "slow, so prefer the other tools for lookups.", cli=None, cli_note="codemm ask", chat=None, http=False,
          render=text.answer)  # fmt: skip
    def ask(
        self,
        question: Annotated[str, Arg("The question about the repository.", positional=True)],
        adapter: Annotated[str | None, Arg("A LoRA adapter name from list_adapters (default: none).")] = None,
    ) -> dict[str, Any]:
        """The whole ask pipeline: retrieval, the prompt, the model's answer and its checked
        citations (``AskResult.to_json()``). The model loads on the first call and is kept."""
        if not question.strip():
            raise BadInputError("the question is empty")
        with self._lock:
            self._refresh(embed=True)
            session = self._ask_session()
            if adapter != session.adapter:
                session.set_adapter(adapter)
            if session.model is None:
                session.load_model()
            prepared, stream = session.ask(question)
            answer = "".join(stream)
            return session.finish(answer, stream, prepared).to_json()

    @tool(
        "list_adapters",
        "The LoRA adapters fine-tuned on in-house code that ask can use.",
        cli=None,
        cli_note="codemm adapters list",
        chat="/adapters",
        render=text.adapters,
    )
    def list_adapters(self) -> dict[str, Any]:
        """The LoRA adapters in the store, which ``ask`` can use."""
        from codemm.adapters.store import list_adapters

        keep = ("name", "base_model", "base_spec", "quant", "created", "repo", "metrics")
        return {"adapters": [{k: v for k, v in dataclasses.asdict(card).items() if k in keep}
                             for card in list_adapters()]}  # fmt: skip

    # -- life cycle -----------------------------------------------------------------------------

    def warm(self) -> None:
        """Builds the index ahead of the first call, and starts embedding it in the background; a
        failure is left for that call to report."""
        try:
            with self._lock:
                self._refresh(embed=True)
        except CodemmError:
            pass

    def close(self) -> None:
        """Stops a refresh in progress (at its next file or batch) rather than finishing it: an
        editor that closes the connection expects the process to go, not to embed a repo first."""
        self._closing.set()
        embedder = self._embedder
        if embedder is not None:  # it stops at its next batch of the model (a second or so)
            embedder.join(timeout=60)
        with self._lock:
            if self.session is not None:
                self.session.index = None  # the index is ours: closed once, below
                self.session.close()
                self.session = None
            self.index.close()

    # -- helpers --------------------------------------------------------------------------------

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise BadInputError(f"the repository {self.root} is gone (deleted or moved while codemm served it)")

    def _refresh(self, embed: bool) -> None:
        """The lexical refresh (the caller holds the lock); with ``embed``, the chunks without a
        vector are then embedded in the background (``_embed_in_background``)."""
        self._stop_when_closing("", 0, 0)  # closed while this call waited for the lock
        self._check_root()
        try:
            self.index.refresh(embed=False, progress=self._stop_when_closing)
        except OSError as exc:  # the tree changed under the walk, or the repository went away
            self._check_root()
            raise error_from_oserror(exc, f"indexing {self.root}") from None
        if embed and self.embed and not (self._embedder is not None and self._embedder.is_alive()):
            self._embedder = threading.Thread(target=self._embed_in_background, name="codemm-embed", daemon=True)
            self._embedder.start()

    def _embed_in_background(self) -> None:
        """Embeds in committed batches, holding the lock only to read the chunks and to write each
        batch; a call that edits files meanwhile gets its new chunks embedded by the next search."""
        import sqlite3

        try:
            self.index.embed(progress=self._stop_when_closing, db_lock=self._lock)
            self._embed_error = ""
        except CodemmError as exc:
            self._embed_error = "" if self._closing.is_set() else str(exc)
        except (sqlite3.Error, OSError) as exc:  # the index closed or the disk failed under it
            self._embed_error = "" if self._closing.is_set() else f"embedding failed: {exc}"

    def _embedding_status(self) -> dict[str, Any]:
        """How far the embeddings are, and a note when search_code ranked without some of them."""
        from codemm.repo.embeddings import embedding_progress

        error = self._embed_error
        try:
            ready, total = embedding_progress(self.index)
        except CodemmError as exc:  # the embedding model cannot be opened: nothing is ready
            ready, total, error = 0, self.index.stats().chunks, str(exc)
        data: dict[str, Any] = {"embeddings": {"ready": ready, "total": total}}
        if error:
            data["note"] = f"semantic search is off: {error}"
        elif ready < total:
            data["note"] = (f"embeddings are being built ({ready} of {total} chunks): semantic matches cover those "
                            "so far; names and words cover every file")  # fmt: skip
        return data

    def _stop_when_closing(self, phase: str, done: int, total: int) -> None:
        if self._closing.is_set():  # the refresh rolls back its transaction; the next one redoes it
            raise CodemmError("the tools are closing")

    def _ask_session(self) -> AskSession:
        from codemm.session import AskSession

        if self.session is None:
            self.session = AskSession(self.settings, repo=self.root)
            self.session.index = self.index
        return self.session

    def _token_counter(self) -> tuple[Callable[[str], int], str]:
        model = self.session.model if self.session is not None else None
        if model is not None:
            return model.count_text, f"the tokenizer of {model.name}"
        return (lambda text: len(text) // CHARS_PER_TOKEN), f"characters / {CHARS_PER_TOKEN}"

    def _line_texts(self, refs: list[Reference]) -> dict[tuple[str, int], str]:
        """The source line of each reference, each file read once."""
        from codemm.repo.walk import decode_source

        texts: dict[tuple[str, int], str] = {}
        for path in {r.path for r in refs}:
            try:
                lines = decode_source((self.root / path).read_bytes())[0].splitlines()
            except OSError:
                continue  # deleted since the refresh: the location still stands
            for ref in refs:
                if ref.path == path and ref.line <= len(lines):
                    line = lines[ref.line - 1].strip()  # a minified line can be megabytes long
                    texts[(path, ref.line)] = line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " …"
        return texts


def _split_name(symbol: str) -> tuple[str, str]:
    """``Class.method`` -> (method, Class); a plain name -> (name, "")."""
    symbol = symbol.strip()
    if not symbol:
        raise BadInputError("the symbol is empty; give a function, class or method name")
    parent, _, name = symbol.rpartition(".")
    if not name:
        raise BadInputError(f"{symbol!r} ends with a dot; give a name like parse_due_date or Store.load")
    return name, parent.rpartition(".")[2]


def _definition_json(sym: Symbol) -> dict[str, Any]:
    return {"name": sym.name, "kind": sym.kind, "parent": sym.parent, "path": sym.path, "line": sym.start,
            "end": sym.end, "location": f"{sym.path}:{sym.start}", "signature": sym.signature,
            "docstring": sym.docstring}  # fmt: skip


def _enclosing(symbols: list[Symbol], line: int) -> Symbol | None:
    """The innermost function or class around ``line`` (None at module level)."""
    around = [s for s in symbols if s.start <= line <= s.end and s.kind != "constant"]
    return min(around, key=lambda s: s.end - s.start, default=None)


def _reference_json(ref: Reference, owner: Symbol | None, text: str) -> dict[str, Any]:
    inside = "" if owner is None else (f"{owner.parent}.{owner.name}" if owner.parent else owner.name)
    return {"path": ref.path, "line": ref.line, "location": f"{ref.path}:{ref.line}", "kind": ref.kind,
            "in": inside, "text": text, "tier": "text"}  # fmt: skip


import codemm.diagram.tools  # noqa: E402, F401  (the diagram tool, declared beside its package)
import codemm.intel.tools  # noqa: E402, F401  (declares the navigation tools: goto, calls, hierarchy)
