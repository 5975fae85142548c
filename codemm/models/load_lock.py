"""One model load at a time in a process.

transformers imports its classes lazily, module by module. Two threads loading models at once (the
MCP server embeds the index on one while `ask` loads the chat model on another) can meet a module
the other is still importing and fail with ``ImportError: cannot import name
'AutoModelForCausalLM'``. Loads are rare and seconds long, so doing them one after another costs
nothing that matters; generation and embedding still run side by side once loaded.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
LOAD_LOCK = threading.RLock()
"""Re-entrant: a load may convert a GGUF or load a tokenizer inside it."""


def one_load_at_a_time(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        with LOAD_LOCK:
            return fn(*args, **kwargs)

    return locked
