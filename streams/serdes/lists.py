"""The list serde, with the byte layout of Kafka's Java ``Serdes.ListSerde`` (KIP-466).

Java's ``Serdes.ListSerde(...)`` reads what :class:`List` writes and the other way round; the
layout is described on the class.
"""

from __future__ import annotations

import struct
from typing import Any, TypeVar

from streams.errors import ConfigError, SerializationError
from streams.serdes.base import BaseSerde, Headers, Serde, _deserialize_error, _serialize_error
from streams.serdes.numeric import Double, Float, Integer, Long, Short
from streams.serdes.primitives import UUID

T = TypeVar("T")

__all__ = ["List"]

_INT32 = struct.Struct(">i")
_pack_i32 = _INT32.pack
_unpack_i32 = _INT32.unpack_from
_NULL_ENTRY = _pack_i32(-1)
_CONSTANT_SIZE = 0  # Java Serdes.ListSerde.SerializationStrategy ordinals
_VARIABLE_SIZE = 1

#: Inner serdes Java's ListSerde writes with the CONSTANT_SIZE strategy, with their sizes.
_FIXED_SIZES: dict[type[Any], int] = {
    Short: 2,
    Integer: 4,
    Float: 4,
    Long: 8,
    Double: 8,
    UUID: 36,
}


class List(BaseSerde[list[T | None]]):
    """A list of values of one inner serde, in Java ``Serdes.ListSerde`` layout (KIP-466).

    Layout: one strategy byte, then

    * CONSTANT_SIZE (``0x00``; inner is ``Short``/``Integer``/``Float``/``Long``/``Double``/
      ``UUID``): int32 count of null entries, their int32 indexes, int32 list size, then the
      fixed-size encodings of the non-null entries back to back;
    * VARIABLE_SIZE (``0x01``; any other inner serde): int32 list size, then per entry an
      int32 length (``-1`` for a null entry) followed by that many bytes.

    All ints are big-endian. Entries may be ``None``; the list itself ``None`` is a tombstone.
    Any sequence serializes; ``deserialize`` returns a ``list``.

    Example::

        serdes.List(serdes.Integer()).serialize("t", [1, None])
        # b"\\x00" + b"\\x00\\x00\\x00\\x01" + b"\\x00\\x00\\x00\\x01"  (one null, at index 1)
        #   + b"\\x00\\x00\\x00\\x02" + b"\\x00\\x00\\x00\\x01"           (size 2, then 1)
    """

    def __init__(self, inner: Serde[T]) -> None:
        if not isinstance(inner, Serde):
            raise ConfigError(f"List serde needs an inner serde, got {inner!r}")
        self.inner = inner
        self._fixed_size = _FIXED_SIZES.get(type(inner))

    def serialize(
        self, topic: str, value: list[T | None] | None, headers: Headers | None = None
    ) -> bytes | None:
        """Encode the list in Java's ListSerde layout."""
        if value is None:
            return None
        ser = self.inner.serialize
        try:
            if self._fixed_size is not None:
                nulls = [i for i, v in enumerate(value) if v is None]
                parts = [b"\x00", _pack_i32(len(nulls))]
                parts.extend(_pack_i32(i) for i in nulls)
                parts.append(_pack_i32(len(value)))
                for v in value:
                    if v is not None:
                        parts.append(ser(topic, v, headers) or b"")
            else:
                parts = [b"\x01", _pack_i32(len(value))]
                for v in value:
                    b = None if v is None else ser(topic, v, headers)
                    if b is None:
                        parts.append(_NULL_ENTRY)
                    else:
                        parts.append(_pack_i32(len(b)))
                        parts.append(b)
            return b"".join(parts)
        except SerializationError:
            raise
        except Exception as exc:
            raise _serialize_error(self, topic, value, exc) from exc

    def deserialize(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> list[T | None] | None:
        """Decode Java's ListSerde layout into a ``list``."""
        if data is None:
            return None
        de = self.inner.deserialize
        out: list[T | None] = []
        try:
            strategy = data[0]
            pos = 1
            if strategy == _CONSTANT_SIZE:
                entry_size = self._fixed_size
                if entry_size is None:
                    raise ValueError(
                        f"entries were written with the CONSTANT_SIZE strategy, but {self.inner!r} "
                        "is not a fixed-size serde"
                    )
                (n_nulls,) = _unpack_i32(data, pos)
                if n_nulls < 0:
                    raise ValueError(f"negative null-index count {n_nulls}")
                nulls = set(struct.unpack_from(f">{n_nulls}i", data, pos + 4))
                pos += 4 + 4 * n_nulls
                (size,) = _unpack_i32(data, pos)
                pos += 4
                for i in range(size):
                    if i in nulls:
                        out.append(None)
                        continue
                    end = pos + entry_size
                    if end > len(data):
                        raise ValueError("end of the data reached prematurely")
                    out.append(de(topic, data[pos:end], headers))
                    pos = end
            elif strategy == _VARIABLE_SIZE:
                (size,) = _unpack_i32(data, pos)
                pos += 4
                for _ in range(size):
                    (n,) = _unpack_i32(data, pos)
                    pos += 4
                    if n == -1:
                        out.append(None)
                        continue
                    end = pos + n
                    if n < 0 or end > len(data):
                        raise ValueError(f"invalid entry length {n} at byte {pos - 4}")
                    out.append(de(topic, data[pos:end], headers))
                    pos = end
            else:
                raise ValueError(f"Invalid serialization strategy flag value {strategy}")
            return out
        except SerializationError:
            raise
        except Exception as exc:
            raise _deserialize_error(self, topic, data, exc) from exc

    def __repr__(self) -> str:
        return f"List({self.inner!r})"
