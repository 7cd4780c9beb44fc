"""TGI's validation rules, defaults and generation, without HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from rehearsal.runtime.faults import Faults
from rehearsal.runtime.openapi import RequestValidator
from rehearsal.runtime.tgi import ContainerResponse, TgiContainer, TgiLimits
from rehearsal.runtime.tokens import input_length, prompt_document, split_tokens, truncate_input
from tests.runtime.conftest import DOCUMENT, PROMPT


@pytest.fixture(scope="module")
def container() -> TgiContainer:
    return TgiContainer(RequestValidator(), TgiLimits(max_total_tokens=200))


def invoke(
    container: TgiContainer, body: dict[str, Any], faults: Faults | None = None
) -> ContainerResponse:
    return container.invoke(json.dumps(body).encode(), "application/json", faults or Faults())


def collect_events(response: ContainerResponse) -> list[dict[str, Any]]:
    assert response.events is not None

    async def read() -> list[bytes]:
        assert response.events is not None
        return [event async for event in response.events]

    events = asyncio.run(read())
    assert all(event.startswith(b"data:") and event.endswith(b"\n\n") for event in events)
    return [json.loads(event[len(b"data:") :]) for event in events]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"temperature": 0.0}, "`temperature` must be strictly positive"),
        ({"top_p": 1.0}, "`top_p` must be > 0.0 and < 1.0"),
        ({"top_k": 0}, "`top_k` must be strictly positive"),
        ({"max_new_tokens": 0}, "`max_new_tokens` must be strictly positive"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "`stop` supports up to 4 stop sequences. Given: 5"),
        ({"truncate": 0}, "`truncate` must be strictly positive and less than 199. Given: 0"),
        (
            {"max_new_tokens": 190},
            "`inputs` tokens + `max_new_tokens` must be <= 200. Given: 69 `inputs` tokens "
            "and 190 `max_new_tokens`",
        ),
        ({"best_of": 2}, "you must use sampling when `best_of` is > 1"),
    ],
)
def test_parameter_rules_answer_422(
    container: TgiContainer, parameters: dict[str, Any], message: str
) -> None:
    response = invoke(container, {"inputs": PROMPT, "parameters": parameters})

    assert response.status == 422
    assert json.loads(response.body) == {
        "error": f"Input validation error: {message}",
        "error_type": "validation",
    }


def test_rule_failure_in_stream_is_event(container: TgiContainer) -> None:
    response = invoke(container, {"inputs": PROMPT, "stream": True, "parameters": {"top_k": 0}})

    assert response.status == 200
    assert collect_events(response) == [
        {
            "error": "Input validation error: `top_k` must be strictly positive",
            "error_type": "validation",
        }
    ]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"parameters": {}}, "'inputs' is a required property"),
        ({"inputs": 7}, "inputs: 7 is not of type 'string'"),
        ({"inputs": "x", "parameters": {"temperature": "hot"}}, "parameters.temperature"),
        ({"inputs": "x", "parameters": {"stop": "end"}}, "parameters.stop"),
    ],
)
def test_schema_failure_answers_422(
    container: TgiContainer, body: dict[str, Any], fragment: str
) -> None:
    response = invoke(container, body)

    assert response.status == 422
    assert response.content_type == "text/plain"
    assert response.body.startswith(b"Failed to deserialize the JSON body into the target type: ")
    assert fragment in response.body.decode()


def test_schema_range_tgi_accepts_is_rejected(container: TgiContainer) -> None:
    # The document requires seed > 0 although TGI accepts 0, and the document is the contract.
    response = invoke(container, {"inputs": "x", "parameters": {"seed": 0}})

    assert response.status == 422
    assert "parameters.seed" in json.loads(response.body)["error"]


def test_null_parameters_pass_schema(container: TgiContainer) -> None:
    response = invoke(
        container, {"inputs": PROMPT, "parameters": {"temperature": None, "stop": []}}
    )

    assert response.status == 200


def test_non_json_body_answers_400(container: TgiContainer) -> None:
    response = container.invoke(b"{not json", "application/json", Faults())

    assert response.status == 400
    assert response.body.startswith(b"Failed to parse the request body as JSON")


def test_other_content_type_answers_415(container: TgiContainer) -> None:
    response = container.invoke(b"{}", "text/csv", Faults())

    assert response.status == 415


def test_defaults_full_text_no_details(container: TgiContainer) -> None:
    response = invoke(container, {"inputs": PROMPT})

    [result] = json.loads(response.body)
    assert set(result) == {"generated_text"}
    assert result["generated_text"].startswith(PROMPT + " The harbour bridge opened in 1932")


def test_details_count_tokens_and_eos(container: TgiContainer) -> None:
    response = invoke(
        container, {"inputs": PROMPT, "parameters": {"details": True, "return_full_text": False}}
    )

    [result] = json.loads(response.body)
    details = result["details"]
    assert details["finish_reason"] == "eos_token"
    assert details["generated_tokens"] == len(details["tokens"])
    assert details["tokens"][-1] == {"id": 2, "text": "</s>", "logprob": -0.01, "special": True}
    assert "".join(token["text"] for token in details["tokens"][:-1]) == result["generated_text"]
    assert details["prefill"] == []
    assert details["seed"] is None


def test_max_new_tokens_ends_with_length(container: TgiContainer) -> None:
    response = invoke(
        container,
        {
            "inputs": PROMPT,
            "parameters": {"max_new_tokens": 3, "details": True, "return_full_text": False},
        },
    )

    [result] = json.loads(response.body)
    assert result["generated_text"] == " The harbour bridge"
    assert result["details"]["finish_reason"] == "length"
    assert result["details"]["generated_tokens"] == 3


def test_stop_sequence_kept_in_text(container: TgiContainer) -> None:
    response = invoke(
        container,
        {
            "inputs": PROMPT,
            "parameters": {"stop": ["work"], "details": True, "return_full_text": False},
        },
    )

    [result] = json.loads(response.body)
    assert (
        result["generated_text"] == " The harbour bridge opened in 1932 after eight years of work"
    )
    assert result["details"]["finish_reason"] == "stop_sequence"


def test_truncate_keeps_last_tokens(container: TgiContainer) -> None:
    prompt = "Ignored opening words.\n\nKept sentence one. Kept sentence two."
    response = invoke(
        container,
        {
            "inputs": prompt,
            "parameters": {"truncate": 5, "return_full_text": False, "details": True},
        },
    )

    [result] = json.loads(response.body)
    assert truncate_input(prompt, 5) == " Kept sentence two."
    assert result["generated_text"] == " Kept sentence two."


def test_sampling_reports_seed(container: TgiContainer) -> None:
    response = invoke(
        container,
        {"inputs": PROMPT, "parameters": {"do_sample": True, "seed": 42, "details": True}},
    )

    [result] = json.loads(response.body)
    assert result["details"]["seed"] == 42


def test_stream_events_end_with_special_token(container: TgiContainer) -> None:
    response = invoke(
        container,
        {
            "inputs": PROMPT,
            "stream": True,
            "parameters": {"details": True, "return_full_text": False},
        },
    )

    events = collect_events(response)
    assert [event["index"] for event in events] == list(range(1, len(events) + 1))
    assert all(
        event["generated_text"] is None and event["details"] is None for event in events[:-1]
    )
    last = events[-1]
    assert last["token"]["special"] is True
    assert last["token"]["text"] == "</s>"
    assert last["generated_text"] == "".join(event["token"]["text"] for event in events[:-1])
    assert last["details"] == {
        "finish_reason": "eos_token",
        "generated_tokens": len(events),
        "seed": None,
        "input_length": input_length(PROMPT),
    }


def test_stream_without_details_has_null_details(container: TgiContainer) -> None:
    events = collect_events(invoke(container, {"inputs": PROMPT, "stream": True}))

    assert events[-1]["details"] is None
    assert events[-1]["generated_text"].startswith(PROMPT)


def test_generation_error_event_mid_stream(container: TgiContainer) -> None:
    response = invoke(
        container,
        {"inputs": PROMPT, "stream": True},
        Faults(generation_error_after=2, error_message="CUDA out of memory"),
    )

    events = collect_events(response)
    assert len(events) == 3
    assert events[2] == {
        "error": "Request failed during generation: CUDA out of memory",
        "error_type": "generation",
    }


def test_non_ascii_fault_changes_vowels(container: TgiContainer) -> None:
    response = invoke(
        container,
        {"inputs": PROMPT, "parameters": {"return_full_text": False}},
        Faults(non_ascii=True),
    )

    [result] = json.loads(response.body)
    assert result["generated_text"].startswith(" Thé härböür brïdgé")


def test_fixed_text_fault_replaces_summary(container: TgiContainer) -> None:
    answer = '{"products": ["printer", "scanner"]}'

    response = invoke(
        container,
        {"inputs": PROMPT, "parameters": {"return_full_text": False, "details": True}},
        Faults(fixed_text=answer),
    )

    [result] = json.loads(response.body)
    assert result["generated_text"] == answer
    assert result["details"]["finish_reason"] == "eos_token"


def test_empty_fixed_text_generates_only_eos(container: TgiContainer) -> None:
    response = invoke(
        container,
        {"inputs": PROMPT, "parameters": {"return_full_text": False, "details": True}},
        Faults(fixed_text=""),
    )

    [result] = json.loads(response.body)
    assert result["generated_text"] == ""
    assert result["details"]["generated_tokens"] == 1


def test_fixed_text_keeps_max_new_tokens(container: TgiContainer) -> None:
    response = invoke(
        container,
        {"inputs": PROMPT, "parameters": {"return_full_text": False, "max_new_tokens": 3}},
        Faults(fixed_text='{"products": ["printer"]}'),
    )

    [result] = json.loads(response.body)
    assert result["generated_text"] == '{"products'


def test_tokenizer_round_trips_text() -> None:
    text = "Hello, world!  Two spaces\tand a tab.\n"

    assert "".join(split_tokens(text)) == text
    assert split_tokens("Hello, world!") == ["Hello", ",", " world", "!"]
    assert input_length("Hello, world!") == 5


def test_prompt_document_drops_markers() -> None:
    assert prompt_document(PROMPT) == DOCUMENT


def test_summary_skips_longer_instruction() -> None:
    prompt = (
        "[INST] The bus runs at nine. It stops twice.\n\n"
        "Summarize the document above in a few sentences, and answer with the summary alone."
        " [/INST]"
    )

    assert prompt_document(prompt) == "The bus runs at nine. It stops twice."
