"""Deployment settings and the sources they are read from.

Sources, highest precedence first:

1. keyword arguments to :func:`load_config` (the CDK app passes none today),
2. environment variables with the ``LLM_DEPLOY_`` prefix, nested with ``__``
   (``LLM_DEPLOY_TGI__MAX_TOTAL_TOKENS=8192``),
3. a YAML file: ``config_file`` of :func:`load_config` (``-c config=PATH`` in the CDK app)
   or, when that is not given, the path in ``LLM_DEPLOY_CONFIG_FILE``,
4. the stage profile shipped in ``deploy_config/profiles/<stage>.yaml``,
5. the defaults declared below.

Nested sections merge key by key, so a YAML file that sets only ``tgi.max_total_tokens``
keeps every other ``tgi`` key of the profile.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from deploy_config.errors import ConfigError, Problem, problems_from_validation_error

ENV_PREFIX = "LLM_DEPLOY_"
CONFIG_FILE_ENV = f"{ENV_PREFIX}CONFIG_FILE"
PROFILES_DIR = Path(__file__).parent / "profiles"
DEFAULT_STAGE = "dev"

# TGI's `--quantize` choices that load a checkpoint stored in 16-bit weights or in the named
# pre-quantized format. TGI 3.x also has `marlin`, `exl2` and `compressed-tensors`, which need
# checkpoints this package has no sizing rules for.
Quantization = Literal[
    "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4", "eetq", "awq", "gptq", "fp8"
]
PromptFamily = Literal["mistral-instruct", "llama2-chat"]

# libyaml's loader, where PyYAML was built with it, reads the catalogs several times faster
# than the pure-Python one, which matters at every synth.
YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The config file path for the load in progress. A context variable rather than a class
# attribute, so that two threads can load different files at once.
_config_file: ContextVar[Path | None] = ContextVar("config_file", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelFacts(_Section):
    """Architecture facts of a model outside the catalog; the same facts the catalog keeps."""

    parameters: PositiveInt
    layers: PositiveInt
    attention_heads: PositiveInt
    kv_heads: PositiveInt
    head_dim: PositiveInt
    context_length: PositiveInt
    gated: bool
    min_tgi_version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    prompt_family: PromptFamily
    # The format the checkpoint's weights are stored in; `awq` and `gptq` need a checkpoint
    # that was quantized with that method.
    checkpoint_quantization: Literal["awq", "gptq"] | None = None


class ModelSettings(_Section):
    id: str = Field(default="mistralai/Mistral-7B-Instruct-v0.2", min_length=1)
    revision: str | None = None
    quantize: Quantization | None = None
    hf_token_secret: str | None = Field(
        default=None,
        description="Secrets Manager secret name or ARN whose SecretString is the Hub token.",
    )
    facts: ModelFacts | None = None


class TgiSettings(_Section):
    version: str = Field(default="3.3.6", pattern=r"^\d+\.\d+\.\d+$")
    image_uri: str | None = None
    max_input_tokens: PositiveInt = 3072
    max_total_tokens: PositiveInt = 4096
    max_batch_prefill_tokens: PositiveInt | None = None
    max_batch_total_tokens: PositiveInt | None = None
    num_gpus: int | None = None


class EndpointSettings(_Section):
    name: str | None = Field(default=None, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    instance_type: str = "ml.g5.2xlarge"
    initial_instance_count: PositiveInt = 1
    startup_health_check_timeout_s: int | None = None
    model_download_timeout_s: int | None = None
    volume_size_gb: int | None = Field(default=None, ge=1, le=512)


class AutoscalingSettings(_Section):
    # Off for the deploy that changes a stage's instance type, because SageMaker rejects
    # that update while the variant is registered with Application Auto Scaling.
    enabled: bool = True
    min_capacity: PositiveInt = 1
    max_capacity: PositiveInt = 2
    target_invocations_per_instance: float | None = Field(default=None, gt=0)
    scale_in_cooldown_s: int | None = Field(default=None, ge=0)
    scale_out_cooldown_s: int | None = Field(default=None, ge=0)


class LogSettings(_Section):
    retention_days: Literal[
        1,
        3,
        5,
        7,
        14,
        30,
        60,
        90,
        120,
        150,
        180,
        365,
        400,
        545,
        731,
        1096,
        1827,
        2192,
        2557,
        2922,
        3288,
        3653,
    ] = 30
    # Keep the endpoint's log group when the stack is deleted, for stages whose logs are
    # records (prod). Dev removes it, so that a redeploy starts clean.
    keep_on_delete: bool = False


class SmokeTestSettings(_Section):
    # A deploy whose endpoint fails the checks is rolled back by CloudFormation.
    deploy_check: bool = True
    # A scheduled Lambda that runs the same checks and feeds a CloudWatch alarm.
    canary: bool = True
    canary_rate_minutes: int = Field(default=15, ge=1, le=1440)
    # The address that the alarm topic sends to; AWS sends it a confirmation mail first.
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DeploymentConfig(BaseSettings):
    """The whole deployment of one stage: model, TGI limits, instance and scaling."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    stage: str = Field(default=DEFAULT_STAGE, pattern=r"^[a-z][a-z0-9-]{0,19}$")
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    model: ModelSettings = ModelSettings()
    tgi: TgiSettings = TgiSettings()
    endpoint: EndpointSettings = EndpointSettings()
    autoscaling: AutoscalingSettings = AutoscalingSettings()
    logs: LogSettings = LogSettings()
    smoke_test: SmokeTestSettings = SmokeTestSettings()
    tags: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = _config_file.get()
        if config_file is None and os.environ.get(CONFIG_FILE_ENV):
            config_file = Path(os.environ[CONFIG_FILE_ENV])
        file_values = _read_yaml(config_file, "config file") if config_file else {}

        stage = (
            init_settings().get("stage")
            or env_settings().get("stage")
            or file_values.get("stage")
            or DEFAULT_STAGE
        )
        profile_values = _read_profile(str(stage), required=config_file is None)
        return (
            init_settings,
            env_settings,
            _DictSource(settings_cls, file_values),
            _DictSource(settings_cls, profile_values),
        )


class _DictSource(PydanticBaseSettingsSource):
    """A settings source over values that were already read, so each file is read once."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


def shipped_stages() -> list[str]:
    """List the stages that have a profile in this repository."""
    return sorted(path.stem for path in PROFILES_DIR.glob("*.yaml"))


def _read_profile(stage: str, *, required: bool) -> dict[str, Any]:
    path = PROFILES_DIR / f"{stage}.yaml"
    if path.is_file():
        return _read_yaml(path, "stage profile")
    if required:
        raise ConfigError(
            [
                Problem(
                    "stage",
                    f"no profile for stage {stage!r}; shipped stages are "
                    f"{', '.join(shipped_stages())}; or name a config file (CONFIG=PATH for make, "
                    "-c config=PATH for the CDK CLI)",
                )
            ]
        )
    return {}


def _read_yaml(path: Path, kind: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [Problem(kind, f"file not found: {str(path)!r}; check the path")]
        ) from None
    except OSError as error:
        raise ConfigError([Problem(kind, f"cannot read {str(path)!r}: {error.strerror}")]) from None
    try:
        values = yaml.load(text, Loader=YamlLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            [Problem(kind, f"invalid YAML in {str(path)!r}{where}; fix the syntax")]
        ) from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(
            [
                Problem(
                    kind,
                    f"{str(path)!r} must contain a mapping of settings, not a "
                    f"{type(values).__name__}",
                )
            ]
        )
    return values


def load_config(config_file: str | Path | None = None, **overrides: Any) -> DeploymentConfig:
    """Read the deployment settings from every source, in the precedence of this module.

    Raises ConfigError, with one problem per invalid field, when a file is missing or a
    value has the wrong type. Deployment rules (token limits, GPU memory) are checked
    later, by :func:`deploy_config.plan.plan_deployment`.
    """
    path = Path(config_file) if config_file is not None else None
    token = _config_file.set(path)
    try:
        return DeploymentConfig(**overrides)
    except ValidationError as error:
        raise ConfigError(problems_from_validation_error(error)) from None
    finally:
        _config_file.reset(token)
