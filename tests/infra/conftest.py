"""Stacks synthesized in-process from shipped profiles or test configs."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from deploy_config import load_config, plan_deployment
from infra.stack import LlmEndpointStack

TEST_ACCOUNT = "123456789012"


def synth_template(**overrides: Any) -> Template:
    """Synthesize one stage's stack from its profile and overrides, and return its template."""
    deployment = plan_deployment(load_config(**overrides))
    app = cdk.App()
    stack = LlmEndpointStack(
        app,
        deployment.stack_name,
        deployment=deployment,
        env=cdk.Environment(account=TEST_ACCOUNT, region=deployment.config.region),
    )
    return Template.from_stack(stack)


@pytest.fixture(scope="session")
def dev_template() -> Template:
    return synth_template(stage="dev")


@pytest.fixture(scope="session")
def prod_template() -> Template:
    return synth_template(stage="prod")
