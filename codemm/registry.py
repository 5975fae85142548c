"""One declaration per repository tool; every surface is built from it.

A tool is a function whose first parameter is the open ``RepoTools`` and whose other parameters
are typed with ``Annotated[T, Arg(...)]``. ``@tool(...)`` records it in ``TOOLS`` with its agent
description, its names on each surface and a renderer for people. From that one record:

- `codemm mcp` / `serve`'s ``/mcp``: an MCP tool (``codemm.mcp_server``), its JSON schema from the
  same parameters (limits included), its structured content the function's result;
- the CLI: a typer command named ``cli`` (``codemm.cli.tools``), arguments and options from the
  parameters, ``--json`` printing the result and text from ``render``;
- the chat: a ``/command`` (``codemm.tui.tools``) with the same parameters, shown with ``render``;
- `codemm serve`: ``POST /v1/tools/{name}`` with the parameters as a JSON object.

Serena (``src/serena/tools/tools_base.py``) derives an MCP schema from each tool's typed ``apply``;
this goes one step further so that a tool cannot reach one surface and miss another. Arguments
are checked here, once, for every surface (``check_arguments``): a value out of its range is a
one-line ``BadInputError`` whoever sent it.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from codemm.errors import BadInputError

Result = dict[str, Any]
Renderer = Callable[[Result], str]
REQUIRED = inspect.Parameter.empty
MAX_RESULT_BYTES = 256 * 1024
"""What one tool call may return, as JSON. An agent's context is the scarce thing: a result past
this (a minified one-line file, thousands of references) is cut, and says so. The MCP SDK sends a
result twice (as text and as structured content), so the wire carries at most twice this."""


@dataclass(frozen=True)
class Arg:
    """How a tool parameter is presented: help for people and agents, limits, CLI shape."""

    help: str
    ge: int | None = None
    le: int | None = None
    positional: bool = False
    """A CLI argument (and the chat's first word) rather than an option."""
    flag: str | None = None
    """The CLI option's short form (``-k``), besides ``--name``."""


@dataclass(frozen=True)
class Param:
    name: str
    type: Any
    """The plain type: str, int, float, bool, or one of them | None."""
    arg: Arg
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def base(self) -> type:
        """The type without ``| None``."""
        args = [a for a in typing.get_args(self.type) if a is not type(None)]
        return args[0] if isinstance(self.type, types.UnionType) and args else self.type

    def annotated(self, meta: Any) -> Any:
        """``Annotated[type, meta]``: the SDK's and typer's way to read a parameter."""
        return Annotated[self.type, meta]


@dataclass(frozen=True)
class Tool:
    name: str
    """The MCP tool name and the HTTP route's last part."""
    description: str
    """One line for agents: what it returns and when to use it."""
    fn: Callable[..., Result]
    params: tuple[Param, ...]
    render: Renderer
    cli: str | None
    """The CLI command; None where a hand-written command with model options covers it (``cli_note``)."""
    chat: str | None
    """The chat's ``/command``; None where the chat itself is the tool (ask)."""
    http: bool
    """Offered as ``POST /v1/tools/{name}`` (not ``ask``: answers go through the generation slots)."""
    read_only: bool
    cli_note: str = ""
    cli_presets: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    """More CLI commands for the same tool with some arguments fixed: ``codemm callers X`` is
    ``call_hierarchy(X, direction="callers")``."""

    def call(self, tools: Any, arguments: dict[str, Any]) -> Result:
        """Checks ``arguments`` as every surface must, runs the tool, and bounds what it returns."""
        return cap_result(self.fn(tools, **check_arguments(self, arguments)))

    def usage(self) -> str:
        """``/refs SYMBOL [--k N]``-style line for the chat's help."""
        parts = [p.name.upper() if p.required else f"[{p.name.upper()}]" for p in self.params if p.arg.positional]
        parts += [f"[{p.name}=…]" for p in self.params if not p.arg.positional]
        return " ".join(parts)


TOOLS: dict[str, Tool] = {}
"""Every declared tool, by name, in declaration order."""


def tool(
    name: str,
    description: str,
    *,
    cli: str | None,
    chat: str | None,
    render: Renderer,
    http: bool = True,
    read_only: bool = True,
    cli_note: str = "",
    cli_presets: dict[str, dict[str, Any]] | None = None,
) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Declares ``fn(tools, **params)`` as a tool on every surface (see the module docstring)."""
    if "\n" in description or len(description) >= 200:
        raise ValueError(f"tool {name}: the description must be one line under 200 characters")

    def declare(fn: Callable[..., Result]) -> Callable[..., Result]:
        presets = tuple((command, tuple(fixed.items())) for command, fixed in (cli_presets or {}).items())
        register(Tool(name, description, fn, params_of(fn), render, cli, chat, http, read_only, cli_note, presets))
        return fn

    return declare


def register(spec: Tool) -> Tool:
    """Adds ``spec``; a second tool with the same name on any surface is a bug, caught at import."""
    for other in TOOLS.values():
        if other.name == spec.name:
            continue  # re-declaring a tool (a module reloaded) replaces it
        taken = {other.cli, *(command for command, _ in other.cli_presets)} - {None}
        wanted = {spec.cli, *(command for command, _ in spec.cli_presets)}
        if wanted & taken or spec.chat and spec.chat == other.chat:
            raise ValueError(f"tool {spec.name} reuses a command name of {other.name}")
    TOOLS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    TOOLS.pop(name, None)


def params_of(fn: Callable[..., Any]) -> tuple[Param, ...]:
    """The ``Annotated[T, Arg]`` parameters after the first (the tools object)."""
    hints = typing.get_type_hints(fn, include_extras=True)
    params = []
    for parameter in list(inspect.signature(fn).parameters.values())[1:]:
        hint = hints[parameter.name]
        metas = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Arg)]
        if not metas:
            raise TypeError(f"{fn.__qualname__}: parameter {parameter.name} needs Annotated[type, Arg(...)]")
        params.append(Param(parameter.name, typing.get_args(hint)[0], metas[0], parameter.default))
    return tuple(params)


def check_arguments(spec: Tool, arguments: dict[str, Any]) -> dict[str, Any]:
    """Known names, required ones present, plain types, ranges: one line per problem."""
    known = {p.name: p for p in spec.params}
    unknown = sorted(set(arguments) - set(known))
    if unknown:
        raise BadInputError(f"{spec.name} takes no argument {unknown[0]!r} (it takes {', '.join(known) or 'none'})")
    checked: dict[str, Any] = {}
    for param in spec.params:
        if param.name not in arguments:
            if param.required:
                raise BadInputError(f"{spec.name} needs {param.name}: {param.arg.help}")
            continue
        value = arguments[param.name]
        checked[param.name] = value = _coerce(spec.name, param, value)
        if isinstance(value, int) and not isinstance(value, bool):
            low, high = param.arg.ge, param.arg.le
            if (low is not None and value < low) or (high is not None and value > high):
                bounds = f"between {low} and {high}" if low is not None and high is not None else (
                    f"at least {low}" if low is not None else f"at most {high}")  # fmt: skip
                raise BadInputError(f"{param.name} must be {bounds}, got {value}")
    return checked


def _coerce(tool_name: str, param: Param, value: Any) -> Any:
    if value is None and param.base is not param.type:  # an optional parameter left empty
        return None
    base = param.base
    if base is bool and isinstance(value, bool):
        return value
    if base is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if base is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if base is str and isinstance(value, str):
        if "\x00" in value:
            raise BadInputError(f"{param.name} contains a NUL byte")
        return value
    if isinstance(value, str) and base in (int, float):  # the chat and the CLI pass words
        try:
            return base(value)
        except ValueError:
            pass
    if isinstance(value, str) and base is bool and value.lower() in ("1", "0", "true", "false", "yes", "no"):
        return value.lower() in ("1", "true", "yes")
    kind = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}.get(base, str(base))
    raise BadInputError(f"{tool_name}: {param.name} must be {kind}, got {type(value).__name__} {str(value)[:40]!r}")


def cap_result(result: Result, limit: int = MAX_RESULT_BYTES) -> Result:
    """``result`` if its JSON fits ``limit`` bytes; else the same with its longest strings halved
    until it fits, and ``cut`` naming what was shortened."""
    size = _json_size(result)
    if size <= limit:
        return result
    result = json.loads(json.dumps(result, default=str))  # a copy we may change
    shortened: set[str] = set()
    while size > limit:
        holder, key, value = max(_strings(result, ""), key=lambda item: len(item[2]), default=(None, "", ""))
        if holder is None or len(value) < 64:
            break  # many small values: nothing long left to shorten
        holder[key[1]] = value[: len(value) // 2] + " …[cut]"
        shortened.add(key[0])
        size = _json_size(result)
    result["cut"] = f"the result was over {limit // 1024} KiB; shortened: {', '.join(sorted(shortened))}"
    return result


def _json_size(value: Any) -> int:
    return len(json.dumps(value, default=str, ensure_ascii=False).encode())


def _strings(value: Any, path: str) -> typing.Iterator[tuple[Any, tuple[str, Any], str]]:
    """(container, (field path, key), text) for every string inside ``value``."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        where = f"{path}.{key}" if isinstance(key, str) else f"{path}[]"
        if isinstance(item, str):
            yield value, (where.lstrip("."), key), item
        else:
            yield from _strings(item, where)
