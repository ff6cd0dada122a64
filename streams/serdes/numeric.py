"""Fixed-width number serdes with the byte layouts of Kafka's Java ``Serdes``.

==================  ===========================  ==========================================
streams             Java                         bytes
==================  ===========================  ==========================================
``Short()``         ``Serdes.Short()``           2 bytes, big-endian two's complement
``Integer()``       ``Serdes.Integer()``         4 bytes, big-endian two's complement
``Long()``          ``Serdes.Long()``            8 bytes, big-endian two's complement
``Float()``         ``Serdes.Float()``           4 bytes, IEEE-754 binary32, big-endian
``Double()``        ``Serdes.Double()``          8 bytes, IEEE-754 binary64, big-endian
==================  ===========================  ==========================================

The other Java-compatible serdes are in :mod:`streams.serdes.primitives` (bytes, text,
boolean, UUID, void) and :mod:`streams.serdes.lists` (``List``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from streams.errors import SerializationError
from streams.serdes.base import BaseSerde, Headers, _deserialize_error, _serialize_error

T = TypeVar("T")

__all__ = ["Double", "Float", "Integer", "Long", "Short"]


class _FixedWidth(BaseSerde[T]):
    """A number packed with one precompiled ``struct.Struct`` (a fixed number of bytes)."""

    _format: ClassVar[str]
    _java: ClassVar[str]  # the Java deserializer's class name, for Java's error messages
    size: ClassVar[int]

    def __init__(self) -> None:
        packer = struct.Struct(self._format)
        self._pack: Callable[[Any], bytes] = packer.pack
        self._unpack: Callable[[bytes], tuple[Any, ...]] = packer.unpack

    def serialize(
        self, topic: str, value: T | None, headers: Headers | None = None
    ) -> bytes | None:
        """Pack ``value`` big-endian; out-of-range values raise ``SerializationError``."""
        if value is None:
            return None
        try:
            return self._pack(value)
        except Exception as exc:
            raise _serialize_error(self, topic, value, self._explain(value, exc)) from exc

    def deserialize(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> T | None:
        """Unpack exactly ``size`` bytes; any other length raises ``SerializationError``."""
        if data is None:
            return None
        try:
            return self._unpack(data)[0]
        except Exception as exc:
            if isinstance(exc, struct.error):
                detail = (
                    f"Size of data received by {self._java} is not {self.size} "
                    f"(got {len(data)} bytes)"
                )
                raise SerializationError(f"{self!r}: {detail}", topic=topic) from exc
            raise _deserialize_error(self, topic, data, exc) from exc

    def _explain(self, value: object, exc: Exception) -> str:
        return str(exc)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), ())  # the precompiled struct methods are not picklable


class _Int(_FixedWidth[int]):
    def _explain(self, value: object, exc: Exception) -> str:
        if isinstance(value, int):
            bits = self.size * 8
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
            if not lo <= value <= hi:
                return f"{value} is out of range for a {bits}-bit signed integer ({lo}..{hi})"
        elif isinstance(value, float):
            return "expected int, got float (convert explicitly; floats are not truncated)"
        return str(exc)


class Short(_Int):
    """16-bit signed integer, 2 bytes big-endian (Java ``Serdes.Short()``).

    ``bool`` is accepted as an ``int`` (``True`` -> ``00 01``); values outside
    -32768..32767 raise :class:`~streams.errors.SerializationError`.

    Example::

        serdes.Short().serialize("t", -2)  # b"\\xff\\xfe"
    """

    _format = ">h"
    _java = "ShortDeserializer"
    size = 2


class Integer(_Int):
    """32-bit signed integer, 4 bytes big-endian two's complement (Java ``Serdes.Integer()``).

    ``bool`` is accepted as an ``int`` (``True`` -> ``00 00 00 01``); values outside
    -2**31..2**31-1 raise :class:`~streams.errors.SerializationError` (no wraparound).

    Example::

        serdes.Integer().serialize("t", 1)   # b"\\x00\\x00\\x00\\x01"
        serdes.Integer().serialize("t", -1)  # b"\\xff\\xff\\xff\\xff"
    """

    _format = ">i"
    _java = "IntegerDeserializer"
    size = 4


class Long(_Int):
    """64-bit signed integer, 8 bytes big-endian two's complement (Java ``Serdes.Long()``).

    The natural serde for Python ``int`` (what ``count()`` produces). ``bool`` is accepted as
    an ``int``; values outside -2**63..2**63-1 raise
    :class:`~streams.errors.SerializationError`.

    Example::

        serdes.Long().serialize("t", 2**40)  # b"\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00"
    """

    _format = ">q"
    _java = "LongDeserializer"
    size = 8


class Float(_FixedWidth[float]):
    """IEEE-754 binary32, 4 bytes big-endian (Java ``Serdes.Float()``).

    Python floats are doubles: precision beyond float32 is rounded away, and values beyond
    float32's range (about 3.4e38) raise :class:`~streams.errors.SerializationError`.
    ``int`` values are accepted.

    Example::

        serdes.Float().serialize("t", 1.5)  # b"\\x3f\\xc0\\x00\\x00"
    """

    _format = ">f"
    _java = "FloatDeserializer"
    size = 4


class Double(_FixedWidth[float]):
    """IEEE-754 binary64, 8 bytes big-endian (Java ``Serdes.Double()``).

    ``int`` values are accepted (converted to float).

    Example::

        serdes.Double().serialize("t", 1.5)  # b"\\x3f\\xf8\\x00\\x00\\x00\\x00\\x00\\x00"
    """

    _format = ">d"
    _java = "DoubleDeserializer"
    size = 8
