"""The smoke-test handlers in-process against the local SageMaker runtime, with unmocked boto3."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from inference.prompts import Message, template_for_family
from rehearsal.runtime import Faults, LocalRuntime
from tests.smoke_test.conftest import (
    ENDPOINT,
    PASSING_JSON,
    FakeContext,
    cloudwatch_client,
    queue_answers,
)

# The conftest puts the runtime directory on sys.path, so these are the modules Lambda
# would load; mypy knows them by their package path.
if TYPE_CHECKING:
    from infra.smoke_test.runtime import canary, deploy_check, smoke_checks
else:
    import canary
    import deploy_check
    import smoke_checks


def run_checks() -> list[smoke_checks.CheckResult]:
    settings = smoke_checks.Settings.from_environment()
    return smoke_checks.run_checks(smoke_checks.runtime_client(settings), settings)


def results_by_name(results: list[smoke_checks.CheckResult]) -> dict[str, smoke_checks.CheckResult]:
    return {result.name: result for result in results}


def log_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.mark.usefixtures("handler_env")
def test_both_checks_pass(runtime: LocalRuntime) -> None:
    queue_answers(runtime, Faults(), Faults(fixed_text=PASSING_JSON))

    results = results_by_name(run_checks())

    assert results["generation"].passed, results["generation"].reason
    assert results["structured_output"].passed, results["structured_output"].reason
    # The summarizing stand-in model repeats the question, so the answer is not empty.
    assert "primary colour" in results["generation"].excerpt


@pytest.mark.usefixtures("handler_env")
def test_empty_answer_fails_generation(runtime: LocalRuntime) -> None:
    queue_answers(runtime, Faults(fixed_text=""), Faults(fixed_text=PASSING_JSON))

    results = results_by_name(run_checks())

    assert not results["generation"].passed
    assert results["generation"].reason == "the model returned empty text"
    assert results["structured_output"].passed


@pytest.mark.usefixtures("handler_env")
def test_whitespace_answer_fails_generation(runtime: LocalRuntime) -> None:
    queue_answers(runtime, Faults(fixed_text="  \n "), Faults(fixed_text=PASSING_JSON))

    results = results_by_name(run_checks())

    assert not results["generation"].passed
    assert results["generation"].reason == "the model returned empty text"


@pytest.mark.usefixtures("handler_env")
def test_invalid_json_fails_structured(runtime: LocalRuntime) -> None:
    answer = "Sure! The products are a printer, a scanner and a router."
    queue_answers(runtime, Faults(), Faults(fixed_text=answer))

    results = results_by_name(run_checks())

    structured = results["structured_output"]
    assert not structured.passed
    assert structured.reason.startswith("the answer is not valid JSON")
    assert structured.excerpt == answer


@pytest.mark.usefixtures("handler_env")
def test_wrong_items_fail_structured(runtime: LocalRuntime) -> None:
    queue_answers(runtime, Faults(), Faults(fixed_text='{"products": ["printer", "laptop"]}'))

    results = results_by_name(run_checks())

    structured = results["structured_output"]
    assert not structured.passed
    assert structured.reason == (
        "expected products ['printer', 'router', 'scanner'], got ['laptop', 'printer']"
    )


@pytest.mark.usefixtures("handler_env")
def test_missing_products_key_fails(runtime: LocalRuntime) -> None:
    queue_answers(runtime, Faults(), Faults(fixed_text='{"items": ["printer"]}'))

    results = results_by_name(run_checks())

    assert results["structured_output"].reason == 'the answer has no "products" list of strings'


@pytest.mark.usefixtures("handler_env")
def test_articles_and_case_are_ignored(runtime: LocalRuntime) -> None:
    answer = '{"products": ["A Printer", "one scanner", "the router."]}'
    queue_answers(runtime, Faults(), Faults(fixed_text=answer))

    results = results_by_name(run_checks())

    assert results["structured_output"].passed, results["structured_output"].reason


def test_timeout_fails_generation(handler_env: pytest.MonkeyPatch, runtime: LocalRuntime) -> None:
    handler_env.setenv("READ_TIMEOUT_S", "1")
    handler_env.setenv("MAX_ATTEMPTS", "1")
    queue_answers(runtime, Faults(latency_ms=3000), Faults(fixed_text=PASSING_JSON))

    results = results_by_name(run_checks())

    generation = results["generation"]
    assert not generation.passed
    assert generation.reason.startswith("timed out")


@pytest.mark.usefixtures("handler_env")
def test_throttling_on_every_attempt_fails(runtime: LocalRuntime) -> None:
    queue_answers(
        runtime,
        Faults(error="throttling"),
        Faults(error="throttling"),
        Faults(fixed_text=PASSING_JSON),
    )

    results = results_by_name(run_checks())

    assert not results["generation"].passed
    assert results["generation"].reason.startswith("ThrottlingException")
    assert results["structured_output"].passed


@pytest.mark.usefixtures("handler_env")
def test_one_throttle_is_retried(runtime: LocalRuntime) -> None:
    queue_answers(runtime, Faults(error="throttling"), Faults(), Faults(fixed_text=PASSING_JSON))

    results = results_by_name(run_checks())

    assert results["generation"].passed, results["generation"].reason
    assert results["structured_output"].passed


@pytest.mark.usefixtures("handler_env")
def test_model_error_is_not_retried(runtime: LocalRuntime) -> None:
    queue_answers(runtime, Faults(error="tgi_generation"), Faults(fixed_text=PASSING_JSON))

    results = results_by_name(run_checks())

    generation = results["generation"]
    assert not generation.passed
    assert generation.reason.startswith("ModelError")
    # The second queued answer went to the structured check, so there was no retry.
    assert results["structured_output"].passed


def test_grammar_parameter_is_sent(handler_env: pytest.MonkeyPatch, runtime: LocalRuntime) -> None:
    """The local runtime rejects `grammar` as TGI with --disable-grammar-support does."""
    handler_env.setenv("USE_GRAMMAR", "true")
    queue_answers(runtime, Faults(), Faults(fixed_text=PASSING_JSON))

    results = results_by_name(run_checks())

    structured = results["structured_output"]
    assert not structured.passed
    assert structured.reason.startswith("ModelError")
    assert "grammar is not supported" in structured.reason


def test_grammar_request_carries_schema() -> None:
    settings = smoke_checks.Settings(ENDPOINT, "mistral-instruct", True, 1, 1, 1)

    parameters = smoke_checks.structured_request(settings)["parameters"]

    assert parameters["grammar"] == {"type": "json", "value": smoke_checks.PRODUCTS_SCHEMA}
    assert parameters["max_new_tokens"] == smoke_checks.STRUCTURED_MAX_NEW_TOKENS


def test_prompt_only_request_has_no_grammar() -> None:
    settings = smoke_checks.Settings(ENDPOINT, "llama2-chat", False, 1, 1, 1)

    parameters = smoke_checks.structured_request(settings)["parameters"]

    assert "grammar" not in parameters


@pytest.mark.parametrize("family", ["mistral-instruct", "llama2-chat"])
def test_prompts_match_inference_templates(family: str) -> None:
    system = smoke_checks.STRUCTURED_SYSTEM
    user = smoke_checks.STRUCTURED_QUESTION
    expected = template_for_family(family).render(  # type: ignore[arg-type]
        [Message("system", system), Message("user", user)]
    )

    assert smoke_checks.render_prompt(family, user, system) == expected


@pytest.mark.parametrize("family", ["mistral-instruct", "llama2-chat"])
def test_prompt_without_system_matches(family: str) -> None:
    user = smoke_checks.GENERATION_QUESTION
    expected = template_for_family(family).render([Message("user", user)])  # type: ignore[arg-type]

    assert smoke_checks.render_prompt(family, user) == expected


@pytest.mark.usefixtures("handler_env")
def test_deploy_check_raises_on_failed_check(runtime: LocalRuntime) -> None:
    queue_answers(runtime, Faults(), Faults(fixed_text='{"products": ["printer"]}'))

    with pytest.raises(smoke_checks.ChecksFailedError) as failure:
        deploy_check.handler({}, FakeContext())

    message = str(failure.value)
    assert "smoke check structured_output failed" in message
    assert f"on endpoint {ENDPOINT}" in message
    assert """answer excerpt: '{"products": ["printer"]}'""" in message
    assert "generation" not in message


@pytest.mark.usefixtures("handler_env")
def test_deploy_check_returns_on_pass(runtime: LocalRuntime) -> None:
    queue_answers(runtime, Faults(), Faults(fixed_text=PASSING_JSON))

    response = deploy_check.handler({}, FakeContext())

    assert response["endpoint"] == ENDPOINT
    assert set(response["checks"]) == {"generation", "structured_output"}


@pytest.mark.usefixtures("handler_env")
def test_logs_are_json_with_ids_and_excerpt(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    long_answer = "word " * 200
    queue_answers(runtime, Faults(fixed_text=long_answer), Faults(fixed_text=long_answer))

    with pytest.raises(smoke_checks.ChecksFailedError):
        deploy_check.handler({}, FakeContext(aws_request_id="request-42"))

    lines = log_lines(capsys.readouterr().out)
    assert [line["event"] for line in lines] == [
        "deploy_check_started",
        "check_passed",
        "check_failed",
        "deploy_check_failed",
    ]
    assert {line["endpoint"] for line in lines} == {ENDPOINT}
    assert {line["request_id"] for line in lines} == {"request-42"}
    excerpts = [line["excerpt"] for line in lines if "excerpt" in line]
    assert excerpts
    assert all(len(text) <= smoke_checks.EXCERPT_CHARS for text in excerpts)


def test_missing_setting_is_reported(handler_env: pytest.MonkeyPatch) -> None:
    handler_env.delenv("ENDPOINT_NAME")

    with pytest.raises(smoke_checks.SettingsError, match="ENDPOINT_NAME is missing"):
        smoke_checks.Settings.from_environment()


def test_unknown_prompt_family_is_reported(handler_env: pytest.MonkeyPatch) -> None:
    handler_env.setenv("PROMPT_FAMILY", "chatml")

    with pytest.raises(smoke_checks.SettingsError, match="PROMPT_FAMILY must be one of"):
        smoke_checks.Settings.from_environment()


def test_excerpt_cuts_long_text() -> None:
    text = "x" * 500

    short = smoke_checks.excerpt(text)

    assert len(short) == smoke_checks.EXCERPT_CHARS
    assert short.endswith("…")


@pytest.mark.usefixtures("handler_env")
def test_canary_publishes_success(runtime: LocalRuntime, moto_url: str) -> None:
    queue_answers(runtime, Faults(), Faults(fixed_text=PASSING_JSON))
    settings = smoke_checks.Settings.from_environment()
    cloudwatch = cloudwatch_client(moto_url)

    response = canary.run_canary(
        settings,
        "canary-request-1",
        smoke_checks.runtime_client(settings),
        cloudwatch,
        "Test/CanaryPass",
    )

    assert response["passed"] is True
    metrics = cloudwatch.list_metrics(Namespace="Test/CanaryPass")["Metrics"]
    names = sorted(metric["MetricName"] for metric in metrics)
    assert names == ["CheckSuccess", "CheckSuccess", "Latency", "Latency", "Success"]
    success = [metric for metric in metrics if metric["MetricName"] == "Success"]
    assert success[0]["Dimensions"] == [{"Name": "EndpointName", "Value": ENDPOINT}]


@pytest.mark.usefixtures("handler_env")
def test_canary_reports_failure_as_metric(runtime: LocalRuntime, moto_url: str) -> None:
    queue_answers(runtime, Faults(fixed_text=""), Faults(fixed_text=PASSING_JSON))
    settings = smoke_checks.Settings.from_environment()
    cloudwatch = cloudwatch_client(moto_url)

    response = canary.run_canary(
        settings,
        "canary-request-2",
        smoke_checks.runtime_client(settings),
        cloudwatch,
        "Test/CanaryFail",
    )

    assert response["passed"] is False
    assert response["checks"]["generation"]["passed"] is False
    now = datetime.now(UTC)
    statistics = cloudwatch.get_metric_statistics(
        Namespace="Test/CanaryFail",
        MetricName="Success",
        Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
        Period=60,
        Statistics=["Minimum"],
    )
    assert [point["Minimum"] for point in statistics["Datapoints"]] == [0.0]


def test_metric_data_success_is_zero_on_failure() -> None:
    results = [
        smoke_checks.CheckResult("generation", True, 12.0),
        smoke_checks.CheckResult("structured_output", False, 30.5, "wrong items"),
    ]

    data = canary.metric_data(ENDPOINT, results)

    assert data[0] == {
        "MetricName": "Success",
        "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT}],
        "Value": 0.0,
        "Unit": "Count",
    }
    latency = [item for item in data if item["MetricName"] == "Latency"]
    assert [item["Value"] for item in latency] == [12.0, 30.5]
    assert latency[1]["Dimensions"][1] == {"Name": "Check", "Value": "structured_output"}
