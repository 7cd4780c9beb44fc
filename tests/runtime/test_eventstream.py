"""The event-stream encoder, checked with botocore's own decoder."""

from __future__ import annotations

import json

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from rehearsal.runtime import eventstream


def decode_all(data: bytes) -> list[object]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_payload_part_decodes_with_botocore() -> None:
    [message] = decode_all(eventstream.payload_part('data:{"é"}'.encode()))

    assert message.headers == {  # type: ignore[attr-defined]
        ":event-type": "PayloadPart",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert message.payload == 'data:{"é"}'.encode()  # type: ignore[attr-defined]
    assert message.to_response_dict()["status_code"] == 200  # type: ignore[attr-defined]


def test_exception_event_decodes_as_error() -> None:
    encoded = eventstream.exception_event(
        "ModelStreamError", {"Message": "stream broke", "ErrorCode": "StreamBroken"}
    )
    [message] = decode_all(encoded)

    response = message.to_response_dict()  # type: ignore[attr-defined]
    assert response["status_code"] == 400
    assert response["headers"][":exception-type"] == "ModelStreamError"
    assert response["headers"][":message-type"] == "exception"
    assert json.loads(response["body"]) == {"Message": "stream broke", "ErrorCode": "StreamBroken"}


def test_messages_split_at_every_byte_decode() -> None:
    stream = eventstream.payload_part(b"first") + eventstream.payload_part(b"second")
    buffer = EventStreamBuffer()
    payloads: list[bytes] = []
    for offset in range(len(stream)):
        buffer.add_data(stream[offset : offset + 1])
        payloads.extend(message.payload for message in buffer)

    assert payloads == [b"first", b"second"]


def test_prelude_lengths_match_message() -> None:
    encoded = eventstream.payload_part(b"abc")
    total_length = int.from_bytes(encoded[0:4], "big")
    headers_length = int.from_bytes(encoded[4:8], "big")

    assert total_length == len(encoded)
    assert headers_length == len(encoded) - 12 - 3 - 4


def test_corrupted_message_fails_checksum() -> None:
    encoded = bytearray(eventstream.payload_part(b"abc"))
    encoded[-5] ^= 0xFF

    with pytest.raises(ChecksumMismatch):
        decode_all(bytes(encoded))
