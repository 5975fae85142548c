"""The precise tier for languages with a language server on PATH: codemm's lookups asked of the
server (``codemm.intel.lsp``) and its answers turned into labelled results.

One client per server command and repository (TypeScript, TSX and JavaScript share one), started
on first use and kept warm until the navigator closes. A server that fails is noted and not asked
again by this navigator: its language falls back to the syntactic tier.
"""

from __future__ import annotations

import re
from pathlib import Path

from codemm.errors import CodemmError
from codemm.intel.lexical import pick, use_kind
from codemm.intel.lsp import MAX_OPENED, PROJECT_FILES, SERVERS, Document, LspClient, LspLocation, server_command
from codemm.intel.results import PRECISE, Location, ReferenceGroup
from codemm.intel.scopes import Scopes
from codemm.intel.sources import RepoSources

_WORD = re.compile(r"[\w$]+")


class LspNavigation:
    def __init__(self, sources: RepoSources, scopes: Scopes, setting: str = "auto") -> None:
        self.sources = sources
        self.scopes = scopes
        self.setting = setting
        self._clients: dict[tuple[str, ...], LspClient] = {}
        self.failures: dict[str, str] = {}
        """language -> why its server is no longer asked (one line)."""

    def available(self, language: str) -> bool:
        return language not in self.failures and server_command(language, self.setting) is not None

    def goto(self, path: str, line: int, column: int | None) -> list[Location] | None:
        """Definitions of the name at ``path``:``line`` (1-based) and 0-based ``column`` (None: the
        line's call); None when no server answers for the file's language."""
        asked = self._ask(path, line, column, "definition")
        if asked is None:
            return None
        client, found = asked
        return [self._location(client, loc, definition=True) for loc in found if self._readable(loc)]

    def references_at(self, path: str, line: int, column: int | None) -> list[ReferenceGroup] | None:
        """One group: the definition of the name at the place, and its uses the server finds."""
        asked = self._ask(path, line, column, "definition")
        if asked is None:
            return None
        client, defs = asked
        defs = [loc for loc in defs if self._readable(loc)]
        if not defs:
            return []
        group = ReferenceGroup(self._location(client, defs[0], definition=True))
        uses = self._uses(defs[0])
        if uses is None:
            return None
        group.references = uses
        return [group]

    def refine(self, groups: list[ReferenceGroup]) -> list[ReferenceGroup]:
        """Each group's uses asked of its language's server at the definition (syntactic groups
        by name become precise); a group whose server cannot answer keeps its syntactic uses."""
        for group in groups:
            d = group.definition
            precise = self._uses(LspLocation(d.path, d.line - 1, d.column - 1))
            if precise is not None:
                group.references = precise
        return groups

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    # -- helpers -----------------------------------------------------------------------------------

    def _uses(self, at: LspLocation) -> list[Location] | None:
        asked = self._ask(at.path, at.line + 1, at.column, "references")
        if asked is None:
            return None
        client, found = asked
        return [self._location(client, loc, definition=False) for loc in found if self._readable(loc)]

    def _readable(self, loc: LspLocation) -> bool:
        """In a file navigation reads (not ``node_modules`` or a build folder the walk skips)."""
        return self.sources.language(loc.path) is not None

    def _ask(self, path: str, line: int, column: int | None, what: str) -> tuple[LspClient, list[LspLocation]] | None:
        source = self.sources.get(path)
        language = self.sources.language(path) or ""
        if source is None or not self.available(language):
            return None
        chosen = pick(source.lines[line - 1], column, "//")
        if chosen is None:
            return None
        doc = Document(path, language, source.text)
        try:
            client = self._client(language)
            ask = client.definition if what == "definition" else client.references
            return client, ask(doc, line - 1, chosen[0])
        except CodemmError as exc:
            self.failures[language] = str(exc)
            return None

    def _client(self, language: str) -> LspClient:
        command = server_command(language, self.setting)
        assert command is not None
        if command not in self._clients:
            client = LspClient(command, self.sources.root)
            self._clients[command] = client
            wanted = PROJECT_FILES.get(client.name)
            if wanted and not any((self.sources.root / name).is_file() for name in wanted):
                served = {lang for lang, c in SERVERS.items() if c[0] == Path(command[0]).name}
                paths = [p for p in self.sources.paths() if self.sources.language(p) in served]
                for path in paths[:MAX_OPENED]:
                    source = self.sources.get(path)
                    if source is not None:
                        client.open(Document(path, source.language, source.text))
        return self._clients[command]

    def _location(self, client: LspClient, loc: LspLocation, definition: bool) -> Location:
        source = self.sources.get(loc.path)
        raw = source.lines[loc.line] if source is not None and loc.line < len(source.lines) else ""
        word = _WORD.match(raw, loc.column)
        name = word.group(0) if word else ""
        line = loc.line + 1
        if definition:
            language = self.sources.language(loc.path) or ""
            own = [d for d in self.scopes.definitions(name, language) if (d.symbol.path, d.line) == (loc.path, line)]
            kind = own[0].symbol.kind if own else "variable"
        else:
            kind = use_kind(raw, loc.column, name)
        return Location(loc.path, line, loc.column + 1, PRECISE, kind, name,
                        self.scopes.enclosing_name(loc.path, line, definition), raw.strip(), client.name)  # fmt: skip
