"""TGI image URIs match the SageMaker SDK, and ECR URIs split into IAM policy parts."""

from __future__ import annotations

import pytest
from sagemaker.core import image_uris

from deploy_config.images import ImageNotFoundError, parse_ecr_image, tgi_image_uri, tgi_versions

VERSIONS = ["1.1.0", "2.0.2", "3.3.6"]
REGIONS = ["eu-west-1", "us-east-1", "cn-north-1", "ap-southeast-3", "il-central-1"]


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("version", VERSIONS)
def test_image_uri_matches_sdk(version: str, region: str) -> None:
    expected = image_uris.retrieve(
        "huggingface-llm",
        region=region,
        version=version,
        image_scope="inference",
        instance_type="ml.g5.2xlarge",
    )

    assert tgi_image_uri(version, region) == expected


def test_sdk_data_lists_tested_versions() -> None:
    # The parity test above only means something for versions the SDK data contains.
    assert set(VERSIONS) <= set(tgi_versions())


def test_image_uri_unknown_version() -> None:
    with pytest.raises(ImageNotFoundError, match=r"no SageMaker TGI image for version '9\.9\.9'"):
        tgi_image_uri("9.9.9", "eu-west-1")


def test_image_uri_region_without_image() -> None:
    # us-isob-west-1 is in botocore's endpoint data but has no TGI image in the SDK data.
    with pytest.raises(
        ImageNotFoundError, match=r"no SageMaker TGI 3\.3\.6 image in region 'us-isob-west-1'"
    ):
        tgi_image_uri("3.3.6", "us-isob-west-1")


ECR_CASES = [
    pytest.param(
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
        "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04",
        ("763104351884", "eu-west-1", "huggingface-pytorch-tgi-inference", "aws"),
        "arn:aws:ecr:eu-west-1:763104351884:repository/huggingface-pytorch-tgi-inference",
        id="sdk-image-aws",
    ),
    pytest.param(
        "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/huggingface-pytorch-tgi-inference:"
        "2.0.1-tgi1.1.0-gpu-py39-cu118-ubuntu20.04",
        ("727897471807", "cn-north-1", "huggingface-pytorch-tgi-inference", "aws-cn"),
        "arn:aws-cn:ecr:cn-north-1:727897471807:repository/huggingface-pytorch-tgi-inference",
        id="sdk-image-aws-cn",
    ),
    pytest.param(
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/tgi@sha256:" + "0" * 64,
        ("123456789012", "us-east-1", "team/tgi", "aws"),
        "arn:aws:ecr:us-east-1:123456789012:repository/team/tgi",
        id="nested-repository-by-digest",
    ),
]


@pytest.mark.parametrize(("uri", "parts", "repository_arn"), ECR_CASES)
def test_parse_ecr_image_parts(
    uri: str, parts: tuple[str, str, str, str], repository_arn: str
) -> None:
    image = parse_ecr_image(uri)

    assert image is not None
    assert (image.account, image.region, image.repository, image.partition) == parts
    assert image.uri == uri


@pytest.mark.parametrize(("uri", "parts", "repository_arn"), ECR_CASES)
def test_ecr_repository_arn(
    uri: str, parts: tuple[str, str, str, str], repository_arn: str
) -> None:
    image = parse_ecr_image(uri)

    assert image is not None
    assert image.repository_arn == repository_arn


NOT_ECR = [
    pytest.param("ghcr.io/huggingface/text-generation-inference:3.3.6", id="ghcr"),
    pytest.param("huggingface/text-generation-inference:3.3.6", id="docker-hub"),
    pytest.param("public.ecr.aws/huggingface/tgi:3.3.6", id="public-ecr"),
    pytest.param("123456789012.dkr.ecr.eu-west-1.amazonaws.com/tgi", id="no-tag"),
    pytest.param("12345678901.dkr.ecr.eu-west-1.amazonaws.com/tgi:3.3.6", id="11-digit-account"),
    pytest.param("123456789012.dkr.ecr.eu-west-1.amazonaws.com/TGI:3.3.6", id="uppercase-repo"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("uri", NOT_ECR)
def test_parse_ecr_image_rejects(uri: str) -> None:
    assert parse_ecr_image(uri) is None
