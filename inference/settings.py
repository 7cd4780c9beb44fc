"""Client settings, read from keyword arguments or ``LLM_CLIENT_`` environment variables."""

from __future__ import annotations

from typing import Any

from pydantic import Field, PositiveInt, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from inference.base import GenerationParameters

ENV_PREFIX = "LLM_CLIENT_"

# SageMaker ends a real-time invocation after 60 seconds, so a read timeout at or below that
# would cut off responses that SageMaker still delivers.
SAGEMAKER_INVOCATION_TIMEOUT_S = 60


class ClientSettings(BaseSettings):
    """Client settings: the endpoint, its timeouts and the default generation parameters.

    Every field reads from the environment as ``LLM_CLIENT_<FIELD>``, for example
    ``LLM_CLIENT_ENDPOINT_NAME=llm-endpoint-dev`` or ``LLM_CLIENT_DEFAULT_STOP='["\\n\\n"]'``.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    endpoint_name: str = Field(min_length=1)
    # None reads AWS_REGION, then boto3's resolution (AWS_DEFAULT_REGION, the profile's
    # region). The client raises MissingRegionError if none of them sets a region.
    region: str | None = None
    # Set for an endpoint that hosts the model as a SageMaker inference component.
    inference_component_name: str | None = None
    # None leaves the URL to boto3, which honours AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME.
    endpoint_url: str | None = None

    # Maximum generate calls that agenerate runs at once, the size of its thread pool;
    # further calls wait for a free thread. Each call occupies its thread for the whole
    # generation. It also sizes botocore's connection pool (max_pool_connections, 10 by
    # default), because urllib3 closes connections beyond the pool size after each call
    # and logs "Connection pool is full" for each.
    max_concurrency: PositiveInt = 64

    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=90.0, gt=SAGEMAKER_INVOCATION_TIMEOUT_S)
    # Retries after a ThrottlingException, ModelNotReadyException or ServiceUnavailable;
    # no other error is retried.
    max_retries: int = Field(default=3, ge=0)
    # First backoff before a retry, in seconds; each further retry doubles the ceiling.
    retry_base_delay_s: float = Field(default=0.5, ge=0)
    retry_max_delay_s: float = Field(default=8.0, ge=0)

    # The endpoint's TGI limits (MAX_TOTAL_TOKENS and MAX_INPUT_TOKENS of the container),
    # when known; the client then rejects requests that cannot fit before sending them.
    max_total_tokens: PositiveInt | None = None
    max_input_tokens: PositiveInt | None = None

    default_max_new_tokens: PositiveInt | None = None
    default_temperature: float | None = Field(default=None, gt=0)
    default_top_p: float | None = Field(default=None, gt=0, lt=1)
    default_top_k: PositiveInt | None = None
    default_repetition_penalty: float | None = Field(default=None, gt=0)
    default_stop: tuple[str, ...] = ()
    default_truncate: PositiveInt | None = None
    default_do_sample: bool | None = None
    default_seed: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check_token_limits(self) -> ClientSettings:
        total, limit = self.max_total_tokens, self.max_input_tokens
        if total is not None and limit is not None and limit >= total:
            raise ValueError(
                f"max_input_tokens must be less than max_total_tokens ({total}), got {limit}"
            )
        return self

    def default_parameters(self) -> GenerationParameters:
        """Return the defaults that fill every parameter a call leaves unset."""
        values: dict[str, Any] = {
            name.removeprefix("default_"): getattr(self, name)
            for name in type(self).model_fields
            if name.startswith("default_")
        }
        return GenerationParameters(**values)
