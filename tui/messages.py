"""The messages the chat's workers send to its UI thread, and the question on its way to an answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message as TextualMessage
from textual.widgets import Markdown, Static


class AnswerToken(TextualMessage):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class AnswerDone(TextualMessage):
    def __init__(self, result: Any, cancelled: bool) -> None:
        super().__init__()
        self.result = result
        self.cancelled = cancelled


class AnswerFailed(TextualMessage):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class EditProgress(TextualMessage):
    """A step of a running /edit: ("try", n), ("check", command), ("tried", EditTry)."""

    def __init__(self, kind: str, data: Any) -> None:
        super().__init__()
        self.kind, self.data = kind, data


class EditDone(TextualMessage):
    def __init__(self, result: Any, error: str) -> None:
        super().__init__()
        self.result, self.error = result, error


class LoadProgress(TextualMessage):
    """A load step ended: its notice in the conversation says what happened."""

    def __init__(self, notice: Static, text: str, error: str | None) -> None:
        super().__init__()
        self.notice, self.text, self.error = notice, text, error


class LoadFinished(TextualMessage):
    def __init__(self, notice: Static, model_error: str | None, repo_indexed: bool) -> None:
        super().__init__()
        self.notice, self.model_error, self.repo_indexed = notice, model_error, repo_indexed


@dataclass
class Turn:
    """A question on its way to an answer. Its answer bubble is mounted (hidden) when the question is
    sent, so answers stay under their questions however long they wait; the placeholder says why
    there is no answer yet, and is replaced by the answer's first token or by why it never came."""

    conversation: int
    question: str
    question_id: int
    answer_id: int
    widget: Markdown
    placeholder: Static
