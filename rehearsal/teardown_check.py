"""Check against a real AWS account that a destroy left nothing of a stage's stack.

The same check as the rehearsal's, in two calls around ``cdk destroy``::

    python -m rehearsal.teardown_check --stage dev --record cdk.out/teardown-dev.json
    npx cdk destroy -c stage=dev --force
    python -m rehearsal.teardown_check --stage dev --check cdk.out/teardown-dev.json

It uses boto3's default credential chain and the region of the stage's config.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from deploy_config import ConfigError, Deployment, load_config, plan_deployment
from rehearsal.lifecycle import AwsClients, find_leftovers, retained_types, stack_resources

EXIT_LEFTOVERS = 1
EXIT_INVALID = 2
# IAM and CloudWatch Logs can list a deleted resource for a few seconds after
# CloudFormation reports the delete complete, so the check looks again before it fails.
DEFAULT_WAIT_S = 60.0
POLL_INTERVAL_S = 10.0


def record(aws: AwsClients, deployment: Deployment, path: Path) -> int:
    """Write the stack's checked resources to ``path``; a missing stack records none."""
    try:
        resources = stack_resources(aws, deployment.stack_name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ValidationError":
            raise
        # CloudFormation reports a stack that does not exist as a ValidationError.
        print(f"stack {deployment.stack_name} does not exist; nothing to record")
        resources = []
    path.write_text(
        json.dumps({"stack": deployment.stack_name, "resources": resources}, default=str),
        encoding="utf-8",
    )
    print(f"recorded {len(resources)} resources of {deployment.stack_name} in {path}")
    return 0


def check(
    aws: AwsClients,
    deployment: Deployment,
    path: Path,
    *,
    wait_s: float = DEFAULT_WAIT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Return 0 when none of the recorded resources exists any more, else list them and return 1."""
    recorded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if recorded["stack"] != deployment.stack_name:
        print(
            f"error: {path} records stack {recorded['stack']}, not {deployment.stack_name}; "
            "record it again with --record",
            file=sys.stderr,
        )
        return EXIT_INVALID
    resources: list[dict[str, Any]] = recorded["resources"]
    kept = retained_types(deployment)
    deadline = time.monotonic() + wait_s
    leftovers = find_leftovers(aws, resources, kept)
    while leftovers and time.monotonic() < deadline:
        sleep(POLL_INTERVAL_S)
        leftovers = find_leftovers(aws, resources, kept)
    if leftovers:
        print(f"resources of {deployment.stack_name} left after destroy:", file=sys.stderr)
        for leftover in leftovers:
            print(f"  {leftover}", file=sys.stderr)
        return EXIT_LEFTOVERS
    kept_note = f", except the kept types {', '.join(sorted(kept))}" if kept else ""
    print(
        f"none of the {len(resources)} recorded resources of {deployment.stack_name} "
        f"exists{kept_note}"
    )
    return 0


def parse_arguments(arguments: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m rehearsal.teardown_check",
        description=(
            "Record a stage stack's resources before cdk destroy and check after it "
            "that none of them exists."
        ),
    )
    parser.add_argument("--stage", required=True, help="stage name; its profile gives the region")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--record", type=Path, metavar="FILE", help="write the stack's resources to FILE"
    )
    action.add_argument(
        "--check",
        type=Path,
        metavar="FILE",
        help="exit 1 and list each resource recorded in FILE that still exists",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=(
            "with --check, look again for up to SECONDS before failing "
            f"(default {DEFAULT_WAIT_S:.0f})"
        ),
    )
    return parser.parse_args(arguments)


def main(
    arguments: Sequence[str] | None = None,
    make_session: Callable[[str], AwsClients] = lambda region: boto3.Session(region_name=region),
) -> int:
    options = parse_arguments(arguments)
    try:
        deployment = plan_deployment(load_config(stage=options.stage))
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    aws = make_session(deployment.config.region)
    if options.record is not None:
        return record(aws, deployment, options.record)
    if not options.check.is_file():
        print(
            f"error: {options.check} not found; record the stack first with --record",
            file=sys.stderr,
        )
        return EXIT_INVALID
    return check(aws, deployment, options.check, wait_s=options.wait)


if __name__ == "__main__":
    sys.exit(main())
