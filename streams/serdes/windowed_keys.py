"""Serdes of windowed keys (:class:`~streams.processor.window_types.Windowed`), for output topics.

The byte layouts are Kafka Streams', so Java consumers can read what a windowed aggregation
writes (and the other way round):

* ``TimeWindowedSerde(inner, window_size_ms)`` — Java's ``TimeWindowedSerializer`` /
  ``TimeWindowedDeserializer`` (``WindowedSerdes.timeWindowedSerdeFrom``):
  ``[key][8-byte window start]``;
* ``SessionWindowedSerde(inner)`` — Java's ``SessionWindowedSerializer`` /
  ``SessionWindowedDeserializer`` (``WindowedSerdes.sessionWindowedSerdeFrom``):
  ``[key][8-byte session end][8-byte session start]``.

``key`` is the inner serde's bytes; timestamps are big-endian signed 64-bit milliseconds. A time
window's end is not written: the deserializer computes it as ``start + window_size_ms`` (so it
must be told the window size, as in Java).
"""

from __future__ import annotations

import struct
from typing import Any, Generic, TypeVar

from streams.errors import SerializationError
from streams.processor.window_types import SessionWindow, Windowed, time_window_for_size
from streams.serdes.base import Headers, Serde, _deserialize_error, _serialize_error

__all__ = ["SessionWindowedSerde", "TimeWindowedSerde"]

K = TypeVar("K")

_TS = struct.Struct(">q")
_END_START = struct.Struct(">qq")


def _require_inner(serde: object, inner: Serde[Any] | None, topic: str) -> Serde[Any]:
    if inner is None:
        raise SerializationError(
            f"{serde!r} has no inner key serde: pass one, or let the topology fill it from "
            "default.key.serde",
            topic=topic,
        )
    return inner


class TimeWindowedSerde(Generic[K]):
    """Serde of ``Windowed(key, TimeWindow)`` keys: ``[inner key bytes][8-byte window start]``.

    ``inner`` may be None while a topology is described; the runtime fills it from
    ``default.key.serde`` through :meth:`with_defaults`.

    Example::

        serde = TimeWindowedSerde(String(), window_size_ms=60_000)
        data = serde.serialize("t", Windowed("a", TimeWindow(0, 60_000)))  # b"a" + 8 zero bytes
        serde.deserialize("t", data)  # Windowed('a', TimeWindow(start=0, end=60000))
    """

    __slots__ = ("inner", "window_size_ms")

    def __init__(self, inner: Serde[K] | None, window_size_ms: int) -> None:
        """Windowed keys of ``inner`` in windows of ``window_size_ms``."""
        if isinstance(window_size_ms, bool) or not isinstance(window_size_ms, int):
            raise TypeError(f"window_size_ms must be an int, got {window_size_ms!r}")
        if window_size_ms < 0:
            raise ValueError(f"window_size_ms must not be negative, got {window_size_ms}")
        #: Serde of the keys inside the windows.
        self.inner = inner
        #: Size of the windows (to compute each window's end when reading).
        self.window_size_ms = window_size_ms

    def with_defaults(self, key_default: Any, value_default: Any) -> TimeWindowedSerde[Any]:
        """A copy whose missing inner serde is the config's default key serde."""
        if self.inner is not None:
            return self
        return TimeWindowedSerde(key_default, self.window_size_ms)

    def serialize(
        self, topic: str, value: Windowed[K] | None, headers: Headers | None = None
    ) -> bytes | None:
        """``[key][start]``; None stays None."""
        if value is None:
            return None
        inner = _require_inner(self, self.inner, topic)
        try:
            key, start = value.key, value.window.start
        except AttributeError as exc:
            raise _serialize_error(self, topic, value, "expected a Windowed key") from exc
        data = inner.serialize(topic, key, headers)
        if data is None:
            raise _serialize_error(self, topic, value, "the inner serde wrote None for the key")
        try:
            return data + _TS.pack(start)
        except struct.error as exc:
            raise _serialize_error(self, topic, value, exc) from exc

    def deserialize(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> Windowed[K] | None:
        """``Windowed(key, TimeWindow(start, start + window_size_ms))``; None stays None."""
        if data is None:
            return None
        inner = _require_inner(self, self.inner, topic)
        n = len(data) - 8
        if n < 0:
            raise _deserialize_error(self, topic, data, "shorter than the 8-byte window start")
        start = _TS.unpack_from(data, n)[0]
        try:
            window = time_window_for_size(start, self.window_size_ms)
        except ValueError as exc:
            raise _deserialize_error(self, topic, data, exc) from exc
        return Windowed(inner.deserialize(topic, data[:n], headers), window)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"TimeWindowedSerde({self.inner!r}, window_size_ms={self.window_size_ms})"


class SessionWindowedSerde(Generic[K]):
    """Serde of ``Windowed(key, SessionWindow)`` keys: ``[key][8-byte end][8-byte start]``.

    ``inner`` may be None while a topology is described (see :class:`TimeWindowedSerde`).
    """

    __slots__ = ("inner",)

    def __init__(self, inner: Serde[K] | None) -> None:
        """Session-windowed keys of ``inner``."""
        #: Serde of the keys inside the sessions.
        self.inner = inner

    def with_defaults(self, key_default: Any, value_default: Any) -> SessionWindowedSerde[Any]:
        """A copy whose missing inner serde is the config's default key serde."""
        return self if self.inner is not None else SessionWindowedSerde(key_default)

    def serialize(
        self, topic: str, value: Windowed[K] | None, headers: Headers | None = None
    ) -> bytes | None:
        """``[key][end][start]``; None stays None."""
        if value is None:
            return None
        inner = _require_inner(self, self.inner, topic)
        try:
            key, start, end = value.key, value.window.start, value.window.end
        except AttributeError as exc:
            raise _serialize_error(self, topic, value, "expected a Windowed key") from exc
        data = inner.serialize(topic, key, headers)
        if data is None:
            raise _serialize_error(self, topic, value, "the inner serde wrote None for the key")
        try:
            return data + _END_START.pack(end, start)
        except struct.error as exc:
            raise _serialize_error(self, topic, value, exc) from exc

    def deserialize(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> Windowed[K] | None:
        """``Windowed(key, SessionWindow(start, end))``; None stays None."""
        if data is None:
            return None
        inner = _require_inner(self, self.inner, topic)
        n = len(data) - 16
        if n < 0:
            raise _deserialize_error(
                self, topic, data, "shorter than the 16-byte session end and start"
            )
        end, start = _END_START.unpack_from(data, n)
        try:
            window = SessionWindow(start, end)
        except ValueError as exc:
            raise _deserialize_error(self, topic, data, exc) from exc
        return Windowed(inner.deserialize(topic, data[:n], headers), window)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"SessionWindowedSerde({self.inner!r})"
