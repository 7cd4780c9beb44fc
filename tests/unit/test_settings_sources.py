"""Source precedence: init arguments > environment > YAML file > stage profile > defaults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deploy_config import ConfigError, load_config, shipped_stages
from deploy_config.settings import CONFIG_FILE_ENV

WriteConfig = Callable[[dict[str, Any]], Path]


def test_shipped_stages_include_dev_and_prod() -> None:
    assert "dev" in shipped_stages()
    assert "prod" in shipped_stages()


def test_profile_alone_gives_dev_stage() -> None:
    config = load_config()

    assert config.stage == "dev"
    assert config.region == "eu-west-1"
    assert config.endpoint.instance_type == "ml.g5.2xlarge"


def test_defaults_fill_keys_the_profile_omits() -> None:
    config = load_config()

    assert config.model.revision is None
    assert config.tgi.max_batch_total_tokens is None
    assert config.autoscaling.target_invocations_per_instance is None


def test_file_overrides_profile_key_by_key(write_config: WriteConfig) -> None:
    path = write_config({"stage": "prod", "tgi": {"max_total_tokens": 8192}})

    config = load_config(path)

    assert config.tgi.max_total_tokens == 8192
    # Sibling keys of the same section still come from the prod profile.
    assert config.tgi.max_batch_prefill_tokens == 4096
    assert config.endpoint.initial_instance_count == 2


def test_environment_overrides_file(
    write_config: WriteConfig, clean_env: pytest.MonkeyPatch
) -> None:
    path = write_config({"tgi": {"max_total_tokens": 8192}})
    clean_env.setenv("LLM_DEPLOY_TGI__MAX_TOTAL_TOKENS", "6144")

    config = load_config(path)

    assert config.tgi.max_total_tokens == 6144


def test_init_arguments_override_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LLM_DEPLOY_REGION", "us-east-1")

    config = load_config(region="us-west-2")

    assert config.region == "us-west-2"


def test_environment_names_the_config_file(
    write_config: WriteConfig, clean_env: pytest.MonkeyPatch
) -> None:
    path = write_config({"endpoint": {"instance_type": "ml.g5.12xlarge"}})
    clean_env.setenv(CONFIG_FILE_ENV, str(path))

    config = load_config()

    assert config.endpoint.instance_type == "ml.g5.12xlarge"


def test_argument_file_wins_over_environment_file(
    write_config: WriteConfig, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("endpoint:\n  instance_type: ml.g6.xlarge\n", encoding="utf-8")
    clean_env.setenv(CONFIG_FILE_ENV, str(other))
    path = write_config({"endpoint": {"instance_type": "ml.g5.12xlarge"}})

    config = load_config(path)

    assert config.endpoint.instance_type == "ml.g5.12xlarge"


def test_stage_in_environment_selects_profile(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LLM_DEPLOY_STAGE", "prod")

    config = load_config()

    assert config.stage == "prod"
    assert config.logs.keep_on_delete is True


def test_file_for_unshipped_stage_needs_no_profile(write_config: WriteConfig) -> None:
    path = write_config({"stage": "staging", "region": "us-east-1"})

    config = load_config(path)

    assert config.stage == "staging"
    assert config.model.id == "mistralai/Mistral-7B-Instruct-v0.2"


@pytest.mark.parametrize(
    ("values", "expected_line"),
    [
        (
            {"tgi": {"max_total_tokens": "many"}},
            "error: tgi.max_total_tokens: Input should be a valid integer, unable to parse "
            "string as an integer (got 'many')",
        ),
        (
            {"tgi": {"max_input_tokens": 0}},
            "error: tgi.max_input_tokens: Input should be greater than 0 (got 0)",
        ),
        (
            {"endpoint": {"instance_count": 2}},
            "error: endpoint.instance_count: unknown setting; remove it or check its spelling "
            "against the README (got 2)",
        ),
        (
            {"model": {"quantize": "int3"}},
            "error: model.quantize: Input should be 'bitsandbytes', 'bitsandbytes-nf4', "
            "'bitsandbytes-fp4', 'eetq', 'awq', 'gptq' or 'fp8' (got 'int3')",
        ),
        (
            {"account": "12345"},
            "error: account: String should match pattern '^\\d{12}$' (got '12345')",
        ),
    ],
)
def test_invalid_value_names_field_and_value(
    write_config: WriteConfig, values: dict[str, Any], expected_line: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(values))

    assert [str(problem) for problem in raised.value.problems] == [expected_line]


def test_unknown_stage_without_file_lists_shipped_stages() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(stage="qa")

    assert [str(problem) for problem in raised.value.problems] == [
        "error: stage: no profile for stage 'qa'; shipped stages are dev, prod; or name a "
        "config file (CONFIG=PATH for make, -c config=PATH for the CDK CLI)"
    ]


def test_missing_region_names_variable(write_config: WriteConfig) -> None:
    path = write_config({"stage": "staging"})

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert [str(problem) for problem in raised.value.problems] == [
        "error: region: missing; set it in the config file or as the environment variable "
        "LLM_DEPLOY_REGION"
    ]


def test_missing_file_names_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert str(raised.value) == f"error: config file: file not found: {str(path)!r}; check the path"


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("tgi:\n  max_total_tokens: [4096\n", encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert str(raised.value).startswith(
        f"error: config file: invalid YAML in {str(path)!r} at line"
    )


def test_token_in_unknown_key_is_masked(write_config: WriteConfig) -> None:
    token = "hf_" + "a1B2c3D4e5" * 4
    path = write_config({"model": {"hf_token": token}})

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    message = str(raised.value)
    assert token not in message
    assert "hf_****" in message
    assert "Secrets Manager" in message
