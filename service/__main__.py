"""Command line: ``python -m service [--host HOST] [--port PORT] [--log-level LEVEL]``.

Reads the settings from the environment and serves the app with uvicorn. Invalid settings,
and a missing AWS region, print one ``error: <variable>: <message>`` line per problem and
exit 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn
from pydantic import ValidationError

from deploy_config.catalog import model_catalog
from inference.errors import MissingRegionError
from inference.sagemaker_tgi import resolve_region
from inference.settings import ENV_PREFIX as CLIENT_ENV_PREFIX
from inference.settings import ClientSettings
from service.app import create_app
from service.settings import ENV_PREFIX, ServiceSettings

EXIT_INVALID = 2
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


# Libraries whose debug output contains secrets or request bodies.
QUIET_LIBRARY_LOGGERS = ("boto3", "botocore", "urllib3")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m service",
        description="Serve the summarization API. Settings come from LLM_SERVICE_ and "
        "LLM_CLIENT_ environment variables; LLM_CLIENT_ENDPOINT_NAME is required.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="Set the address to listen on (default: %(default)s)."
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="Set the TCP port to listen on (default: %(default)s).",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help=(
            "Set the minimum level of log lines, the access log included (default: "
            "%(default)s). boto3, botocore and urllib3 stay at info or above, because their "
            "debug lines contain credentials and request bodies."
        ),
    )
    return parser.parse_args(argv)


def print_problems(error: ValidationError, env_prefix: str) -> None:
    """Print one line per problem, named by its environment variable."""
    for problem in error.errors():
        fields = [str(part) for part in problem["loc"]]
        name = f"{env_prefix}{'__'.join(fields).upper()}" if fields else "settings"
        print(f"error: {name}: {problem['msg']}", file=sys.stderr)


def configure_logging(level: str) -> None:
    """Log at ``level``, except that boto3, botocore and urllib3 never go below info.

    botocore's debug lines print request headers, a session token among them, and request
    bodies, which contain the document.
    """
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        # The service is the program, so its configuration replaces any handlers an
        # imported library may have set up.
        force=True,
    )
    for name in QUIET_LIBRARY_LOGGERS:
        library_logger = logging.getLogger(name)
        library_logger.setLevel(max(library_logger.getEffectiveLevel(), logging.INFO))


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    configure_logging(arguments.log_level)
    try:
        client_settings = ClientSettings()
    except ValidationError as error:
        print_problems(error, CLIENT_ENV_PREFIX)
        return EXIT_INVALID
    try:
        # The app creates its client only when uvicorn starts it, where a missing region
        # would end in a traceback, so the region is checked here first.
        resolve_region(client_settings.region)
    except MissingRegionError as error:
        print(f"error: {CLIENT_ENV_PREFIX}REGION: {error}", file=sys.stderr)
        return EXIT_INVALID
    try:
        settings = ServiceSettings(client=client_settings)
    except ValidationError as error:
        print_problems(error, ENV_PREFIX)
        return EXIT_INVALID
    try:
        app = create_app(settings)
    except KeyError:
        # template_for_model raises KeyError for a model id outside the catalog.
        known = ", ".join(sorted(model_catalog()))
        print(
            f"error: {ENV_PREFIX}MODEL_ID: {settings.model_id!r} has no prompt template; "
            f"set one of {known}",
            file=sys.stderr,
        )
        return EXIT_INVALID

    uvicorn.run(app, host=arguments.host, port=arguments.port, log_level=arguments.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
