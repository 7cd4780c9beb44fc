"""rehearsal.smoke: both handlers once against a local runtime, as the rehearsal runs them."""

from __future__ import annotations

import pytest

from rehearsal.runtime import Faults, LocalRuntime
from rehearsal.smoke import SmokeCheckError, run_smoke_checks
from tests.smoke_test.conftest import ENDPOINT, cloudwatch_client


def test_smoke_checks_pass_and_publish(runtime: LocalRuntime, moto_url: str) -> None:
    runtime.clear_faults()
    messages: list[str] = []

    run_smoke_checks(ENDPOINT, runtime.endpoint_url, messages.append, metrics_endpoint_url=moto_url)

    assert "moto cannot run Lambda code without Docker" in messages[0]
    assert f"deploy check passed on {ENDPOINT}" in messages
    assert messages[-1] == f"canary passed on {ENDPOINT} and published its metrics to {moto_url}"
    metrics = cloudwatch_client(moto_url).list_metrics(Namespace="LlmEndpoint/SmokeTest")
    assert {metric["MetricName"] for metric in metrics["Metrics"]} == {
        "Success",
        "CheckSuccess",
        "Latency",
    }
    assert len(runtime.invocations()) >= 4


def test_smoke_checks_without_metrics_endpoint(runtime: LocalRuntime) -> None:
    runtime.clear_faults()
    messages: list[str] = []

    run_smoke_checks(ENDPOINT, runtime.endpoint_url, messages.append)

    assert messages[-1].endswith("published no metrics (no metrics endpoint given)")


def test_failing_endpoint_raises() -> None:
    failing_runtime = LocalRuntime(endpoints=[ENDPOINT], faults=Faults(error="tgi_generation"))
    expected = "deploy check failed: smoke check generation failed"

    with failing_runtime, pytest.raises(SmokeCheckError, match=expected):
        run_smoke_checks(ENDPOINT, failing_runtime.endpoint_url, lambda message: None)
