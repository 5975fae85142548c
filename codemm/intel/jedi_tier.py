"""The precise tier for Python: jedi over one project, with its scripts kept per file content.

jedi parses and infers per ``Script``; one kept per file (replaced when the file's content changes)
lets later lookups in that file reuse what it inferred, which makes a warm ``goto`` take
milliseconds. Answers are cached per (file content, position) as definition keys.

Every file's script shares one jedi ``InferenceState`` (jedi gives each ``Script`` a fresh one): a
module imported by many files, and what was inferred in it (a class's attributes, a function's
return type), is then inferred once per repository state instead of once per file. That is what
makes a references question over hundreds of files with receivers to infer take under a second.
An edit drops the shared state with the scripts.

Two such states are kept: a quick one that does not search the repository for a parameter's
callers (jedi's "dynamic params", its costliest inference: every call of the function is looked
for and inferred) and a full one. ``goto`` asks the quick one first and the full one only when the
quick one finds nothing: jedi looks for callers only where a parameter has no annotation, which
is mostly when the quick state comes back empty. The one difference: an unannotated parameter with
a default (``x=Client()``) is its default's type in the quick state, where the full state would
prefer its callers' types. Each state has its own memo, so the answers of one never leak into the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codemm.intel.sources import RepoSources

PROBE = "__codemm_probe__.py"
"""The path of the snippets that resolve a dotted name (``import httpx`` then ``httpx.get``)."""


@dataclass(frozen=True)
class Target:
    """A definition as jedi names it: where its name is (``column`` 0-based)."""

    path: str
    """Relative to the repository root when inside it, else absolute."""
    line: int
    column: int
    name: str
    type: str
    """jedi's type: function, class, module, statement, param, instance, property..."""
    inside: bool
    """Defined in the repository."""
    tier: str = "precise"
    """``syntactic`` where jedi could not say and the name was read from the syntax."""

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.path, self.line, self.column)


class JediTier:
    def __init__(self, sources: RepoSources) -> None:
        self.sources = sources
        self.root = sources.root
        self._project: Any = None
        self._scripts: dict[tuple[str, bool], tuple[str, Any]] = {}
        self._states: dict[bool, Any] = {}
        self._gotos: dict[tuple[str, str, int, int], tuple[Target, ...]] = {}
        self._expressions: dict[tuple[str, str, str], tuple[Target, ...]] = {}
        self._generation = sources.generation

    def _forget_changes(self) -> None:
        """After an edit: every script goes (each one's inference holds the modules it imported, as
        they were), and the answers that start or land in a changed file; the others stay warm."""
        changed = self.sources.changed_since(self._generation)
        if changed == set():
            return
        self._generation = self.sources.generation
        self._scripts.clear()
        self._states.clear()
        self._expressions.clear()
        if changed is None:
            self._gotos.clear()
            return
        self._gotos = {key: found for key, found in self._gotos.items()
                       if key[0] not in changed and not any(t.path in changed for t in found)}  # fmt: skip

    @property
    def project(self) -> Any:
        if self._project is None:
            import jedi

            # The repository's own packages come before installed ones (a repo of httpx must
            # resolve `import httpx` to itself, not to the copy in site-packages); src/ layouts too.
            own = [str(p) for p in (self.root / "src", self.root) if p.is_dir()]
            base = jedi.get_default_environment().get_sys_path()
            self._project = jedi.Project(self.root, sys_path=own + [p for p in base if p not in own],
                                         smart_sys_path=False, load_unsafe_extensions=False)  # fmt: skip
        return self._project

    def script(self, path: str, quick: bool = False) -> Any:
        """The file's jedi script over the shared full state (or, ``quick``, the one that does
        not search for a parameter's callers)."""
        import jedi

        source = self.sources.get(path)
        if source is None:
            return None
        kept = self._scripts.get((path, quick))
        if kept is None or kept[0] != source.sha:
            script = jedi.Script(source.text, path=self.root / path, project=self.project)
            # Script only parsed so far (its module is made on first use): it can still be given
            # the shared state. Its module then replaces the one an import had loaded (same file,
            # same text, so the same definitions) in that state's module cache.
            state = self._states.setdefault(quick, script._inference_state)
            state.do_dynamic_params_search = not quick and jedi.settings.dynamic_params
            script._inference_state = state
            kept = (source.sha, script)
            self._scripts[(path, quick)] = kept
        return kept[1]

    def goto(self, path: str, line: int, column: int) -> tuple[Target, ...]:
        """The definitions the name at ``line``:``column`` (0-based) refers to, imports followed."""
        self._forget_changes()
        source = self.sources.get(path)
        if source is None:
            return ()
        key = (path, source.sha, line, column)
        if key not in self._gotos:
            found = self._resolve(self.script(path, quick=True), line, column)
            self._gotos[key] = found or self._resolve(self.script(path), line, column)
        return self._gotos[key]

    def infer(self, path: str, line: int, column: int) -> tuple[Target, ...]:
        script = self.script(path)
        if script is not None:
            _fresh_limits(script)
        return tuple(self._targets(_quiet(script.infer, line, column))) if script else ()

    def resolve_expression(self, expression: str, context: str = "", module: str = "") -> tuple[Target, ...]:
        """What a dotted expression (``httpx.get``, ``Client.build_request``) names, evaluated at
        the end of the file ``context`` (its module scope), or after ``import <module>``."""
        self._forget_changes()
        key = (expression, context, module)
        if key in self._expressions:
            return self._expressions[key]
        if context:
            source = self.sources.get(context)
            if source is None:
                return ()
            code, path = source.text + f"\n{expression}\n", self.root / context
        else:
            code, path = f"import {module}\n{expression}\n", self.root / PROBE
        import jedi

        script = jedi.Script(code, path=path, project=self.project)
        found = self._resolve(script, code.count("\n"), len(expression) - len(expression.rpartition(".")[2]))
        self._expressions[key] = found
        return found

    def _resolve(self, script: Any, line: int, column: int) -> tuple[Target, ...]:
        if script is None:
            return ()
        _fresh_limits(script)
        names = _quiet(script.goto, line, column, follow_imports=True)
        return tuple(dict.fromkeys(self._targets(names)))

    def _targets(self, names: list[Any]) -> list[Target]:
        found = []
        for name in names:
            if name.module_path is None or name.line is None:
                continue  # a builtin compiled module: nowhere to go
            module = Path(name.module_path)
            inside = module.is_relative_to(self.root)
            path = module.relative_to(self.root).as_posix() if inside else str(module)
            found.append(Target(path, name.line, name.column, name.name, name.type, inside))
        return found


def _fresh_limits(script: Any) -> None:
    """jedi stops inferring a syntax node after 300 inferences of it per state (a guard against
    runaway recursion within one question); over a shared state that count would run across every
    question of the session and silently cut answers, so each question starts it afresh."""
    script._inference_state.inferred_element_counts.clear()


def _quiet(call: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """jedi raises on a position past the line's end and, rarely, on code it cannot analyse; either
    means no answer at that place, not a failed lookup."""
    try:
        return list(call(*args, **kwargs))
    except (ValueError, AttributeError, TypeError, IndexError, KeyError, RecursionError, AssertionError):
        return []
