"""A deterministic stand-in tokenizer and the extractive text generator.

Token rule: a token is a run of word characters or one other non-space character, together
with the whitespace before it; whitespace at the very end of a text is one more token. So
``"Hello, world!"`` is ``["Hello", ",", " world", "!"]`` and joining the tokens of a text
gives the text back. The input length that TGI's limits apply to is those tokens plus one
for the ``<s>`` token that Llama and Mistral tokenizers put in front of every input.
Counts differ from the real SentencePiece tokenizers, which split rare words into pieces.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

_TOKEN_PATTERN = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SYSTEM_BLOCK = re.compile(r"<<SYS>>.*?<</SYS>>", re.DOTALL)
_MARKERS = re.compile(r"\[/?INST\]|</?s>")
# Verbs that open the instruction paragraph of a summarization or extraction prompt.
_INSTRUCTION_START = re.compile(r"(?i)(summari[sz]e|write|answer|list|extract|return|give)\b")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# Swapping these vowels for two-byte UTF-8 letters makes nearly every sentence contain
# multi-byte characters, which a stream cut at byte offsets then splits.
_NON_ASCII_VOWELS = str.maketrans("aeiou", "äéïöü")

BOS_TOKEN_ID = 1
EOS_TOKEN_ID = 2
EOS_TOKEN_TEXT = "</s>"  # noqa: S105 - a vocabulary token, not a password
BOS_TOKEN_TEXT = "<s>"  # noqa: S105 - a vocabulary token, not a password
_VOCABULARY_SIZE = 32000
_FIRST_ORDINARY_ID = 3


@dataclass(frozen=True)
class Token:
    """One token with TGI's fields; ``logprob`` is a fixed function of the text."""

    id: int
    text: str
    logprob: float
    special: bool = False

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "text": self.text, "logprob": self.logprob, "special": self.special}


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into token strings whose concatenation is ``text``."""
    return _TOKEN_PATTERN.findall(text)


def make_token(text: str) -> Token:
    checksum = zlib.crc32(text.encode("utf-8"))
    token_id = _FIRST_ORDINARY_ID + checksum % (_VOCABULARY_SIZE - _FIRST_ORDINARY_ID)
    logprob = -round(0.01 + (checksum % 997) / 1000, 4)
    return Token(id=token_id, text=text, logprob=logprob)


def eos_token() -> Token:
    return Token(id=EOS_TOKEN_ID, text=EOS_TOKEN_TEXT, logprob=-0.01, special=True)


def input_length(text: str) -> int:
    """Count the input tokens of ``text`` as TGI's limits see them, ``<s>`` included."""
    return len(split_tokens(text)) + 1


def truncate_input(text: str, keep: int) -> str:
    """Keep the last ``keep`` input tokens of ``text``, ``<s>`` counting as one of them."""
    pieces = split_tokens(text)
    kept = max(keep - 1, 0)
    return "".join(pieces[len(pieces) - kept :]) if kept else ""


def prompt_document(prompt: str) -> str:
    """Return the document inside a Llama 2 or Mistral chat prompt.

    The system block and the ``[INST]`` markers go. Summarization prompts put one
    instruction next to the text, so a paragraph that starts with an instruction verb is
    skipped while another is left, and of the rest the longest is the document. The
    instruction can be the longer one when the document is a sentence or two.
    """
    text = _MARKERS.sub(" ", _SYSTEM_BLOCK.sub(" ", prompt))
    paragraphs = [part.strip() for part in _PARAGRAPH_BREAK.split(text) if part.strip()]
    if not paragraphs:
        return ""
    candidates = [part for part in paragraphs if not _INSTRUCTION_START.match(part)]
    return " ".join(max(candidates or paragraphs, key=len).split())


def summarize(prompt: str, sentences: int, *, non_ascii: bool = False) -> str:
    """Return the leading ``sentences`` sentences of the prompt's document, with a leading space.

    The leading space is how Llama and Mistral tokenizers decode the first generated word.
    """
    document = prompt_document(prompt)
    if not document:
        return ""
    summary = " ".join(_SENTENCE_END.split(document)[:sentences])
    if non_ascii:
        summary = summary.translate(_NON_ASCII_VOWELS)
    return " " + summary
