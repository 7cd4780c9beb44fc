"""Payload building, TGI's parameter rules, response shapes and stop-sequence stripping."""

from __future__ import annotations

import json

import pytest

from inference.base import GenerationParameters
from inference.tgi import (
    build_payload,
    estimate_token_count,
    parameter_problems,
    parse_generation,
    strip_stop_sequence,
)


def test_payload_sets_tgi_fields() -> None:
    parameters = GenerationParameters(max_new_tokens=64, temperature=0.7, stop=("</s>",))

    payload = json.loads(build_payload("[INST] hi [/INST]", parameters, stream=False))

    assert payload["inputs"] == "[INST] hi [/INST]"
    assert payload["parameters"] == {
        "return_full_text": False,
        "details": True,
        "max_new_tokens": 64,
        "temperature": 0.7,
        "stop": ["</s>"],
    }
    assert "stream" not in payload


def test_payload_omits_unset_parameters() -> None:
    payload = json.loads(build_payload("x", GenerationParameters(), stream=False))

    assert payload["parameters"] == {"return_full_text": False, "details": True}


def test_stream_payload_asks_for_stream() -> None:
    payload = json.loads(build_payload("x", GenerationParameters(), stream=True))

    assert payload["stream"] is True
    assert payload["parameters"]["return_full_text"] is False


def test_payload_is_new_per_call() -> None:
    grammar = {"type": "json", "value": {"properties": {"a": {"type": "string"}}}}
    parameters = GenerationParameters(grammar=grammar, seed=1, do_sample=True, top_k=5)

    first = json.loads(build_payload("a", parameters, stream=False))
    first["parameters"]["seed"] = 99
    first["parameters"]["grammar"]["value"] = None
    second = json.loads(build_payload("b", parameters, stream=False))

    assert second["inputs"] == "b"
    assert second["parameters"]["seed"] == 1
    assert second["parameters"]["grammar"] == grammar
    assert second["parameters"]["top_k"] == 5


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        (GenerationParameters(temperature=0), "temperature must be greater than 0"),
        (GenerationParameters(temperature=-1.0), "temperature must be greater than 0"),
        (GenerationParameters(top_p=0), "top_p must be greater than 0 and less than 1"),
        (GenerationParameters(top_p=1.0), "top_p must be greater than 0 and less than 1"),
        (GenerationParameters(top_k=0), "top_k must be greater than 0"),
        (GenerationParameters(max_new_tokens=0), "max_new_tokens must be greater than 0"),
        (GenerationParameters(repetition_penalty=0), "repetition_penalty must be greater"),
        (GenerationParameters(stop=("a", "b", "c", "d", "e")), "at most 4 sequences, got 5"),
        (GenerationParameters(stop=("",)), "must not be empty strings"),
        (GenerationParameters(truncate=0), "truncate must be greater than 0"),
        (GenerationParameters(seed=-1), "seed must be 0 or greater"),
        (GenerationParameters(grammar={"type": "xml", "value": ""}), "grammar must be"),
    ],
)
def test_parameter_rejected(parameters: GenerationParameters, problem: str) -> None:
    problems = parameter_problems("prompt", parameters)

    assert len(problems) == 1
    assert problem in problems[0]


@pytest.mark.parametrize(
    "parameters",
    [
        GenerationParameters(),
        GenerationParameters(temperature=0.01, top_p=0.99, top_k=1, max_new_tokens=1),
        GenerationParameters(stop=("a", "b", "c", "d"), repetition_penalty=1.2, seed=0),
        GenerationParameters(grammar={"type": "regex", "value": "[0-9]+"}),
    ],
)
def test_parameters_accepted(parameters: GenerationParameters) -> None:
    assert parameter_problems("prompt", parameters) == []


def test_empty_input_rejected() -> None:
    assert parameter_problems("", GenerationParameters()) == ["inputs must not be empty"]


def test_total_token_budget_rejected() -> None:
    prompt = "x" * 3000  # about 1001 tokens by the estimate

    problems = parameter_problems(
        prompt, GenerationParameters(max_new_tokens=100), max_total_tokens=1024
    )

    assert len(problems) == 1
    assert "max_total_tokens (1024)" in problems[0]


def test_total_token_budget_accepted_within_limit() -> None:
    prompt = "x" * 300

    problems = parameter_problems(
        prompt, GenerationParameters(max_new_tokens=100), max_total_tokens=1024
    )

    assert problems == []


def test_input_token_limit_rejected() -> None:
    problems = parameter_problems("x" * 3000, GenerationParameters(), max_input_tokens=512)

    assert len(problems) == 1
    assert "max_input_tokens (512)" in problems[0]


def test_truncate_counts_toward_budget() -> None:
    parameters = GenerationParameters(max_new_tokens=100, truncate=500)

    problems = parameter_problems(
        "x" * 30000, parameters, max_total_tokens=1024, max_input_tokens=512
    )

    assert problems == []


def test_truncate_over_input_limit_rejected() -> None:
    problems = parameter_problems("x", GenerationParameters(truncate=600), max_input_tokens=512)

    assert problems == ["truncate must be at most max_input_tokens (512), got 600"]


def test_token_estimate_counts_bytes_and_bos() -> None:
    assert estimate_token_count("") == 1
    assert estimate_token_count("abc") == 2
    assert estimate_token_count("abcd") == 3
    assert estimate_token_count("日") == 2


def test_parse_list_shape() -> None:
    body = json.dumps(
        [
            {
                "generated_text": "Paris.",
                "details": {
                    "finish_reason": "eos_token",
                    "generated_tokens": 3,
                    "prefill": [],
                },
            }
        ]
    )

    generation = parse_generation(body, ())

    assert generation.text == "Paris."
    assert generation.finish_reason == "eos_token"
    assert generation.generated_tokens == 3
    assert generation.input_tokens is None


def test_parse_object_shape_with_prefill() -> None:
    body = json.dumps(
        {
            "generated_text": "Blue",
            "details": {
                "finish_reason": "length",
                "generated_tokens": 1,
                "prefill": [{"id": 1, "text": "<s>"}, {"id": 2, "text": "Sky"}],
            },
        }
    )

    generation = parse_generation(body.encode(), ())

    assert generation.text == "Blue"
    assert generation.input_tokens == 2


def test_parse_without_details() -> None:
    generation = parse_generation('[{"generated_text": "ok"}]', ())

    assert generation.text == "ok"
    assert generation.finish_reason is None
    assert generation.generated_tokens is None


def test_parse_strips_matched_stop_sequence() -> None:
    body = '{"generated_text": "Answer.\\nUser:", "details": {"finish_reason": "stop_sequence"}}'

    generation = parse_generation(body, ("User:", "\nUser:"))

    assert generation.text == "Answer."
    assert generation.finish_reason == "stop_sequence"


@pytest.mark.parametrize("body", ['{"error": "boom"}', "[]", '[{"generated_text": 1}]', '"text"'])
def test_parse_rejects_other_shapes(body: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        parse_generation(body, ())


@pytest.mark.parametrize(
    ("text", "stop", "expected"),
    [
        ("done###", ("###",), "done"),
        ("done", ("###",), "done"),
        ("a ## b", ("###",), "a ## b"),
        ("x</s>", (), "x</s>"),
    ],
)
def test_strip_stop_sequence(text: str, stop: tuple[str, ...], expected: str) -> None:
    assert strip_stop_sequence(text, stop) == expected
