"""The judge LLM: prompt rendering, strict reply parsing with one retry, and a lexical fake.

The judge is any ``InferenceClient``. Its prompts are chat messages rendered with the
prompt template of the judge's model family, and every quoted text sits between XML-style
tags so the judge can tell the parts apart.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from inference.base import Generation, GenerationParameters, InferenceClient
from inference.prompts import CONTROL_MARKERS, Message, PromptTemplate

logger = logging.getLogger(__name__)

T = TypeVar("T")

JUDGE_SYSTEM = (
    "You evaluate the answer an AI assistant gave to a user. Reply in exactly the format"
    " the question asks for, with no explanation."
)
# Short replies only: a verdict is one letter or one number.
JUDGE_MAX_NEW_TOKENS = 16

YES_NO_FORMAT = "Reply with Y or N only."
NUMBER_FORMAT = "Reply with a number only, in digits."
CHOICE_FORMAT = "Reply with the letter of one choice only: A, B, C, D or E."
RETRY_NOTE = "Your reply must be exactly in this format; any other text cannot be read."

REFERENCE_CHOICES = (
    "(A) The submitted answer is a subset of the expert answer and fully consistent with it.\n"
    "(B) The submitted answer is a superset of the expert answer and fully consistent with it.\n"
    "(C) The submitted answer contains all the same details as the expert answer.\n"
    "(D) There is a disagreement between the submitted answer and the expert answer.\n"
    "(E) The answers differ, but these differences do not matter for factuality."
)

_YES_NO = re.compile(r"\A(?P<word>y|n|yes|no)\.?\Z", re.IGNORECASE)
_NUMBER = re.compile(r"\A(?P<number>[-+]?\d+(?:\.\d+)?)\.?\Z")
_CHOICE = re.compile(r"\A\(?(?P<letter>[A-E])\)?\.?\Z")


def parse_yes_no(reply: str) -> str | None:
    """Return "Y" or "N" for a reply that is only Y, N, yes or no (any case, one final dot)."""
    match = _YES_NO.match(reply.strip())
    return match.group("word")[0].upper() if match else None


def parse_number(reply: str) -> float | None:
    """Return the number of a reply that is only a decimal number (one final dot allowed)."""
    match = _NUMBER.match(reply.strip())
    return float(match.group("number")) if match else None


def parse_choice(reply: str) -> str | None:
    """Return the letter of a reply that is only A to E, optionally in parentheses."""
    match = _CHOICE.match(reply.strip())
    return match.group("letter") if match else None


def quote(text: str) -> str:
    """Break up prompt control markers in quoted text, so it cannot close the judge's turn.

    ``[INST]`` becomes ``[ INST]``; the judge still reads the text, and the template's
    check for control markers passes.
    """
    for marker in CONTROL_MARKERS:
        text = text.replace(marker, marker[0] + " " + marker[1:])
    return text.strip()


@dataclass(frozen=True)
class Verdict(Generic[T]):
    """A judge's parsed reply, or None when it stayed unparseable after the retry."""

    value: T | None
    replies: tuple[str, ...]

    @property
    def attempts(self) -> int:
        return len(self.replies)


class Judge:
    """Ask a judge model one question at a time and parse its reply strictly."""

    def __init__(self, client: InferenceClient, template: PromptTemplate) -> None:
        self.client = client
        self.template = template

    @property
    def endpoint_name(self) -> str:
        return self.client.endpoint_name

    async def ask(
        self,
        body: str,
        reply_format: str,
        parse: Callable[[str], T | None],
        *,
        case_id: str,
    ) -> Verdict[T]:
        """Send ``body`` and ``reply_format`` to the judge; retry once if the reply is unparseable.

        The retry adds ``RETRY_NOTE``, because a greedy judge would repeat its reply to an
        unchanged prompt.
        """
        replies: list[str] = []
        for note in ("", f"\n{RETRY_NOTE}"):
            messages = [
                Message(role="system", content=JUDGE_SYSTEM),
                Message(role="user", content=f"{body}\n\n{reply_format}{note}"),
            ]
            parameters = GenerationParameters(
                max_new_tokens=JUDGE_MAX_NEW_TOKENS,
                stop=self.template.stop_sequences,
                do_sample=False,
            )
            generation = await self.client.agenerate(self.template.render(messages), parameters)
            replies.append(generation.text)
            value = parse(generation.text)
            if value is not None:
                return Verdict(value, tuple(replies))
            logger.info(
                "case %s: judge endpoint %s sent an unparseable reply %r (attempt %d of 2)",
                case_id,
                self.endpoint_name,
                generation.text[:80],
                len(replies),
            )
        logger.warning(
            "case %s: judge endpoint %s stayed unparseable after a retry",
            case_id,
            self.endpoint_name,
        )
        return Verdict(None, tuple(replies))


def rubric_prompt(user_input: str, context: str | None, answer: str, question: str) -> str:
    parts = [f"The user's request:\n<request>\n{quote(user_input)}\n</request>"]
    if context:
        parts.append(
            f"The context the assistant was given:\n<context>\n{quote(context)}\n</context>"
        )
    parts.append(f"The assistant's answer:\n<answer>\n{quote(answer)}\n</answer>")
    parts.append(f"Question: {question.strip()}")
    return "\n\n".join(parts)


def reference_prompt(user_input: str, expert_answer: str, answer: str) -> str:
    return (
        "Compare the factual content of a submitted answer with an expert answer to the same"
        " request. Ignore differences in style, grammar and punctuation.\n\n"
        f"The request:\n<request>\n{quote(user_input)}\n</request>\n\n"
        f"The expert answer:\n<expert_answer>\n{quote(expert_answer)}\n</expert_answer>\n\n"
        f"The submitted answer:\n<submitted_answer>\n{quote(answer)}\n</submitted_answer>\n\n"
        f"Which one of these is true?\n{REFERENCE_CHOICES}"
    )


_WORD = re.compile(r"\w+")
_TAGGED = "<{tag}>\n(?P<body>.*?)\n</{tag}>"
# Below this Jaccard index of word sets, two answers that are neither subset nor superset
# of each other count as disagreeing.
FAKE_JUDGE_SIMILARITY = 0.5
FAKE_JUDGE_NAME = "fake-judge"
FAKE_JUDGE_RUBRIC_REPLY = "The fake judge cannot answer rubric questions."


class FakeJudge(InferenceClient):
    """A deterministic, lexical stand-in for a judge LLM, for demos and tests; it is no LLM.

    It reads the prompts this module renders. For a reference comparison it compares the
    word sets of the two answers: a subset is A, a superset B, the same set C, neither with
    a Jaccard index of at least ``FAKE_JUDGE_SIMILARITY`` E, and anything else D. Wording
    that changes the meaning but keeps the words fools it. Rubric questions need a real
    judge, so it replies ``FAKE_JUDGE_RUBRIC_REPLY``, which the rubric scores as unparseable.
    """

    endpoint_name = FAKE_JUDGE_NAME

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def generate(self, prompt: str, parameters: GenerationParameters | None = None) -> Generation:
        self.prompts.append(prompt)
        expert = _tagged(prompt, "expert_answer")
        submitted = _tagged(prompt, "submitted_answer")
        if expert is None or submitted is None:
            text = FAKE_JUDGE_RUBRIC_REPLY
        else:
            text = compare_word_sets(submitted, expert)
        return Generation(
            text=text, finish_reason="eos_token", generated_tokens=1, input_tokens=None
        )

    def stream(self, prompt: str, parameters: GenerationParameters | None = None) -> Iterator[str]:
        yield self.generate(prompt, parameters).text


def compare_word_sets(submitted: str, expert: str) -> str:
    """Return the reference choice A to E that word-set comparison gives."""
    submitted_words = {word.casefold() for word in _WORD.findall(submitted)}
    expert_words = {word.casefold() for word in _WORD.findall(expert)}
    if submitted_words == expert_words:
        return "C"
    if submitted_words < expert_words:
        return "A"
    if submitted_words > expert_words:
        return "B"
    union = submitted_words | expert_words
    similarity = len(submitted_words & expert_words) / len(union) if union else 1.0
    return "E" if similarity >= FAKE_JUDGE_SIMILARITY else "D"


def _tagged(prompt: str, tag: str) -> str | None:
    # The last occurrence, because the quoted request could itself contain the tag.
    matches = list(re.finditer(_TAGGED.format(tag=tag), prompt, re.DOTALL))
    return matches[-1].group("body") if matches else None
