"""Shared fixtures: a clean environment and config files written per test."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy_config.settings import ENV_PREFIX

# Node.js 20 is past its end of life; without this the jsii runtime prints a banner at
# every start, into the output of every test that synthesizes a stack.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Remove every LLM_DEPLOY_ variable so the developer's shell cannot change a result."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """Return a function that writes a mapping as a YAML config file and returns its path."""

    def write(values: dict[str, Any]) -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(values), encoding="utf-8")
        return path

    return write
