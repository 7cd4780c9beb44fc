"""Settings of the summarization service, read from ``LLM_SERVICE_`` environment variables.

The client part (endpoint name, region, timeouts, TGI's token limits, and
``max_concurrency``, the number of endpoint calls the service can await at once) is the
inference package's ``ClientSettings``, which reads its own ``LLM_CLIENT_`` variables.
boto3 reads ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` and the credential variables itself, and
the service neither sets nor overrides them.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, PositiveInt, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from inference.settings import ClientSettings

ENV_PREFIX = "LLM_SERVICE_"

# TGI's MAX_INPUT_TOKENS in the shipped dev and prod profiles, used as the prompt's token
# budget when LLM_CLIENT_MAX_INPUT_TOKENS is not set.
DEFAULT_MAX_INPUT_TOKENS = 3072


class ServiceSettings(BaseSettings):
    """Limits and model choice of the service, plus the settings of its one inference client."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # Picks the prompt template, so it must name the model the endpoint serves; the
    # default is the model of the shipped dev and prod profiles.
    model_id: str = Field(default="mistralai/Mistral-7B-Instruct-v0.2", min_length=1)
    # Checked before the task estimates the prompt's tokens. The task counts about 3 bytes
    # of UTF-8 per token, so with the default budget of 3072 input tokens it already
    # rejects an ASCII document of about 9,000 characters. This limit rejects far larger
    # documents cheaply, and it bounds the work when the token budget is larger.
    max_document_chars: PositiveInt = 16_000
    # Maximum request body in bytes; the service stops reading a larger body and responds
    # 413. JSON escapes can take up to 12 bytes for one character, hence the wide default.
    max_request_bytes: PositiveInt = 256 * 1024
    # Tokens to generate when a request does not set max_new_tokens.
    default_max_new_tokens: PositiveInt = 256
    # Maximum max_new_tokens that a request may set.
    max_new_tokens_limit: PositiveInt = 1024
    # If True, TGI drops the beginning of a document over the token budget, and the
    # response sets "truncated". If False, such a document is rejected with 413.
    truncate: bool = False
    # Seconds in the Retry-After header of a 503 after the endpoint throttled a request or
    # was temporarily unavailable. The client has already retried with backoff by then
    # (LLM_CLIENT_MAX_RETRIES).
    retry_after_seconds: PositiveInt = 5
    client: ClientSettings = Field(default_factory=ClientSettings)

    @property
    def max_input_tokens(self) -> int:
        """The prompt's token budget: the client's max_input_tokens, or TGI's default."""
        if self.client.max_input_tokens is not None:
            return self.client.max_input_tokens
        return DEFAULT_MAX_INPUT_TOKENS

    def input_token_budget(self, max_new_tokens: int) -> int:
        """Return the prompt's token budget for a request that generates ``max_new_tokens``.

        TGI rejects a request whose input and max_new_tokens together exceed its
        MAX_TOTAL_TOKENS, so when the client knows that limit the budget shrinks to fit.
        """
        budget = self.max_input_tokens
        max_total_tokens = self.client.max_total_tokens
        if max_total_tokens is not None:
            budget = min(budget, max_total_tokens - max_new_tokens)
        return budget

    @model_validator(mode="after")
    def _check_new_token_limits(self) -> Self:
        if self.default_max_new_tokens > self.max_new_tokens_limit:
            raise ValueError(
                f"default_max_new_tokens ({self.default_max_new_tokens}) must not exceed "
                f"max_new_tokens_limit ({self.max_new_tokens_limit})"
            )
        max_total_tokens = self.client.max_total_tokens
        if max_total_tokens is not None and self.max_new_tokens_limit >= max_total_tokens:
            raise ValueError(
                f"max_new_tokens_limit ({self.max_new_tokens_limit}) must be less than the "
                f"client's max_total_tokens ({max_total_tokens}), which also counts the prompt"
            )
        return self
