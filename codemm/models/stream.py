"""What every model backend returns: generation settings in, a cancellable stream of text out.

The stream is engine-neutral: transformers, llama.cpp and OpenAI-compatible servers all hand back a
``TokenStream``, so ask, chat and eval never know which engine answered. The repetition guard lives
here for the same reason: a small model that loops ("The function returns a list. The function
returns a list. ...") or keeps recycling what it wrote is stopped the same way on every engine, and
says so in ``stop_reason``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from codemm.models.repetition import find_loop, find_recurrence

Message = dict[str, str]


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 512
    temperature: float = 0.0
    """0 means greedy decoding."""
    top_p: float = 0.95
    seed: int = 0
    repetition_penalty: float = 0.0
    """Applied to recently generated tokens by engines that have one; 0: the engine's default
    (1.1 in process, the server's own for OpenAI-compatible servers), 1.0: off."""
    stop_on_repeat: bool = True
    """Stop when the text starts repeating itself (see ``codemm.models.repetition``)."""


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    new_tokens: int = 0
    ttft_s: float = 0.0
    """From the call to the first new token: prompt processing plus one decode step."""
    total_s: float = 0.0
    stop_reason: str = ""
    """eos | length | cancelled | repetition | interrupted (the engine's stream broke off)"""
    loop_start: int | None = None
    """With stop_reason "repetition": where in the text the first repeated copy begins."""

    @property
    def tokens_per_s(self) -> float:
        """Decode speed: tokens after the first, over the time after the first."""
        decode_s = self.total_s - self.ttft_s
        return (self.new_tokens - 1) / decode_s if self.new_tokens > 1 and decode_s > 0 else 0.0

    @property
    def prompt_tokens_per_s(self) -> float:
        return self.prompt_tokens / self.ttft_s if self.ttft_s > 0 else 0.0


@dataclass
class TokenStream:
    """Iterates over text pieces as the model produces them; ``stats`` is complete once exhausted.

    ``cancel`` may be called from any thread (the chat's Esc, a client that went away): it sets the
    event the engine checks between tokens and runs ``on_cancel`` (e.g. closing an HTTP stream).
    """

    _pieces: Iterator[str]
    stats: GenerationStats
    _cancel: threading.Event = field(default_factory=threading.Event)
    on_cancel: Callable[[], None] | None = None
    guard: bool = True
    """Stop at a loop (GenerationSettings.stop_on_repeat)."""

    def __iter__(self) -> Iterator[str]:
        return self._guarded() if self.guard else self._pieces

    def _guarded(self) -> Iterator[str]:
        text = ""
        for piece in self._pieces:
            yield piece
            text += piece
            start = None
            if "\n" in piece or len(text) % 8 < len(piece):  # cheap enough to check every few characters
                start = find_loop(text)
            if start is None and "\n" in piece:  # near loops are judged on whole lines
                start = find_recurrence(text)
            if start is not None:
                self.stats.loop_start = start
                self.cancel()
                for _ in self._pieces:  # let the engine wind down and fill in its stats
                    pass
                self.stats.stop_reason = "repetition"
                return

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stops generation after the decode step in progress."""
        self._cancel.set()
        if self.on_cancel is not None:
            self.on_cancel()

    def text(self) -> str:
        return "".join(self)


def without_loop(text: str, stats: GenerationStats) -> str:
    """The answer up to where it began repeating itself (the copies add nothing), with a code block
    the cut left open closed, so what follows is not rendered as code."""
    if stats.stop_reason != "repetition" or not stats.loop_start:
        return text
    kept = text[: stats.loop_start].rstrip()
    fences = sum(line.lstrip().startswith(("```", "~~~")) for line in kept.splitlines())
    return kept + "\n```" if fences % 2 else kept
