"""Errors raised by inference clients.

Each InferenceError names the endpoint and the upstream message. MissingRegionError reports
a client that has no AWS region. The classes follow the failure's cause, not the transport,
so a caller (the FastAPI service, for one) can map them to its own status codes without
knowing botocore's error shapes.
"""

from __future__ import annotations

from botocore.exceptions import NoRegionError


class InferenceError(Exception):
    """A failed inference call.

    ``upstream_message`` is the text the endpoint, SageMaker or botocore returned (TGI's
    ``error`` field when there is one); ``request_id`` is SageMaker's request id, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint_name: str,
        upstream_message: str | None = None,
        request_id: str | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint_name = endpoint_name
        self.upstream_message = upstream_message
        self.request_id = request_id
        # The AWS error code or TGI error type, such as "ModelError" or "validation".
        self.error_code = error_code

    def __str__(self) -> str:
        context = f"endpoint {self.endpoint_name}"
        if self.request_id:
            context += f", request id {self.request_id}"
        text = f"{self.message} ({context})"
        if self.upstream_message and self.upstream_message not in self.message:
            text += f": {self.upstream_message}"
        return text


class InvalidRequestError(InferenceError):
    """TGI rejected the request (HTTP 422), or the client rejected it before sending."""


class ModelError(InferenceError):
    """The model container failed to generate (TGI's 424, or another ModelError status)."""


class ThrottledError(InferenceError):
    """SageMaker throttled the request, and every retry was throttled too."""


class EndpointUnavailableError(InferenceError):
    """SageMaker reported the endpoint as temporarily unavailable, and every retry did too.

    SageMaker's ModelNotReadyException (HTTP 429: the model is still loading or a serverless
    endpoint is still being provisioned) and ServiceUnavailable (HTTP 503).
    """


class InferenceTimeoutError(InferenceError):
    """The invocation or the client's connect or read timed out."""


class EndpointNotFoundError(InferenceError):
    """The endpoint does not exist in the client's account and region."""


class StreamError(InferenceError):
    """A response stream failed after it started, or ended before TGI's final event."""


class MissingRegionError(NoRegionError):
    """No AWS region is configured for a SageMaker client.

    A subclass of botocore's NoRegionError, which boto3 raised in this case before the
    client checked the region itself, so that code catching NoRegionError still catches it.
    """

    # BotoCoreError builds the message from ``fmt``.
    fmt = (
        "no AWS region is set; set LLM_CLIENT_REGION or AWS_REGION to the endpoint's region"
        " (AWS_DEFAULT_REGION and the AWS profile's region are read too)"
    )
