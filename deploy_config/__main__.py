"""Command line: ``python -m deploy_config check [FILE] [--stage NAME]``.

Prints the resolved deployment and exits 0, or prints one ``error: <field>: <message>``
line per problem and exits 2.
"""

from __future__ import annotations

import argparse
import sys

from deploy_config.catalog import instance_catalog
from deploy_config.errors import ConfigError
from deploy_config.plan import LEGACY_TOKEN_ENV, TOKEN_ENV, Deployment, plan_deployment
from deploy_config.settings import load_config

EXIT_INVALID = 2


def describe(deployment: Deployment) -> str:
    """Render the resolved deployment as aligned lines, with the token masked."""
    config = deployment.config
    instance = deployment.instance
    prices = instance_catalog()
    price = deployment.price_per_hour_usd
    price_text = (
        f"${price:.2f}/h on demand for {config.endpoint.initial_instance_count} instance(s) "
        f"in {prices.price_region} ({prices.price_source}, {prices.price_date})"
        if price is not None
        else f"unknown for {config.endpoint.instance_type}"
    )
    scaling = config.autoscaling
    rows = [
        ("stage", config.stage),
        ("stack", deployment.stack_name),
        ("region", config.region),
        (
            "model",
            f"{config.model.id} (prompt family {deployment.facts.prompt_family}"
            f"{', gated' if deployment.facts.gated else ''})",
        ),
        ("image", deployment.image_uri),
        (
            "instance",
            f"{config.endpoint.instance_type}: {instance.gpus} x {instance.gpu}, "
            f"{instance.gpu_memory_gib:g} GiB each; TGI uses {deployment.num_gpus}",
        ),
        ("GPU memory", deployment.memory.describe()),
        ("price", price_text),
        (
            "endpoint",
            f"{deployment.endpoint_name}, startup health check "
            f"{deployment.startup_health_check_timeout_s} s, model download "
            f"{deployment.model_download_timeout_s} s",
        ),
        (
            "autoscaling",
            f"{scaling.min_capacity} to {scaling.max_capacity} instances, target "
            f"{deployment.target_invocations_per_instance:g} invocations per "
            f"instance per minute, scale-in cooldown {deployment.scale_in_cooldown_s}"
            f" s, scale-out cooldown {deployment.scale_out_cooldown_s} s",
        ),
    ]
    width = max(len(label) for label, _ in rows) + 1
    lines = [f"{label + ':':<{width}} {value}" for label, value in rows]
    lines.append("container environment:")
    for name, value in deployment.container_environment().items():
        source = (
            f" (from Secrets Manager secret {config.model.hf_token_secret!r} at deploy time)"
            if name in (TOKEN_ENV, LEGACY_TOKEN_ENV)
            else ""
        )
        lines.append(f"  {name}={value}{source}")
    lines.extend(str(warning) for warning in deployment.warnings)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy_config",
        description="Validate a deployment config and print what it would deploy.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a config and print the deployment")
    check.add_argument(
        "file", nargs="?", help="YAML config file; the stage profile alone if omitted"
    )
    check.add_argument("--stage", help="stage whose profile is read under the file (default: dev)")
    arguments = parser.parse_args(argv)

    overrides = {"stage": arguments.stage} if arguments.stage else {}
    try:
        deployment = plan_deployment(load_config(arguments.file, **overrides))
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    print(describe(deployment))
    return 0


if __name__ == "__main__":
    sys.exit(main())
