"""An environment in which the CDK CLI can synthesize without reaching any AWS endpoint.

CDK CLI 2.1149.0 looks up the account of the active credentials through STS before every
synth, even with ``CDK_DEFAULT_ACCOUNT`` set, unless its account cache under ``CDK_HOME``
maps the access key id to an account. Tests and benchmarks therefore get fake credentials,
a ``CDK_HOME`` whose cache holds them, and an endpoint URL on a closed loopback port, so that
any call the cache does not prevent fails on this machine instead of leaving it.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

# moto's default account; the bootstrap and the stacks of the rehearsal use it too.
ACCOUNT = "123456789012"

FAKE_ACCESS_KEY_ID = "testing"
FAKE_SECRET_ACCESS_KEY = "testing"  # noqa: S105 - moto's documented fake credentials


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed_account_cache(cdk_home: Path, account: str = ACCOUNT) -> None:
    """Write the CLI's account cache so the fake access key resolves to ``account``."""
    cache_file = cdk_home / "cache" / "accounts_partitions.json"
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    entry = {FAKE_ACCESS_KEY_ID: {"accountId": account, "partition": "aws"}}
    cache_file.write_text(json.dumps(entry), encoding="utf-8")


def cli_settings(cdk_home: Path) -> dict[str, str]:
    """Return the variables that keep the CLI quiet and its state under ``cdk_home``."""
    return {
        "CDK_HOME": str(cdk_home),
        # The CLI asks the npm registry for a newer release when stdout is a terminal.
        "CDK_DISABLE_VERSION_CHECK": "true",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        # Node.js 20 is past its end of life; the jsii runtime prints a banner at each start.
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }


def offline_cdk_environment(cdk_home: Path, region: str = "eu-west-1") -> dict[str, str]:
    """Return this process's environment with every AWS setting replaced by a fake one."""
    seed_account_cache(cdk_home)
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "CDK_", "LLM_DEPLOY_"))
    }
    environment.update(cli_settings(cdk_home))
    environment.update(
        {
            "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(cdk_home / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(cdk_home / "aws-credentials"),
            "CDK_DEFAULT_ACCOUNT": ACCOUNT,
            "CDK_DEFAULT_REGION": region,
        }
    )
    return environment
