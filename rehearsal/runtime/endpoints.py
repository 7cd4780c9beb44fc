"""Endpoint directories: any name, a fixed set of names, or the endpoints InService in moto."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable
from typing import Any, Protocol
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import ClientError


class EndpointDirectory(Protocol):
    """Tells whether an endpoint exists; called from a worker thread, so it may block."""

    def exists(self, name: str, region: str) -> bool: ...

    def describe(self) -> str: ...


class AnyEndpoint:
    def exists(self, name: str, region: str) -> bool:
        return True

    def describe(self) -> str:
        return "any endpoint name"


class NamedEndpoints:
    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)
        if not self.names:
            raise ValueError("NamedEndpoints needs at least one endpoint name")

    def exists(self, name: str, region: str) -> bool:
        return name in self.names

    def describe(self) -> str:
        return "endpoints " + ", ".join(sorted(self.names))


def require_loopback_url(url: str) -> str:
    """Return ``url`` if it is an http URL on a loopback address, else raise ``ValueError``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "http" or not host:
        raise ValueError(f"moto endpoint URL must be http://HOST:PORT on loopback, got {url!r}")
    if host == "localhost":
        return url
    try:
        is_loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise ValueError(
            f"moto endpoint URL must name localhost or a loopback address, got {url!r}"
        )
    return url


class MotoEndpoints:
    """Endpoints that moto's server, at a loopback URL, describes as InService.

    Each lookup queries moto again, so endpoints created or deleted during a test count at once.
    """

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = require_loopback_url(endpoint_url)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, region: str) -> Any:
        with self._lock:
            if region not in self._clients:
                self._clients[region] = boto3.client(
                    "sagemaker",
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
                )
            return self._clients[region]

    def exists(self, name: str, region: str) -> bool:
        try:
            description = self._client(region).describe_endpoint(EndpointName=name)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationException":
                return False
            raise
        # NOTE: SageMaker's response to invoking an endpoint that exists but is not
        # InService (Creating, Updating, Failed) is not checked; this runtime treats it as
        # not found.
        return bool(description["EndpointStatus"] == "InService")

    def describe(self) -> str:
        return f"endpoints InService in moto at {self.endpoint_url}"
