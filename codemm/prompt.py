"""One token budget over the model's context window.

Everything that goes to the model is a ``Part`` with a priority. The question and the system
instructions are never cut; the rest is added best-first while it fits: the definitions the
question is about (exact, from the index), image text, retrieved
chunks (each labelled ``path:start-end``), the repo map (rendered to whatever budget is left),
then earlier conversation turns, newest first. What did not fit is reported, never silently lost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codemm.models.stream import Message
from codemm.repo.retrieve import Hit

SYSTEM_PROMPT = (
    "You are codemm, a coding assistant for a software team. Answer precisely and briefly, using the "
    "repository context when it is given. Cite the code you rely on as path:line or path:start-end, "
    "exactly as the context labels it. If the context does not contain the answer, say so. "
    "Put code in fenced blocks with the language named."
)
NO_REPO_SYSTEM_PROMPT = (
    "You are codemm, a coding assistant for a software team. Answer precisely and briefly. "
    "Put code in fenced blocks with the language named."
)


@dataclass
class ImageText:
    name: str
    text: str
    pixels: Any = field(default=None, repr=False, compare=False)
    """The RGB image, kept only when the model takes pixels (vision or both image modes)."""
    ocr: Any = field(default=None, repr=False, compare=False)
    """The ``OcrResult`` (lines with boxes) when the reader kept it: UI matching places text with it."""
    screen: Any = field(default=None, repr=False, compare=False)
    """The RGB image for UI matching (dimmed text under a modal), whatever the model takes."""


@dataclass
class PromptInput:
    question: str
    hits: list[Hit] = field(default_factory=list)
    images: list[ImageText] = field(default_factory=list)
    history: list[Message] = field(default_factory=list)
    render_map: Callable[[int], str] | None = None
    """Renders the repo map within a token budget (None: no map)."""
    map_tokens: int = 1024
    system: str = SYSTEM_PROMPT
    numbered: bool = True
    """Chunks with line numbers (for citations); patch mode wants the exact text instead."""
    context_note: str = ""
    """Said to the model when the repository had nothing relevant."""
    facts: str = ""
    """Definitions from the index (signature, location, docstring): first of the context to go in."""


@dataclass
class Prompt:
    messages: list[Message]
    tokens: int
    budget: int
    included: list[Hit]
    dropped: list[str]
    """Labels of what did not fit: 'chunk path:a-b', 'repo map', 'image NAME (cut)', 'history turn N'."""


def numbered(hit: Hit) -> str:
    """A chunk with its line numbers, so the model can cite exact lines."""
    lines = hit.text.splitlines()
    # Chunks of methods carry their class header as line 0 of the text: number it as context only.
    offset = hit.end - hit.start + 1
    header = lines[: max(0, len(lines) - offset)]
    body = lines[len(header) :]
    rendered = [f"     | {line}" for line in header]
    rendered += [f"{hit.start + i:>5}| {line}" for i, line in enumerate(body)]
    return "\n".join(rendered)


def _chunk_block(hit: Hit, with_numbers: bool) -> str:
    body = numbered(hit) if with_numbers else hit.text
    return f"### {hit.path}:{hit.start}-{hit.end}\n```\n{body}\n```"


def _user_message(
    question: str, blocks: list[str], map_text: str, images: list[str], note: str, facts: str = ""
) -> str:
    sections = [f"## Repository context\n{note}"] if note else []
    if facts:
        sections.append("## Definitions (exact, from the repository index)\n" + facts.removeprefix("From the index:\n"))
    if map_text:
        sections.append("## Repository map (path, then line│ definition)\n" + map_text)
    if blocks:
        sections.append("## Relevant code\n" + "\n\n".join(blocks))
    sections += images
    sections.append(("## Question\n" if sections else "") + question)
    return "\n\n".join(sections)


def build_prompt(
    data: PromptInput, count_chat_tokens: Callable[[list[Message]], int], window: int, reserve: int
) -> Prompt:
    """Fits ``data`` into ``window - reserve`` tokens (``reserve``: room for the answer)."""
    budget = window - reserve
    dropped: list[str] = []
    facts = ""

    def messages(blocks: list[str], map_text: str, images: list[str], history: list[Message]) -> list[Message]:
        return [
            {"role": "system", "content": data.system},
            *history,
            {
                "role": "user",
                "content": _user_message(data.question, blocks, map_text, images, data.context_note, facts),
            },
        ]

    def fits(*args: object) -> bool:
        return count_chat_tokens(messages(*args)) <= budget  # type: ignore[arg-type]

    base = count_chat_tokens(messages([], "", [], []))
    if base > budget:
        from codemm.errors import BadInputError

        raise BadInputError(
            f"the question alone needs {base} tokens; the model's window leaves {budget} "
            f"(window {window} minus {reserve} for the answer): shorten it or lower --max-new-tokens"
        )

    if data.facts:
        facts = data.facts
        if not fits([], "", [], []):
            facts = ""
            dropped.append("definitions")

    images: list[str] = []
    for image in data.images:
        block = f"## Text read from image {image.name}\n{image.text}"
        if fits([], "", images + [block], []):
            images.append(block)
            continue
        lines = image.text.splitlines()
        header = f"## Text read from image {image.name} (cut to fit)\n"
        while lines and not fits([], "", images + [header + "\n".join(lines)], []):
            lines = lines[: len(lines) * 3 // 4] if len(lines) > 4 else lines[:-1]
        if lines:
            images.append(header + "\n".join(lines))
        dropped.append(f"image {image.name} ({'cut' if lines else 'dropped'})")

    blocks: list[str] = []
    included: list[Hit] = []
    for hit in data.hits:
        block = _chunk_block(hit, data.numbered)
        if fits(blocks + [block], "", images, []):
            blocks.append(block)
            included.append(hit)
        else:
            dropped.append(f"chunk {hit.path}:{hit.start}-{hit.end}")

    map_text = ""
    if data.render_map is not None and data.map_tokens > 0:
        spare = budget - count_chat_tokens(messages(blocks, "", images, []))
        allowance = min(data.map_tokens, spare - 16)  # 16: the section heading and separators
        while allowance > 0:
            map_text = data.render_map(allowance)
            if not map_text or fits(blocks, map_text, images, []):
                break
            allowance = allowance * 3 // 4
        else:
            map_text = ""
        if not map_text:
            dropped.append("repo map")

    kept = fit_history(data.history, lambda turns: messages(blocks, map_text, images, turns), count_chat_tokens, budget)
    history = data.history[len(data.history) - kept :] if kept else []
    dropped += [f"history turn {n}" for n in range(len(data.history) - kept, 0, -1)]

    final = messages(blocks, map_text, images, history)
    return Prompt(final, count_chat_tokens(final), budget, included, dropped)


def fit_history(
    turns: list[Message], render: Callable[[list[Message]], list[Message]], count: Callable[[list[Message]], int],
    budget: int,
) -> int:  # fmt: skip
    """How many of the newest ``turns`` fit: the largest k with ``count(render(turns[-k:])) <= budget``.

    Counting the whole prompt once per turn made a 1001-turn request re-tokenize its prompt ~500
    times (62 s). Here each turn is counted once, in groups of about sqrt(n) turns from the newest
    (stopping where the budget runs out, so older turns that cannot fit are never counted), then
    one at a time inside the group where it ran out. A chat template's wrapping of a message is
    close to additive, so those sums predict the whole count; the prediction is then checked and
    corrected against counts of the whole prompt (two when it was right, O(log n) at worst)."""
    n = len(turns)
    if n == 0:
        return 0
    probe: list[Message] = [{"role": "system", "content": "."}]
    empty = count(probe)

    def cost(group: list[Message]) -> int:
        return count([*probe, *group]) - empty

    room = budget - count(render([]))
    size = max(1, math.isqrt(n))
    guess = used = 0
    while guess < n:
        group = turns[max(0, n - guess - size) : n - guess]
        spent = cost(group)
        if used + spent <= room:
            used, guess = used + spent, guess + len(group)
            continue
        for message in reversed(group):  # the group where the room runs out: one turn at a time
            spent = cost([message])
            if used + spent > room:
                break
            used, guess = used + spent, guess + 1
        break

    def fits(k: int) -> bool:
        return count(render(turns[n - k :] if k else [])) <= budget

    # Correct the guess (exact when the template is additive): gallop to bracket the answer, then bisect.
    if fits(guess):
        low, step = guess, 1  # fits(low) holds
        high = n + 1
        while low + step <= n:
            if fits(low + step):
                low, step = low + step, step * 2
            else:
                high = low + step
                break
    else:
        high, step = guess, 1  # fits(high) fails
        low = 0
        while high - step > 0:
            if fits(high - step):
                low = high - step
                break
            high, step = high - step, step * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low
