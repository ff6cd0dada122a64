"""The serde protocol: one object that turns values into bytes and back.

``None`` is a tombstone: every serde maps ``None`` to ``None`` in both directions, so
deletes flow through tables and changelogs untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")

#: Kafka record headers as streams passes them around: a list of (key, value) pairs.
Headers = Sequence[tuple[str, bytes | None]]


@runtime_checkable
class Serde(Protocol[T]):
    """Serializer and deserializer for one type.

    Implementations raise :class:`streams.errors.SerializationError` (naming the topic) on bad
    input and chain the original exception.
    """

    def serialize(self, topic: str, value: T | None, headers: Headers | None = None) -> bytes | None:
        """Turn ``value`` into bytes for ``topic``; ``None`` gives ``None`` (a tombstone)."""
        ...

    def deserialize(self, topic: str, data: bytes | None, headers: Headers | None = None) -> T | None:
        """Turn bytes read from ``topic`` into a value; ``None`` gives ``None``."""
        ...


class BaseSerde(Generic[T]):
    """Convenience base: handles ``None`` and wraps errors; subclasses implement ``_to``/``_from``."""

    def serialize(self, topic: str, value: T | None, headers: Headers | None = None) -> bytes | None:
        """Serialize ``value`` for ``topic``; ``None`` stays ``None``."""
        if value is None:
            return None
        try:
            return self._to(value)
        except Exception as exc:  # wrap anything the encoder throws; cause is chained
            from streams.errors import SerializationError

            if isinstance(exc, SerializationError):
                raise
            raise SerializationError(
                f"{type(self).__name__} could not serialize {type(value).__name__} value: {exc}",
                topic=topic,
            ) from exc

    def deserialize(self, topic: str, data: bytes | None, headers: Headers | None = None) -> T | None:
        """Deserialize ``data`` read from ``topic``; ``None`` stays ``None``."""
        if data is None:
            return None
        try:
            return self._from(data)
        except Exception as exc:
            from streams.errors import SerializationError

            if isinstance(exc, SerializationError):
                raise
            raise SerializationError(
                f"{type(self).__name__} could not deserialize {len(data)} bytes: {exc}",
                topic=topic,
            ) from exc

    def _to(self, value: T) -> bytes:
        raise NotImplementedError

    def _from(self, data: bytes) -> T:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def is_bytes_serde(serde: Any) -> bool:
    """True when ``serde`` passes bytes through unchanged (the default when none is configured)."""
    return bool(getattr(serde, "is_passthrough", False))
