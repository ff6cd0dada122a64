"""The serde protocol: one object that turns values into bytes and back.

``None`` is a tombstone: every serde maps ``None`` to ``None`` in both directions, so
deletes flow through tables and changelogs untouched.

Any object with ``serialize(topic, value, headers=None)`` and
``deserialize(topic, data, headers=None)`` is a :class:`Serde`; :class:`BaseSerde` is a
convenience base that does the ``None`` handling and error wrapping for you::

    from streams.serdes import BaseSerde

    class Upper(BaseSerde[str]):
        def _to(self, value: str) -> bytes:
            return value.upper().encode()

        def _from(self, data: bytes) -> str:
            return data.decode()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from streams.errors import SerializationError

T = TypeVar("T")

#: Kafka record headers as streams passes them around: a list of (key, value) pairs.
Headers = Sequence[tuple[str, bytes | None]]


@runtime_checkable
class Serde(Protocol[T]):
    """Serializer and deserializer for one type.

    Implementations raise :class:`streams.errors.SerializationError` (naming the topic) on bad
    input and chain the original exception.

    Example::

        def roundtrip(serde: Serde[int], value: int) -> int | None:
            return serde.deserialize("t", serde.serialize("t", value))
    """

    def serialize(
        self, topic: str, value: T | None, headers: Headers | None = None
    ) -> bytes | None:
        """Turn ``value`` into bytes for ``topic``; ``None`` gives ``None`` (a tombstone)."""
        ...

    def deserialize(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> T | None:
        """Turn bytes read from ``topic`` into a value; ``None`` gives ``None``."""
        ...


def _serialize_error(
    serde: object, topic: str, value: object, detail: object
) -> SerializationError:
    """The error a serde raises when ``value`` cannot be turned into bytes (caller chains)."""
    return SerializationError(
        f"{serde!r} could not serialize {type(value).__name__} value: {detail}", topic=topic
    )


def _deserialize_error(
    serde: object, topic: str, data: object, detail: object
) -> SerializationError:
    """The error a serde raises when ``data`` cannot be turned into a value (caller chains)."""
    try:
        size = f"{len(data)} bytes"  # type: ignore[arg-type]
    except TypeError:
        size = f"a {type(data).__name__}"
    return SerializationError(f"{serde!r} could not deserialize {size}: {detail}", topic=topic)


class BaseSerde(Generic[T]):
    """Convenience base: handles ``None`` and wraps errors; subclasses implement ``_to``/``_from``.

    Any exception raised by ``_to``/``_from`` becomes a
    :class:`~streams.errors.SerializationError` naming the topic, with the original exception
    as ``__cause__``. Built-in serdes override :meth:`serialize`/:meth:`deserialize` directly
    for speed, keeping the same contract.

    Example::

        class Csv(BaseSerde[list[str]]):
            def _to(self, value: list[str]) -> bytes:
                return ",".join(value).encode()

            def _from(self, data: bytes) -> list[str]:
                return data.decode().split(",")

        Csv().serialize("t", ["a", "b"])  # b"a,b"
    """

    def serialize(
        self, topic: str, value: T | None, headers: Headers | None = None
    ) -> bytes | None:
        """Serialize ``value`` for ``topic``; ``None`` stays ``None``."""
        if value is None:
            return None
        try:
            return self._to(value)
        except SerializationError:
            raise
        except Exception as exc:  # wrap anything the encoder throws; cause is chained
            raise _serialize_error(self, topic, value, exc) from exc

    def deserialize(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> T | None:
        """Deserialize ``data`` read from ``topic``; ``None`` stays ``None``."""
        if data is None:
            return None
        try:
            return self._from(data)
        except SerializationError:
            raise
        except Exception as exc:
            raise _deserialize_error(self, topic, data, exc) from exc

    def _to(self, value: T) -> bytes:
        """Encode a non-``None`` value (override in subclasses)."""
        raise NotImplementedError

    def _from(self, data: bytes) -> T:
        """Decode non-``None`` bytes (override in subclasses)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def is_bytes_serde(serde: Any) -> bool:
    """True when ``serde`` passes bytes through unchanged (the default when none is configured).

    Example::

        is_bytes_serde(serdes.Bytes())   # True
        is_bytes_serde(serdes.String())  # False
    """
    return bool(getattr(serde, "is_passthrough", False))
