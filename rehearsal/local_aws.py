"""A moto server on 127.0.0.1 and the environment that points AWS tools at it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from deploy_config.settings import ENV_PREFIX
from rehearsal.cdk_env import ACCOUNT, cli_settings, free_port

__all__ = ["ACCOUNT", "LocalAws", "free_port"]

START_TIMEOUT_S = 30.0


class LocalAws:
    """Start moto's server in a child process and stop it on exit, also after a failure.

    The endpoint URL uses the host name ``localhost``, not ``127.0.0.1``: moto finds the
    template that the CDK CLI uploads to S3 only when the template URL names localhost.
    """

    def __init__(self, region: str, work_dir: Path) -> None:
        self.region = region
        self.work_dir = work_dir
        self.port = free_port()
        self.endpoint_url = f"http://localhost:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LocalAws:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log = (self.work_dir / "moto-server.log").open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "rehearsal.moto_server", "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.environment(),
        )
        self._wait_until_ready()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def environment(self) -> dict[str, str]:
        """Return this process's environment with every AWS setting aimed at the server."""
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "CDK_DEFAULT_"))
        }
        environment.update(
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_ENDPOINT_URL": self.endpoint_url,
                # No profile, config file or instance metadata may supply real credentials.
                "AWS_CONFIG_FILE": str(self.work_dir / "aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(self.work_dir / "aws-credentials"),
                "AWS_EC2_METADATA_DISABLED": "true",
                "CDK_DEFAULT_ACCOUNT": ACCOUNT,
                "CDK_DEFAULT_REGION": self.region,
                # moto's CloudFormation cannot create the Lambda-backed custom resource of
                # the deploy-time smoke test's CDK trigger, so the rehearsal deploys without
                # the trigger. Both functions still deploy, and rehearsal.smoke runs their
                # handlers in-process.
                f"{ENV_PREFIX}SMOKE_TEST__DEPLOY_CHECK": "false",
            }
        )
        environment.update(cli_settings(self.work_dir / "cdk-home"))
        return environment

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
        )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"moto server exited with code {self._process.returncode}; see "
                    f"{self.work_dir / 'moto-server.log'}"
                )
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=2):  # noqa: S310 - loopback URL built above
                    return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise RuntimeError(
            f"moto server did not answer on {self.endpoint_url} within {START_TIMEOUT_S:.0f} s"
        )
