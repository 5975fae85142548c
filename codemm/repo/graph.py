"""The file reference graph's edges, shared by the repo map (repomap.py) and search's graph
propagation (propagate.py): a file that uses a name points at each file defining it, with aider's
weights. It lives apart from both so that neither imports the other (retrieval uses propagation,
and the map uses retrieval's symbol matching).
"""

from __future__ import annotations

import builtins
import re
from collections import Counter, defaultdict
from typing import Literal

from codemm.repo.symbols import Reference, Symbol

# Names that mean one thing: snake_case or mixed case (getURL) of 8 characters or more, and any
# capitalised name (a class or type: Session, Task), which short as it is names one definition.
SPECIFIC = re.compile(
    r"^(?:(?=.{8,})(?:[a-z0-9]+_[a-z0-9_]+|(?=.*[A-Z])[a-z][A-Za-z0-9]*)|[A-Z](?=[A-Z0-9]*[a-z])[A-Za-z0-9]*)$"
)
PYTHON_BUILTINS = frozenset(dir(builtins))
PYTHON_SUFFIXES = (".py", ".pyi")
GraphKind = Literal["names", "imports"]
"""Which edges: ``names`` links a use of a name to every file defining it; ``imports`` resolves
Python uses through imports and receivers (precise_graph.py): more precise edges, but no better
ranking on the retrieval-hard suite (figures in precise_graph.py), so ``names`` stays the default."""


def edge_multiplier(name: str, definers: int, focus: set[str]) -> float:
    """aider's weights: x10 specific or asked-about names, x0.1 private or everywhere-defined ones."""
    mul = 1.0
    if name in focus:
        mul *= 10
    if SPECIFIC.match(name):
        mul *= 10
    if name.startswith("_"):
        mul *= 0.1
    if definers > 5:
        mul *= 0.1
    return mul


def reference_counts(
    symbols: list[Symbol], references: list[Reference]
) -> tuple[dict[str, set[str]], dict[str, Counter[str]]]:
    """The edges of the reference graph: the files defining each name, and per defined name how
    often each file uses it (builtin-looking uses of an imported name left out). The repo map and
    search's graph propagation (propagate.py) rank over the same graph."""
    defines: dict[str, set[str]] = defaultdict(set)
    for sym in symbols:
        defines[sym.name].add(sym.path)
    imports: dict[str, set[str]] = defaultdict(set)
    for ref in references:
        if ref.kind == "import":
            imports[ref.name].add(ref.path)
    referenced: dict[str, Counter[str]] = defaultdict(Counter)
    for ref in references:
        if ref.name in defines and not builtin_use(ref, imports):
            referenced[ref.name][ref.path] += 1
    return defines, referenced


def builtin_use(ref: Reference, imports: dict[str, set[str]]) -> bool:
    """``str`` in a Python file is the builtin unless the file imports a ``str`` of the repo's
    (requests' compat.py defines ``str = str``; crediting it with every annotation would put
    compat.py at the centre of the graph)."""
    return ref.name in PYTHON_BUILTINS and ref.path.endswith(PYTHON_SUFFIXES) and ref.path not in imports[ref.name]


def name_edges(symbols: list[Symbol], references: list[Reference]) -> dict[str, Counter[tuple[str, str]]]:
    """The name graph as (using file, defining file) pairs per name: each use to every definer."""
    defines, referenced = reference_counts(symbols, references)
    edges: dict[str, Counter[tuple[str, str]]] = {}
    for name, users in referenced.items():
        edges[name] = Counter({(user, definer): count for user, count in users.items() for definer in defines[name]})
    return edges
