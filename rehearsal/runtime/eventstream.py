"""Encode AWS event-stream messages, the framing of InvokeEndpointWithResponseStream.

A message is a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes), the
headers, the payload and a CRC32 of everything before it, all integers big-endian. Each header
is a 1-byte name length, the name, a 1-byte value type and the value; only type 7 (a string
with a 2-byte length) is needed here.
"""

from __future__ import annotations

import json
import struct
import zlib

_STRING_HEADER_TYPE = 7
_PRELUDE_LENGTH = 12
_MESSAGE_CRC_LENGTH = 4


def encode_headers(headers: dict[str, str]) -> bytes:
    """Encode string headers in the order given."""
    encoded = bytearray()
    for name, value in headers.items():
        name_bytes = name.encode("utf-8")
        value_bytes = value.encode("utf-8")
        if len(name_bytes) > 255:
            raise ValueError(f"event-stream header name is longer than 255 bytes: {name!r}")
        if len(value_bytes) > 65535:
            raise ValueError(f"event-stream header {name!r} has a value over 65535 bytes")
        encoded += struct.pack(">B", len(name_bytes)) + name_bytes
        encoded += struct.pack(">BH", _STRING_HEADER_TYPE, len(value_bytes)) + value_bytes
    return bytes(encoded)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """Encode one event-stream message with its prelude and both checksums."""
    encoded_headers = encode_headers(headers)
    total_length = _PRELUDE_LENGTH + len(encoded_headers) + len(payload) + _MESSAGE_CRC_LENGTH
    prelude = struct.pack(">II", total_length, len(encoded_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + encoded_headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


def payload_part(data: bytes) -> bytes:
    """Encode a PayloadPart event; botocore yields it as ``{"PayloadPart": {"Bytes": data}}``."""
    return encode_message(
        {
            ":event-type": "PayloadPart",
            ":content-type": "application/octet-stream",
            ":message-type": "event",
        },
        data,
    )


def exception_event(exception_type: str, fields: dict[str, str]) -> bytes:
    """Encode a modelled exception event; botocore raises it as ``EventStreamError``.

    ``exception_type`` is a member of the ResponseStream shape (``ModelStreamError`` or
    ``InternalStreamFailure``) and ``fields`` are that shape's members, such as ``Message``.
    """
    return encode_message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps(fields).encode("utf-8"),
    )
