"""Run the runtime with uvicorn: in a background thread for tests, or in the foreground."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import uvicorn

from rehearsal.runtime.app import (
    DEFAULT_ACCOUNT,
    DEFAULT_INVOCATION_TIMEOUT_MS,
    Invocation,
    RuntimeConfig,
    RuntimeState,
    create_app,
)
from rehearsal.runtime.endpoints import (
    AnyEndpoint,
    EndpointDirectory,
    MotoEndpoints,
    NamedEndpoints,
)
from rehearsal.runtime.faults import Faults, QueuedFaults
from rehearsal.runtime.openapi import DEFAULT_OPENAPI_PATH
from rehearsal.runtime.tgi import TgiLimits

ALLOWED_HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0


def require_loopback_host(host: str) -> str:
    """Return ``host`` if it is 127.0.0.1, else raise ``ValueError``.

    The runtime checks no credentials, so it must not be reachable from other machines.
    """
    if host != ALLOWED_HOST:
        raise ValueError(
            f"the local runtime binds to {ALLOWED_HOST} only, got host {host!r}; "
            f"drop --host or pass --host {ALLOWED_HOST}"
        )
    return host


def build_config(
    *,
    endpoints: Iterable[str] | None = None,
    moto_endpoint_url: str | None = None,
    latency_ms: int = 0,
    faults: Faults | None = None,
    limits: TgiLimits | None = None,
    openapi_path: Path = DEFAULT_OPENAPI_PATH,
    account: str = DEFAULT_ACCOUNT,
    invocation_timeout_ms: int = DEFAULT_INVOCATION_TIMEOUT_MS,
) -> RuntimeConfig:
    """Build a ``RuntimeConfig``; moto and a list of names exclude each other."""
    names = list(endpoints or [])
    if moto_endpoint_url is not None and names:
        raise ValueError("pass either endpoint names or a moto endpoint URL, not both")
    directory: EndpointDirectory
    if moto_endpoint_url is not None:
        directory = MotoEndpoints(moto_endpoint_url)
    elif names:
        directory = NamedEndpoints(names)
    else:
        directory = AnyEndpoint()
    default_faults = Faults(latency_ms=latency_ms or None).overlay(faults or Faults())
    return RuntimeConfig(
        endpoints=directory,
        limits=limits or TgiLimits(),
        openapi_path=openapi_path,
        account=account,
        default_faults=default_faults,
        invocation_timeout_ms=invocation_timeout_ms,
    )


class LocalRuntime:
    """The runtime on a free port of 127.0.0.1 in a background thread, as a context manager.

    ``LocalRuntime(endpoints=["llm-endpoint-dev"])`` or
    ``LocalRuntime(moto_endpoint_url=aws.endpoint_url)``; inside the ``with`` block,
    ``endpoint_url`` is the URL to give boto3 as ``endpoint_url``.
    """

    def __init__(self, config: RuntimeConfig | None = None, **options: object) -> None:
        if config is not None and options:
            raise ValueError("pass either a RuntimeConfig or keyword options, not both")
        self.config = config or build_config(**options)  # type: ignore[arg-type]
        self.app = create_app(self.config)
        self.state: RuntimeState = self.app.state.runtime
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def endpoint_url(self) -> str:
        if not self.port:
            raise RuntimeError("the runtime is not running; use it inside a with block")
        return f"http://{ALLOWED_HOST}:{self.port}"

    def __enter__(self) -> LocalRuntime:
        # Port 0 lets the kernel pick a free port at bind time, so no other process can
        # take it between the choice and the bind.
        server_config = uvicorn.Config(
            self.app,
            host=ALLOWED_HOST,
            port=0,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(server_config)
        self._thread = threading.Thread(target=self._server.run, name="local-runtime", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the local runtime's server thread stopped during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the local runtime did not start within {START_TIMEOUT_S} s")
            time.sleep(0.01)
        self.port = int(self._server.servers[0].sockets[0].getsockname()[1])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=START_TIMEOUT_S)
        self.port = 0

    def add_faults(self, faults: Faults, count: int = 1, endpoint: str | None = None) -> None:
        """Inject ``faults`` into the next ``count`` invocations of ``endpoint`` (any if None)."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        self.state.queue.add(QueuedFaults(faults, count, endpoint))

    def clear_faults(self) -> None:
        self.state.queue.clear()

    def invocations(self) -> list[Invocation]:
        """Return the invoke requests served so far, oldest first."""
        return self.state.invocations()


def serve(config: RuntimeConfig, port: int, host: str = ALLOWED_HOST) -> None:
    """Serve in the foreground until interrupted."""
    uvicorn.run(
        create_app(config),
        host=require_loopback_host(host),
        port=port,
        log_level="info",
        access_log=False,
        lifespan="off",
    )
