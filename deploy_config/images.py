"""TGI container image URIs, from the image data that the SageMaker SDK ships.

The data is ``sagemaker/core/image_uri_config/huggingface-llm.json`` inside the
``sagemaker-core`` package. This module reads that file directly and builds the URI the way
``sagemaker.core.image_uris.retrieve("huggingface-llm", ...)`` does, because importing the SDK
costs about 1.6 s at every ``cdk synth``. A test checks both give the same URI.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

from botocore.loaders import create_loader
from botocore.regions import EndpointResolver

_IMAGE_DATA_PATH = "sagemaker/core/image_uri_config/huggingface-llm.json"
_ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.(?P<suffix>[a-z.]+)/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*)[:@](?P<tag>.+)$"
)


class ImageNotFoundError(LookupError):
    """Raised when the SDK's image data has no TGI image for a version or region."""


@dataclass(frozen=True)
class EcrImage:
    """An ECR image URI split into the parts an IAM policy needs."""

    uri: str
    account: str
    region: str
    repository: str
    partition: str

    @property
    def repository_arn(self) -> str:
        return f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{self.repository}"


@cache
def _image_data() -> dict[str, Any]:
    path = Path(str(distribution("sagemaker-core").locate_file(_IMAGE_DATA_PATH)))
    data: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return data["inference"]


@cache
def _endpoint_resolver() -> EndpointResolver:
    return EndpointResolver(create_loader().load_data("endpoints"))


def tgi_versions() -> list[str]:
    """List the TGI versions that have SageMaker images, oldest first."""
    return list(_image_data()["versions"])


def tgi_image_uri(version: str, region: str) -> str:
    """Return the SageMaker TGI image URI for a TGI version in a region."""
    versions = _image_data()["versions"]
    version_config = versions.get(version)
    if version_config is None:
        raise ImageNotFoundError(
            f"no SageMaker TGI image for version {version!r}; known versions: {', '.join(versions)}"
        )
    registries: dict[str, str] = version_config["registries"]
    if region not in registries:
        raise ImageNotFoundError(f"no SageMaker TGI {version} image in region {region!r}")

    endpoint = _endpoint_resolver().construct_endpoint("ecr", region)
    # The SDK falls back to the standard host name where botocore's endpoint data has no
    # entry for ECR in the region (il-central-1 in older botocore releases).
    hostname = endpoint["hostname"] if endpoint else f"ecr.{region}.amazonaws.com"
    container_version = version_config.get("container_version", {}).get("gpu")
    tag = "-".join(
        part
        for part in (
            version_config["tag_prefix"],
            "gpu",
            version_config["py_versions"][0],
            container_version,
        )
        if part
    )
    return f"{registries[region]}.dkr.{hostname}/{version_config['repository']}:{tag}"


def parse_ecr_image(uri: str) -> EcrImage | None:
    """Split a private ECR image URI, or return None for any other registry."""
    match = _ECR_URI.match(uri)
    if match is None:
        return None
    region = match["region"]
    partition = _partition_for(region)
    return EcrImage(
        uri=uri,
        account=match["account"],
        region=region,
        repository=match["repository"],
        partition=partition,
    )


def _partition_for(region: str) -> str:
    endpoint = _endpoint_resolver().construct_endpoint("ecr", region)
    return str(endpoint["partition"]) if endpoint else "aws"
