"""Time ``SageMakerTgiClient.generate`` against a raw boto3 ``invoke_endpoint``.

All callers send the same request body to the local SageMaker runtime stand-in
(``python -m rehearsal.runtime``), started in its own process on 127.0.0.1 with no
injected latency. The difference is therefore the client's own work: parameter checks,
payload building, error handling and parsing the generation. The two alternate in blocks, so that
noise from other work on the machine falls on both. The script writes its results to its
own section of docs/benchmarks.md and exits with status 1 when the client's median latency
is more than ``MAX_RATIO`` times that of raw boto3 with ``json.loads``.

Run it from the repository root with ``.venv/bin/python -m benchmarks.client_overhead``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.local_servers import (
    ENDPOINT_NAME,
    EXIT_OVER_TARGET,
    EXIT_SETUP_FAILED,
    REGION,
    SetupError,
    benchmark_environment,
    describe_machine,
    exit_on_sigterm,
    load_average,
    running_server,
    today,
    use_benchmark_environment,
)
from benchmarks.report import DOC_LINE_WIDTH, DOC_PATH, REPO_ROOT, section_head, write_section
from inference.base import GenerationParameters
from inference.prompts import Message, template_for_model
from inference.sagemaker_tgi import SageMakerTgiClient
from inference.settings import ClientSettings
from inference.tgi import build_payload
from rehearsal.cdk_env import free_port

SECTION_START = "<!-- benchmark:client-overhead:start -->"
SECTION_END = "<!-- benchmark:client-overhead:end -->"

MAX_RATIO = 1.05
DEFAULT_CALLS = 300
DEFAULT_WARMUP = 30
DEFAULT_BLOCK = 10
MAX_NEW_TOKENS = 64
MODEL_ID = "mistralai/Mistral-7B-Instruct-v0.2"
DOCUMENT_PATH = REPO_ROOT / "rehearsal" / "samples" / "gettysburg-address.txt"


@dataclass
class Caller:
    """One way of calling the endpoint and its measured latencies, in milliseconds."""

    label: str
    call: Callable[[], object]
    milliseconds: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.milliseconds)

    def p90(self) -> float:
        return statistics.quantiles(self.milliseconds, n=10, method="inclusive")[-1]


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.client_overhead", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--calls",
        type=int,
        default=DEFAULT_CALLS,
        help=f"timed calls of each caller after the warm-up (default {DEFAULT_CALLS})",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=DEFAULT_WARMUP,
        help=f"untimed calls of each caller before timing (default {DEFAULT_WARMUP})",
    )
    parser.add_argument(
        "--block",
        type=int,
        default=DEFAULT_BLOCK,
        help=f"consecutive calls of one caller before switching to the other"
        f" (default {DEFAULT_BLOCK})",
    )
    arguments = parser.parse_args()
    for name in ("calls", "block"):
        if getattr(arguments, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(arguments, name)}")
    if arguments.calls < 10:
        parser.error(f"--calls must be at least 10 for a p90, got {arguments.calls}")
    if arguments.warmup < 0:
        parser.error(f"--warmup must be 0 or more, got {arguments.warmup}")
    return arguments


def benchmark_prompt() -> str:
    document = DOCUMENT_PATH.read_text().strip()
    template = template_for_model(MODEL_ID)
    return template.render([Message("user", f"{document}\n\nSummarize this document.")])


@dataclass(frozen=True)
class Callers:
    """The client and the two raw boto3 callers, all sending the same request body."""

    client: Caller
    raw_decoded: Caller
    raw_read: Caller
    # Size of one response body, for the doc.
    response_bytes: int = 0

    def all(self) -> tuple[Caller, Caller, Caller]:
        return (self.client, self.raw_decoded, self.raw_read)


def build_callers(endpoint_url: str) -> Callers:
    """Build the client's caller and two raw boto3 callers.

    The raw boto3 client gets the same botocore config as the one inside
    SageMakerTgiClient, so that only the wrapper differs. One raw caller decodes the JSON
    response and takes the generated text, which any caller of invoke_endpoint must do to
    use the generation. The other only reads the body.
    """
    settings = ClientSettings(endpoint_name=ENDPOINT_NAME, region=REGION, endpoint_url=endpoint_url)
    client = SageMakerTgiClient(settings)
    prompt = benchmark_prompt()
    parameters = GenerationParameters(max_new_tokens=MAX_NEW_TOKENS)

    raw_config = Config(
        region_name=REGION,
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=settings.max_concurrency,
    )
    raw: Any = boto3.session.Session().client(
        "sagemaker-runtime", endpoint_url=endpoint_url, config=raw_config
    )
    merged = parameters.merged_over(settings.default_parameters())
    body = build_payload(prompt, merged, stream=False)

    def raw_read() -> bytes:
        response = raw.invoke_endpoint(
            EndpointName=ENDPOINT_NAME,
            ContentType="application/json",
            Accept="application/json",
            Body=body,
        )
        return bytes(response["Body"].read())

    def raw_decoded() -> str:
        return str(json.loads(raw_read())[0]["generated_text"])

    def client_text() -> str:
        return client.generate(prompt, parameters).text

    return Callers(
        client=Caller("SageMakerTgiClient.generate", client_text),
        raw_decoded=Caller("boto3 invoke_endpoint + json.loads", raw_decoded),
        raw_read=Caller("boto3 invoke_endpoint, body read only", raw_read),
        response_bytes=len(raw_read()),
    )


def check_same_answer(callers: Callers) -> None:
    """Raise SetupError unless the client and raw boto3 get the same non-empty text."""
    client_text = callers.client.call()
    raw_text = callers.raw_decoded.call()
    if not client_text or client_text != raw_text:
        raise SetupError(
            f"the callers got different generated texts: client {client_text!r:.80},"
            f" raw boto3 {raw_text!r:.80}"
        )


def measure(callers: tuple[Caller, ...], calls: int, warmup: int, block: int) -> None:
    for _ in range(warmup):
        for caller in callers:
            caller.call()
    done = 0
    rounds = 0
    while done < calls:
        size = min(block, calls - done)
        # The order rotates every round, so that no caller always runs right after the
        # same other one.
        shift = rounds % len(callers)
        for caller in callers[shift:] + callers[:shift]:
            for _ in range(size):
                start = time.perf_counter_ns()
                caller.call()
                caller.milliseconds.append((time.perf_counter_ns() - start) / 1e6)
        done += size
        rounds += 1


def render_section(
    callers: Callers,
    machine: list[tuple[str, str]],
    arguments: argparse.Namespace,
    load: tuple[str, str],
) -> str:
    ratio = callers.client.median() / callers.raw_decoded.median()
    read_ratio = callers.client.median() / callers.raw_read.median()
    verdict = "within" if ratio <= MAX_RATIO else "over"
    description = (
        "`benchmarks/client_overhead.py` times `SageMakerTgiClient.generate` against two"
        " raw boto3 `invoke_endpoint` callers that send the same request body with the same"
        " botocore config. One decodes the JSON response with `json.loads` and takes the"
        " generated text, as any caller of invoke_endpoint must to use the generation. The other"
        " only reads the response body. All three call the local SageMaker runtime"
        " stand-in (`python -m rehearsal.runtime`), which the script starts in its own"
        " process on 127.0.0.1 with no injected latency. The prompt is the Gettysburg"
        " Address from `rehearsal/samples` in the Mistral Instruct template, with"
        f" max_new_tokens {MAX_NEW_TOKENS}. After {arguments.warmup} untimed calls of each,"
        f" the script times {arguments.calls} calls of each, in blocks of"
        f" {arguments.block} calls of one caller, rotating the order of the callers every"
        " round. Each latency is the wall time of one call in this process, so it includes"
        " the runtime's own work on the same machine."
    )
    target = (
        f"The target is a median ratio of at most {MAX_RATIO:.2f} against the decoding raw"
        f" caller: the client may add at most {round((MAX_RATIO - 1) * 100)}% to its median"
        " latency. The client builds and checks the request and parses the response into a"
        " Generation. The response carries TGI's details (finish reason, token count and"
        f" one object per generated token, about {callers.response_bytes} bytes here), and"
        " decoding it is most of the difference to the caller that only reads the body."
        " The rotation spreads noise from other processes over all callers without"
        " removing it."
    )
    lines = [
        *section_head(
            SECTION_START,
            "Client overhead against a raw boto3 call",
            description,
            target,
            ".venv/bin/python -m benchmarks.client_overhead",
        ),
        "",
        f"Measured on {today()} on this machine:",
        "",
        "| Item | Value |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in machine),
        f"| Load average (1, 5, 15 min) before | {load[0]} |",
        f"| Load average (1, 5, 15 min) after | {load[1]} |",
        "",
        "Latency of one call, in milliseconds:",
        "",
        "| Caller | Calls | Median | p90 | Min | Max |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for caller in callers.all():
        lines.append(
            f"| {caller.label} | {len(caller.milliseconds)} | {caller.median():.3f}"
            f" | {caller.p90():.3f} | {min(caller.milliseconds):.3f}"
            f" | {max(caller.milliseconds):.3f} |"
        )
    verdict_text = (
        f"Median ratio (client / raw boto3 + json.loads): **{ratio:.3f}**, {verdict} the"
        f" target of {MAX_RATIO:.2f}. Against the raw caller that only reads the body, the"
        f" ratio is {read_ratio:.3f}."
    )
    lines += [
        "",
        textwrap.fill(verdict_text, width=DOC_LINE_WIDTH, break_on_hyphens=False),
        SECTION_END,
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    arguments = parse_arguments()
    exit_on_sigterm()
    use_benchmark_environment()
    environment = benchmark_environment()
    load_before = load_average()
    port = free_port()
    runtime_arguments = ["rehearsal.runtime", "--port", str(port), "--endpoint", ENDPOINT_NAME]
    try:
        with (
            tempfile.TemporaryDirectory(prefix="client-overhead-") as work,
            running_server(
                "runtime", runtime_arguments, port, "/_rehearsal/health", environment, Path(work)
            ) as runtime,
        ):
            callers = build_callers(runtime.url)
            check_same_answer(callers)
            print(
                f"timing {arguments.calls} calls of each caller after"
                f" {arguments.warmup} warm-up calls ..."
            )
            measure(callers.all(), arguments.calls, arguments.warmup, arguments.block)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_SETUP_FAILED

    load_after = load_average()
    ratio = callers.client.median() / callers.raw_decoded.median()
    machine = describe_machine(environment)
    write_section(
        SECTION_START,
        SECTION_END,
        render_section(callers, machine, arguments, (load_before, load_after)),
    )
    for caller in callers.all():
        print(f"{caller.label}: median {caller.median():.3f} ms, p90 {caller.p90():.3f} ms")
    print(
        f"median ratio against boto3 + json.loads: {ratio:.3f} (target at most {MAX_RATIO:.2f});"
        f" against the body read only: {callers.client.median() / callers.raw_read.median():.3f}"
    )
    print(f"load average before: {load_before}; after: {load_after}")
    print(f"wrote {DOC_PATH.relative_to(REPO_ROOT)}")
    if ratio > MAX_RATIO:
        print(
            f"FAIL: the client's median latency is {ratio:.3f} times that of raw boto3 with"
            f" json.loads, over the target of {MAX_RATIO:.2f}."
        )
        return EXIT_OVER_TARGET
    return 0


if __name__ == "__main__":
    sys.exit(main())
