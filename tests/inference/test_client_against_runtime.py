"""SageMakerTgiClient with unmocked boto3 over real HTTP to the local runtime on 127.0.0.1.

Faults come from ``LocalRuntime.add_faults``, which applies them to the next invocations.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from inference.base import GenerationParameters, StreamEnd, StreamEvent, TextDelta
from inference.errors import (
    EndpointNotFoundError,
    EndpointUnavailableError,
    InferenceError,
    InferenceTimeoutError,
    InvalidRequestError,
    ModelError,
    StreamError,
    ThrottledError,
)
from inference.prompts import Message, MistralInstructTemplate
from inference.sagemaker_tgi import SageMakerTgiClient
from inference.settings import ClientSettings
from inference.tasks import SummarizeShortDocument
from rehearsal.runtime import Faults, LocalRuntime, TgiLimits

ENDPOINT = "llm-endpoint-dev"
DOCUMENT = (
    "The river rose overnight after three days of rain. Residents of the lower town moved"
    " their cars to higher ground. The council opened the school hall as a shelter. By noon"
    " the water had started to fall again."
)
PROMPT = MistralInstructTemplate().render([Message("user", f"{DOCUMENT}\n\nSummarize this.")])


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime(endpoints=[ENDPOINT], limits=TgiLimits(max_total_tokens=1024)) as running:
        yield running


@pytest.fixture(autouse=True)
def no_queued_faults(runtime: LocalRuntime) -> Iterator[None]:
    runtime.clear_faults()
    yield
    runtime.clear_faults()


def make_client(runtime: LocalRuntime, **options: Any) -> SageMakerTgiClient:
    settings: dict[str, Any] = {
        "endpoint_name": ENDPOINT,
        "endpoint_url": runtime.endpoint_url,
        "retry_base_delay_s": 0.01,
        **options,
    }
    return SageMakerTgiClient(ClientSettings(**settings))


def test_generate(runtime: LocalRuntime) -> None:
    client = make_client(runtime)

    generation = client.generate(PROMPT, GenerationParameters(max_new_tokens=200))

    assert "river rose" in generation.text
    assert generation.finish_reason in ("eos_token", "length", "stop_sequence")
    assert generation.generated_tokens is not None
    assert generation.generated_tokens > 0


def test_stream_matches_generate(runtime: LocalRuntime) -> None:
    client = make_client(runtime)
    parameters = GenerationParameters(max_new_tokens=200)

    streamed = "".join(client.stream(PROMPT, parameters))

    assert streamed == client.generate(PROMPT, parameters).text


def test_stop_sequence_stripped_in_both_operations(runtime: LocalRuntime) -> None:
    client = make_client(runtime)
    parameters = GenerationParameters(max_new_tokens=200, stop=("cars",))

    generation = client.generate(PROMPT, parameters)
    streamed = "".join(client.stream(PROMPT, parameters))

    assert generation.finish_reason == "stop_sequence"
    assert not generation.text.endswith("cars")
    assert streamed == generation.text


@pytest.mark.parametrize(
    ("parameters", "finish_reason"),
    [
        (GenerationParameters(max_new_tokens=5), "length"),
        (GenerationParameters(max_new_tokens=200), "eos_token"),
        (GenerationParameters(max_new_tokens=200, stop=("cars",)), "stop_sequence"),
    ],
)
def test_stream_events_match_generate(
    runtime: LocalRuntime, parameters: GenerationParameters, finish_reason: str
) -> None:
    client = make_client(runtime)

    generation = client.generate(PROMPT, parameters)
    events = list(client.stream_events(PROMPT, parameters))

    texts = [event.text for event in events if isinstance(event, TextDelta)]
    assert len(texts) == len(events) - 1
    assert "".join(texts) == generation.text
    # Equal texts could both still end with the stop sequence, so check for it too.
    assert not "".join(texts).endswith("cars")
    assert events[-1] == StreamEnd(
        finish_reason=finish_reason, generated_tokens=generation.generated_tokens
    )
    assert generation.finish_reason == finish_reason


def test_astream_events_end_with_details(runtime: LocalRuntime) -> None:
    client = make_client(runtime)
    parameters = GenerationParameters(max_new_tokens=5)

    async def collect_events() -> list[StreamEvent]:
        return [event async for event in client.astream_events(PROMPT, parameters)]

    events = asyncio.run(collect_events())

    assert events[-1] == StreamEnd(finish_reason="length", generated_tokens=5)


def test_latency(runtime: LocalRuntime) -> None:
    runtime.add_faults(Faults(latency_ms=300, token_latency_ms=5), count=2)
    client = make_client(runtime)

    generation = client.generate(PROMPT, GenerationParameters(max_new_tokens=50))
    streamed = "".join(client.stream(PROMPT, GenerationParameters(max_new_tokens=50)))

    assert generation.text
    assert streamed == generation.text


def test_agenerate_calls_overlap(runtime: LocalRuntime) -> None:
    # More calls than the default executor's min(32, cpu_count + 4) threads on a
    # small machine, which asyncio.to_thread would use.
    calls = 40
    latency_s = 0.3
    runtime.add_faults(Faults(latency_ms=int(latency_s * 1000)), count=calls)
    client = make_client(runtime, max_concurrency=calls)

    async def generate_all() -> list[str]:
        generations = await asyncio.gather(
            *(
                client.agenerate(PROMPT, GenerationParameters(max_new_tokens=20))
                for _ in range(calls)
            )
        )
        return [generation.text for generation in generations]

    start = time.perf_counter()
    texts = asyncio.run(generate_all())
    elapsed = time.perf_counter() - start
    client.close()

    assert all(texts)
    # One after another the calls would take calls * latency_s = 12 s; in 6 threads, 2.1 s.
    assert elapsed < 4 * latency_s


@pytest.mark.parametrize("streaming", [False, True])
def test_throttling_retried(runtime: LocalRuntime, streaming: bool) -> None:
    runtime.add_faults(Faults(error="throttling"), count=2)
    client = make_client(runtime, max_retries=2)
    parameters = GenerationParameters(max_new_tokens=50)

    if streaming:
        text = "".join(client.stream(PROMPT, parameters))
    else:
        text = client.generate(PROMPT, parameters).text

    assert text
    statuses = [invocation.status for invocation in runtime.invocations()[-3:]]
    assert statuses == [400, 400, 200]


@pytest.mark.parametrize("streaming", [False, True])
def test_throttling_exhausted(runtime: LocalRuntime, streaming: bool) -> None:
    runtime.add_faults(Faults(error="throttling"), count=2)
    client = make_client(runtime, max_retries=1)

    with pytest.raises(ThrottledError) as raised:
        call(client, streaming=streaming)

    assert raised.value.request_id == runtime.invocations()[-1].request_id


def test_tgi_422_is_invalid_request(runtime: LocalRuntime) -> None:
    runtime.add_faults(Faults(error="tgi_validation"))
    client = make_client(runtime)

    with pytest.raises(InvalidRequestError) as raised:
        client.generate(PROMPT)

    assert raised.value.upstream_message is not None
    assert "validation" in raised.value.upstream_message.lower()
    assert raised.value.request_id == runtime.invocations()[-1].request_id


def test_prompt_over_tgi_limit_is_invalid_request(runtime: LocalRuntime) -> None:
    client = make_client(runtime)

    with pytest.raises(InvalidRequestError) as raised:
        client.generate(PROMPT * 40, GenerationParameters(max_new_tokens=100))

    assert raised.value.error_code == "ModelError"


def test_prompt_over_known_limit_rejected_before_sending(runtime: LocalRuntime) -> None:
    client = make_client(runtime, max_total_tokens=1024, max_input_tokens=1000)
    sent_before = len(runtime.invocations())

    with pytest.raises(InvalidRequestError, match="max_input_tokens"):
        client.generate(PROMPT * 40)

    assert len(runtime.invocations()) == sent_before


def test_stream_validation_error_event(runtime: LocalRuntime) -> None:
    client = make_client(runtime)

    with pytest.raises(StreamError) as raised:
        list(client.stream(PROMPT * 40, GenerationParameters(max_new_tokens=100)))

    assert raised.value.error_code == "validation"


def test_tgi_424_is_model_error(runtime: LocalRuntime) -> None:
    runtime.add_faults(Faults(error="tgi_generation"))
    client = make_client(runtime)

    with pytest.raises(ModelError) as raised:
        client.generate(PROMPT)

    assert "424" in str(raised.value)


def test_generation_error_after_tokens(runtime: LocalRuntime) -> None:
    runtime.add_faults(Faults(generation_error_after=3), count=2)
    client = make_client(runtime)

    received: list[str] = []
    with pytest.raises(StreamError) as raised:
        received.extend(client.stream(PROMPT, GenerationParameters(max_new_tokens=100)))
    with pytest.raises(ModelError):
        client.generate(PROMPT, GenerationParameters(max_new_tokens=100))

    assert received
    assert raised.value.error_code == "generation"


@pytest.mark.parametrize("streaming", [False, True])
def test_invocation_timeout(runtime: LocalRuntime, streaming: bool) -> None:
    runtime.add_faults(Faults(error="invocation_timeout"))
    client = make_client(runtime)

    with pytest.raises(InferenceTimeoutError) as raised:
        call(client, streaming=streaming)

    assert raised.value.request_id == runtime.invocations()[-1].request_id


def test_client_read_timeout(runtime: LocalRuntime) -> None:
    runtime.add_faults(Faults(latency_ms=3000))
    # model_construct skips the read_timeout_s > 60 rule, so the test waits 1 s, not 60.
    settings = ClientSettings.model_construct(
        **{
            **ClientSettings(endpoint_name=ENDPOINT).model_dump(),
            "endpoint_url": runtime.endpoint_url,
            "read_timeout_s": 1.0,
        }
    )
    client = SageMakerTgiClient(settings)

    with pytest.raises(InferenceTimeoutError, match="read timeout"):
        client.generate(PROMPT)


@pytest.mark.parametrize(
    "faults",
    [
        Faults(chunk_bytes=1),
        Faults(chunk_bytes=7),
        Faults(chunk_bytes=7, non_ascii=True),
        Faults(chunk_offsets=(1, 2, 3, 50, 51, 300)),
        Faults(chunk_bytes=4096),
    ],
)
def test_cut_stream_parts(runtime: LocalRuntime, faults: Faults) -> None:
    client = make_client(runtime)
    parameters = GenerationParameters(max_new_tokens=200)
    expected_faults = Faults(non_ascii=True) if faults.non_ascii else Faults()
    runtime.add_faults(expected_faults)
    expected = client.generate(PROMPT, parameters).text
    runtime.add_faults(faults)

    streamed = "".join(client.stream(PROMPT, parameters))

    assert streamed == expected


@pytest.mark.parametrize("exception", ["ModelStreamError", "InternalStreamFailure"])
def test_stream_exception_event(runtime: LocalRuntime, exception: Any) -> None:
    runtime.add_faults(Faults(chunk_bytes=20, stream_exception=exception, stream_exception_after=3))
    client = make_client(runtime)

    received: list[str] = []
    with pytest.raises(StreamError) as raised:
        received.extend(client.stream(PROMPT, GenerationParameters(max_new_tokens=100)))

    assert raised.value.error_code == exception
    assert raised.value.request_id == runtime.invocations()[-1].request_id


# (runtime fault, HTTP status and error code SageMaker returns for it)
UNAVAILABLE_FAULTS = [
    ("model_not_ready", 429, "ModelNotReadyException"),
    ("service_unavailable", 503, "ServiceUnavailable"),
]


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize(("error", "status", "code"), UNAVAILABLE_FAULTS)
def test_unavailable_endpoint_retried(
    runtime: LocalRuntime, streaming: bool, error: Any, status: int, code: str
) -> None:
    runtime.add_faults(Faults(error=error), count=2)
    client = make_client(runtime, max_retries=2)
    sent_before = len(runtime.invocations())

    text = call(client, streaming=streaming)

    assert text
    statuses = [invocation.status for invocation in runtime.invocations()[sent_before:]]
    assert statuses == [status, status, 200]


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize(("error", "status", "code"), UNAVAILABLE_FAULTS)
def test_unavailable_endpoint_exhausted(
    runtime: LocalRuntime, streaming: bool, error: Any, status: int, code: str
) -> None:
    runtime.add_faults(Faults(error=error), count=3)
    client = make_client(runtime, max_retries=1)
    sent_before = len(runtime.invocations())

    with pytest.raises(EndpointUnavailableError) as raised:
        call(client, streaming=streaming)

    invocations = runtime.invocations()[sent_before:]
    assert [invocation.status for invocation in invocations] == [status, status]
    assert raised.value.error_code == code
    assert raised.value.request_id == invocations[-1].request_id


def test_internal_failure_not_retried(runtime: LocalRuntime) -> None:
    runtime.add_faults(Faults(error="internal_failure"), count=3)
    client = make_client(runtime, max_retries=3)
    sent_before = len(runtime.invocations())

    with pytest.raises(InferenceError) as raised:
        client.generate(PROMPT)

    assert type(raised.value) is InferenceError
    assert raised.value.error_code == "InternalFailure"
    assert len(runtime.invocations()) == sent_before + 1


def test_unknown_endpoint(runtime: LocalRuntime) -> None:
    client = make_client(runtime, endpoint_name="no-such-endpoint")

    with pytest.raises(EndpointNotFoundError) as raised:
        client.generate(PROMPT)
    with pytest.raises(EndpointNotFoundError):
        client.stream(PROMPT)

    assert raised.value.endpoint_name == "no-such-endpoint"


def test_async_operations(runtime: LocalRuntime) -> None:
    client = make_client(runtime)
    parameters = GenerationParameters(max_new_tokens=200)

    async def run_both() -> tuple[str, str]:
        generation, pieces = await asyncio.gather(
            client.agenerate(PROMPT, parameters),
            collect(client.astream(PROMPT, parameters)),
        )
        return generation.text, "".join(pieces)

    generated, streamed = asyncio.run(run_both())

    assert generated == streamed


def call(client: SageMakerTgiClient, *, streaming: bool) -> str:
    """Call one of the two operations and return the text."""
    if streaming:
        return "".join(client.stream(PROMPT))
    return client.generate(PROMPT).text


async def collect(pieces: Any) -> list[str]:
    return [piece async for piece in pieces]


def test_summarize_task(runtime: LocalRuntime) -> None:
    task = SummarizeShortDocument(
        make_client(runtime), MistralInstructTemplate(), max_input_tokens=900
    )

    summary = task.execute(DOCUMENT)

    assert "river rose" in summary.text
    assert not summary.truncated


def test_summarize_task_truncates_long_document(runtime: LocalRuntime) -> None:
    task = SummarizeShortDocument(
        make_client(runtime), MistralInstructTemplate(), max_input_tokens=200, truncate=True
    )

    summary = task.execute(DOCUMENT * 20)

    assert summary.truncated
    assert summary.text
