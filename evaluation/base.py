"""The interface every evaluator implements, and the score of one case."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from evaluation.dataset import ReferenceCase, RubricCase, StructuredCase
from inference.prompts import Message

CaseT = TypeVar("CaseT", StructuredCase, RubricCase, ReferenceCase)


@dataclass(frozen=True)
class CaseScore:
    """An evaluator's verdict on one answer.

    ``score`` is from 0 to 1 and is what thresholds apply to, averaged per evaluator.
    ``metrics`` are named sub-scores from 0 to 1, averaged per evaluator in the report.
    ``unparseable`` counts judge replies that stayed unreadable after the retry.
    """

    score: float
    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    unparseable: int = 0


class Evaluator(ABC, Generic[CaseT]):
    """Build the request for the endpoint under test and score its answer."""

    name: ClassVar[str]

    def messages(self, case: CaseT) -> list[Message]:
        """Return the chat messages sent to the endpoint under test for ``case``.

        The context comes before the input, so an instruction in the input refers to a
        document the model has already read.
        """
        content = f"{case.context.strip()}\n\n{case.input}" if case.context else case.input
        messages = [Message(role="system", content=case.system)] if case.system else []
        messages.append(Message(role="user", content=content))
        return messages

    @abstractmethod
    async def score(self, case: CaseT, answer: str) -> CaseScore:
        """Score the endpoint's ``answer`` to ``case``."""
