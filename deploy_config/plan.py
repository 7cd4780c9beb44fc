"""The resolved deployment: every value the stacks need, derived and validated."""

from __future__ import annotations

from dataclasses import dataclass, field

from deploy_config.catalog import InstanceSpec, facts_for, instance_catalog
from deploy_config.errors import ConfigError, Problem
from deploy_config.settings import DeploymentConfig, ModelFacts
from deploy_config.sizing import MemoryEstimate
from deploy_config.validation import (
    check_capacity,
    check_instance_type,
    check_memory,
    check_quantization,
    check_tgi_version,
    check_timeouts,
    check_token_limits,
    check_token_literals,
    check_token_secret,
    parse_version,
    resolve_image,
    resolve_num_gpus,
)

VARIANT_NAME = "AllTraffic"
# The TGI launcher reads the Hub token from HF_TOKEN since TGI 2.1.0 (TGI pull request
# 2066, merged June 2024). Older launchers read HUGGING_FACE_HUB_TOKEN instead.
TOKEN_ENV = "HF_TOKEN"  # noqa: S105 - a variable name, not a secret
LEGACY_TOKEN_ENV = "HUGGING_FACE_HUB_TOKEN"  # noqa: S105 - a variable name
MASK = "****"

# Starting points for autoscaling, to be tuned with a load test. An LLM replica serves a
# few requests per minute, and a new GPU instance needs about ten minutes to download the
# model and pass its health check, so scale-out waits long enough not to overshoot.
DEFAULT_TARGET_INVOCATIONS_PER_INSTANCE = 20.0
DEFAULT_SCALE_OUT_COOLDOWN_S = 600
DEFAULT_SCALE_IN_COOLDOWN_S = 900

# The derived startup timeout: a fixed part for pulling the image and warming up, plus the
# download of 16-bit weights at an assumed 100 MB/s from the Hub.
# NOTE: an estimate; a slow Hub mirror or a cold region can need more. Set
# endpoint.startup_health_check_timeout_s explicitly when a deploy times out.
STARTUP_FIXED_S = 300
DOWNLOAD_BYTES_PER_S = 100 * 10**6


@dataclass(frozen=True)
class Deployment:
    """A validated deployment of one stage, ready to be turned into CloudFormation."""

    config: DeploymentConfig
    facts: ModelFacts
    instance: InstanceSpec
    image_uri: str
    num_gpus: int
    memory: MemoryEstimate
    warnings: list[Problem] = field(default_factory=list)

    @property
    def stage(self) -> str:
        return self.config.stage

    @property
    def stack_name(self) -> str:
        return stack_name_for(self.config.stage)

    @property
    def endpoint_name(self) -> str:
        return self.config.endpoint.name or f"llm-endpoint-{self.config.stage}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/sagemaker/Endpoints/{self.endpoint_name}"

    @property
    def startup_health_check_timeout_s(self) -> int:
        configured = self.config.endpoint.startup_health_check_timeout_s
        return configured if configured is not None else self._derived_timeout_s()

    @property
    def model_download_timeout_s(self) -> int:
        configured = self.config.endpoint.model_download_timeout_s
        return configured if configured is not None else self._derived_timeout_s()

    @property
    def target_invocations_per_instance(self) -> float:
        target = self.config.autoscaling.target_invocations_per_instance
        return target if target is not None else DEFAULT_TARGET_INVOCATIONS_PER_INSTANCE

    @property
    def scale_in_cooldown_s(self) -> int:
        cooldown = self.config.autoscaling.scale_in_cooldown_s
        return cooldown if cooldown is not None else DEFAULT_SCALE_IN_COOLDOWN_S

    @property
    def scale_out_cooldown_s(self) -> int:
        cooldown = self.config.autoscaling.scale_out_cooldown_s
        return cooldown if cooldown is not None else DEFAULT_SCALE_OUT_COOLDOWN_S

    @property
    def price_per_hour_usd(self) -> float | None:
        price = self.instance.price_per_hour_usd
        return price * self.config.endpoint.initial_instance_count if price is not None else None

    def container_environment(self, token_value: str | None = None) -> dict[str, str]:
        """Build the TGI container's environment; each optional variable only when set.

        ``token_value`` is what ``HF_TOKEN`` is set to when the config names a token secret:
        a CloudFormation dynamic reference in the stack, a mask when printed.
        """
        tgi = self.config.tgi
        model = self.config.model
        # TGI 2.0 renamed --max-input-length to --max-input-tokens; older launchers only
        # read the old variable.
        input_variable = (
            "MAX_INPUT_TOKENS" if parse_version(tgi.version) >= (2, 0, 0) else "MAX_INPUT_LENGTH"
        )
        optional = {
            "HF_MODEL_REVISION": model.revision,
            "MAX_BATCH_PREFILL_TOKENS": tgi.max_batch_prefill_tokens,
            "MAX_BATCH_TOTAL_TOKENS": tgi.max_batch_total_tokens,
            "HF_MODEL_QUANTIZE": model.quantize,
        }
        environment = {
            "HF_MODEL_ID": model.id,
            "SM_NUM_GPUS": str(self.num_gpus),
            input_variable: str(tgi.max_input_tokens),
            "MAX_TOTAL_TOKENS": str(tgi.max_total_tokens),
        }
        environment.update(
            {name: str(value) for name, value in optional.items() if value is not None}
        )
        if model.hf_token_secret is not None:
            token = token_value if token_value is not None else MASK
            environment[TOKEN_ENV] = token
            if parse_version(tgi.version) < (2, 1, 0):
                environment[LEGACY_TOKEN_ENV] = token
        return dict(sorted(environment.items()))

    def _derived_timeout_s(self) -> int:
        download_s = self.facts.parameters * 2 / DOWNLOAD_BYTES_PER_S
        return max(600, min(3600, int(STARTUP_FIXED_S + download_s)))


def stack_name_for(stage: str) -> str:
    """Return the name of a stage's endpoint stack, which the OIDC roles refer to as well."""
    return f"LlmEndpoint-{stage}"


def token_reference(secret: str) -> str:
    """Return the CloudFormation dynamic reference to a secret's whole SecretString.

    CloudFormation resolves it while it deploys, so the token is in neither the template
    nor cdk.out, and the execution role needs no access to the secret.
    """
    return f"{{{{resolve:secretsmanager:{secret}:SecretString:::}}}}"


def plan_deployment(config: DeploymentConfig) -> Deployment:
    """Validate the config against every rule and resolve the values the stacks need.

    Raises ConfigError with every error found; warnings are returned on the deployment.
    """
    # Token literals first, so that a token pasted into model.id is reported as one.
    problems = check_token_literals(config)
    facts = facts_for(config.model)
    if facts is None:
        problems.append(
            Problem(
                "model.facts",
                f"{config.model.id!r} is not in the model catalog; supply model.facts "
                "(parameters, layers, attention_heads, kv_heads, head_dim, context_length, "
                "gated, min_tgi_version, prompt_family) from its config.json and model card",
            )
        )
        raise ConfigError(problems)

    problems += check_token_secret(config, facts)
    problems += check_token_limits(config.tgi, facts)
    problems += check_tgi_version(config.model, config.tgi, facts)
    problems += check_quantization(config.model, facts)
    problems += check_capacity(config.endpoint, config.autoscaling)
    problems += check_timeouts(config.endpoint)
    image_uri, image_problems = resolve_image(config)
    problems += image_problems

    instances = instance_catalog()
    spec, instance_problems = check_instance_type(config.endpoint, instances)
    problems += instance_problems
    num_gpus = memory = None
    if spec is not None:
        num_gpus, gpu_problems = resolve_num_gpus(
            config.tgi, facts, config.endpoint.instance_type, spec
        )
        problems += gpu_problems
    if spec is not None and num_gpus is not None:
        memory, memory_problems = check_memory(config, facts, spec, num_gpus, instances)
        problems += memory_problems

    errors = [problem for problem in problems if problem.level == "error"]
    if errors:
        raise ConfigError(problems)
    assert spec is not None
    assert num_gpus is not None
    assert memory is not None
    assert image_uri
    return Deployment(
        config=config,
        facts=facts,
        instance=spec,
        image_uri=image_uri,
        num_gpus=num_gpus,
        memory=memory,
        warnings=[problem for problem in problems if problem.level == "warning"],
    )
