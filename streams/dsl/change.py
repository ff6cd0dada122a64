"""Table updates as they travel between KTable processors: the new value and the old one."""

from __future__ import annotations

import struct
from typing import Any

from streams.errors import SerializationError


class Change:
    """An update of one key: ``new`` value (None = deleted) and ``old`` value (None = absent).

    ``is_latest`` is False for an update a versioned table took into its history without it
    becoming the key's current value (an out-of-order record, KIP-914); re-groupings and
    joins downstream of a versioned table skip such updates, as in Kafka Streams.
    """

    __slots__ = ("is_latest", "new", "old")

    def __init__(self, new: Any, old: Any, is_latest: bool = True) -> None:
        self.new = new
        self.old = old
        self.is_latest = is_latest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Change) and self.new == other.new and self.old == other.old

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Change(new={self.new!r}, old={self.old!r})"


_LEN = struct.Struct(">I")
_NEW, _OLD, _BOTH = 0, 1, 2


class ChangeSerde:
    """Serializes a :class:`Change` for a repartition topic (KTable ``group_by``).

    Layout: one flag byte (0 new only, 1 old only, 2 both), then for "both" a 4-byte length of
    the new value, the new value and the old value.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def with_defaults(self, key_default: Any, value_default: Any) -> ChangeSerde:
        """Fill a missing inner serde with the config's default value serde."""
        return self if self.inner is not None else ChangeSerde(value_default)

    def serialize(self, topic: str, change: Any, headers: Any = None) -> bytes | None:
        """Encode ``change`` (None stays None)."""
        if change is None:
            return None
        ser = self.inner.serialize
        new = ser(topic, change.new, headers) if change.new is not None else None
        old = ser(topic, change.old, headers) if change.old is not None else None
        if new is not None and old is not None:
            return bytes([_BOTH]) + _LEN.pack(len(new)) + new + old
        if old is not None:
            return bytes([_OLD]) + old
        return bytes([_NEW]) + (new or b"")

    def deserialize(self, topic: str, data: bytes | None, headers: Any = None) -> Change | None:
        """Decode what :meth:`serialize` wrote."""
        if data is None:
            return None
        if not data:
            raise SerializationError("empty Change record in repartition topic", topic=topic)
        de = self.inner.deserialize
        flag = data[0]
        if flag == _NEW:
            return Change(de(topic, data[1:], headers), None)
        if flag == _OLD:
            return Change(None, de(topic, data[1:], headers))
        if flag == _BOTH:
            (n,) = _LEN.unpack_from(data, 1)
            return Change(de(topic, data[5 : 5 + n], headers), de(topic, data[5 + n :], headers))
        raise SerializationError(f"unknown Change flag byte {flag}", topic=topic)

    def __repr__(self) -> str:
        return f"ChangeSerde({self.inner!r})"
