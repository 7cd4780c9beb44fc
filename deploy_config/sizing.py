"""GPU memory estimate for a TGI deployment: weights, KV cache and a fixed overhead.

The estimate is deliberately simple, so that its parts can be printed and checked by hand:

- weights: parameter count times the bytes per parameter that ``quantize`` implies;
- KV cache: 2 (keys and values) x layers x KV heads x head dimension x 2 bytes per token,
  for the number of tokens TGI must hold at once (see :func:`kv_cache_tokens`);
- overhead: a fixed amount per GPU for the CUDA context, kernels, NCCL buffers, the
  prefill activations and the memory the driver keeps back.

Tensor parallelism splits both the weights and the KV cache across ``num_gpus`` GPUs, so
the total is compared with the memory of those GPUs together.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy_config.settings import ModelFacts, Quantization, TgiSettings

GIB = 1024**3

# Bytes of GPU memory per parameter for each TGI `--quantize` value; None is the 16-bit
# checkpoint loaded as float16 or bfloat16.
# NOTE: 4-bit formats also store scales and keep embeddings in 16 bits, which adds a few
# percent that this table leaves to the overhead term.
BYTES_PER_PARAMETER: dict[Quantization | None, float] = {
    None: 2.0,
    "bitsandbytes": 1.0,
    "eetq": 1.0,
    "fp8": 1.0,
    "bitsandbytes-nf4": 0.5,
    "bitsandbytes-fp4": 0.5,
    "awq": 0.5,
    "gptq": 0.5,
}

# TGI keeps the KV cache in the model's 16-bit dtype unless `--kv-cache-dtype` says
# otherwise, and this package does not set that flag.
KV_CACHE_BYTES_PER_VALUE = 2

# An estimate, not a measurement: about 1 GiB of CUDA context and kernels per process plus
# the difference between the memory AWS lists per GPU and what CUDA reports free.
OVERHEAD_PER_GPU_GIB = 2.0


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated GPU memory of one deployment against the capacity of the GPUs it uses."""

    weights_gib: float
    kv_cache_gib: float
    overhead_gib: float
    capacity_gib: float
    num_gpus: int
    kv_tokens: int

    @property
    def total_gib(self) -> float:
        return self.weights_gib + self.kv_cache_gib + self.overhead_gib

    @property
    def fits(self) -> bool:
        return self.total_gib <= self.capacity_gib

    def describe(self) -> str:
        return (
            f"estimated {self.total_gib:.1f} GiB (weights {self.weights_gib:.1f}, "
            f"KV cache {self.kv_cache_gib:.1f} for {self.kv_tokens} tokens, overhead "
            f"{self.overhead_gib:.1f}) against {self.capacity_gib:.1f} GiB on "
            f"{self.num_gpus} GPU{'s' if self.num_gpus > 1 else ''}"
        )


def kv_cache_tokens(tgi: TgiSettings) -> int:
    """Return how many tokens the KV cache must hold for TGI to start with these limits.

    With ``max_batch_total_tokens`` set, TGI reserves exactly that many. Without it, TGI sizes
    the cache from free memory after warm-up and fails unless one full request fits, that
    is ``max_total_tokens`` or a whole prefill batch, whichever is larger.
    """
    if tgi.max_batch_total_tokens is not None:
        return tgi.max_batch_total_tokens
    return max(tgi.max_total_tokens, tgi.max_batch_prefill_tokens or 0)


def estimate_memory(
    facts: ModelFacts,
    quantize: Quantization | None,
    kv_tokens: int,
    num_gpus: int,
    gpu_memory_gib: float,
) -> MemoryEstimate:
    """Estimate the GPU memory one TGI replica needs on ``num_gpus`` GPUs."""
    weights = facts.parameters * BYTES_PER_PARAMETER[quantize] / GIB
    kv_bytes_per_token = (
        2 * facts.layers * facts.kv_heads * facts.head_dim * KV_CACHE_BYTES_PER_VALUE
    )
    return MemoryEstimate(
        weights_gib=weights,
        kv_cache_gib=kv_bytes_per_token * kv_tokens / GIB,
        overhead_gib=OVERHEAD_PER_GPU_GIB * num_gpus,
        capacity_gib=gpu_memory_gib * num_gpus,
        num_gpus=num_gpus,
        kv_tokens=kv_tokens,
    )


def valid_gpu_counts(facts: ModelFacts, available_gpus: int) -> list[int]:
    """List the tensor-parallel degrees TGI accepts: divisors of both head counts."""
    return [
        count
        for count in range(1, available_gpus + 1)
        if facts.attention_heads % count == 0 and facts.kv_heads % count == 0
    ]
