"""SageMakerTgiClient against a fake sagemaker-runtime client: requests, retries, streams."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError, NoRegionError

from inference.base import GenerationParameters, StreamEnd, StreamEvent, TextDelta
from inference.errors import (
    EndpointNotFoundError,
    EndpointUnavailableError,
    InvalidRequestError,
    MissingRegionError,
    StreamError,
    ThrottledError,
)
from inference.sagemaker_tgi import SageMakerTgiClient, resolve_region
from inference.settings import ClientSettings
from tests.inference.conftest import CLOSED_PORT_URL

ENDPOINT = "llm-endpoint-dev"


def throttling_error() -> ClientError:
    response: Any = {
        "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
        "ResponseMetadata": {"RequestId": "req-throttled"},
    }
    return ClientError(response, "InvokeEndpoint")


def unavailable_error(code: str = "ModelNotReadyException") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "Model is not ready"},
        "ResponseMetadata": {"RequestId": "req-unavailable"},
    }
    return ClientError(response, "InvokeEndpoint")


def sse(document: dict[str, Any]) -> bytes:
    return f"data:{json.dumps(document)}\n\n".encode()


def token(text: str, special: bool = False) -> dict[str, Any]:
    return {"token": {"id": 1, "text": text, "special": special}, "generated_text": None}


def final(text: str, generated_text: str, finish_reason: str) -> dict[str, Any]:
    return {
        "token": {"id": 2, "text": text, "special": text == "</s>"},
        "generated_text": generated_text,
        "details": {"finish_reason": finish_reason, "generated_tokens": 3},
    }


class FakeEventStream:
    """Stand-in for botocore's EventStream: yields events, then raises ``error`` if set."""

    def __init__(self, events: list[dict[str, Any]], error: Exception | None = None) -> None:
        self.events = events
        self.error = error
        self.closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self.events
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True


class FakeRuntime:
    """Record requests and return queued results, raising those that are exceptions."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.results: list[Any] = []

    def _next(self, request: dict[str, Any]) -> Any:
        self.requests.append(request)
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    def invoke_endpoint(self, **request: Any) -> Any:
        return self._next(request)

    def invoke_endpoint_with_response_stream(self, **request: Any) -> Any:
        return self._next(request)


def make_client(**settings: Any) -> tuple[SageMakerTgiClient, FakeRuntime]:
    options: dict[str, Any] = {
        "endpoint_name": ENDPOINT,
        "endpoint_url": CLOSED_PORT_URL,
        "retry_base_delay_s": 0,
        **settings,
    }
    client = SageMakerTgiClient(ClientSettings(**options))
    fake = FakeRuntime()
    client._runtime = fake
    return client, fake


def generate_response(text: str, finish_reason: str = "eos_token") -> dict[str, Any]:
    body = json.dumps(
        [
            {
                "generated_text": text,
                "details": {"finish_reason": finish_reason, "generated_tokens": 2},
            }
        ]
    )
    return {"Body": io.BytesIO(body.encode()), "ResponseMetadata": {"RequestId": "req-1"}}


def stream_response(stream: FakeEventStream) -> dict[str, Any]:
    return {"Body": stream, "ResponseMetadata": {"RequestId": "req-stream"}}


def parts(*chunks: bytes) -> list[dict[str, Any]]:
    return [{"PayloadPart": {"Bytes": chunk}} for chunk in chunks]


def test_boto3_client_configuration() -> None:
    client = SageMakerTgiClient(
        ClientSettings(
            endpoint_name=ENDPOINT,
            endpoint_url=CLOSED_PORT_URL,
            region="us-east-2",
            read_timeout_s=75,
            connect_timeout_s=3,
        )
    )

    config = client._runtime.meta.config
    assert config.read_timeout == 75
    assert config.connect_timeout == 3
    assert config.retries["total_max_attempts"] == 1
    assert client._runtime.meta.region_name == "us-east-2"
    assert client._runtime.meta.endpoint_url == CLOSED_PORT_URL


def test_region_from_aws_region_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")

    client = SageMakerTgiClient(ClientSettings(endpoint_name=ENDPOINT))

    assert client._runtime.meta.region_name == "eu-central-1"


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        (
            {
                "LLM_CLIENT_REGION": "us-east-2",
                "AWS_REGION": "eu-central-1",
                "AWS_DEFAULT_REGION": "eu-west-1",
            },
            "us-east-2",
        ),
        ({"AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "eu-west-1"}, "eu-central-1"),
        ({"AWS_REGION": "", "AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-1"),
        ({"AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-1"),
    ],
)
def test_region_precedence(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    client = SageMakerTgiClient(ClientSettings(endpoint_name=ENDPOINT))

    assert client._runtime.meta.region_name == expected


def test_region_from_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config_file = tmp_path / "config"
    config_file.write_text("[profile rehearsal]\nregion = ap-southeast-2\n")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("AWS_PROFILE", "rehearsal")

    assert resolve_region(None) == "ap-southeast-2"


def test_missing_region_raises_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    with pytest.raises(MissingRegionError, match="LLM_CLIENT_REGION or AWS_REGION") as raised:
        SageMakerTgiClient(ClientSettings(endpoint_name=ENDPOINT, endpoint_url=CLOSED_PORT_URL))

    # Callers written for boto3's own error still catch it.
    assert isinstance(raised.value, NoRegionError)


def test_max_concurrency_sizes_both_pools() -> None:
    client = SageMakerTgiClient(
        ClientSettings(endpoint_name=ENDPOINT, endpoint_url=CLOSED_PORT_URL, max_concurrency=40)
    )

    assert client._runtime.meta.config.max_pool_connections == 40
    assert client._executor._max_workers == 40
    client.close()


def test_max_concurrency_default_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ClientSettings(endpoint_name=ENDPOINT).max_concurrency == 64

    monkeypatch.setenv("LLM_CLIENT_MAX_CONCURRENCY", "12")

    assert ClientSettings(endpoint_name=ENDPOINT).max_concurrency == 12


def test_endpoint_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://127.0.0.1:9")

    client = SageMakerTgiClient(ClientSettings(endpoint_name=ENDPOINT))

    assert client._runtime.meta.endpoint_url == "http://127.0.0.1:9"


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_CLIENT_ENDPOINT_NAME", "from-env")
    monkeypatch.setenv("LLM_CLIENT_DEFAULT_STOP", '["###"]')
    monkeypatch.setenv("LLM_CLIENT_MAX_TOTAL_TOKENS", "4096")

    settings = ClientSettings()

    assert settings.endpoint_name == "from-env"
    assert settings.default_parameters().stop == ("###",)
    assert settings.max_total_tokens == 4096


@pytest.mark.parametrize(
    "options",
    [
        {"read_timeout_s": 60},
        {"max_retries": -1},
        {"max_total_tokens": 1024, "max_input_tokens": 1024},
        {"default_top_p": 1.0},
        {"max_concurrency": 0},
    ],
)
def test_invalid_settings_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="validation error"):
        ClientSettings(endpoint_name=ENDPOINT, **options)


def test_generate_sends_request_and_parses() -> None:
    client, fake = make_client(inference_component_name="mistral-ic", default_max_new_tokens=32)
    fake.results.append(generate_response("Paris###", "stop_sequence"))

    generation = client.generate("[INST] Capital? [/INST]", GenerationParameters(stop=("###",)))

    assert generation.text == "Paris"
    assert generation.finish_reason == "stop_sequence"
    request = fake.requests[0]
    assert request["EndpointName"] == ENDPOINT
    assert request["InferenceComponentName"] == "mistral-ic"
    assert request["ContentType"] == "application/json"
    payload = json.loads(request["Body"])
    assert payload["parameters"]["max_new_tokens"] == 32
    assert payload["parameters"]["stop"] == ["###"]


def test_call_parameters_override_defaults() -> None:
    client, fake = make_client(default_max_new_tokens=32, default_temperature=0.5)
    fake.results.append(generate_response("ok"))

    client.generate("hi", GenerationParameters(max_new_tokens=8))

    parameters = json.loads(fake.requests[0]["Body"])["parameters"]
    assert parameters["max_new_tokens"] == 8
    assert parameters["temperature"] == 0.5


def test_invalid_parameters_rejected_before_sending() -> None:
    client, fake = make_client()

    with pytest.raises(InvalidRequestError, match="top_p") as raised:
        client.generate("hi", GenerationParameters(top_p=1.5))

    assert fake.requests == []
    assert raised.value.endpoint_name == ENDPOINT


def test_throttling_retried_then_succeeds() -> None:
    client, fake = make_client(max_retries=2)
    fake.results.extend([throttling_error(), throttling_error(), generate_response("ok")])

    generation = client.generate("hi")

    assert generation.text == "ok"
    assert len(fake.requests) == 3


def test_throttling_gives_up_after_max_retries(caplog: pytest.LogCaptureFixture) -> None:
    client, fake = make_client(max_retries=1)
    fake.results.extend([throttling_error(), throttling_error()])

    with pytest.raises(ThrottledError) as raised:
        client.generate("secret prompt text")

    assert len(fake.requests) == 2
    assert raised.value.request_id == "req-throttled"
    assert "req-throttled" in caplog.text
    assert "secret prompt text" not in caplog.text


@pytest.mark.parametrize("code", ["ModelNotReadyException", "ServiceUnavailable"])
def test_unavailable_retried_then_succeeds(code: str) -> None:
    client, fake = make_client(max_retries=2)
    fake.results.extend([unavailable_error(code), unavailable_error(code), generate_response("ok")])

    generation = client.generate("hi")

    assert generation.text == "ok"
    assert len(fake.requests) == 3


def test_unavailable_gives_up_after_max_retries(caplog: pytest.LogCaptureFixture) -> None:
    client, fake = make_client(max_retries=1)
    fake.results.extend([unavailable_error(), unavailable_error()])

    with pytest.raises(EndpointUnavailableError) as raised:
        client.generate("hi")

    assert len(fake.requests) == 2
    assert raised.value.request_id == "req-unavailable"
    assert raised.value.error_code == "ModelNotReadyException"
    assert "returned ModelNotReadyException (request id req-unavailable)" in caplog.text


def test_other_errors_not_retried() -> None:
    client, fake = make_client(max_retries=3)
    response: Any = {
        "Error": {"Code": "ValidationError", "Message": f"Endpoint {ENDPOINT} not found."},
        "ResponseMetadata": {"RequestId": "req-404"},
    }
    fake.results.append(ClientError(response, "InvokeEndpoint"))

    with pytest.raises(EndpointNotFoundError):
        client.generate("hi")

    assert len(fake.requests) == 1


def test_stream_yields_deltas_and_skips_special_tokens() -> None:
    client, fake = make_client()
    data = sse(token("<s>", special=True)) + sse(token("Hel")) + sse(token("lo"))
    data += sse(final("</s>", "Hello", "eos_token"))
    stream = FakeEventStream(parts(data[:7], data[7:40], data[40:]))
    fake.results.append(stream_response(stream))

    pieces = list(client.stream("hi"))

    assert "".join(pieces) == "Hello"
    assert stream.closed
    payload = json.loads(fake.requests[0]["Body"])
    assert payload["stream"] is True


def test_stream_strips_stop_sequence() -> None:
    client, fake = make_client()
    events = [token("Answer"), token("\n#"), token("##"), final("", "Answer\n###", "stop_sequence")]
    fake.results.append(stream_response(FakeEventStream(parts(*[sse(e) for e in events]))))

    text = "".join(client.stream("hi", GenerationParameters(stop=("###",))))

    assert text == "Answer\n"


def test_stream_keeps_space_before_stop_sequence_as_generate() -> None:
    client, fake = make_client()
    generated = "Summary here. [INST]"
    events = [
        token("Summary"),
        token(" here"),
        token("."),
        token(" ["),
        token("INST"),
        final("]", generated, "stop_sequence"),
    ]
    data = b"".join(sse(event) for event in events)
    # Parts cut inside events, so the parser and the holdback both see partial input.
    fake.results.append(stream_response(FakeEventStream(parts(data[:30], data[30:90], data[90:]))))
    fake.results.append(generate_response(generated, "stop_sequence"))
    parameters = GenerationParameters(stop=("[INST]",))

    streamed = "".join(client.stream("hi", parameters))
    generation = client.generate("hi", parameters)

    # The client only removes the stop sequence; a task strips the whitespace around it.
    assert streamed == "Summary here. "
    assert streamed == generation.text


@pytest.mark.parametrize("code", ["ModelStreamError", "InternalStreamFailure"])
def test_stream_error_as_event_key(code: str) -> None:
    client, fake = make_client()
    error_event = {code: {"Message": "broken", "ErrorCode": "StreamBroken"}}
    events = [*parts(sse(token("a"))), error_event]
    fake.results.append(stream_response(FakeEventStream(events)))

    received: list[str] = []
    with pytest.raises(StreamError) as raised:
        received.extend(client.stream("hi"))

    assert received == ["a"]
    assert raised.value.error_code == code
    assert raised.value.request_id == "req-stream"
    assert "StreamBroken" in str(raised.value)


@pytest.mark.parametrize("code", ["ModelStreamError", "InternalStreamFailure"])
def test_stream_error_raised_by_iterator(code: str) -> None:
    client, fake = make_client()
    error: Any = {"Error": {"Code": code, "Message": "stream failed"}}
    stream = FakeEventStream(parts(sse(token("a"))), EventStreamError(error, "Invoke"))
    fake.results.append(stream_response(stream))

    with pytest.raises(StreamError) as raised:
        list(client.stream("hi"))

    assert raised.value.error_code == code
    assert raised.value.request_id == "req-stream"
    assert stream.closed


def test_stream_error_data_event() -> None:
    client, fake = make_client()
    error_event = {"error": "Request failed during generation: boom", "error_type": "generation"}
    fake.results.append(stream_response(FakeEventStream(parts(sse(error_event)))))

    with pytest.raises(StreamError) as raised:
        list(client.stream("hi"))

    assert raised.value.upstream_message == "Request failed during generation: boom"
    assert raised.value.error_code == "generation"


def test_stream_ending_without_final_event() -> None:
    client, fake = make_client()
    fake.results.append(stream_response(FakeEventStream(parts(sse(token("a"))))))

    with pytest.raises(StreamError, match="before TGI's final event"):
        list(client.stream("hi"))


@pytest.mark.parametrize(
    ("events", "finish_reason", "expected_text"),
    [
        ([token("Hel"), final("lo", "Hello", "length")], "length", "Hello"),
        ([token("Hel"), token("lo"), final("</s>", "Hello", "eos_token")], "eos_token", "Hello"),
        (
            [token("Answer"), token("\n#"), token("##"), final("", "Answer\n###", "stop_sequence")],
            "stop_sequence",
            "Answer\n",
        ),
    ],
)
def test_stream_events_end_with_details(
    events: list[dict[str, Any]], finish_reason: str, expected_text: str
) -> None:
    client, fake = make_client()
    stream = FakeEventStream(parts(*[sse(event) for event in events]))
    fake.results.append(stream_response(stream))

    received = list(client.stream_events("hi", GenerationParameters(stop=("###",))))

    texts = [event.text for event in received[:-1] if isinstance(event, TextDelta)]
    assert len(texts) == len(received) - 1
    assert "".join(texts) == expected_text
    assert received[-1] == StreamEnd(finish_reason=finish_reason, generated_tokens=3)
    assert stream.closed


def test_stream_events_stop_sequence_over_final_token() -> None:
    client, fake = make_client()
    # The stop sequence arrives whole in the final event's token, after text was held back.
    events = [token("Done"), token("."), final("\nUser:", "Done.\nUser:", "stop_sequence")]
    fake.results.append(stream_response(FakeEventStream(parts(*[sse(e) for e in events]))))

    received = list(client.stream_events("hi", GenerationParameters(stop=("\nUser:",))))

    assert received == [
        TextDelta("Done"),
        TextDelta("."),
        StreamEnd(finish_reason="stop_sequence", generated_tokens=3),
    ]


def test_stream_events_without_details() -> None:
    client, fake = make_client()
    events = [token("a"), {"token": {"id": 2, "text": "b"}, "generated_text": "ab"}]
    fake.results.append(stream_response(FakeEventStream(parts(*[sse(e) for e in events]))))

    received = list(client.stream_events("hi"))

    assert received == [
        TextDelta("a"),
        TextDelta("b"),
        StreamEnd(finish_reason=None, generated_tokens=None),
    ]


def test_stream_events_ignore_malformed_details() -> None:
    client, fake = make_client()
    final_event = {
        "token": {"id": 2, "text": "b"},
        "generated_text": "b",
        "details": {"finish_reason": 1, "generated_tokens": True},
    }
    fake.results.append(stream_response(FakeEventStream(parts(sse(final_event)))))

    received = list(client.stream_events("hi"))

    assert received[-1] == StreamEnd(finish_reason=None, generated_tokens=None)


def test_stream_events_open_error() -> None:
    client, fake = make_client(max_retries=0)
    fake.results.append(throttling_error())

    with pytest.raises(ThrottledError):
        client.stream_events("hi")


def test_stream_events_error_after_text() -> None:
    client, fake = make_client()
    fake.results.append(stream_response(FakeEventStream(parts(sse(token("a"))))))

    received: list[StreamEvent] = []
    with pytest.raises(StreamError, match="before TGI's final event"):
        received.extend(client.stream_events("hi"))

    assert received == [TextDelta("a")]


def test_stream_events_closed_when_consumer_stops() -> None:
    client, fake = make_client()
    stream = FakeEventStream(parts(*(sse(token(str(i))) for i in range(5))))
    fake.results.append(stream_response(stream))

    events = client.stream_events("hi")
    assert next(events) == TextDelta("0")
    events.close()

    assert stream.closed


def test_stream_closed_when_consumer_stops() -> None:
    client, fake = make_client()
    stream = FakeEventStream(parts(*(sse(token(str(i))) for i in range(5))))
    fake.results.append(stream_response(stream))

    iterator = client.stream("hi")
    assert next(iterator) == "0"
    iterator.close()  # type: ignore[attr-defined]

    assert stream.closed


def test_agenerate() -> None:
    client, fake = make_client()
    fake.results.append(generate_response("async ok"))

    generation = asyncio.run(client.agenerate("hi"))

    assert generation.text == "async ok"


def test_agenerate_after_close_raises() -> None:
    client = SageMakerTgiClient(
        ClientSettings(endpoint_name=ENDPOINT, endpoint_url=CLOSED_PORT_URL)
    )
    client.close()

    with pytest.raises(RuntimeError, match="shutdown"):
        asyncio.run(client.agenerate("hi"))


def test_astream_yields_all_deltas() -> None:
    client, fake = make_client()
    events = [token(f"t{i} ") for i in range(40)] + [final("</s>", "x", "eos_token")]
    fake.results.append(stream_response(FakeEventStream(parts(*[sse(e) for e in events]))))

    async def collect() -> list[str]:
        return [piece async for piece in client.astream("hi")]

    pieces = asyncio.run(collect())

    assert pieces == [f"t{i} " for i in range(40)]


def test_astream_raises_stream_error() -> None:
    client, fake = make_client()
    fake.results.append(stream_response(FakeEventStream(parts(sse(token("a"))))))

    async def collect() -> list[str]:
        return [piece async for piece in client.astream("hi")]

    with pytest.raises(StreamError):
        asyncio.run(collect())


def test_astream_events_end_with_details() -> None:
    client, fake = make_client()
    events = [token("Hel"), final("lo", "Hello", "length")]
    fake.results.append(stream_response(FakeEventStream(parts(*[sse(e) for e in events]))))

    async def collect() -> list[StreamEvent]:
        return [event async for event in client.astream_events("hi")]

    received = asyncio.run(collect())

    assert received == [
        TextDelta("Hel"),
        TextDelta("lo"),
        StreamEnd(finish_reason="length", generated_tokens=3),
    ]


def test_astream_early_stop_closes_stream() -> None:
    client, fake = make_client()
    events = [token(f"t{i}") for i in range(100)] + [final("</s>", "x", "eos_token")]
    stream = FakeEventStream(parts(*[sse(e) for e in events]))
    fake.results.append(stream_response(stream))

    async def take_two() -> list[str]:
        taken: list[str] = []
        iterator = client.astream("hi")
        async for piece in iterator:
            taken.append(piece)
            if len(taken) == 2:
                break
        await iterator.aclose()  # type: ignore[attr-defined]
        return taken

    taken = asyncio.run(take_two())

    assert taken == ["t0", "t1"]
    # The producing thread closes the stream after its current item, so poll a bounded
    # number of times instead of asserting on timing.
    for _ in range(500):
        if stream.closed:
            break
        asyncio.run(asyncio.sleep(0.01))
    assert stream.closed
