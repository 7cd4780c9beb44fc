"""Configuration problems: one type for every invalid setting, printed one line each."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

# Hugging Face user access tokens are "hf_" followed by 34 letters and digits. The shorter
# bound also catches a token that was cut when it was pasted.
HF_TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{30,}")
SECRETS_MANAGER_HINT = (
    "store the token in AWS Secrets Manager and set model.hf_token_secret to the "
    "secret's name or ARN"
)


@dataclass(frozen=True)
class Problem:
    """One invalid setting: the dotted field path and what to do about it."""

    field: str
    message: str
    level: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        # Masked here, where every problem is printed, because a message may quote any
        # setting, and a token can be pasted into any of them.
        return mask_secrets(f"{self.level}: {self.field}: {self.message}")


class ConfigError(Exception):
    """Raised when the configuration cannot be deployed; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def mask_secrets(text: str) -> str:
    """Replace anything that looks like a Hugging Face token with a masked form."""
    return HF_TOKEN_PATTERN.sub("hf_****", text)


def describe_value(value: Any) -> str:
    """Quote a value for an error message, masking tokens and shortening long values."""
    text = mask_secrets(repr(value))
    return text if len(text) <= 80 else text[:77] + "..."


def problems_from_validation_error(error: ValidationError) -> list[Problem]:
    """Turn pydantic's errors into problems that name the field and the bad value."""
    problems = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "config"
        value = item.get("input")
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown setting; remove it or check its spelling against the README"
        if item["type"] == "missing":
            message = (
                "missing; set it in the config file or as the environment variable "
                f"LLM_DEPLOY_{field.upper().replace('.', '__')}"
            )
        if isinstance(value, str) and HF_TOKEN_PATTERN.search(value):
            message = (
                f"{message}; the value looks like a Hugging Face token: {SECRETS_MANAGER_HINT}"
            )
        if item["type"] != "missing":
            message = f"{message} (got {describe_value(value)})"
        problems.append(Problem(field, message))
    return problems
