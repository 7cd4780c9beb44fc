"""GPU memory estimate, KV cache token count and tensor-parallel degrees, checked by hand."""

from __future__ import annotations

from typing import Any

import pytest

from deploy_config.catalog import model_catalog
from deploy_config.settings import ModelFacts, TgiSettings
from deploy_config.sizing import estimate_memory, kv_cache_tokens, valid_gpu_counts

GIB = 1024**3


def catalog_facts(model_id: str) -> ModelFacts:
    return model_catalog()[model_id].facts()


MISTRAL_7B = catalog_facts("mistralai/Mistral-7B-Instruct-v0.2")
LLAMA_2_13B = catalog_facts("meta-llama/Llama-2-13b-chat-hf")
LLAMA_2_70B = catalog_facts("meta-llama/Llama-2-70b-chat-hf")


def test_mistral_7b_weights_in_16_bit() -> None:
    estimate = estimate_memory(MISTRAL_7B, None, 4096, 1, 24.0)

    # 7,241,732,096 parameters x 2 bytes = 14,483,464,192 bytes.
    assert estimate.weights_gib == pytest.approx(14_483_464_192 / GIB)
    assert estimate.weights_gib == pytest.approx(13.4888, abs=1e-4)


def test_mistral_7b_kv_cache_per_token() -> None:
    # 2 (keys, values) x 32 layers x 8 KV heads x 128 head dim x 2 bytes = 131,072 bytes.
    estimate = estimate_memory(MISTRAL_7B, None, 1, 1, 24.0)

    assert estimate.kv_cache_gib * GIB == pytest.approx(131_072)


def test_mistral_7b_total_on_one_a10g() -> None:
    estimate = estimate_memory(MISTRAL_7B, None, 4096, 1, 24.0)

    # 4096 tokens x 128 KiB is 0.5 GiB of KV cache, plus 2 GiB of overhead for one GPU.
    assert estimate.kv_cache_gib == pytest.approx(0.5)
    assert estimate.overhead_gib == pytest.approx(2.0)
    assert estimate.total_gib == pytest.approx(13.4888 + 0.5 + 2.0, abs=1e-4)
    assert estimate.capacity_gib == pytest.approx(24.0)
    assert estimate.fits is True


def test_mistral_7b_nf4_halves_bytes() -> None:
    estimate = estimate_memory(MISTRAL_7B, "bitsandbytes-nf4", 4096, 1, 24.0)

    # 0.5 bytes per parameter: 3,620,866,048 bytes.
    assert estimate.weights_gib == pytest.approx(3_620_866_048 / GIB)


def test_llama_2_70b_on_eight_a10g() -> None:
    estimate = estimate_memory(LLAMA_2_70B, None, 4096, 8, 24.0)

    # 68,976,648,192 parameters x 2 bytes = 137,953,296,384 bytes, about 128.48 GiB.
    assert estimate.weights_gib == pytest.approx(137_953_296_384 / GIB)
    # 2 x 80 layers x 8 KV heads x 128 x 2 bytes = 327,680 bytes per token, x 4096 tokens.
    assert estimate.kv_cache_gib == pytest.approx(1.25)
    assert estimate.overhead_gib == pytest.approx(16.0)
    assert estimate.capacity_gib == pytest.approx(192.0)
    assert estimate.total_gib == pytest.approx(128.4790 + 1.25 + 16.0, abs=1e-4)
    assert estimate.fits is True


def test_llama_2_70b_on_one_a10g() -> None:
    estimate = estimate_memory(LLAMA_2_70B, None, 4096, 1, 24.0)

    assert estimate.fits is False


def test_estimate_describe_names_parts() -> None:
    estimate = estimate_memory(LLAMA_2_70B, None, 4096, 8, 24.0)

    assert estimate.describe() == (
        "estimated 145.7 GiB (weights 128.5, KV cache 1.2 for 4096 tokens, overhead 16.0) "
        "against 192.0 GiB on 8 GPUs"
    )


def test_estimate_describe_single_gpu() -> None:
    estimate = estimate_memory(MISTRAL_7B, None, 4096, 1, 24.0)

    assert estimate.describe().endswith("against 24.0 GiB on 1 GPU")


KV_TOKEN_CASES = [
    pytest.param({"max_total_tokens": 4096}, 4096, id="total-only"),
    pytest.param(
        {"max_total_tokens": 4096, "max_batch_prefill_tokens": 8192}, 8192, id="prefill-larger"
    ),
    pytest.param(
        {"max_input_tokens": 1024, "max_total_tokens": 4096, "max_batch_prefill_tokens": 2048},
        4096,
        id="total-larger-than-prefill",
    ),
    pytest.param(
        {
            "max_total_tokens": 4096,
            "max_batch_prefill_tokens": 8192,
            "max_batch_total_tokens": 16384,
        },
        16384,
        id="batch-total-wins",
    ),
    pytest.param(
        {"max_total_tokens": 4096, "max_batch_total_tokens": 4096}, 4096, id="batch-total-equal"
    ),
]


@pytest.mark.parametrize(("limits", "expected"), KV_TOKEN_CASES)
def test_kv_cache_tokens_rules(limits: dict[str, Any], expected: int) -> None:
    assert kv_cache_tokens(TgiSettings(**limits)) == expected


def heads_facts(attention_heads: int, kv_heads: int) -> ModelFacts:
    return MISTRAL_7B.model_copy(update={"attention_heads": attention_heads, "kv_heads": kv_heads})


GPU_COUNT_CASES = [
    pytest.param(MISTRAL_7B, 8, [1, 2, 4, 8], id="mistral-32-and-8-heads"),
    pytest.param(LLAMA_2_13B, 8, [1, 2, 4, 5, 8], id="llama-2-13b-40-heads"),
    pytest.param(LLAMA_2_13B, 4, [1, 2, 4], id="llama-2-13b-four-gpus"),
    pytest.param(LLAMA_2_70B, 8, [1, 2, 4, 8], id="llama-2-70b-64-and-8-heads"),
    pytest.param(heads_facts(28, 4), 8, [1, 2, 4], id="28-heads-exclude-8"),
    pytest.param(heads_facts(32, 2), 8, [1, 2], id="kv-heads-limit"),
    pytest.param(MISTRAL_7B, 1, [1], id="single-gpu"),
]


@pytest.mark.parametrize(("facts", "available", "expected"), GPU_COUNT_CASES)
def test_valid_gpu_counts_divide_heads(
    facts: ModelFacts, available: int, expected: list[int]
) -> None:
    assert valid_gpu_counts(facts, available) == expected
