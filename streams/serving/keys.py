"""Keys read from URL text with a store's key serde, and values written as JSON.

A URL carries text; a store's keys are whatever its key serde produces. The text is read as
the Python value the serde takes: a ``String`` key as is, ``Integer``/``Long``/``Short`` as a
decimal integer, ``Float``/``Double`` as a number, ``Boolean`` as ``true``/``false``, ``UUID``
in its usual form, ``Json``/``MsgPack`` keys as JSON text (a JSON string in quotes), ``Bytes``
as the text's UTF-8 bytes. Other serdes (Avro, say) cannot be read from text: the server
says so.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from streams.errors import StreamsError
from streams.serdes.numeric import Double, Float, Short
from streams.serdes.numeric import Integer as IntegerSerde
from streams.serdes.numeric import Long as LongSerde
from streams.serdes.primitives import UUID as UUIDSerde
from streams.serdes.primitives import Boolean, Bytes, String
from streams.serdes.structured import Json, MsgPack


class KeyTextError(StreamsError):
    """URL text that the store's key serde cannot take (the message says why)."""


def parse_key(text: str, serde: Any) -> Any:
    """The key ``text`` stands for under ``serde`` (see the module docstring); raises
    :class:`KeyTextError` naming the serde when the text does not fit it."""
    name = type(serde).__name__
    try:
        if isinstance(serde, String):
            return text
        if isinstance(serde, Bytes):
            return text.encode()
        if isinstance(serde, (Short, IntegerSerde, LongSerde)):
            return int(text)
        if isinstance(serde, (Float, Double)):
            return float(text)
        if isinstance(serde, Boolean):
            if text.lower() not in ("true", "false"):
                raise ValueError("expected true or false")
            return text.lower() == "true"
        if isinstance(serde, UUIDSerde):
            return uuid.UUID(text)
        if isinstance(serde, (Json, MsgPack)):
            typ = getattr(serde, "type", None) or Any
            return msgspec.json.decode(text.encode(), type=typ)
    except (ValueError, msgspec.DecodeError) as exc:
        raise KeyTextError(f"{text!r} is not a key of serde {name}: {exc}") from exc
    raise KeyTextError(f"keys of serde {name} cannot be given as URL text (supported: String, "
                       "Bytes, Short, Integer, Long, Float, Double, Boolean, UUID, Json, MsgPack)")


def checked_key(text: str, serde: Any, topic: str) -> Any:
    """:func:`parse_key`, then serialized once to catch what only the serde checks (an
    integer out of a ``Short``'s range, say)."""
    key = parse_key(text, serde)
    try:
        serde.serialize(topic, key)
    except Exception as exc:
        raise KeyTextError(f"{text!r} is not a key of serde {type(serde).__name__}: "
                           f"{exc}") from exc
    return key


def key_text(key: Any, serde: Any) -> str:
    """The URL text of ``key`` under ``serde``, the inverse of :func:`parse_key` (a paging
    cursor is a key given back)."""
    if isinstance(serde, (Json, MsgPack)):
        return msgspec.json.encode(key).decode()
    if isinstance(key, bytes):
        return key.decode(errors="replace")
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _fallback(value: Any) -> Any:
    """JSON for what msgspec does not know: Windowed keys, ValueAndTimestamp, else str()."""
    window = getattr(value, "window", None)
    if window is not None and hasattr(value, "key"):
        return {"key": value.key, "start": window.start, "end": window.end}
    if hasattr(value, "value") and hasattr(value, "timestamp"):
        return {"value": value.value, "timestamp": value.timestamp}
    return str(value)


_encoder = msgspec.json.Encoder(enc_hook=_fallback)


def to_json(payload: Any) -> bytes:
    """``payload`` as JSON bytes: anything msgspec encodes (dicts, lists, dataclasses,
    Structs, datetimes, UUIDs, bytes as base64), windowed keys as objects, the rest as text."""
    return _encoder.encode(payload)
