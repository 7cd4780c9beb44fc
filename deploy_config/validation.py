"""Deployment rules, checked before any CDK construct exists.

Each rule takes the loaded settings (and the facts it needs) and returns the problems it
finds, so that one run reports every problem instead of the first.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from deploy_config.catalog import InstanceCatalog, InstanceSpec
from deploy_config.errors import (
    HF_TOKEN_PATTERN,
    SECRETS_MANAGER_HINT,
    Problem,
    describe_value,
    mask_secrets,
)
from deploy_config.images import ImageNotFoundError, parse_ecr_image, tgi_image_uri
from deploy_config.settings import (
    AutoscalingSettings,
    DeploymentConfig,
    EndpointSettings,
    ModelFacts,
    ModelSettings,
    Quantization,
    TgiSettings,
)
from deploy_config.sizing import (
    BYTES_PER_PARAMETER,
    MemoryEstimate,
    estimate_memory,
    kv_cache_tokens,
    valid_gpu_counts,
)

# TGI needs room to generate; below this many tokens between the input limit and the total
# limit, most responses are cut off.
MIN_GENERATION_TOKENS = 256
TIMEOUT_RANGE_S = (60, 3600)
MAX_SUGGESTIONS = 5
# A Secrets Manager secret name (letters, digits and /_+=.@-) or a secret ARN.
_SECRET_REFERENCE = re.compile(
    r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+"
    r"|[A-Za-z0-9/_+=.@-]{1,512})$"
)


def parse_version(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@cache
def sagemaker_hosting_instance_types() -> frozenset[str]:
    """Return botocore's ProductionVariantInstanceType enum: the types SageMaker hosts on."""
    # Imported here: botocore's session module costs about 90 ms to import, and only this
    # rule needs it.
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape: Any = model.shape_for("ProductionVariantInstanceType")
    return frozenset(shape.enum)


def check_token_limits(tgi: TgiSettings, facts: ModelFacts) -> list[Problem]:
    """Apply the rules TGI's launcher checks at startup, plus the model's context length."""
    problems = []
    if tgi.max_input_tokens >= tgi.max_total_tokens:
        problems.append(
            Problem(
                "tgi.max_input_tokens",
                f"must be less than tgi.max_total_tokens ({tgi.max_total_tokens}), got "
                f"{tgi.max_input_tokens}; lower it or raise max_total_tokens",
            )
        )
    prefill = tgi.max_batch_prefill_tokens
    batch_total = tgi.max_batch_total_tokens
    if prefill is not None and prefill < tgi.max_input_tokens:
        problems.append(
            Problem(
                "tgi.max_batch_prefill_tokens",
                f"must be at least tgi.max_input_tokens ({tgi.max_input_tokens}), got {prefill}",
            )
        )
    if prefill is not None and batch_total is not None and prefill > batch_total:
        problems.append(
            Problem(
                "tgi.max_batch_prefill_tokens",
                f"must be at most tgi.max_batch_total_tokens ({batch_total}), got {prefill}",
            )
        )
    if batch_total is not None and batch_total < tgi.max_total_tokens:
        problems.append(
            Problem(
                "tgi.max_batch_total_tokens",
                f"must be at least tgi.max_total_tokens ({tgi.max_total_tokens}), "
                f"got {batch_total}",
            )
        )
    if tgi.max_total_tokens > facts.context_length:
        problems.append(
            Problem(
                "tgi.max_total_tokens",
                f"exceeds the model's context length of {facts.context_length} tokens, got "
                f"{tgi.max_total_tokens}; set it to {facts.context_length} or less",
            )
        )
    generation_budget = tgi.max_total_tokens - tgi.max_input_tokens
    if 0 < generation_budget < MIN_GENERATION_TOKENS:
        problems.append(
            Problem(
                "tgi.max_total_tokens",
                f"leaves only {generation_budget} tokens to generate after "
                f"{tgi.max_input_tokens} input tokens; most answers need {MIN_GENERATION_TOKENS} "
                "or more",
                level="warning",
            )
        )
    return problems


def check_tgi_version(model: ModelSettings, tgi: TgiSettings, facts: ModelFacts) -> list[Problem]:
    if parse_version(tgi.version) >= parse_version(facts.min_tgi_version):
        return []
    return [
        Problem(
            "tgi.version",
            f"{model.id} needs TGI {facts.min_tgi_version} or later, got {tgi.version}; "
            f"raise tgi.version",
        )
    ]


def resolve_image(config: DeploymentConfig) -> tuple[str | None, list[Problem]]:
    """Return the image URI (the override, or the SDK's image for the version and region)."""
    if config.tgi.image_uri is not None:
        if parse_ecr_image(config.tgi.image_uri) is None:
            return None, [
                Problem(
                    "tgi.image_uri",
                    f"must be an Amazon ECR image URI such as "
                    f"'<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>', got "
                    f"{describe_value(config.tgi.image_uri)}",
                )
            ]
        return config.tgi.image_uri, []
    try:
        return tgi_image_uri(config.tgi.version, config.region), []
    except ImageNotFoundError as error:
        field = "region" if "region" in str(error) else "tgi.version"
        return None, [Problem(field, f"{error}; pick another, or set tgi.image_uri")]


def check_instance_type(
    endpoint: EndpointSettings, instances: InstanceCatalog
) -> tuple[InstanceSpec | None, list[Problem]]:
    instance_type = endpoint.instance_type
    spec = instances.instances.get(instance_type)
    # Catalog types are hosting types (a test checks them against botocore's enum), so
    # botocore's SageMaker model, about 85 ms to load, is read only for other types.
    if spec is None and instance_type not in sagemaker_hosting_instance_types():
        close = difflib.get_close_matches(instance_type, list(instances.instances), n=3)
        suggestion = (
            f"did you mean one of {', '.join(close)}?"
            if close
            else f"choose a GPU type such as {_cheapest_names(instances)}"
        )
        return None, [
            Problem(
                "endpoint.instance_type",
                f"{instance_type!r} is not a SageMaker hosting instance type; {suggestion}",
            )
        ]
    if spec is None:
        return None, [
            Problem(
                "endpoint.instance_type",
                f"{instance_type!r} has no GPU this package can size; choose a GPU type such as "
                f"{_cheapest_names(instances)}",
            )
        ]
    problems = []
    if endpoint.volume_size_gb is not None and spec.instance_storage:
        problems.append(
            Problem(
                "endpoint.volume_size_gb",
                f"{instance_type} uses its local NVMe instance storage and SageMaker rejects a "
                f"volume size for it, got {endpoint.volume_size_gb}; remove the setting",
            )
        )
    return spec, problems


def resolve_num_gpus(
    tgi: TgiSettings, facts: ModelFacts, instance_type: str, spec: InstanceSpec
) -> tuple[int | None, list[Problem]]:
    """Return the tensor-parallel degree: the configured one, or every GPU of the instance."""
    num_gpus = tgi.num_gpus if tgi.num_gpus is not None else spec.gpus
    choices = valid_gpu_counts(facts, spec.gpus)
    if 1 <= num_gpus <= spec.gpus and num_gpus in choices:
        return num_gpus, []
    if not 1 <= num_gpus <= spec.gpus:
        reason = f"must be from 1 to {spec.gpus}, the GPU count of {instance_type}, got {num_gpus}"
    else:
        origin = "" if tgi.num_gpus is not None else f" (every GPU of {instance_type})"
        reason = (
            f"{num_gpus}{origin} does not divide both the {facts.attention_heads} attention "
            f"heads and the {facts.kv_heads} KV heads"
        )
    return None, [
        Problem(
            "tgi.num_gpus",
            f"{reason}; set it to one of {', '.join(str(count) for count in choices)}",
        )
    ]


def check_memory(
    config: DeploymentConfig,
    facts: ModelFacts,
    spec: InstanceSpec,
    num_gpus: int,
    instances: InstanceCatalog,
) -> tuple[MemoryEstimate, list[Problem]]:
    """Estimate GPU memory and, when it does not fit, suggest instance types and quantization."""
    kv_tokens = kv_cache_tokens(config.tgi)
    quantize = config.model.quantize
    estimate = estimate_memory(facts, quantize, kv_tokens, num_gpus, spec.gpu_memory_gib)
    if estimate.fits:
        return estimate, []

    fitting_types = []
    for name, candidate in instances.by_price():
        counts = valid_gpu_counts(facts, candidate.gpus)
        candidate_estimate = estimate_memory(
            facts, quantize, kv_tokens, counts[-1], candidate.gpu_memory_gib
        )
        if candidate_estimate.fits:
            price = (
                f"${candidate.price_per_hour_usd:.2f}/h"
                if candidate.price_per_hour_usd is not None
                else "price unknown"
            )
            fitting_types.append(f"{name} ({price})")
        if len(fitting_types) == MAX_SUGGESTIONS:
            break
    fitting_quantizations = [
        option
        for option in usable_quantizations(facts)
        if BYTES_PER_PARAMETER[option] < BYTES_PER_PARAMETER[quantize]
        and estimate_memory(facts, option, kv_tokens, num_gpus, spec.gpu_memory_gib).fits
    ]
    advice = []
    if fitting_types:
        advice.append(f"instance types that fit, cheapest first: {', '.join(fitting_types)}")
    if fitting_quantizations:
        advice.append(
            f"or keep {config.endpoint.instance_type} with model.quantize set to one of "
            f"{', '.join(fitting_quantizations)}"
        )
    if not advice:
        advice.append("no catalog instance type fits; lower tgi.max_batch_total_tokens")
    return estimate, [
        Problem(
            "endpoint.instance_type",
            f"{config.model.id} does not fit {config.endpoint.instance_type}: "
            f"{estimate.describe()}; {'; '.join(advice)}",
        )
    ]


def usable_quantizations(facts: ModelFacts) -> list[Quantization]:
    """List the quantization options that load this checkpoint, largest weights first.

    AWQ and GPTQ load only checkpoints that were quantized with that method ahead of time.
    """
    options: list[Quantization] = ["bitsandbytes", "eetq", "fp8", "bitsandbytes-nf4"]
    if facts.checkpoint_quantization is not None:
        options.append(facts.checkpoint_quantization)
    return options


def check_quantization(model: ModelSettings, facts: ModelFacts) -> list[Problem]:
    if model.quantize in ("awq", "gptq") and facts.checkpoint_quantization != model.quantize:
        return [
            Problem(
                "model.quantize",
                f"{model.quantize!r} loads only a checkpoint quantized with "
                f"{model.quantize.upper()}, and {model.id} is not one; use bitsandbytes-nf4 or "
                "eetq, or a pre-quantized model",
            )
        ]
    return []


def check_token_literals(config: DeploymentConfig) -> list[Problem]:
    """Reject a Hugging Face token pasted into any setting."""
    return [
        Problem(
            path,
            f"looks like a Hugging Face token ({describe_value(value)}); {SECRETS_MANAGER_HINT}",
        )
        for path, value in _string_values(config.model_dump(exclude={"model": {"facts"}}))
        if HF_TOKEN_PATTERN.search(value)
    ]


def check_token_secret(config: DeploymentConfig, facts: ModelFacts) -> list[Problem]:
    """Require a token secret for gated models, given as a secret name or ARN."""
    problems = []
    secret = config.model.hf_token_secret
    if facts.gated and secret is None:
        problems.append(
            Problem(
                "model.hf_token_secret",
                f"{config.model.id} is gated on the Hugging Face Hub, so TGI needs a token to "
                "download it; store one in AWS Secrets Manager and set this to the secret's name "
                "or ARN",
            )
        )
    elif (
        secret is not None
        and not HF_TOKEN_PATTERN.search(secret)
        and not _SECRET_REFERENCE.match(secret)
    ):
        problems.append(
            Problem(
                "model.hf_token_secret",
                f"must be a Secrets Manager secret name or ARN, got {describe_value(secret)}",
            )
        )
    return problems


def check_capacity(endpoint: EndpointSettings, autoscaling: AutoscalingSettings) -> list[Problem]:
    problems = []
    initial = endpoint.initial_instance_count
    if autoscaling.min_capacity > initial:
        problems.append(
            Problem(
                "autoscaling.min_capacity",
                f"must be at most endpoint.initial_instance_count ({initial}), got "
                f"{autoscaling.min_capacity}",
            )
        )
    if autoscaling.max_capacity < initial:
        problems.append(
            Problem(
                "autoscaling.max_capacity",
                f"must be at least endpoint.initial_instance_count ({initial}), got "
                f"{autoscaling.max_capacity}",
            )
        )
    return problems


def check_timeouts(endpoint: EndpointSettings) -> list[Problem]:
    low, high = TIMEOUT_RANGE_S
    problems = []
    for name in ("startup_health_check_timeout_s", "model_download_timeout_s"):
        value = getattr(endpoint, name)
        if value is not None and not low <= value <= high:
            problems.append(
                Problem(
                    f"endpoint.{name}",
                    f"must be from {low} to {high} seconds, got {value}",
                )
            )
    return problems


def _string_values(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            name = mask_secrets(str(key))
            child = f"{path}.{name}" if path else name
            # A token pasted as a key (for example under tags) is found too.
            if HF_TOKEN_PATTERN.search(str(key)):
                yield child, str(key)
            yield from _string_values(item, child)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _string_values(item, f"{path}.{index}")


def _cheapest_names(instances: InstanceCatalog) -> str:
    return ", ".join(name for name, _ in instances.by_price()[:MAX_SUGGESTIONS])
