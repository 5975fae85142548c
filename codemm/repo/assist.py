"""Model-assisted retrieval: two optional steps that spend a call to the chat model on search.

- **Query rewriting** (HyDE-style): the model turns a plain-language question into the identifiers
  and a short hypothetical snippet the answer's code would contain; search then runs on the
  question with that text appended (the question's own words are kept).
- **Reranking** (listwise, as RankGPT and Continue's LLM reranker do): the retriever's 25 best files
  are shown to the model compactly (path, and the lines of the file's cards that best match the
  question), and it names the most relevant ones, best first. Files it names move to the front in
  its order; every other file keeps the retriever's order. A small model's reply is often junk:
  numbers out of range, repeats and prose are ignored, so the worst case is the retriever's order.

Both are off by default (``search_rewrite``/``search_rerank`` in the settings): with the embedded
SmolLM2-135M they did not pay on the harder suite's test split (python -m
codemm.eval.bench.retrieval_assist). The rerank hurt: MRR 0.75 -> 0.66 in process over file-fused
search (over the earlier chunk-fused ranking: 0.71 -> 0.63, and 0.60 through llama.cpp's server),
for 4-5 s a question. The rewrite's change was within noise (MRR +0.006 in process; +0.02 and +0.03
over the earlier ranking; 95% intervals across zero) for 1-3 s. A bigger
model behind the same seam may do better: the benchmark takes --backend openai --api-base URL.
Each step returns its result and its cost (seconds, prompt tokens, new tokens). Greedy decoding,
few new tokens: the same question gives the same ranking.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from codemm.models.stream import GenerationSettings, Message
from codemm.repo.languages import language_of
from codemm.repo.tokens import code_tokens

if TYPE_CHECKING:
    from codemm.models.seam import ChatModel
    from codemm.repo.retrieve import Hit, Retriever

RERANK_CANDIDATES = 25
"""Files shown to the reranker (Continue reranks 25 -> 5)."""
RERANK_PICKS = 1
"""Files the reranker is asked to name (see the prompts' notes below)."""
REWRITE_TOKENS = 64
RERANK_TOKENS = 24
CARD_LINES = 3
"""Card lines shown per candidate at most (fewer when the prompt would not fit the window)."""
LINE_CHARS = 100

# Prompts tuned on the dev split of the harder suite with SmolLM2-135M (test split reported):
# - rewrite: a one-shot example of identifiers + snippet was copied into unrelated answers
#   ("check_password" for every question); a plain HyDE request for the code did least harm.
# - rerank: asked for 5 numbers, the model copied the example's numbers or listed 1, 2, 3...
#   (MRR 0.69 -> 0.44-0.53), asked for paths it wrote paths that do not exist (0.61); asked for
#   the one best file it hurt least (0.67). A bigger model can be asked for more (``picks``).
REWRITE_ASK = (
    "Write the {language}function or class from a library's source code that answers this question. Code only."
)
LANGUAGE_NAMES = {"python": "Python", "javascript": "JavaScript", "typescript": "TypeScript", "tsx": "TypeScript",
                  "go": "Go", "rust": "Rust", "java": "Java", "c": "C", "cpp": "C++"}  # fmt: skip
RERANK_SYSTEM = "You rank source files by how likely they hold the code that answers a question about a code base."
RERANK_ASK_ONE = "Which file is most likely to hold the answer? Reply with its number only."
RERANK_ASK = (
    "Reply with the numbers of the {picks} files most likely to hold the answer, best first, "
    "separated by commas. Numbers only."
)


@dataclass(frozen=True)
class StepCost:
    """What one model step cost: wall seconds, and the tokens the model read and wrote."""

    seconds: float = 0.0
    prompt_tokens: int = 0
    new_tokens: int = 0

    def __add__(self, other: StepCost) -> StepCost:
        return StepCost(
            self.seconds + other.seconds, self.prompt_tokens + other.prompt_tokens, self.new_tokens + other.new_tokens
        )

    def as_json(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 3), "prompt_tokens": self.prompt_tokens, "new_tokens": self.new_tokens}


@dataclass(frozen=True)
class Rewrite:
    question: str
    text: str
    """What the model wrote (code fences removed)."""
    cost: StepCost

    @property
    def query(self) -> str:
        """What search runs on: the question, then the model's text."""
        return f"{self.question}\n{self.text}" if self.text else self.question


@dataclass(frozen=True)
class Rerank:
    hits: list[Hit]
    """Every candidate: the ones the model named first, in its order, then the rest in the retriever's."""
    picked: list[int]
    """0-based positions (in the candidates) of the files the model named, in its order."""
    reply: str
    shown: int
    """Candidates that fit in the prompt (the others could not be named)."""
    cost: StepCost


@dataclass
class AssistedSearch:
    hits: list[Hit]
    rewrite: Rewrite | None = None
    rerank: Rerank | None = None
    costs: dict[str, StepCost] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"hits": [h.as_json() for h in self.hits], **self.record()}

    def record(self) -> dict[str, Any]:
        """What the model steps did and cost (``ask --json`` and ``search --json`` report it)."""
        data: dict[str, Any] = {}
        if self.rewrite is not None:
            data["rewrite"] = {"text": self.rewrite.text, "cost": self.rewrite.cost.as_json()}
        if self.rerank is not None:
            picked = [self.rerank.hits[i].path for i in range(len(self.rerank.picked))]
            data["rerank"] = {"reply": self.rerank.reply, "picked": picked, "shown": self.rerank.shown,
                              "cost": self.rerank.cost.as_json()}  # fmt: skip
        return data


def _generate(model: ChatModel, messages: list[Message], max_new_tokens: int) -> tuple[str, StepCost]:
    started = time.perf_counter()
    stream = model.stream(messages, GenerationSettings(max_new_tokens=max_new_tokens, temperature=0.0))
    text = stream.text()
    stats = stream.stats
    cost = StepCost(
        time.perf_counter() - started, stats.prompt_tokens or model.count_tokens(messages), stats.new_tokens
    )
    return text, cost


_FENCE = re.compile(r"^\s*(```|~~~)[\w+-]*\s*$", re.M)


def main_language(paths: Iterable[str]) -> str:
    """The name of the code language most of ``paths`` are in ("" when none is code)."""
    counts = Counter(language_of(PurePosixPath(path)) for path in set(paths))
    ranked = [language for language, _ in counts.most_common() if language in LANGUAGE_NAMES]
    return LANGUAGE_NAMES[ranked[0]] if ranked else ""


def rewrite_messages(question: str, language: str = "") -> list[Message]:
    ask = REWRITE_ASK.format(language=f"{language} " if language else "")
    return [{"role": "user", "content": f"{ask}\n\nQuestion: {question}"}]


def rewrite_query(model: ChatModel, question: str, language: str = "", max_new_tokens: int = REWRITE_TOKENS) -> Rewrite:
    """Asks the model for the code that would answer ``question`` (in ``language``, e.g. "Python",
    the repository's main one: see ``main_language``)."""
    reply, cost = _generate(model, rewrite_messages(question, language), max_new_tokens)
    text = _FENCE.sub("", reply).strip()
    return Rewrite(question, text, cost)


_LIST_MARKER = re.compile(r"^[ \t]*(?:\d+[.)]|[-*])[ \t]+(?=\S)", re.M)


def parse_ranking(reply: str, paths: list[str], picks: int = RERANK_PICKS) -> list[int]:
    """The candidates a reply names, as 0-based positions in the order named, each once, at most
    ``picks``. A reply that writes out candidates' paths is read by those (its numbers are then list
    markers); otherwise by its numbers 1..len(paths). Anything else (0, 99, prose, a repeat, a
    number inside a name or a decimal) is ignored; so are list markers ("1. 4" names 4)."""
    named = []
    for position, path in enumerate(paths):
        found = re.search(rf"(?<![\w./-]){re.escape(path)}(?![\w/-])", reply)
        if found:
            named.append((found.start(), position))
    if named:
        return [position for _, position in sorted(named)][:picks]
    chosen: list[int] = []
    unmarked = _LIST_MARKER.sub("", reply)  # "1. 4\n2. 9" names 4 and 9
    for number in re.findall(r"(?<![\w.-])\d+(?![\w.]*\.\w)", unmarked):
        position = int(number) - 1
        if 0 <= position < len(paths) and position not in chosen:
            chosen.append(position)
            if len(chosen) == picks:
                break
    return chosen


def reorder(hits: list[Hit], picked: Iterable[int]) -> list[Hit]:
    """The picked hits first, in that order, then every other hit in its original order."""
    first = list(dict.fromkeys(picked))
    return [hits[i] for i in first] + [h for i, h in enumerate(hits) if i not in first]


def card_lines(retriever: Retriever) -> dict[str, list[str]]:
    """Each file's card lines without the head line (its path): module docstring and definitions,
    each ``kind name: docstring's first line`` (the name-as-words part dropped: it repeats the name)."""
    lines: dict[str, list[str]] = {}
    for card in retriever.cards:
        entries = lines.setdefault(card.path, [])
        for line in card.text.splitlines()[1:]:
            line = re.sub(r"^(\w+ \S+) \([^)]*\)", r"\1", line)
            if line not in entries:
                entries.append(line)
    return lines


def _best_lines(words: set[str], lines: list[str], count: int) -> list[str]:
    """The ``count`` lines sharing most words with the question (earlier lines win ties), in file order."""
    scored = sorted(range(len(lines)), key=lambda i: (-len(words & set(code_tokens(lines[i]))), i))[:count]
    return [lines[i][:LINE_CHARS] for i in sorted(scored)]


def _describe(hit: Hit, cards: list[str] | None, words: set[str], count: int) -> list[str]:
    if cards:
        return _best_lines(words, cards, count)
    head = [line.strip() for line in hit.text.splitlines() if line.strip()]
    shown = ([f"{hit.kind} {hit.symbol}"] if hit.symbol else []) + head
    return [line[:LINE_CHARS] for line in shown[:count]]


def rerank_messages(question: str, candidates: list[tuple[str, list[str]]], picks: int) -> list[Message]:
    blocks = [
        f"[{n}] {path}" + "".join(f"\n    {line}" for line in lines) for n, (path, lines) in enumerate(candidates, 1)
    ]
    user = (
        f"Question: {question}\n\nCandidate files:\n" + "\n".join(blocks) + f"\n\nQuestion: {question}\n"
        + (RERANK_ASK_ONE if picks == 1 else RERANK_ASK.format(picks=min(picks, len(candidates))))
    )  # fmt: skip
    return [{"role": "system", "content": RERANK_SYSTEM}, {"role": "user", "content": user}]


def fit_rerank_prompt(
    model: ChatModel, question: str, hits: list[Hit], cards: dict[str, list[str]], picks: int, max_new_tokens: int
) -> tuple[list[Message], int]:
    """The rerank prompt within the model's window (with room for the reply): fewer card lines per
    file first, then fewer files (the retriever's last ones go). Returns it and the files shown."""
    words = set(code_tokens(question))
    budget = model.context_window - max_new_tokens

    def build(shown: int, count: int) -> list[Message]:
        candidates = [(h.path, _describe(h, cards.get(h.path), words, count)) for h in hits[:shown]]
        return rerank_messages(question, candidates, picks)

    for count in range(CARD_LINES, -1, -1):
        messages = build(len(hits), count)
        if model.count_tokens(messages) <= budget:
            return messages, len(hits)
    low, high = 0, len(hits)  # with paths only the whole list does not fit: the most files that do
    while low < high:
        middle = (low + high + 1) // 2
        if model.count_tokens(build(middle, 0)) <= budget:
            low = middle
        else:
            high = middle - 1
    return build(low, 0), low


def rerank_hits(
    model: ChatModel,
    question: str,
    hits: list[Hit],
    cards: dict[str, list[str]],
    picks: int = RERANK_PICKS,
    max_new_tokens: int = RERANK_TOKENS,
) -> Rerank:
    """Asks the model which of ``hits`` (one per file, best first) hold the answer; ``cards`` from
    ``card_lines``. Files it names go first in its order, the rest keep their order."""
    if len(hits) < 2:
        return Rerank(list(hits), [], "", len(hits), StepCost())
    started = time.perf_counter()
    messages, shown = fit_rerank_prompt(model, question, hits, cards, picks, max_new_tokens)
    if shown < 2:
        return Rerank(list(hits), [], "", shown, StepCost(time.perf_counter() - started))
    reply, cost = _generate(model, messages, max_new_tokens)
    picked = parse_ranking(reply, [h.path for h in hits[:shown]], picks)
    cost = StepCost(time.perf_counter() - started, cost.prompt_tokens, cost.new_tokens)
    return Rerank(reorder(hits, picked), picked, reply, shown, cost)


def assisted_search(
    retriever: Retriever,
    model: ChatModel | None,
    question: str,
    k: int = 10,
    per_file: int = 2,
    rewrite: bool = False,
    rerank: bool = False,
    explain: bool = False,
) -> AssistedSearch:
    """``retriever.search`` with the steps asked for (both need ``model``). With ``rerank`` the model
    ranks files, so the hits are one per file."""
    if (rewrite or rerank) and model is None:
        raise ValueError("model-assisted search needs a model")
    result = AssistedSearch([])
    query = question
    if rewrite:
        assert model is not None
        result.rewrite = rewrite_query(model, question, main_language(c.path for c in retriever.chunks))
        result.costs["rewrite"] = result.rewrite.cost
        query = result.rewrite.query
    if not rerank:
        result.hits = retriever.search(query, k=k, per_file=per_file, explain=explain)
        return result
    assert model is not None
    candidates = retriever.search(query, k=max(k, RERANK_CANDIDATES), per_file=1, explain=explain)
    result.rerank = rerank_hits(model, question, candidates, card_lines(retriever))
    result.costs["rerank"] = result.rerank.cost
    result.hits = result.rerank.hits[:k]
    return result
