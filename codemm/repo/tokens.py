"""Code-aware word tokens shared by BM25 and symbol matching: identifiers split on case and underscores."""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "me",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "there",
        "their",
        "can",
        "should",
        "would",
        "get",
        "gets",
    ]
)


def identifier_parts(word: str) -> list[str]:
    """``parseDueDate`` and ``parse_due_date`` both give ['parse', 'due', 'date']."""
    return [p.lower() for p in _PART.findall(word)]


def stem(word: str) -> str:
    """A light English stemmer: enough to match 'returns' with 'return' and 'tasks' with 'task'."""
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def code_tokens(text: str) -> list[str]:
    """Whole identifiers (lowercased) plus their parts, stemmed, without stopwords."""
    out: list[str] = []
    for word in _WORD.findall(text):
        lower = word.lower()
        parts = identifier_parts(word)
        candidates = [lower] + (parts if len(parts) > 1 else [])
        out += [stem(t) for t in candidates if t not in STOPWORDS and len(t) > 1]
    return out


def identifiers(text: str) -> list[str]:
    return _WORD.findall(text)
