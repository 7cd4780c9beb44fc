"""TgiStreamParser, StopSequenceHoldback and WhitespaceStripper with hand-made input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from inference.streaming import (
    StopSequenceHoldback,
    TgiStreamEvent,
    TgiStreamParser,
    WhitespaceStripper,
)


def token_event(text: str, *, special: bool = False, space: bool = False) -> bytes:
    document = {
        "index": 1,
        "token": {"id": 7, "text": text, "logprob": -0.1, "special": special},
        "generated_text": None,
        "details": None,
    }
    prefix = "data: " if space else "data:"
    return f"{prefix}{json.dumps(document, ensure_ascii=False)}\n\n".encode()


def final_event(text: str, generated_text: str, finish_reason: str = "eos_token") -> bytes:
    document: dict[str, Any] = {
        "index": 3,
        "token": {"id": 2, "text": text, "logprob": 0.0, "special": text == "</s>"},
        "generated_text": generated_text,
        "details": {"finish_reason": finish_reason, "generated_tokens": 3, "seed": None},
    }
    return f"data:{json.dumps(document, ensure_ascii=False)}\n\n".encode()


def feed_all(parts: list[bytes]) -> list[TgiStreamEvent]:
    parser = TgiStreamParser()
    events: list[TgiStreamEvent] = []
    for part in parts:
        events.extend(parser.feed(part))
    events.extend(parser.close())
    return events


def test_one_event_per_part() -> None:
    events = feed_all([token_event("Hello"), token_event(" world")])

    assert [event.token_text for event in events] == ["Hello", " world"]


def test_event_split_across_parts() -> None:
    whole = token_event("Hello")
    parser = TgiStreamParser()

    assert parser.feed(whole[:3]) == []
    assert parser.feed(whole[3:20]) == []
    events = parser.feed(whole[20:])

    assert [event.token_text for event in events] == ["Hello"]


def test_event_split_into_single_bytes() -> None:
    whole = token_event("Hi") + final_event("</s>", "Hi")

    events = feed_all([whole[i : i + 1] for i in range(len(whole))])

    assert [event.token_text for event in events] == ["Hi", "</s>"]
    assert events[-1].generated_text == "Hi"


def test_several_events_in_one_part() -> None:
    part = token_event("a") + token_event("b") + token_event("c")

    events = TgiStreamParser().feed(part)

    assert [event.token_text for event in events] == ["a", "b", "c"]


def test_utf8_character_split_between_parts() -> None:
    whole = token_event("größer 日本")
    cut = whole.index("日".encode()) + 1
    parser = TgiStreamParser()

    first = parser.feed(whole[:cut])
    second = parser.feed(whole[cut:])

    assert first == []
    assert [event.token_text for event in second] == ["größer 日本"]


def test_data_field_with_and_without_space() -> None:
    events = feed_all([token_event("x", space=True), token_event("y", space=False)])

    assert [event.token_text for event in events] == ["x", "y"]


def test_crlf_line_endings() -> None:
    part = token_event("x").replace(b"\n", b"\r\n")

    events = feed_all([part])

    assert [event.token_text for event in events] == ["x"]


def test_special_token_is_marked() -> None:
    events = feed_all([token_event("<s>", special=True), token_event("ok")])

    assert events[0].special
    assert not events[1].special


def test_final_event_has_generated_text_and_details() -> None:
    events = feed_all([token_event("Hi"), final_event("</s>", "Hi", "eos_token")])

    final = events[-1]
    assert final.is_final
    assert final.generated_text == "Hi"
    assert final.details is not None
    assert final.details["finish_reason"] == "eos_token"
    assert final.details["generated_tokens"] == 3
    assert not events[0].is_final


def test_final_event_without_blank_line_is_flushed_on_close() -> None:
    parser = TgiStreamParser()
    events = parser.feed(final_event("</s>", "done").rstrip(b"\n"))

    assert events == []
    flushed = parser.close()
    assert [event.generated_text for event in flushed] == ["done"]


def test_error_event() -> None:
    part = b'data:{"error":"Input validation error: too long","error_type":"validation"}\n\n'

    events = feed_all([part])

    assert events[0].error == "Input validation error: too long"
    assert events[0].error_type == "validation"
    assert events[0].token_text is None


def test_comments_and_other_fields_are_ignored() -> None:
    part = b": keep-alive\nevent: message\nid: 4\n" + token_event("z")

    events = feed_all([part])

    assert [event.token_text for event in events] == ["z"]


def test_invalid_json_raises() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        feed_all([b"data:{not json\n\n"])


def test_stream_cut_inside_character_raises_on_close() -> None:
    parser = TgiStreamParser()
    parser.feed('data:{"token": "日'.encode()[:-1])

    with pytest.raises(ValueError, match="UTF-8"):
        parser.close()


@pytest.mark.parametrize(
    ("pieces", "finish_reason", "expected"),
    [
        (["Hello", " world", "\n\nUser:"], "stop_sequence", "Hello world"),
        (["Hello", " wor", "ld\n", "\nUser", ":"], "stop_sequence", "Hello world"),
        (["a\n", "b"], "length", "a\nb"),
        (["end\n\nUser:"], "length", "end\n\nUser:"),
        (["no stop here"], "eos_token", "no stop here"),
    ],
)
def test_holdback_strips_matched_stop(pieces: list[str], finish_reason: str, expected: str) -> None:
    holdback = StopSequenceHoldback(("\n\nUser:", "###"))

    released = "".join(holdback.push(piece) for piece in pieces)
    released += holdback.finish(finish_reason)

    assert released == expected


def test_holdback_releases_text_that_cannot_start_a_stop() -> None:
    holdback = StopSequenceHoldback(("###",))

    assert holdback.push("abc") == "abc"
    assert holdback.push("d#") == "d"
    assert holdback.push("x") == "#x"


@pytest.mark.parametrize(
    "pieces",
    [
        [" Summary", " here", ".", " "],
        ["\n", " ", "Summary here.", "\n\n"],
        ["Summary", " ", " ", "here", ". \t"],
        ["A\u00a0", "b\u2003", "\u3000"],
        [" ", "\n"],
        [],
    ],
)
def test_stripper_output_equals_strip(pieces: list[str]) -> None:
    stripper = WhitespaceStripper()

    released = "".join(stripper.push(piece) for piece in pieces)

    assert released == "".join(pieces).strip()


def test_stripper_holds_trailing_whitespace_until_text() -> None:
    stripper = WhitespaceStripper()

    assert stripper.push(" Summary ") == "Summary"
    assert stripper.push(" ") == ""
    assert stripper.push("here.") == "  here."
