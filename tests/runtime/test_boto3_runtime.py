"""boto3, unmocked, over HTTP against the runtime on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError, EventStreamError

from rehearsal.runtime import Faults, LocalRuntime
from rehearsal.runtime.__main__ import main
from rehearsal.runtime.endpoints import require_loopback_url
from rehearsal.runtime.server import require_loopback_host
from tests.runtime.conftest import ENDPOINT, PROMPT, make_client

GENERATE: dict[str, Any] = {
    "inputs": PROMPT,
    "parameters": {"max_new_tokens": 64, "return_full_text": False},
}
STREAM = {**GENERATE, "stream": True}


def invoke(client: Any, body: dict[str, Any], **options: Any) -> Any:
    return client.invoke_endpoint(
        EndpointName=options.pop("endpoint", ENDPOINT),
        ContentType="application/json",
        Body=json.dumps(body),
        **options,
    )


def invoke_stream(client: Any, body: dict[str, Any], **options: Any) -> Any:
    return client.invoke_endpoint_with_response_stream(
        EndpointName=options.pop("endpoint", ENDPOINT),
        ContentType="application/json",
        Body=json.dumps(body),
        **options,
    )


def stream_parts(response: Any) -> list[bytes]:
    parts = []
    for event in response["Body"]:
        assert set(event) == {"PayloadPart"}
        parts.append(event["PayloadPart"]["Bytes"])
    return parts


def sse_payloads(data: bytes) -> list[dict[str, Any]]:
    events = data.decode("utf-8").split("\n\n")
    assert events[-1] == ""
    return [json.loads(event.removeprefix("data:")) for event in events[:-1]]


def model_error(error: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    response: dict[str, Any] = dict(error.value.response)
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    return response


def test_invoke_returns_generated_list(client: Any) -> None:
    response = invoke(client, GENERATE)

    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    result = json.loads(response["Body"].read())
    assert result == [
        {
            "generated_text": " The harbour bridge opened in 1932 after eight years of work. "
            "It carries rail, road and foot traffic between the two shores. "
            "Its arch spans five hundred metres."
        }
    ]


def test_endpoint_url_from_environment(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", runtime.endpoint_url)
    client = boto3.client("sagemaker-runtime", region_name="eu-west-1")

    response = invoke(client, GENERATE)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_stream_yields_sse_payload_parts(client: Any) -> None:
    response = invoke_stream(
        client, {**STREAM, "parameters": {**STREAM["parameters"], "details": True}}
    )

    assert response["ContentType"] == "text/event-stream"
    parts = stream_parts(response)
    events = sse_payloads(b"".join(parts))
    assert len(parts) == len(events)
    assert events[-1]["token"]["special"] is True
    assert events[-1]["details"]["finish_reason"] == "eos_token"
    assert events[-1]["generated_text"].startswith(" The harbour bridge opened in 1932")


def test_stream_operation_with_plain_body(client: Any) -> None:
    parts = stream_parts(invoke_stream(client, GENERATE))

    [result] = json.loads(b"".join(parts))
    assert result["generated_text"].startswith(" The harbour bridge")


def test_invoke_with_stream_body_returns_sse(client: Any) -> None:
    response = invoke(client, STREAM)

    assert response["ContentType"] == "text/event-stream"
    events = sse_payloads(response["Body"].read())
    assert events[-1]["token"]["text"] == "</s>"


def test_unknown_endpoint_is_validation_error(runtime: LocalRuntime, client: Any) -> None:
    with pytest.raises(ClientError) as error:
        invoke(client, GENERATE, endpoint="no-such-endpoint")

    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.value.response["Error"]["Message"] == (
        "Endpoint no-such-endpoint of account 123456789012 not found."
    )
    # The server keeps serving after the rejection.
    assert httpx.get(f"{runtime.endpoint_url}/_rehearsal/health").status_code == 200
    assert invoke(client, GENERATE)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_unknown_endpoint_stream_is_validation_error(client: Any) -> None:
    with pytest.raises(ClientError) as error:
        invoke_stream(client, STREAM, endpoint="no-such-endpoint")

    assert error.value.response["Error"]["Code"] == "ValidationError"


def test_schema_failure_is_model_error_422(client: Any) -> None:
    with pytest.raises(ClientError) as error:
        invoke(client, {"inputs": PROMPT, "parameters": {"max_new_tokens": "many"}})

    response = model_error(error)
    assert response["OriginalStatusCode"] == 422
    assert response["OriginalMessage"].startswith(
        "Failed to deserialize the JSON body into the target type: parameters.max_new_tokens"
    )


def test_rule_failure_is_model_error_422(client: Any) -> None:
    with pytest.raises(ClientError) as error:
        invoke(client, {"inputs": PROMPT, "parameters": {"temperature": -1.0}})

    response = model_error(error)
    assert response["OriginalStatusCode"] == 422
    assert json.loads(response["OriginalMessage"])["error_type"] == "validation"
    assert response["Error"]["Message"].startswith("Received client error (422) from primary")
    assert response["LogStreamArn"] == (
        f"arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/Endpoints/{ENDPOINT}"
    )


def test_missing_content_type_is_model_error_415(client: Any) -> None:
    with pytest.raises(ClientError) as error:
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=json.dumps(GENERATE))

    assert model_error(error)["OriginalStatusCode"] == 415


def test_throttling_fault(client: Any) -> None:
    with pytest.raises(ClientError) as error:
        invoke(client, GENERATE, CustomAttributes='{"error": "throttling"}')

    assert error.value.response["Error"]["Code"] == "ThrottlingException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_throttling_once_is_retried(runtime: LocalRuntime) -> None:
    runtime.add_faults(Faults(error="throttling"), count=1, endpoint=ENDPOINT)
    before = len(runtime.invocations())

    response = invoke(make_client(runtime.endpoint_url, max_attempts=3), GENERATE)

    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    statuses = [item.status for item in runtime.invocations()[before:]]
    assert statuses == [400, 200]


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        ("model_not_ready", "ModelNotReadyException", 429),
        ("service_unavailable", "ServiceUnavailable", 503),
        ("internal_failure", "InternalFailure", 500),
    ],
)
def test_service_error_faults(client: Any, fault: str, code: str, status: int) -> None:
    with pytest.raises(ClientError) as error:
        invoke(client, GENERATE, CustomAttributes=json.dumps({"error": fault}))

    assert error.value.response["Error"]["Code"] == code
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


@pytest.mark.parametrize(
    ("fault", "status", "error_type"),
    [("tgi_validation", 422, "validation"), ("tgi_generation", 424, "generation")],
)
def test_container_error_faults(client: Any, fault: str, status: int, error_type: str) -> None:
    attributes = json.dumps({"error": fault, "error_message": "injected by the test"})
    with pytest.raises(ClientError) as error:
        invoke(client, GENERATE, CustomAttributes=attributes)

    response = model_error(error)
    assert response["OriginalStatusCode"] == status
    original = json.loads(response["OriginalMessage"])
    assert original["error_type"] == error_type
    assert original["error"].endswith("injected by the test")


def test_container_error_on_stream_operation(client: Any) -> None:
    with pytest.raises(ClientError) as error:
        invoke_stream(client, STREAM, CustomAttributes='{"error": "tgi_generation"}')

    assert model_error(error)["OriginalStatusCode"] == 424


def test_invocation_timeout_fault(client: Any) -> None:
    with pytest.raises(ClientError) as error:
        invoke(client, GENERATE, CustomAttributes='{"error": "invocation_timeout"}')

    response = model_error(error)
    assert response["OriginalStatusCode"] == 0
    assert response["Error"]["Message"].startswith(
        'Received server error (0) from primary with message "Your invocation timed out '
        "while waiting for a response from container primary."
    )


def test_latency_over_timeout_times_out() -> None:
    with LocalRuntime(latency_ms=50, invocation_timeout_ms=50) as runtime:
        client = make_client(runtime.endpoint_url)
        with pytest.raises(ClientError) as error:
            invoke(client, GENERATE)

    assert model_error(error)["OriginalStatusCode"] == 0


def test_latency_fault_waits(client: Any) -> None:
    started = time.monotonic()
    response = invoke(client, GENERATE, CustomAttributes='{"latency_ms": 150}')
    elapsed = time.monotonic() - started

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert elapsed >= 0.15


def test_parts_split_multibyte_characters(client: Any) -> None:
    attributes = '{"chunk_bytes": 1, "non_ascii": true}'
    parts = stream_parts(invoke_stream(client, STREAM, CustomAttributes=attributes))

    assert all(len(part) == 1 for part in parts)
    assert any(part[0] >= 0x80 for part in parts)
    events = sse_payloads(b"".join(parts))
    assert "härböür" in events[-1]["generated_text"]


def test_one_part_holds_many_events(client: Any) -> None:
    parts = stream_parts(invoke_stream(client, STREAM, CustomAttributes='{"chunk_bytes": 4096}'))

    assert parts[0].count(b"data:") > 1
    assert sse_payloads(b"".join(parts))[-1]["token"]["special"] is True


def test_chunk_offsets_cut_inside_character(client: Any) -> None:
    whole = b"".join(
        stream_parts(invoke_stream(client, STREAM, CustomAttributes='{"non_ascii": true}'))
    )
    inside = whole.index("ä".encode()) + 1
    attributes = json.dumps({"non_ascii": True, "chunk_offsets": [inside, inside + 300]})

    parts = stream_parts(invoke_stream(client, STREAM, CustomAttributes=attributes))

    assert len(parts) == 3
    assert len(parts[0]) == inside
    assert len(parts[1]) == 300
    assert b"".join(parts) == whole
    with pytest.raises(UnicodeDecodeError):
        parts[0].decode("utf-8")


@pytest.mark.parametrize("exception", ["ModelStreamError", "InternalStreamFailure"])
def test_stream_exception_mid_stream(client: Any, exception: str) -> None:
    attributes = json.dumps({"stream_exception": exception, "stream_exception_after": 2})
    response = invoke_stream(client, STREAM, CustomAttributes=attributes)

    received: list[bytes] = []

    def read_all() -> None:
        for event in response["Body"]:
            received.append(event["PayloadPart"]["Bytes"])

    with pytest.raises(EventStreamError) as error:
        read_all()

    assert len(received) == 2
    assert error.value.response["Error"]["Code"] == exception
    assert error.value.response["Error"]["Message"].startswith("injected")


def test_error_event_mid_stream(client: Any) -> None:
    parts = stream_parts(
        invoke_stream(client, STREAM, CustomAttributes='{"generation_error_after": 3}')
    )

    events = sse_payloads(b"".join(parts))
    assert len(events) == 4
    assert events[-1]["error_type"] == "generation"
    assert all(event.get("generated_text") is None for event in events)


def test_invalid_custom_attributes_rejected(client: Any) -> None:
    with pytest.raises(ClientError) as error:
        invoke(client, GENERATE, CustomAttributes='{"error": "meteor"}')

    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert "invalid rehearsal fault specification" in error.value.response["Error"]["Message"]


def test_opaque_custom_attributes_pass(client: Any) -> None:
    response = invoke(client, GENERATE, CustomAttributes="trace-id=abc")

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_control_route_queues_faults(runtime: LocalRuntime, client: Any) -> None:
    control = f"{runtime.endpoint_url}/_rehearsal/faults"
    created = httpx.post(control, json={"faults": {"error": "tgi_generation"}, "count": 2})
    assert created.status_code == 201
    assert httpx.get(control).json()["queued"][0]["count"] == 2

    for _ in range(2):
        with pytest.raises(ClientError):
            invoke(client, GENERATE)
    assert invoke(client, GENERATE)["ResponseMetadata"]["HTTPStatusCode"] == 200

    assert httpx.post(control, json={"faults": {"latency_ms": -1}}).status_code == 400
    httpx.post(control, json={"faults": {"error": "throttling"}})
    assert httpx.delete(control).status_code == 204
    assert httpx.get(control).json()["queued"] == []


def test_invocations_record_faults(runtime: LocalRuntime, client: Any) -> None:
    invoke(client, GENERATE, CustomAttributes='{"latency_ms": 1}')

    recorded = httpx.get(f"{runtime.endpoint_url}/_rehearsal/invocations").json()["invocations"]
    assert recorded[-1]["endpoint"] == ENDPOINT
    assert recorded[-1]["faults"] == {"latency_ms": 1}
    assert recorded[-1]["status"] == 200


def test_other_hosts_rejected() -> None:
    with pytest.raises(ValueError, match=r"binds to 127\.0\.0\.1 only"):
        require_loopback_host("0.0.0.0")  # noqa: S104 - the value under test
    assert main(["--port", "1", "--host", "0.0.0.0"]) == 2  # noqa: S104 - the value under test


def test_non_loopback_moto_url_rejected() -> None:
    with pytest.raises(ValueError, match="loopback"):
        require_loopback_url("http://example.com:5000")
    assert require_loopback_url("http://localhost:5000") == "http://localhost:5000"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_moto_endpoints_only(moto_url: str) -> None:
    sagemaker = boto3.client(
        "sagemaker",
        region_name="eu-west-1",
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    sagemaker.create_model(
        ModelName="tgi-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/tgi:latest"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="tgi-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "tgi-model",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="moto-endpoint", EndpointConfigName="tgi-config")

    with LocalRuntime(moto_endpoint_url=moto_url) as runtime:
        client = make_client(runtime.endpoint_url)
        response = invoke(client, GENERATE, endpoint="moto-endpoint")
        with pytest.raises(ClientError) as error:
            invoke(client, GENERATE, endpoint="llm-endpoint-dev")

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert error.value.response["Error"]["Message"] == (
        "Endpoint llm-endpoint-dev of account 123456789012 not found."
    )
