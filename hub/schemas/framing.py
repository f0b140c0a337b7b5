"""The two byte framings around an Avro body: single-object encoding and Confluent's wire format."""

from __future__ import annotations

from dataclasses import dataclass

from hub.errors import SchemaError

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = 0x00
_SINGLE_HEADER = len(SINGLE_OBJECT_MAGIC) + 8
_CONFLUENT_HEADER = 5


@dataclass(frozen=True)
class Header:
    """What the framing says about the writer's schema, and where the Avro body starts."""

    fingerprint: bytes | None
    schema_id: int | None
    body_offset: int


def single_object_header(fingerprint: bytes) -> bytes:
    return SINGLE_OBJECT_MAGIC + fingerprint


def confluent_header(schema_id: int) -> bytes:
    if not 0 <= schema_id < 2**32:
        raise SchemaError(f"schema id {schema_id} does not fit the 4-byte Confluent header")
    return bytes([CONFLUENT_MAGIC]) + schema_id.to_bytes(4, "big")


def read_header(data: bytes) -> Header:
    """Identify the framing of ``data``; raise ``SchemaError`` on anything else."""
    if not data:
        raise SchemaError("empty message: expected an Avro event with a schema header")
    if data[:2] == SINGLE_OBJECT_MAGIC:
        if len(data) < _SINGLE_HEADER:
            raise SchemaError(
                f"truncated message: {len(data)} bytes, the single-object header alone is "
                f"{_SINGLE_HEADER} (0xC3 0x01 + 8-byte fingerprint)"
            )
        return Header(bytes(data[2:_SINGLE_HEADER]), None, _SINGLE_HEADER)
    if data[0] == CONFLUENT_MAGIC:
        if len(data) < _CONFLUENT_HEADER:
            raise SchemaError(
                f"truncated message: {len(data)} bytes, the Confluent header alone is "
                f"{_CONFLUENT_HEADER} (0x00 + 4-byte schema id)"
            )
        return Header(None, int.from_bytes(data[1:_CONFLUENT_HEADER], "big"), _CONFLUENT_HEADER)
    raise SchemaError(
        f"unknown magic byte 0x{data[0]:02x}: expected 0x00 (Confluent wire format) or "
        "0xC3 0x01 (Avro single-object encoding)"
    )
