"""Tasks: a prompt of their own, run through any InferenceClient."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Generic, TypeVar

from inference.base import Generation, GenerationParameters, InferenceClient
from inference.prompts import Message, PromptTemplate
from inference.tgi import estimate_token_count

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")


class Task(ABC, Generic[InputT, OutputT]):
    """One kind of request to a model, with its prompt and the parsing of its answer."""

    @abstractmethod
    def execute(self, task_input: InputT) -> OutputT:
        """Run the task and return its result."""

    async def aexecute(self, task_input: InputT) -> OutputT:
        """Run the task without blocking the event loop; by default in a thread."""
        return await asyncio.to_thread(self.execute, task_input)


@dataclass(frozen=True)
class Summary:
    text: str
    finish_reason: str | None
    generated_tokens: int | None
    # True when the document was over the input budget and TGI dropped its beginning.
    truncated: bool


class DocumentTooLongError(ValueError):
    """The rendered prompt is estimated at more tokens than the task's input budget."""

    def __init__(self, *, limit: int, estimated_tokens: int) -> None:
        super().__init__(
            f"the document is too long: the prompt is about {estimated_tokens} tokens"
            f" (an estimate) and the limit is {limit} input tokens; shorten the document"
            " or pass truncate=True to let TGI drop its beginning"
        )
        self.limit = limit
        self.estimated_tokens = estimated_tokens


# The instruction follows the document because TGI's `truncate` keeps the last tokens of
# the input (router/src/validation.rs takes the final `truncate` ids), so a truncated
# prompt loses the document's beginning but keeps the instruction.
_SUMMARY_INSTRUCTION = (
    "Summarize the document above in a few sentences. State only what the document says,"
    " and answer with the summary alone."
)


class SummarizeShortDocument(Task[str, Summary]):
    """Summarize a document that fits one prompt, with any client and prompt template.

    ``max_input_tokens`` is the prompt's token budget, at most the endpoint's own
    MAX_INPUT_TOKENS. A longer document raises DocumentTooLongError, unless ``truncate``
    is set: then TGI keeps the prompt's last ``max_input_tokens`` tokens.
    """

    def __init__(
        self,
        client: InferenceClient,
        template: PromptTemplate,
        *,
        max_input_tokens: int,
        max_new_tokens: int = 256,
        truncate: bool = False,
    ) -> None:
        if max_input_tokens <= 0:
            raise ValueError(f"max_input_tokens must be greater than 0, got {max_input_tokens}")
        if max_new_tokens <= 0:
            raise ValueError(f"max_new_tokens must be greater than 0, got {max_new_tokens}")
        self.client = client
        self.template = template
        self.max_input_tokens = max_input_tokens
        self.max_new_tokens = max_new_tokens
        self.truncate = truncate

    def execute(self, task_input: str) -> Summary:
        prompt, parameters, truncated = self.prepare(task_input)
        return _summary(self.client.generate(prompt, parameters), truncated)

    async def aexecute(self, task_input: str) -> Summary:
        prompt, parameters, truncated = self.prepare(task_input)
        return _summary(await self.client.agenerate(prompt, parameters), truncated)

    def prepare(self, document: str) -> tuple[str, GenerationParameters, bool]:
        """Return the prompt, parameters and truncated flag that ``execute`` sends.

        Public so that a caller can stream the same request with ``client.astream_events``.
        Raises DocumentTooLongError for a document over the budget without ``truncate``.
        """
        if not document.strip():
            raise ValueError("the document is empty")
        prompt = self.template.render(
            [Message(role="user", content=f"{document.strip()}\n\n{_SUMMARY_INSTRUCTION}")]
        )
        estimated = estimate_token_count(prompt)
        over_budget = estimated > self.max_input_tokens
        if over_budget and not self.truncate:
            raise DocumentTooLongError(limit=self.max_input_tokens, estimated_tokens=estimated)
        parameters = GenerationParameters(
            max_new_tokens=self.max_new_tokens,
            stop=self.template.stop_sequences,
            truncate=self.max_input_tokens if over_budget else None,
        )
        return prompt, parameters, over_budget


def _summary(generation: Generation, truncated: bool) -> Summary:
    return Summary(
        text=generation.text.strip(),
        finish_reason=generation.finish_reason,
        generated_tokens=generation.generated_tokens,
        truncated=truncated,
    )
