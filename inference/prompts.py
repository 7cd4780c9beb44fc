"""Chat prompt templates for the model families in deploy_config's catalog.

Neither template writes the leading BOS token ``<s>``: TGI's tokenizer adds it to every
input, and a second one would change the prompt the models were tuned on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from deploy_config.catalog import model_catalog
from deploy_config.settings import ModelFacts, PromptFamily

# Text that the tokenizers of Llama 2 and Mistral 7B read as turn structure. Content that
# contains one could close its own turn and write another role's turn.
CONTROL_MARKERS = ("[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "<s>", "</s>")


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


class PromptError(ValueError):
    """Messages that a template cannot render: wrong role order, or control markers."""


class PromptTemplate(ABC):
    """Render chat messages as one prompt string for TGI's ``inputs``.

    Messages are an optional system message first, then user and assistant turns in
    alternation, beginning and ending with a user turn.
    """

    # Stop sequences that end a generation which starts to write the next user turn.
    stop_sequences: tuple[str, ...] = ("[INST]",)

    def render(self, messages: Sequence[Message]) -> str:
        system, turns = _split_system(messages)
        _check_turn_order(turns)
        for message in messages:
            _check_control_markers(message)
        return self._render(system, turns)

    @abstractmethod
    def _render(self, system: str | None, turns: Sequence[Message]) -> str: ...


class MistralInstructTemplate(PromptTemplate):
    """Mistral 7B Instruct v0.1 to v0.3: ``[INST] u1 [/INST] a1</s>[INST] u2 [/INST]``.

    Sources: the model card of mistralai/Mistral-7B-Instruct-v0.2 ("Instruction format":
    the prompt surrounded by [INST] and [/INST], BOS only before the first instruction,
    each answer ended by EOS), and the chat template of its tokenizer_config.json (read in
    public copies), which has no system role and puts the system text before the first
    user message, separated by a blank line. The published versions differ in spacing:
    the card writes ``[/INST]a1</s> [INST]``, the later chat template
    `` [INST] u1 [/INST] a1</s> [INST]``. This template puts one space before the answer,
    as the chat template does, and none after ``</s>``.
    """

    def _render(self, system: str | None, turns: Sequence[Message]) -> str:
        parts: list[str] = []
        for index, message in enumerate(turns):
            content = message.content
            if message.role == "user":
                if index == 0 and system:
                    content = f"{system}\n\n{content}"
                parts.append(f"[INST] {content} [/INST]")
            else:
                parts.append(f" {content}</s>")
        return "".join(parts)


class Llama2ChatTemplate(PromptTemplate):
    """Llama 2 chat: ``[INST] <<SYS>>\\n{s}\\n<</SYS>>\\n\\n{u1} [/INST] {a1} </s><s>[INST] ...``.

    Source: ``chat_completion`` in Meta's reference code (llama/generation.py of
    meta-llama/llama, read in public copies): the system text is wrapped in
    ``<<SYS>>\\n`` and ``\\n<</SYS>>\\n\\n`` before the first user message, every content
    is stripped of surrounding whitespace, and each finished exchange is encoded as
    ``BOS [INST] u [/INST] a EOS``. As text, BOS and EOS are ``<s>`` and ``</s>``.
    """

    def _render(self, system: str | None, turns: Sequence[Message]) -> str:
        parts: list[str] = []
        for index, message in enumerate(turns):
            content = message.content
            if message.role == "user":
                if index == 0 and system:
                    content = f"<<SYS>>\n{system}\n<</SYS>>\n\n{content}"
                prefix = "" if index == 0 else "<s>"
                parts.append(f"{prefix}[INST] {content.strip()} [/INST]")
            else:
                parts.append(f" {content.strip()} </s>")
        return "".join(parts)


_TEMPLATES: dict[PromptFamily, type[PromptTemplate]] = {
    "mistral-instruct": MistralInstructTemplate,
    "llama2-chat": Llama2ChatTemplate,
}


def template_for_family(family: PromptFamily) -> PromptTemplate:
    return _TEMPLATES[family]()


def template_for_model(model_id: str, facts: ModelFacts | None = None) -> PromptTemplate:
    """Return the template of a model's prompt family: from ``facts`` when given (a config's
    ``model.facts``), else from deploy_config's model catalog.

    Raises KeyError for a model outside the catalog when no facts are given.
    """
    if facts is not None:
        return template_for_family(facts.prompt_family)
    entry = model_catalog().get(model_id)
    if entry is None:
        known = ", ".join(sorted(model_catalog()))
        raise KeyError(
            f"model {model_id} is not in the catalog ({known}); pass its facts, with"
            " prompt_family, as in the config's model.facts"
        )
    return template_for_family(entry.prompt_family.value)


def _split_system(messages: Sequence[Message]) -> tuple[str | None, Sequence[Message]]:
    if messages and messages[0].role == "system":
        return messages[0].content, messages[1:]
    return None, messages


def _check_turn_order(turns: Sequence[Message]) -> None:
    if not turns:
        raise PromptError("messages must contain at least one user message")
    for index, message in enumerate(turns):
        expected = "user" if index % 2 == 0 else "assistant"
        if message.role != expected:
            raise PromptError(
                f"message {index} after the optional system message has role"
                f" {message.role!r}, expected {expected!r}: a system message may only come"
                " first, then user and assistant messages alternate"
            )
    if turns[-1].role != "user":
        raise PromptError("the last message must be a user message, which the model answers")


def _check_control_markers(message: Message) -> None:
    found = [marker for marker in CONTROL_MARKERS if marker in message.content]
    if found:
        raise PromptError(
            f"{message.role} content contains the prompt control marker(s)"
            f" {', '.join(found)}, which would change the turn structure; remove or escape"
            " them before rendering"
        )
