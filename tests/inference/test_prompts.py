"""Mistral Instruct and Llama 2 chat templates, role order and control-marker rejection."""

from __future__ import annotations

import pytest

from deploy_config.settings import ModelFacts
from inference.prompts import (
    CONTROL_MARKERS,
    Llama2ChatTemplate,
    Message,
    MistralInstructTemplate,
    PromptError,
    PromptTemplate,
    template_for_model,
)

SYSTEM = Message("system", "Answer in one word.")
USER_1 = Message("user", "Capital of France?")
ASSISTANT_1 = Message("assistant", "Paris")
USER_2 = Message("user", "And of Italy?")


def test_mistral_single_turn() -> None:
    prompt = MistralInstructTemplate().render([USER_1])

    assert prompt == "[INST] Capital of France? [/INST]"


def test_mistral_system_goes_into_first_user_turn() -> None:
    prompt = MistralInstructTemplate().render([SYSTEM, USER_1])

    assert prompt == "[INST] Answer in one word.\n\nCapital of France? [/INST]"


def test_mistral_multi_turn() -> None:
    prompt = MistralInstructTemplate().render([SYSTEM, USER_1, ASSISTANT_1, USER_2])

    assert prompt == (
        "[INST] Answer in one word.\n\nCapital of France? [/INST] Paris</s>"
        "[INST] And of Italy? [/INST]"
    )


def test_llama2_single_turn() -> None:
    prompt = Llama2ChatTemplate().render([USER_1])

    assert prompt == "[INST] Capital of France? [/INST]"


def test_llama2_single_turn_with_system() -> None:
    prompt = Llama2ChatTemplate().render([SYSTEM, USER_1])

    assert prompt == ("[INST] <<SYS>>\nAnswer in one word.\n<</SYS>>\n\nCapital of France? [/INST]")


def test_llama2_multi_turn() -> None:
    prompt = Llama2ChatTemplate().render([SYSTEM, USER_1, ASSISTANT_1, USER_2])

    assert prompt == (
        "[INST] <<SYS>>\nAnswer in one word.\n<</SYS>>\n\nCapital of France? [/INST]"
        " Paris </s><s>[INST] And of Italy? [/INST]"
    )


def test_llama2_strips_content_whitespace() -> None:
    prompt = Llama2ChatTemplate().render([Message("user", "  hi \n")])

    assert prompt == "[INST] hi [/INST]"


@pytest.mark.parametrize("template", [MistralInstructTemplate(), Llama2ChatTemplate()])
def test_no_leading_bos(template: PromptTemplate) -> None:
    prompt = template.render([SYSTEM, USER_1, ASSISTANT_1, USER_2])

    assert not prompt.startswith("<s>")


@pytest.mark.parametrize("template", [MistralInstructTemplate(), Llama2ChatTemplate()])
@pytest.mark.parametrize("marker", CONTROL_MARKERS)
@pytest.mark.parametrize("role", ["system", "user", "assistant"])
def test_control_marker_rejected(template: PromptTemplate, marker: str, role: str) -> None:
    messages = [USER_1, ASSISTANT_1, USER_2]
    content = f"before {marker} after"
    if role == "system":
        messages = [Message("system", content), *messages]
    elif role == "user":
        messages[2] = Message("user", content)
    else:
        messages[1] = Message("assistant", content)

    with pytest.raises(PromptError, match="control marker") as raised:
        template.render(messages)

    assert marker in str(raised.value)


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        ([], "at least one user message"),
        ([SYSTEM], "at least one user message"),
        ([ASSISTANT_1, USER_1], "expected 'user'"),
        ([USER_1, USER_2], "expected 'assistant'"),
        ([USER_1, SYSTEM, USER_2], "expected 'assistant'"),
        ([USER_1, ASSISTANT_1], "last message must be a user message"),
    ],
)
def test_role_order_rejected(messages: list[Message], problem: str) -> None:
    with pytest.raises(PromptError, match=problem):
        MistralInstructTemplate().render(messages)


@pytest.mark.parametrize(
    ("model_id", "template_type"),
    [
        ("mistralai/Mistral-7B-Instruct-v0.1", MistralInstructTemplate),
        ("mistralai/Mistral-7B-Instruct-v0.3", MistralInstructTemplate),
        ("meta-llama/Llama-2-7b-chat-hf", Llama2ChatTemplate),
        ("meta-llama/Llama-2-70b-chat-hf", Llama2ChatTemplate),
    ],
)
def test_template_for_catalog_model(model_id: str, template_type: type[PromptTemplate]) -> None:
    assert isinstance(template_for_model(model_id), template_type)


def test_template_for_model_with_facts() -> None:
    facts = ModelFacts(
        parameters=7_000_000_000,
        layers=32,
        attention_heads=32,
        kv_heads=32,
        head_dim=128,
        context_length=4096,
        gated=False,
        min_tgi_version="1.0.0",
        prompt_family="llama2-chat",
    )

    assert isinstance(template_for_model("someone/custom-chat", facts), Llama2ChatTemplate)


def test_template_for_unknown_model_raises() -> None:
    with pytest.raises(KeyError, match="not in the catalog"):
        template_for_model("someone/unknown-model")
