"""SageMaker Runtime's error responses in the restJson1 protocol.

botocore takes the error code from the ``x-amzn-ErrorType`` header and the message from
the body's ``message`` (or ``Message``) key, then parses the modelled fields of the error's
shape, such as ModelError's ``OriginalStatusCode``, from the same JSON body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# The name SageMaker gives the single container of a model in its error messages.
CONTAINER_NAME = "primary"
TIMEOUT_MESSAGE = (
    "Your invocation timed out while waiting for a response from container primary. "
    "Review the latency metrics for each container in Amazon CloudWatch, resolve the issue, "
    "and try again."
)


@dataclass
class SageMakerError(Exception):
    """An error response: HTTP status, the error code botocore reports, and the JSON body."""

    status: int
    code: str
    body: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.code} ({self.status}): {self.body.get('message', self.body.get('Message'))}"

    def encoded_body(self) -> bytes:
        return json.dumps(self.body).encode("utf-8")


def validation_error(message: str) -> SageMakerError:
    return SageMakerError(400, "ValidationError", {"message": message})


def endpoint_not_found(endpoint: str, account: str) -> SageMakerError:
    return validation_error(f"Endpoint {endpoint} of account {account} not found.")


def throttling() -> SageMakerError:
    # SageMaker rejects a throttled invocation with 400 and a null message; botocore then
    # shows "None" as the message and retries, because ThrottlingException is in its list
    # of throttling codes.
    return SageMakerError(400, "ThrottlingException", {"message": None})


def model_not_ready(message: str | None) -> SageMakerError:
    return SageMakerError(
        429, "ModelNotReadyException", {"message": message or "injected: the model is not ready"}
    )


def service_unavailable(message: str | None) -> SageMakerError:
    return SageMakerError(
        503, "ServiceUnavailable", {"message": message or "injected: the service is unavailable"}
    )


def internal_failure(message: str | None) -> SageMakerError:
    return SageMakerError(
        500, "InternalFailure", {"message": message or "injected: an internal failure occurred"}
    )


def _logs_url(endpoint: str, region: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logEventViewer:group=/aws/sagemaker/Endpoints/{endpoint}"
    )


def model_error(
    *, endpoint: str, account: str, region: str, original_status: int, original_message: str
) -> SageMakerError:
    """Wrap a container's error response as SageMaker's ModelError (HTTP 424).

    The message names the container status as a client error for 4xx and a server error
    otherwise, quotes the container's body and points to the endpoint's log group.
    """
    kind = "client" if 400 <= original_status < 500 else "server"
    message = (
        f"Received {kind} error ({original_status}) from {CONTAINER_NAME} with message "
        f'"{original_message}". See {_logs_url(endpoint, region)} in account {account} '
        "for more information."
    )
    body: dict[str, Any] = {
        "Message": message,
        "OriginalStatusCode": original_status,
        "OriginalMessage": original_message,
        "LogStreamArn": (
            f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/{endpoint}"
        ),
    }
    if kind == "client":
        body["ErrorCode"] = "CLIENT_ERROR_FROM_MODEL"
    return SageMakerError(424, "ModelError", body)


def invocation_timeout(*, endpoint: str, account: str, region: str) -> SageMakerError:
    """Return the ModelError SageMaker sends when the container does not respond in time.

    No HTTP status came from the container, which SageMaker reports as status 0.
    """
    return model_error(
        endpoint=endpoint,
        account=account,
        region=region,
        original_status=0,
        original_message=TIMEOUT_MESSAGE,
    )
