"""Shared parts of the client-overhead and service-concurrency benchmarks.

Both start servers as child processes on 127.0.0.1 with fake AWS credentials, stop them
again whatever happens, describe the machine and rewrite their own section of
docs/benchmarks.md.
"""

from __future__ import annotations

import datetime
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from benchmarks.report import REPO_ROOT, cpu_model, total_memory

HOST = "127.0.0.1"
REGION = "eu-west-1"
ENDPOINT_NAME = "llm-endpoint-dev"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
EXIT_OVER_TARGET = 1
EXIT_SETUP_FAILED = 2

# Fake credentials, so that botocore signs requests without looking for real ones.
FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    # A ~/.aws/config or credentials file could set a profile, retries or a region that
    # changes what is measured, so botocore reads neither.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


class SetupError(RuntimeError):
    """A server did not start or stopped early, so nothing could be measured."""


def benchmark_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return this process's environment without any inherited AWS_ or LLM_ variable.

    The fake credentials are added, and ``extra`` last. LLM_ variables are dropped too,
    because the service and the client read their settings from them.
    """
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "LLM_"))
    }
    environment.update(FAKE_AWS_ENVIRONMENT)
    environment.update(extra or {})
    return environment


def use_benchmark_environment() -> None:
    """Replace this process's environment with ``benchmark_environment()``.

    Needed where boto3 runs in this process, since boto3 reads os.environ itself.
    """
    clean = benchmark_environment()
    for name in list(os.environ):
        if name not in clean:
            del os.environ[name]
    os.environ.update(clean)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that ``running_server`` stops its servers.

    Without it, SIGTERM would end this process at once and leave the servers running.
    Ctrl-C (SIGINT) already raises KeyboardInterrupt.
    """

    def raise_system_exit(signal_number: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signal_number)

    signal.signal(signal.SIGTERM, raise_system_exit)


@dataclass
class ServerProcess:
    """A server started as a child process, with its URL and log file."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """Return the user plus system CPU time the process has used so far (Linux only)."""
        return process_cpu_seconds(self.process.pid)


def process_cpu_seconds(pid: int) -> float:
    """Read utime and stime from /proc/PID/stat, in seconds.

    The command name in field 2 may contain spaces, so the fields are counted from the
    closing parenthesis.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def running_server(
    name: str,
    module_arguments: Sequence[str],
    port: int,
    health_path: str,
    environment: Mapping[str, str],
    log_dir: Path,
) -> Iterator[ServerProcess]:
    """Run ``python -m <module_arguments>`` until the block ends, then stop it.

    The server counts as started once ``GET health_path`` returns 200. It is stopped
    with SIGTERM, and with SIGKILL if it has not exited after ``STOP_TIMEOUT_S``, also
    when the block raises.
    """
    log_path = log_dir / f"{name}.log"
    url = f"http://{HOST}:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", *module_arguments],
            cwd=REPO_ROOT,
            env=dict(environment),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(name, process, url, log_path)
    try:
        wait_until_healthy(server, health_path)
        yield server
    finally:
        stop(server)


def wait_until_healthy(server: ServerProcess, health_path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(base_url=server.url, timeout=1.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise SetupError(
                    f"{server.name} exited with status {server.process.returncode} during"
                    f" start-up. Its last output:\n{server.log_tail()}"
                )
            try:
                if http.get(health_path).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise SetupError(
        f"{server.name} did not return 200 for GET {health_path} within"
        f" {START_TIMEOUT_S} s. Its last output:\n{server.log_tail()}"
    )


def stop(server: ServerProcess) -> None:
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def describe_machine(environment: Mapping[str, str]) -> list[tuple[str, str]]:
    """Return the rows of the machine table: CPUs, memory, OS and Python."""
    return [
        ("CPUs (`os.cpu_count()`)", str(os.cpu_count())),
        ("CPU model", cpu_model()),
        ("Memory (`free -h`, total)", total_memory(dict(environment))),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
    ]


def today() -> str:
    return datetime.datetime.now(tz=datetime.UTC).date().isoformat()
