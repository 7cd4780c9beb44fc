"""Deployment rules of deploy_config.validation, checked through plan_deployment.

Each case overrides the dev profile (Mistral-7B-Instruct-v0.2, TGI 3.3.6, ml.g5.2xlarge in
eu-west-1, token secret set) and compares every problem line that planning reports.
"""

from __future__ import annotations

from typing import Any

import pytest

from deploy_config import ConfigError, load_config, plan_deployment
from deploy_config.catalog import instance_catalog
from deploy_config.images import tgi_versions
from deploy_config.validation import sagemaker_hosting_instance_types

MISTRAL_7B = "mistralai/Mistral-7B-Instruct-v0.2"
LLAMA_2_7B = "meta-llama/Llama-2-7b-chat-hf"
LLAMA_2_13B = "meta-llama/Llama-2-13b-chat-hf"
LLAMA_2_70B = "meta-llama/Llama-2-70b-chat-hf"

# A fake Hugging Face user access token: "hf_" and 34 letters.
FAKE_TOKEN = "hf_" + "abcdefghij" * 3 + "wxyz"
MASKED_TOKEN = "hf_****"
TOKEN_HINT = (
    "store the token in AWS Secrets Manager and set model.hf_token_secret to the "
    "secret's name or ARN"
)


def custom_facts(**changes: Any) -> dict[str, Any]:
    """Return model.facts for a 7B model outside the catalog, with the given changes."""
    facts: dict[str, Any] = {
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
    facts.update(changes)
    return facts


def problem_lines(**overrides: Any) -> list[str]:
    """Plan the dev profile with overrides and return every problem line, or [] if none."""
    try:
        plan_deployment(load_config(None, **overrides))
    except ConfigError as error:
        return [str(problem) for problem in error.problems]
    return []


TOKEN_LIMIT_CASES = [
    pytest.param(
        {"tgi": {"max_total_tokens": 3000}},
        [
            "error: tgi.max_input_tokens: must be less than tgi.max_total_tokens (3000), got "
            "3072; lower it or raise max_total_tokens"
        ],
        id="input-above-total",
    ),
    pytest.param(
        {"tgi": {"max_input_tokens": 4096, "max_total_tokens": 4096}},
        [
            "error: tgi.max_input_tokens: must be less than tgi.max_total_tokens (4096), got "
            "4096; lower it or raise max_total_tokens"
        ],
        id="input-equal-to-total",
    ),
    pytest.param(
        {"tgi": {"max_batch_prefill_tokens": 1000}},
        [
            "error: tgi.max_batch_prefill_tokens: must be at least tgi.max_input_tokens "
            "(3072), got 1000"
        ],
        id="prefill-below-input",
    ),
    pytest.param(
        {"tgi": {"max_batch_prefill_tokens": 5000, "max_batch_total_tokens": 4096}},
        [
            "error: tgi.max_batch_prefill_tokens: must be at most "
            "tgi.max_batch_total_tokens (4096), got 5000"
        ],
        id="prefill-above-batch-total",
    ),
    pytest.param(
        {"tgi": {"max_batch_total_tokens": 4000}},
        [
            "error: tgi.max_batch_total_tokens: must be at least tgi.max_total_tokens (4096), "
            "got 4000"
        ],
        id="batch-total-below-total",
    ),
    pytest.param(
        {"model": {"id": LLAMA_2_7B}, "tgi": {"max_total_tokens": 8192}},
        [
            "error: tgi.max_total_tokens: exceeds the model's context length of 4096 tokens, "
            "got 8192; set it to 4096 or less"
        ],
        id="total-above-llama-2-context",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), TOKEN_LIMIT_CASES)
def test_token_limits_reject(overrides: dict[str, Any], expected: list[str]) -> None:
    assert problem_lines(**overrides) == expected


def test_short_generation_budget_warns() -> None:
    deployment = plan_deployment(load_config(None, tgi={"max_input_tokens": 4000}))

    assert [str(warning) for warning in deployment.warnings] == [
        "warning: tgi.max_total_tokens: leaves only 96 tokens to generate after 4000 input "
        "tokens; most answers need 256 or more"
    ]
    assert deployment.warnings[0].level == "warning"


def test_generation_budget_of_256_passes() -> None:
    deployment = plan_deployment(load_config(None, tgi={"max_input_tokens": 3840}))

    assert deployment.warnings == []


def test_warning_reported_beside_errors() -> None:
    lines = problem_lines(tgi={"max_input_tokens": 4000}, autoscaling={"min_capacity": 3})

    assert lines == [
        "warning: tgi.max_total_tokens: leaves only 96 tokens to generate after 4000 input "
        "tokens; most answers need 256 or more",
        "error: autoscaling.min_capacity: must be at most endpoint.initial_instance_count "
        "(1), got 3",
    ]


def test_tgi_version_below_model_minimum() -> None:
    # TGI 1.0.3 has a SageMaker image, so the minimum version is the only problem.
    assert problem_lines(tgi={"version": "1.0.3"}) == [
        f"error: tgi.version: {MISTRAL_7B} needs TGI 1.1.0 or later, got 1.0.3; raise tgi.version"
    ]


GPU_COUNT_CASES = [
    pytest.param(
        {
            "model": {"id": LLAMA_2_13B},
            "tgi": {"num_gpus": 3},
            "endpoint": {"instance_type": "ml.g5.12xlarge"},
        },
        [
            "error: tgi.num_gpus: 3 does not divide both the 40 attention heads and the 40 KV "
            "heads; set it to one of 1, 2, 4"
        ],
        id="three-gpus-for-40-heads",
    ),
    pytest.param(
        {"tgi": {"num_gpus": 0}},
        [
            "error: tgi.num_gpus: must be from 1 to 1, the GPU count of ml.g5.2xlarge, got 0; "
            "set it to one of 1"
        ],
        id="zero-gpus",
    ),
    pytest.param(
        {
            "model": {"id": LLAMA_2_13B},
            "tgi": {"num_gpus": 5},
            "endpoint": {"instance_type": "ml.g5.12xlarge"},
        },
        [
            "error: tgi.num_gpus: must be from 1 to 4, the GPU count of ml.g5.12xlarge, got 5; "
            "set it to one of 1, 2, 4"
        ],
        id="more-gpus-than-instance",
    ),
    pytest.param(
        {
            "model": {"id": "example-org/two-kv-heads", "facts": custom_facts(kv_heads=2)},
            "tgi": {"num_gpus": 4},
            "endpoint": {"instance_type": "ml.g5.12xlarge"},
        },
        [
            "error: tgi.num_gpus: 4 does not divide both the 32 attention heads and the 2 KV "
            "heads; set it to one of 1, 2"
        ],
        id="kv-heads-limit-gpus",
    ),
    pytest.param(
        {
            "model": {
                "id": "example-org/28-heads",
                "facts": custom_facts(attention_heads=28, kv_heads=4),
            },
            "endpoint": {"instance_type": "ml.g5.48xlarge"},
        },
        [
            "error: tgi.num_gpus: 8 (every GPU of ml.g5.48xlarge) does not divide both the 28 "
            "attention heads and the 4 KV heads; set it to one of 1, 2, 4"
        ],
        id="default-all-gpus-not-divisor",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), GPU_COUNT_CASES)
def test_num_gpus_rejects(overrides: dict[str, Any], expected: list[str]) -> None:
    assert problem_lines(**overrides) == expected


MEMORY_CASES = [
    pytest.param(
        {"model": {"id": LLAMA_2_70B}},
        [
            f"error: endpoint.instance_type: {LLAMA_2_70B} does not fit ml.g5.2xlarge: "
            "estimated 131.7 GiB (weights 128.5, KV cache 1.2 for 4096 tokens, overhead 2.0) "
            "against 24.0 GiB on 1 GPU; instance types that fit, cheapest first: "
            "ml.g6.48xlarge ($16.69/h), ml.g5.48xlarge ($20.36/h), ml.p4d.24xlarge "
            "($37.69/h), ml.p5.48xlarge ($113.07/h), ml.g6e.12xlarge (price unknown)"
        ],
        id="llama-2-70b-on-g5-2xlarge",
    ),
    pytest.param(
        {"model": {"id": LLAMA_2_13B}},
        [
            f"error: endpoint.instance_type: {LLAMA_2_13B} does not fit ml.g5.2xlarge: "
            "estimated 29.4 GiB (weights 24.2, KV cache 3.1 for 4096 tokens, overhead 2.0) "
            "against 24.0 GiB on 1 GPU; instance types that fit, cheapest first: "
            "ml.g4dn.12xlarge ($4.89/h), ml.g6.12xlarge ($5.75/h), ml.g5.12xlarge ($7.09/h), "
            "ml.g6.24xlarge ($8.34/h), ml.g5.24xlarge ($10.18/h); or keep ml.g5.2xlarge with "
            "model.quantize set to one of bitsandbytes, eetq, fp8, bitsandbytes-nf4"
        ],
        id="llama-2-13b-suggests-quantization",
    ),
    pytest.param(
        {
            "model": {"id": LLAMA_2_70B},
            "tgi": {"max_batch_total_tokens": 4_000_000},
            "endpoint": {"instance_type": "ml.g5.48xlarge"},
        },
        [
            f"error: endpoint.instance_type: {LLAMA_2_70B} does not fit ml.g5.48xlarge: "
            "estimated 1365.2 GiB (weights 128.5, KV cache 1220.7 for 4000000 tokens, "
            "overhead 16.0) against 192.0 GiB on 8 GPUs; no catalog instance type fits; lower "
            "tgi.max_batch_total_tokens"
        ],
        id="nothing-fits",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), MEMORY_CASES)
def test_gpu_memory_rejects(overrides: dict[str, Any], expected: list[str]) -> None:
    assert problem_lines(**overrides) == expected


TOKEN_SETTING_CASES = [
    pytest.param(
        {"model": {"hf_token_secret": None}},
        [
            f"error: model.hf_token_secret: {MISTRAL_7B} is gated on the Hugging Face Hub, so "
            "TGI needs a token to download it; store one in AWS Secrets Manager and set this "
            "to the secret's name or ARN"
        ],
        id="gated-without-secret",
    ),
    pytest.param(
        {"model": {"hf_token_secret": FAKE_TOKEN}},
        [
            f"error: model.hf_token_secret: looks like a Hugging Face token ('{MASKED_TOKEN}'); "
            f"{TOKEN_HINT}"
        ],
        id="token-as-secret-name",
    ),
    pytest.param(
        {"tags": {"owner": FAKE_TOKEN}},
        [f"error: tags.owner: looks like a Hugging Face token ('{MASKED_TOKEN}'); {TOKEN_HINT}"],
        id="token-in-tag-value",
    ),
    pytest.param(
        {"tags": {FAKE_TOKEN: "owner"}},
        [
            f"error: tags.{MASKED_TOKEN}: looks like a Hugging Face token ('{MASKED_TOKEN}'); "
            f"{TOKEN_HINT}"
        ],
        id="token-as-tag-key",
    ),
    pytest.param(
        {"tgi": {"image_uri": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/tgi:{FAKE_TOKEN}"}},
        [
            "error: tgi.image_uri: looks like a Hugging Face token "
            f"('123456789012.dkr.ecr.eu-west-1.amazonaws.com/tgi:{MASKED_TOKEN}'); {TOKEN_HINT}"
        ],
        id="token-in-image-uri",
    ),
    pytest.param(
        {"model": {"revision": FAKE_TOKEN}},
        [
            f"error: model.revision: looks like a Hugging Face token ('{MASKED_TOKEN}'); "
            f"{TOKEN_HINT}"
        ],
        id="token-as-revision",
    ),
    pytest.param(
        {"model": {"hf_token_secret": "hub token!"}},
        [
            "error: model.hf_token_secret: must be a Secrets Manager secret name or ARN, got "
            "'hub token!'"
        ],
        id="secret-name-with-space",
    ),
    pytest.param(
        {"model": {"hf_token_secret": ""}},
        ["error: model.hf_token_secret: must be a Secrets Manager secret name or ARN, got ''"],
        id="empty-secret-name",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), TOKEN_SETTING_CASES)
def test_token_settings_reject(overrides: dict[str, Any], expected: list[str]) -> None:
    assert problem_lines(**overrides) == expected


# Places where a token can be pasted. Each must be reported masked, with the Secrets
# Manager hint.
TOKEN_PLACEMENTS = [
    pytest.param({"tags": {"owner": FAKE_TOKEN}}, id="tag-value"),
    pytest.param({"tags": {FAKE_TOKEN: "owner"}}, id="tag-key"),
    pytest.param({"model": {"hf_token_secret": FAKE_TOKEN}}, id="secret-name"),
    pytest.param({"model": {"revision": FAKE_TOKEN}}, id="revision"),
    pytest.param({"tgi": {"image_uri": f"ghcr.io/tgi:{FAKE_TOKEN}"}}, id="non-ecr-image-uri"),
    pytest.param({"endpoint": {"name": FAKE_TOKEN}}, id="endpoint-name"),
]


@pytest.mark.parametrize("overrides", TOKEN_PLACEMENTS)
def test_token_literal_is_masked(overrides: dict[str, Any]) -> None:
    text = "\n".join(problem_lines(**overrides))

    assert FAKE_TOKEN not in text
    assert MASKED_TOKEN in text
    assert "Secrets Manager" in text


# A token in these settings is also quoted by a second message, which must mask it too.
TOKEN_LEAKS = [
    pytest.param({"model": {"id": FAKE_TOKEN}}, id="model-id-not-in-catalog"),
    pytest.param({"endpoint": {"instance_type": FAKE_TOKEN}}, id="instance-type"),
    pytest.param(
        {"model": {"id": f"org/{FAKE_TOKEN}", "facts": custom_facts(), "quantize": "awq"}},
        id="model-id-with-facts",
    ),
]


@pytest.mark.parametrize("overrides", TOKEN_LEAKS)
def test_token_never_in_messages(overrides: dict[str, Any]) -> None:
    text = "\n".join(problem_lines(**overrides))

    assert FAKE_TOKEN not in text


INSTANCE_AND_IMAGE_CASES = [
    pytest.param(
        {"endpoint": {"instance_type": "ml.g5.3xlarge"}},
        [
            "error: endpoint.instance_type: 'ml.g5.3xlarge' is not a SageMaker hosting "
            "instance type; did you mean one of ml.g5.xlarge, ml.g5.8xlarge, ml.g5.4xlarge?"
        ],
        id="not-a-hosting-type",
    ),
    pytest.param(
        {"endpoint": {"instance_type": "large-gpu"}},
        [
            "error: endpoint.instance_type: 'large-gpu' is not a SageMaker hosting "
            "instance type; choose a GPU type such as ml.g4dn.xlarge, ml.g4dn.2xlarge, "
            "ml.g6.2xlarge, ml.g5.xlarge, ml.g4dn.4xlarge"
        ],
        id="not-a-hosting-type-no-close-match",
    ),
    pytest.param(
        {"endpoint": {"instance_type": "ml.m5.xlarge"}},
        [
            "error: endpoint.instance_type: 'ml.m5.xlarge' has no GPU this package can size; "
            "choose a GPU type such as ml.g4dn.xlarge, ml.g4dn.2xlarge, ml.g6.2xlarge, "
            "ml.g5.xlarge, ml.g4dn.4xlarge"
        ],
        id="hosting-type-without-gpu",
    ),
    pytest.param(
        {"region": "us-isob-west-1"},
        [
            "error: region: no SageMaker TGI 3.3.6 image in region 'us-isob-west-1'; pick "
            "another, or set tgi.image_uri"
        ],
        id="region-without-image",
    ),
    pytest.param(
        {"tgi": {"version": "9.9.9"}},
        [
            "error: tgi.version: no SageMaker TGI image for version '9.9.9'; known versions: "
            f"{', '.join(tgi_versions())}; pick another, or set tgi.image_uri"
        ],
        id="unknown-tgi-version",
    ),
    pytest.param(
        {"tgi": {"image_uri": "ghcr.io/huggingface/text-generation-inference:3.3.6"}},
        [
            "error: tgi.image_uri: must be an Amazon ECR image URI such as "
            "'<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>', got "
            "'ghcr.io/huggingface/text-generation-inference:3.3.6'"
        ],
        id="image-uri-not-ecr",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), INSTANCE_AND_IMAGE_CASES)
def test_instance_and_image_reject(overrides: dict[str, Any], expected: list[str]) -> None:
    assert problem_lines(**overrides) == expected


ENDPOINT_CASES = [
    pytest.param(
        {"autoscaling": {"min_capacity": 2, "max_capacity": 3}},
        [
            "error: autoscaling.min_capacity: must be at most endpoint.initial_instance_count "
            "(1), got 2"
        ],
        id="min-capacity-above-initial",
    ),
    pytest.param(
        {"endpoint": {"initial_instance_count": 3}},
        [
            "error: autoscaling.max_capacity: must be at least endpoint.initial_instance_count "
            "(3), got 2"
        ],
        id="max-capacity-below-initial",
    ),
    pytest.param(
        {"endpoint": {"startup_health_check_timeout_s": 59, "model_download_timeout_s": 3601}},
        [
            "error: endpoint.startup_health_check_timeout_s: must be from 60 to 3600 seconds, "
            "got 59",
            "error: endpoint.model_download_timeout_s: must be from 60 to 3600 seconds, got 3601",
        ],
        id="timeouts-out-of-range",
    ),
    pytest.param(
        {"endpoint": {"volume_size_gb": 100}},
        [
            "error: endpoint.volume_size_gb: ml.g5.2xlarge uses its local NVMe instance storage "
            "and SageMaker rejects a volume size for it, got 100; remove the setting"
        ],
        id="volume-on-nvme-instance",
    ),
    pytest.param(
        {"model": {"quantize": "awq"}},
        [
            f"error: model.quantize: 'awq' loads only a checkpoint quantized with AWQ, and "
            f"{MISTRAL_7B} is not one; use bitsandbytes-nf4 or eetq, or a pre-quantized model"
        ],
        id="awq-on-16-bit-checkpoint",
    ),
    pytest.param(
        {"model": {"quantize": "gptq"}},
        [
            f"error: model.quantize: 'gptq' loads only a checkpoint quantized with GPTQ, and "
            f"{MISTRAL_7B} is not one; use bitsandbytes-nf4 or eetq, or a pre-quantized model"
        ],
        id="gptq-on-16-bit-checkpoint",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), ENDPOINT_CASES)
def test_endpoint_settings_reject(overrides: dict[str, Any], expected: list[str]) -> None:
    assert problem_lines(**overrides) == expected


def test_every_problem_reported_at_once() -> None:
    lines = problem_lines(tgi={"max_total_tokens": 3000}, autoscaling={"min_capacity": 3})

    assert lines == [
        "error: tgi.max_input_tokens: must be less than tgi.max_total_tokens (3000), got 3072; "
        "lower it or raise max_total_tokens",
        "error: autoscaling.min_capacity: must be at most endpoint.initial_instance_count (1), "
        "got 3",
    ]


PASSING_CASES = [
    pytest.param({}, id="dev-profile"),
    pytest.param(
        {"tgi": {"max_batch_prefill_tokens": 4096, "max_batch_total_tokens": 8192}},
        id="batch-limits-in-order",
    ),
    pytest.param({"model": {"id": LLAMA_2_7B}}, id="llama-2-at-context-length"),
    pytest.param({"tgi": {"version": "1.1.0"}}, id="tgi-at-model-minimum"),
    pytest.param({"model": {"id": LLAMA_2_7B}, "tgi": {"version": "0.9.3"}}, id="llama-2-tgi-0-9"),
    pytest.param(
        {
            "model": {"id": LLAMA_2_13B},
            "tgi": {"num_gpus": 2},
            "endpoint": {"instance_type": "ml.g5.12xlarge"},
        },
        id="two-of-four-gpus",
    ),
    pytest.param(
        {"model": {"id": LLAMA_2_70B}, "endpoint": {"instance_type": "ml.g5.48xlarge"}},
        id="llama-2-70b-on-g5-48xlarge",
    ),
    pytest.param(
        {"model": {"id": LLAMA_2_13B, "quantize": "bitsandbytes-nf4"}},
        id="llama-2-13b-nf4-on-one-a10g",
    ),
    pytest.param(
        {"model": {"id": LLAMA_2_13B, "quantize": "eetq"}}, id="llama-2-13b-eetq-on-one-a10g"
    ),
    pytest.param(
        {
            "model": {
                "hf_token_secret": (
                    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hugging-face/hub-AbCdEf"
                )
            }
        },
        id="secret-arn",
    ),
    pytest.param(
        {
            "model": {
                "id": "example-org/open-model",
                "facts": custom_facts(),
                "hf_token_secret": None,
            }
        },
        id="open-model-without-secret",
    ),
    pytest.param(
        {
            "tgi": {
                "version": "9.9.9",
                "image_uri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-tgi:3.3.6",
            }
        },
        id="ecr-image-uri-skips-lookup",
    ),
    pytest.param(
        {"endpoint": {"initial_instance_count": 2}, "autoscaling": {"min_capacity": 2}},
        id="capacity-at-bounds",
    ),
    pytest.param(
        {"endpoint": {"startup_health_check_timeout_s": 60, "model_download_timeout_s": 3600}},
        id="timeouts-at-bounds",
    ),
    pytest.param(
        {
            "model": {
                "id": "example-org/model-awq",
                "facts": custom_facts(checkpoint_quantization="awq"),
                "quantize": "awq",
                "hf_token_secret": None,
            }
        },
        id="awq-on-awq-checkpoint",
    ),
]


@pytest.mark.parametrize("overrides", PASSING_CASES)
def test_valid_config_has_no_problems(overrides: dict[str, Any]) -> None:
    assert problem_lines(**overrides) == []


def test_catalog_types_are_hosting_types() -> None:
    """Validation trusts the catalog without loading botocore's enum, so this must hold."""
    hosting_types = sagemaker_hosting_instance_types()

    assert [name for name in instance_catalog().instances if name not in hosting_types] == []
