"""TGI container environment and derived timeouts of a planned Deployment."""

from __future__ import annotations

from typing import Any

import pytest

from deploy_config import Deployment, load_config, plan_deployment
from deploy_config.plan import token_reference

MISTRAL_7B = "mistralai/Mistral-7B-Instruct-v0.2"
SECRET = "hugging-face/hub-token"


def plan(**overrides: Any) -> Deployment:
    """Plan the dev profile (Mistral 7B, TGI 3.3.6, secret set) with overrides."""
    return plan_deployment(load_config(None, **overrides))


def test_dev_profile_environment() -> None:
    assert plan().container_environment() == {
        "HF_MODEL_ID": MISTRAL_7B,
        "HF_TOKEN": "****",
        "MAX_INPUT_TOKENS": "3072",
        "MAX_TOTAL_TOKENS": "4096",
        "SM_NUM_GPUS": "1",
    }


OPTIONAL_VARIABLES = [
    pytest.param({"model": {"revision": "abc1234"}}, "HF_MODEL_REVISION", "abc1234", id="revision"),
    pytest.param(
        {"tgi": {"max_batch_prefill_tokens": 4096}},
        "MAX_BATCH_PREFILL_TOKENS",
        "4096",
        id="batch-prefill",
    ),
    pytest.param(
        {"tgi": {"max_batch_total_tokens": 8192}},
        "MAX_BATCH_TOTAL_TOKENS",
        "8192",
        id="batch-total",
    ),
    pytest.param({"model": {"quantize": "eetq"}}, "HF_MODEL_QUANTIZE", "eetq", id="quantize"),
]


@pytest.mark.parametrize(("overrides", "name", "value"), OPTIONAL_VARIABLES)
def test_optional_variable_when_set(overrides: dict[str, Any], name: str, value: str) -> None:
    assert plan(**overrides).container_environment()[name] == value


@pytest.mark.parametrize(("overrides", "name", "value"), OPTIONAL_VARIABLES)
def test_optional_variable_absent_by_default(
    overrides: dict[str, Any], name: str, value: str
) -> None:
    assert name not in plan().container_environment()


def test_sm_num_gpus_follows_plan() -> None:
    deployment = plan(
        model={"id": "meta-llama/Llama-2-13b-chat-hf"},
        endpoint={"instance_type": "ml.g5.12xlarge"},
    )

    assert deployment.container_environment()["SM_NUM_GPUS"] == "4"


INPUT_VARIABLE_CASES = [
    pytest.param("1.1.0", "MAX_INPUT_LENGTH", "MAX_INPUT_TOKENS", id="tgi-1.1.0"),
    pytest.param("1.4.5", "MAX_INPUT_LENGTH", "MAX_INPUT_TOKENS", id="tgi-1.4.5"),
    pytest.param("2.0.0", "MAX_INPUT_TOKENS", "MAX_INPUT_LENGTH", id="tgi-2.0.0"),
    pytest.param("3.3.6", "MAX_INPUT_TOKENS", "MAX_INPUT_LENGTH", id="tgi-3.3.6"),
]


@pytest.mark.parametrize(("version", "present", "absent"), INPUT_VARIABLE_CASES)
def test_input_limit_variable_by_version(version: str, present: str, absent: str) -> None:
    environment = plan(tgi={"version": version}).container_environment()

    assert environment[present] == "3072"
    assert absent not in environment


LEGACY_TOKEN_CASES = [
    pytest.param("1.4.5", True, id="tgi-1.4.5"),
    pytest.param("2.0.2", True, id="tgi-2.0.2"),
    pytest.param("2.2.0", False, id="tgi-2.2.0"),
    pytest.param("3.3.6", False, id="tgi-3.3.6"),
]


@pytest.mark.parametrize(("version", "has_legacy"), LEGACY_TOKEN_CASES)
def test_legacy_token_below_tgi_2_1(version: str, has_legacy: bool) -> None:
    environment = plan(tgi={"version": version}).container_environment()

    assert ("HUGGING_FACE_HUB_TOKEN" in environment) is has_legacy
    assert environment["HF_TOKEN"] == "****"


def test_legacy_token_masked_by_default() -> None:
    environment = plan(tgi={"version": "2.0.2"}).container_environment()

    assert environment["HUGGING_FACE_HUB_TOKEN"] == "****"


def test_token_reference_format() -> None:
    assert token_reference(SECRET) == (
        "{{resolve:secretsmanager:hugging-face/hub-token:SecretString:::}}"
    )


def test_token_variables_get_reference() -> None:
    reference = token_reference(SECRET)
    environment = plan(tgi={"version": "2.0.2"}).container_environment(reference)

    assert environment["HF_TOKEN"] == reference
    assert environment["HUGGING_FACE_HUB_TOKEN"] == reference


def test_no_token_without_secret() -> None:
    facts = {
        "parameters": 7_000_000_000,
        "layers": 32,
        "attention_heads": 32,
        "kv_heads": 8,
        "head_dim": 128,
        "context_length": 8192,
        "gated": False,
        "min_tgi_version": "2.0.0",
        "prompt_family": "mistral-instruct",
    }
    deployment = plan(
        model={"id": "example-org/open-model", "facts": facts, "hf_token_secret": None},
        tgi={"version": "2.0.2"},
    )
    environment = deployment.container_environment("unused")

    assert "HF_TOKEN" not in environment
    assert "HUGGING_FACE_HUB_TOKEN" not in environment


# The derived timeout is max(600, min(3600, int(300 + parameters x 2 bytes / 100 MB/s))).
DERIVED_TIMEOUT_CASES = [
    # 300 + 7,241,732,096 x 2 / 10^8 = 444.8 s, raised to the 600 s floor.
    pytest.param(MISTRAL_7B, "ml.g5.2xlarge", 600, id="mistral-7b"),
    # 300 + 13,015,864,320 x 2 / 10^8 = 560.3 s, raised to the 600 s floor.
    pytest.param("meta-llama/Llama-2-13b-chat-hf", "ml.g5.12xlarge", 600, id="llama-2-13b"),
    # 300 + 68,976,648,192 x 2 / 10^8 = 1679.5 s.
    pytest.param("meta-llama/Llama-2-70b-chat-hf", "ml.g5.48xlarge", 1679, id="llama-2-70b"),
]


@pytest.mark.parametrize(("model_id", "instance_type", "expected"), DERIVED_TIMEOUT_CASES)
def test_derived_startup_timeout(model_id: str, instance_type: str, expected: int) -> None:
    deployment = plan(model={"id": model_id}, endpoint={"instance_type": instance_type})

    assert deployment.startup_health_check_timeout_s == expected


@pytest.mark.parametrize(("model_id", "instance_type", "expected"), DERIVED_TIMEOUT_CASES)
def test_derived_download_timeout(model_id: str, instance_type: str, expected: int) -> None:
    deployment = plan(model={"id": model_id}, endpoint={"instance_type": instance_type})

    assert deployment.model_download_timeout_s == expected


def test_configured_timeouts_win() -> None:
    deployment = plan(
        endpoint={"startup_health_check_timeout_s": 900, "model_download_timeout_s": 1200}
    )

    assert deployment.startup_health_check_timeout_s == 900
    assert deployment.model_download_timeout_s == 1200
