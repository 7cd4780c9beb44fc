"""Model and instance catalogs, read from the YAML files in ``deploy_config/data``.

Each model fact in ``models.yaml`` names its source (the model card or config.json), and
``instances.yaml`` names the page and date its prices come from.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Generic, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt

from deploy_config.settings import ModelFacts, ModelSettings, PromptFamily, YamlLoader

DATA_DIR = Path(__file__).parent / "data"

T = TypeVar("T")


class Fact(BaseModel, Generic[T]):
    """A catalog value and where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: T
    source: str
    # Context or doubt about the value, for a reader checking it.
    note: str | None = None


class CatalogModel(BaseModel):
    """One model of ``models.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parameters: Fact[PositiveInt]
    layers: Fact[PositiveInt]
    attention_heads: Fact[PositiveInt]
    kv_heads: Fact[PositiveInt]
    head_dim: Fact[PositiveInt]
    context_length: Fact[PositiveInt]
    gated: Fact[bool]
    min_tgi_version: Fact[str]
    prompt_family: Fact[PromptFamily]
    torch_dtype: Fact[str]
    note: str | None = None

    def facts(self) -> ModelFacts:
        return ModelFacts(
            parameters=self.parameters.value,
            layers=self.layers.value,
            attention_heads=self.attention_heads.value,
            kv_heads=self.kv_heads.value,
            head_dim=self.head_dim.value,
            context_length=self.context_length.value,
            gated=self.gated.value,
            min_tgi_version=self.min_tgi_version.value,
            prompt_family=self.prompt_family.value,
        )


class InstanceSpec(BaseModel):
    """GPU facts and the on-demand hosting price of one SageMaker instance type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpus: PositiveInt
    gpu: str
    gpu_memory_gib: PositiveFloat
    # Local NVMe storage, which SageMaker uses instead of an EBS volume.
    instance_storage: bool
    price_per_hour_usd: PositiveFloat | None

    @property
    def total_gpu_memory_gib(self) -> float:
        return self.gpus * self.gpu_memory_gib


class InstanceCatalog(BaseModel):
    """``instances.yaml``: instance types with the region, source and date of the prices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price_region: str
    price_source: str
    price_date: str
    instances: dict[str, InstanceSpec]

    def by_price(self) -> list[tuple[str, InstanceSpec]]:
        """List the instance types cheapest first; types without a price come last."""
        return sorted(
            self.instances.items(),
            key=lambda item: (
                item[1].price_per_hour_usd is None,
                item[1].price_per_hour_usd or 0.0,
            ),
        )


@cache
def model_catalog() -> dict[str, CatalogModel]:
    raw = yaml.load((DATA_DIR / "models.yaml").read_text(encoding="utf-8"), Loader=YamlLoader)  # noqa: S506 - a safe loader
    return {model_id: CatalogModel.model_validate(entry) for model_id, entry in raw.items()}


@cache
def instance_catalog() -> InstanceCatalog:
    raw = yaml.load((DATA_DIR / "instances.yaml").read_text(encoding="utf-8"), Loader=YamlLoader)  # noqa: S506 - a safe loader
    return InstanceCatalog.model_validate(raw)


def facts_for(model: ModelSettings) -> ModelFacts | None:
    """Return the facts given in the config, else the catalog's, else None."""
    if model.facts is not None:
        return model.facts
    entry = model_catalog().get(model.id)
    return entry.facts() if entry is not None else None
