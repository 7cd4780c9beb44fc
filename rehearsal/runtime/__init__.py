"""A local stand-in for SageMaker Runtime in front of a simulated TGI container.

Unmodified boto3 clients call it through ``endpoint_url=`` or
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:PORT``, with fake credentials:
``invoke_endpoint`` and ``invoke_endpoint_with_response_stream`` use SageMaker's wire
protocol (restJson1 errors, an ``application/vnd.amazon.eventstream`` body for streams), and
the "container" answers TGI's generate requests (``{"inputs": ..., "parameters": {...},
"stream": ...}``) with an extractive summary of the document in the prompt.

Start it::

    python -m rehearsal.runtime --port 8085 [--endpoint NAME ...]
        [--moto-endpoint-url http://localhost:PORT] [--latency-ms N] [--faults JSON]

or, in tests::

    with LocalRuntime(endpoints=["llm-endpoint-dev"]) as runtime:
        client = boto3.client("sagemaker-runtime", endpoint_url=runtime.endpoint_url, ...)

Which endpoints exist: every name by default; only the ``--endpoint`` names when given; only
endpoints InService in a moto server with ``--moto-endpoint-url``. Other names get
SageMaker's ``ValidationError`` "Endpoint NAME of account 123456789012 not found." (HTTP 400).

Faults
------
A fault specification is a JSON object with any of these keys:

``latency_ms``
    Wait this long before the container answers. At or above the invocation timeout
    (60000 ms by default) the runtime waits the timeout and returns the timeout ModelError.
``token_latency_ms``
    Wait this long before each streamed token event.
``error``
    One of ``throttling`` (ThrottlingException, HTTP 400, null message),
    ``model_not_ready`` (ModelNotReadyException, 429), ``service_unavailable``
    (ServiceUnavailable, 503), ``internal_failure`` (InternalFailure, 500),
    ``tgi_validation`` (the container answers 422 ``{"error": "Input validation error: ...",
    "error_type": "validation"}``, so SageMaker returns ModelError with OriginalStatusCode
    422), ``tgi_generation`` (the container answers 424 with error_type ``generation``, so
    ModelError with OriginalStatusCode 424) or ``invocation_timeout`` (ModelError "Received
    server error (0) from primary with message "Your invocation timed out while waiting for
    a response from container primary. ..."", at once). botocore retries throttling, 500 and
    503 by itself, so give the client ``retries={"max_attempts": 1}`` to see the first one.
``error_message``
    The text for the injected error, in place of a default that starts with "injected".
``chunk_bytes`` / ``chunk_offsets``
    Response stream only: cut the container's bytes into PayloadParts of this many bytes,
    or exactly at these byte offsets of the whole stream (``chunk_offsets`` wins if both are
    given). Parts then split events and UTF-8 characters and hold several events.
``non_ascii``
    ``true`` turns the vowels a, e, i, o, u of the generated text into ä, é, ï, ö, ü, so the
    output has two-byte UTF-8 characters.
``fixed_text``
    The model generates this text, token by token, in place of the summary; ``""`` makes
    it generate only the end-of-sequence token. ``max_new_tokens`` and stop sequences
    still apply, but ``non_ascii`` does not change it. Use it for an answer that a summary
    cannot be, such as JSON.
``generation_error_after``
    After this many tokens, a streaming request gets the event
    ``data:{"error":"Request failed during generation: ...","error_type":"generation"}`` and
    no final event; a non-streaming request gets the container's 424 (a ModelError).
``stream_exception`` / ``stream_exception_after`` / ``stream_error_code``
    Response stream only: after ``stream_exception_after`` PayloadParts (default 0), send
    a ``ModelStreamError`` (with ``ErrorCode``, default ``ModelInvocationTimeExceeded``) or an
    ``InternalStreamFailure`` exception event and end the stream; boto3 raises it as
    ``botocore.exceptions.EventStreamError`` while the caller iterates ``Body``.

Three places set faults; for each key the later one wins:

1. The runtime's defaults: ``--latency-ms`` and ``--faults JSON`` on the command line, or
   ``LocalRuntime(latency_ms=..., faults=Faults(...))``.
2. The queue: ``POST /_rehearsal/faults`` with ``{"faults": {...}, "count": N, "endpoint":
   NAME}`` (count defaults to 1, no endpoint means any) applies to the next N invocations
   of that endpoint, first in, first out; ``GET`` lists the queue and ``DELETE`` empties it.
   ``LocalRuntime.add_faults(Faults(...), count, endpoint)`` does the same in-process.
3. One request: a ``CustomAttributes`` value (header ``X-Amzn-SageMaker-Custom-Attributes``)
   that starts with ``{`` is read as a fault specification, for example
   ``CustomAttributes='{"error":"throttling"}'``. Any other value is passed over, as
   SageMaker passes it to the container. An invalid specification is a ValidationError.

``GET /_rehearsal/invocations`` lists every invoke request with its request id, endpoint,
faults and status; ``GET /_rehearsal/health`` answers once the server is up.
"""

from rehearsal.runtime.app import Invocation, RuntimeConfig, create_app
from rehearsal.runtime.faults import Faults, FaultSpecError, parse_faults
from rehearsal.runtime.server import LocalRuntime, build_config, serve
from rehearsal.runtime.tgi import TgiLimits

__all__ = [
    "FaultSpecError",
    "Faults",
    "Invocation",
    "LocalRuntime",
    "RuntimeConfig",
    "TgiLimits",
    "build_config",
    "create_app",
    "parse_faults",
    "serve",
]
