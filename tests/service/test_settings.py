"""Service settings from the environment and their cross-field rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inference.settings import ClientSettings
from service.settings import DEFAULT_MAX_INPUT_TOKENS, ServiceSettings
from tests.service.conftest import make_settings


def test_settings_read_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_CLIENT_ENDPOINT_NAME", "env-endpoint")
    monkeypatch.setenv("LLM_SERVICE_MAX_DOCUMENT_CHARS", "500")
    monkeypatch.setenv("LLM_SERVICE_MODEL_ID", "meta-llama/Llama-2-7b-chat-hf")

    settings = ServiceSettings()

    assert settings.client.endpoint_name == "env-endpoint"
    assert settings.max_document_chars == 500
    assert settings.model_id == "meta-llama/Llama-2-7b-chat-hf"


def test_max_concurrency_from_client_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_CLIENT_ENDPOINT_NAME", "env-endpoint")
    monkeypatch.setenv("LLM_CLIENT_MAX_CONCURRENCY", "48")

    assert ServiceSettings().client.max_concurrency == 48


def test_input_budget_defaults_to_tgi_default() -> None:
    assert make_settings().max_input_tokens == DEFAULT_MAX_INPUT_TOKENS


def test_input_budget_follows_client() -> None:
    settings = make_settings(client={"max_input_tokens": 1000, "max_total_tokens": 1500})

    assert settings.max_input_tokens == 1000
    assert settings.input_token_budget(200) == 1000
    assert settings.input_token_budget(800) == 700


def test_default_over_limit_is_rejected() -> None:
    with pytest.raises(ValidationError, match="must not exceed max_new_tokens_limit"):
        make_settings(default_max_new_tokens=300, max_new_tokens_limit=200)


def test_limit_not_below_total_is_rejected() -> None:
    client = ClientSettings(endpoint_name="e", max_input_tokens=500, max_total_tokens=1000)

    with pytest.raises(ValidationError, match="must be less than the client's max_total"):
        ServiceSettings(client=client, max_new_tokens_limit=1000)
