"""``python -m rehearsal.runtime``: serve the local SageMaker Runtime stand-in on 127.0.0.1."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rehearsal.runtime.faults import FaultSpecError, parse_faults
from rehearsal.runtime.openapi import DEFAULT_OPENAPI_PATH
from rehearsal.runtime.server import ALLOWED_HOST, build_config, require_loopback_host, serve
from rehearsal.runtime.tgi import TgiLimits


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m rehearsal.runtime",
        description="Serve SageMaker Runtime's InvokeEndpoint and "
        "InvokeEndpointWithResponseStream for a simulated TGI container.",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument(
        "--host", default=ALLOWED_HOST, help=f"address to bind; only {ALLOWED_HOST} is accepted"
    )
    parser.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="NAME",
        help="an endpoint name to serve (repeatable); default: every name",
    )
    parser.add_argument(
        "--moto-endpoint-url",
        metavar="URL",
        help="serve only endpoints InService in the moto server at this loopback URL",
    )
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="delay before every container response, in ms"
    )
    parser.add_argument(
        "--faults", metavar="JSON", help="a fault specification applied to every invocation"
    )
    parser.add_argument(
        "--max-total-tokens",
        type=int,
        default=4096,
        help="TGI's limit on input plus generated tokens",
    )
    parser.add_argument(
        "--max-input-tokens",
        type=int,
        help="TGI's limit on input tokens; default: max total tokens minus 1",
    )
    parser.add_argument(
        "--invocation-timeout-ms",
        type=int,
        default=60_000,
        help="latency at which SageMaker's invocation timeout error replaces the response, in ms",
    )
    parser.add_argument(
        "--openapi",
        type=Path,
        default=DEFAULT_OPENAPI_PATH,
        help=f"TGI's OpenAPI document (default: {DEFAULT_OPENAPI_PATH})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        host = require_loopback_host(arguments.host)
        config = build_config(
            endpoints=arguments.endpoint,
            moto_endpoint_url=arguments.moto_endpoint_url,
            latency_ms=arguments.latency_ms,
            faults=parse_faults(arguments.faults) if arguments.faults else None,
            limits=TgiLimits(
                max_total_tokens=arguments.max_total_tokens,
                max_input_tokens=arguments.max_input_tokens,
            ),
            openapi_path=arguments.openapi,
            invocation_timeout_ms=arguments.invocation_timeout_ms,
        )
    except (ValueError, FaultSpecError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    logging.getLogger("rehearsal.runtime").info(
        "serving %s on http://%s:%d", config.endpoints.describe(), host, arguments.port
    )
    serve(config, arguments.port, host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
