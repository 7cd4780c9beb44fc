#!/usr/bin/env python3
"""CDK app: one LLM endpoint stack for the stage chosen by context or config file.

``npx cdk synth -c stage=prod`` reads the prod profile; ``-c config=PATH`` reads a YAML file
over the profile of the stage it names. An invalid config stops synthesis with one
``error: <field>: <message>`` line per problem and no traceback.
"""

from __future__ import annotations

import os
import sys

# Node.js 20 is past its end of life. Without this, the jsii runtime prints a banner at each
# start, also when a user runs `npx cdk` directly rather than through make.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from deploy_config import ConfigError, load_config, plan_deployment
from infra.stack import LlmEndpointStack

EXIT_INVALID = 2


def main() -> None:
    app = cdk.App()
    overrides = {}
    stage = app.node.try_get_context("stage")
    if stage:
        overrides["stage"] = stage
    try:
        deployment = plan_deployment(load_config(app.node.try_get_context("config"), **overrides))
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        sys.exit(EXIT_INVALID)
    for warning in deployment.warnings:
        print(warning, file=sys.stderr)

    config = deployment.config
    LlmEndpointStack(
        app,
        deployment.stack_name,
        deployment=deployment,
        env=cdk.Environment(
            account=config.account or os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=config.region,
        ),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


if __name__ == "__main__":
    main()
