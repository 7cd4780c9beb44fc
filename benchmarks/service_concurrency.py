"""Measure the service's throughput under 32 concurrent clients against a blocking baseline.

The script starts the local SageMaker runtime stand-in (``python -m rehearsal.runtime``)
with 250 ms of latency per invocation, then, one after the other, the service
(``python -m service``) and the blocking baseline (``python -m
benchmarks.sync_baseline_app``), each in its own process on 127.0.0.1. A load generator
in this process keeps 32 requests in flight against each app for a warm-up and then a
measured window. With 250 ms per call, 32 clients can at best complete 128 requests per
second, the ideal. The script writes its results to its own section of docs/benchmarks.md
and exits with status 1 when the service reaches less than ``MIN_FRACTION_OF_IDEAL`` of
the ideal or any of its requests fails.

Run it from the repository root with ``.venv/bin/python -m benchmarks.service_concurrency``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.local_servers import (
    ENDPOINT_NAME,
    EXIT_OVER_TARGET,
    EXIT_SETUP_FAILED,
    REGION,
    ServerProcess,
    SetupError,
    benchmark_environment,
    describe_machine,
    exit_on_sigterm,
    load_average,
    running_server,
    today,
)
from benchmarks.report import DOC_PATH, REPO_ROOT, section_head, write_section
from inference.settings import ClientSettings
from rehearsal.cdk_env import free_port

SECTION_START = "<!-- benchmark:service-concurrency:start -->"
SECTION_END = "<!-- benchmark:service-concurrency:end -->"

MIN_FRACTION_OF_IDEAL = 0.85
DEFAULT_CLIENTS = 32
DEFAULT_LATENCY_MS = 250
DEFAULT_WARMUP_S = 3.0
DEFAULT_DURATION_S = 15.0
MAX_NEW_TOKENS = 64
# Far above the baseline's queueing delay (32 requests one after another at 250 ms each),
# so that a request only times out when an app hangs.
REQUEST_TIMEOUT_S = 60.0
DOCUMENT_PATH = REPO_ROOT / "rehearsal" / "samples" / "gettysburg-address.txt"


@dataclass(frozen=True)
class AppUnderTest:
    """A server to load and how to start it."""

    label: str
    module_arguments: tuple[str, ...]
    health_path: str


@dataclass
class LoadResult:
    """Latencies, errors and CPU use that the load generator measured for one app."""

    label: str
    window_s: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    # CPU time over the measured window, as a percentage of one core.
    cpu_percent: dict[str, float] = field(default_factory=dict)

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies_ms) / self.window_s

    def percentile(self, fraction: float) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else float("nan")
        cuts = statistics.quantiles(self.latencies_ms, n=100, method="inclusive")
        return cuts[round(fraction * 100) - 1]


SERVICE = AppUnderTest("service (`python -m service`)", ("service",), "/health")
BASELINE = AppUnderTest(
    "blocking baseline (`benchmarks/sync_baseline_app.py`)",
    ("benchmarks.sync_baseline_app",),
    "/openapi.json",
)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.service_concurrency", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=DEFAULT_CLIENTS,
        help=f"requests kept in flight at once (default {DEFAULT_CLIENTS})",
    )
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=DEFAULT_LATENCY_MS,
        help=f"the runtime's latency per invocation, in ms (default {DEFAULT_LATENCY_MS})",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=DEFAULT_WARMUP_S,
        help=f"seconds of load before the measured window (default {DEFAULT_WARMUP_S:g})",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=DEFAULT_DURATION_S,
        help=f"length of the measured window, in seconds (default {DEFAULT_DURATION_S:g})",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        help="set LLM_CLIENT_MAX_CONCURRENCY for both apps (default: the client's default)",
    )
    parser.add_argument(
        "--no-doc",
        action="store_true",
        help="print the results without rewriting docs/benchmarks.md",
    )

    arguments = parser.parse_args()
    if arguments.clients < 1:
        parser.error(f"--clients must be at least 1, got {arguments.clients}")
    if arguments.latency_ms < 1:
        parser.error(f"--latency-ms must be at least 1, got {arguments.latency_ms}")
    if arguments.warmup < 0:
        parser.error(f"--warmup must be 0 or more, got {arguments.warmup}")
    if not 1 <= arguments.duration <= 300:
        parser.error(f"--duration must be from 1 to 300 seconds, got {arguments.duration}")
    if arguments.max_concurrency is not None and arguments.max_concurrency < 1:
        parser.error(f"--max-concurrency must be at least 1, got {arguments.max_concurrency}")
    return arguments


def request_body() -> bytes:
    # Encoded once, so the load generator spends no CPU on JSON per request.
    document = DOCUMENT_PATH.read_text().strip()
    return json.dumps({"document": document, "max_new_tokens": MAX_NEW_TOKENS}).encode()


async def generate_load(
    server: ServerProcess,
    runtime: ServerProcess,
    label: str,
    clients: int,
    warmup_s: float,
    duration_s: float,
) -> LoadResult:
    """Keep ``clients`` requests in flight for the warm-up and the window, then stop.

    Only requests that finish inside the window count. Requests still in flight when it
    ends are cancelled.
    """
    body = request_body()
    headers = {"content-type": "application/json"}
    result = LoadResult(label, duration_s)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)

    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=timeout) as http:
        loop_start = time.perf_counter()
        window_start = loop_start + warmup_s
        window_end = window_start + duration_s

        async def worker() -> None:
            while time.perf_counter() < window_end:
                start = time.perf_counter()
                failure: str | None = None
                try:
                    response = await http.post("/summarize", content=body, headers=headers)
                    if response.status_code != 200:
                        failure = f"HTTP {response.status_code}: {response.text[:120]}"
                except httpx.HTTPError as error:
                    failure = f"{type(error).__name__}: {error}"
                end = time.perf_counter()
                if not window_start <= end <= window_end:
                    continue
                if failure is None:
                    result.latencies_ms.append((end - start) * 1000)
                else:
                    result.errors += 1
                    if len(result.error_examples) < 3:
                        result.error_examples.append(failure)

        tasks = [asyncio.create_task(worker()) for _ in range(clients)]
        await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
        cpu_start = cpu_snapshot(server, runtime)
        await asyncio.sleep(max(0.0, window_end - time.perf_counter()))
        cpu_end = cpu_snapshot(server, runtime)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    elapsed = cpu_end[0] - cpu_start[0]
    for index, name in enumerate(("app server", "runtime", "load generator"), start=1):
        result.cpu_percent[name] = 100 * (cpu_end[index] - cpu_start[index]) / elapsed
    return result


def cpu_snapshot(server: ServerProcess, runtime: ServerProcess) -> tuple[float, ...]:
    """Return the wall clock and the CPU seconds of the app, the runtime and this process."""
    return (
        time.perf_counter(),
        server.cpu_seconds(),
        runtime.cpu_seconds(),
        time.process_time(),
    )


def measure_app(
    app: AppUnderTest,
    runtime: ServerProcess,
    environment: dict[str, str],
    arguments: argparse.Namespace,
    log_dir: Path,
) -> LoadResult:
    port = free_port()
    module_arguments = [*app.module_arguments, "--port", str(port)]
    with running_server(
        app.module_arguments[0], module_arguments, port, app.health_path, environment, log_dir
    ) as server:
        print(
            f"{app.label}: {arguments.clients} clients, {arguments.warmup:g} s warm-up,"
            f" {arguments.duration:g} s measured ..."
        )
        return asyncio.run(
            generate_load(
                server,
                runtime,
                app.label,
                arguments.clients,
                arguments.warmup,
                arguments.duration,
            )
        )


def render_section(
    results: list[LoadResult],
    ideal: float,
    machine: list[tuple[str, str]],
    arguments: argparse.Namespace,
    load: tuple[str, str],
    command: str,
) -> str:
    service = results[0]
    concurrency = (
        arguments.max_concurrency or ClientSettings.model_fields["max_concurrency"].default
    )
    fraction = service.requests_per_second / ideal
    verdict = "meets" if target_met(service, ideal) else "misses"
    description = (
        "`benchmarks/service_concurrency.py` starts the local SageMaker runtime stand-in"
        f" (`python -m rehearsal.runtime --latency-ms {arguments.latency_ms}`) and then, one"
        " after the other, the service and the blocking baseline, each in its own process"
        " on 127.0.0.1 and served by uvicorn with its default settings. The baseline calls"
        " boto3 synchronously inside an `async def` route, so its event loop serves one"
        " request at a time. The service awaits endpoint calls that run in the client's"
        f" thread pool of {concurrency} threads (LLM_CLIENT_MAX_CONCURRENCY), which also"
        " sizes botocore's connection pool. A load generator in the script's process"
        f" (httpx.AsyncClient, {arguments.clients} workers, each sending its next request as"
        f" soon as the last returns) loads each app for {arguments.warmup:g} s of warm-up and then"
        f" {arguments.duration:g} s of measurement. Every request is `POST /summarize` with"
        f" the Gettysburg Address from `rehearsal/samples` and max_new_tokens"
        f" {MAX_NEW_TOKENS}. Only responses that finish inside the measured window count."
        " Requests per second count successful responses only, and the latencies are the"
        " load generator's wall times of those responses. CPU is the CPU time of each"
        " process during the window, read from /proc, as a percentage of one core."
    )
    target = (
        f"With {arguments.latency_ms} ms per invocation, {arguments.clients} clients can"
        f" complete at most {ideal:.0f} requests per second, the ideal. The target is at"
        f" least {MIN_FRACTION_OF_IDEAL:.0%} of it for the service, with no failed request."
    )
    lines = [
        *section_head(
            SECTION_START,
            "Service throughput under concurrent clients",
            description,
            target,
            command,
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
        "| App | Requests/s | Fraction of ideal | p50 ms | p90 ms | Errors"
        " | CPU app | CPU runtime | CPU load generator |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        cpu = result.cpu_percent
        lines.append(
            f"| {result.label} | {result.requests_per_second:.1f}"
            f" | {result.requests_per_second / ideal:.2f} | {result.percentile(0.5):.0f}"
            f" | {result.percentile(0.9):.0f} | {result.errors}"
            f" | {cpu['app server']:.0f}% | {cpu['runtime']:.0f}%"
            f" | {cpu['load generator']:.0f}% |"
        )
    lines += [
        "",
        f"The service reaches **{fraction:.2f}** of the ideal, so it {verdict} the target of"
        f" {MIN_FRACTION_OF_IDEAL:.2f}.",
        SECTION_END,
    ]
    return "\n".join(lines) + "\n"


def target_met(service: LoadResult, ideal: float) -> bool:
    return service.errors == 0 and service.requests_per_second >= MIN_FRACTION_OF_IDEAL * ideal


def benchmark_command(arguments: argparse.Namespace) -> str:
    command = ".venv/bin/python -m benchmarks.service_concurrency"
    defaults = {
        "clients": DEFAULT_CLIENTS,
        "latency_ms": DEFAULT_LATENCY_MS,
        "warmup": DEFAULT_WARMUP_S,
        "duration": DEFAULT_DURATION_S,
        "max_concurrency": None,
    }
    for name, default in defaults.items():
        value = getattr(arguments, name)
        if value != default:
            command += f" --{name.replace('_', '-')} {value:g}"
    return command


def main() -> int:
    arguments = parse_arguments()
    exit_on_sigterm()
    load_before = load_average()
    runtime_port = free_port()
    client_variables = {
        "LLM_CLIENT_ENDPOINT_NAME": ENDPOINT_NAME,
        "LLM_CLIENT_REGION": REGION,
        "LLM_CLIENT_ENDPOINT_URL": f"http://127.0.0.1:{runtime_port}",
    }
    if arguments.max_concurrency is not None:
        client_variables["LLM_CLIENT_MAX_CONCURRENCY"] = str(arguments.max_concurrency)
    environment = benchmark_environment(client_variables)
    runtime_arguments = [
        "rehearsal.runtime",
        "--port",
        str(runtime_port),
        "--endpoint",
        ENDPOINT_NAME,
        "--latency-ms",
        str(arguments.latency_ms),
    ]
    results: list[LoadResult] = []
    try:
        with ExitStack() as stack:
            log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="service-")))
            runtime = stack.enter_context(
                running_server(
                    "runtime",
                    runtime_arguments,
                    runtime_port,
                    "/_rehearsal/health",
                    environment,
                    log_dir,
                )
            )
            for app in (SERVICE, BASELINE):
                results.append(measure_app(app, runtime, environment, arguments, log_dir))
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_SETUP_FAILED

    load_after = load_average()
    ideal = arguments.clients / (arguments.latency_ms / 1000)
    for result in results:
        print(
            f"{result.label}: {result.requests_per_second:.1f} requests/s"
            f" ({result.requests_per_second / ideal:.2f} of {ideal:.0f}),"
            f" p50 {result.percentile(0.5):.0f} ms, p90 {result.percentile(0.9):.0f} ms,"
            f" {result.errors} errors, CPU "
            + ", ".join(f"{name} {value:.0f}%" for name, value in result.cpu_percent.items())
        )
        for example in result.error_examples:
            print(f"  error: {example}")
    print(f"load average before: {load_before}; after: {load_after}")

    if not arguments.no_doc:
        section = render_section(
            results,
            ideal,
            describe_machine(environment),
            arguments,
            (load_before, load_after),
            benchmark_command(arguments),
        )
        write_section(SECTION_START, SECTION_END, section)
        print(f"wrote {DOC_PATH.relative_to(REPO_ROOT)}")
    if not target_met(results[0], ideal):
        print(
            f"FAIL: the service completed {results[0].requests_per_second:.1f} requests/s"
            f" with {results[0].errors} errors; the target is at least"
            f" {MIN_FRACTION_OF_IDEAL * ideal:.1f} requests/s with no errors."
        )
        return EXIT_OVER_TARGET
    return 0


if __name__ == "__main__":
    sys.exit(main())
