"""Serdes with the exact byte layouts of Kafka's Java ``Serdes`` (``org.apache.kafka.common``).

Records written by these serdes can be read by Java, Kafka Connect or ksqlDB with the
matching Java serde, and the other way round:

==================  ===========================  ==========================================
streams             Java                         bytes
==================  ===========================  ==========================================
``Bytes()``         ``Serdes.ByteArray()``       unchanged
``String()``        ``Serdes.String()``          UTF-8 (or the given encoding)
``Short()``         ``Serdes.Short()``           2 bytes, big-endian two's complement
``Integer()``       ``Serdes.Integer()``         4 bytes, big-endian two's complement
``Long()``          ``Serdes.Long()``            8 bytes, big-endian two's complement
``Float()``         ``Serdes.Float()``           4 bytes, IEEE-754 binary32, big-endian
``Double()``        ``Serdes.Double()``          8 bytes, IEEE-754 binary64, big-endian
``Boolean()``       ``Serdes.Boolean()``         1 byte, ``0x01`` true / ``0x00`` false
``UUID()``          ``Serdes.UUID()``            36-char string form, UTF-8
``Void()``          ``Serdes.Void()``            only ``None``
``List(inner)``     ``Serdes.ListSerde(...)``    see :class:`List`
==================  ===========================  ==========================================
"""

from __future__ import annotations

import codecs
import struct
import uuid as _uuid
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from streams.errors import ConfigError, SerializationError
from streams.serdes.base import (
    BaseSerde,
    Headers,
    Serde,
    _deserialize_error,
    _serialize_error,
)

T = TypeVar("T")

__all__ = [
    "UUID",
    "Boolean",
    "Bytes",
    "Double",
    "Float",
    "Integer",
    "List",
    "Long",
    "Short",
    "String",
    "Void",
]


class Bytes(BaseSerde[bytes]):
    """Pass bytes through unchanged (Java ``Serdes.ByteArray()``); the default serde.

    ``serialize`` accepts ``bytes``, ``bytearray`` and ``memoryview`` (the latter two are
    copied into ``bytes``); anything else raises :class:`~streams.errors.SerializationError`.

    Example::

        serdes.Bytes().serialize("t", b"\\x01\\x02")  # b"\\x01\\x02"
    """

    #: Tells the runtime that this serde is the identity on bytes (see ``is_bytes_serde``).
    is_passthrough: ClassVar[bool] = True

    def serialize(
        self, topic: str, value: bytes | None, headers: Headers | None = None
    ) -> bytes | None:
        """Return ``value`` itself (``bytearray``/``memoryview`` become ``bytes``)."""
        if value is None or type(value) is bytes:
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value)
        raise _serialize_error(self, topic, value, "expected bytes, bytearray or memoryview")

    def deserialize(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> bytes | None:
        """Return ``data`` unchanged."""
        return data


class String(BaseSerde[str]):
    """Text in the given encoding, UTF-8 by default (Java ``Serdes.String()``).

    ``errors`` is passed to ``str.encode``/``bytes.decode``: the default ``"strict"`` raises
    :class:`~streams.errors.SerializationError` on invalid bytes, ``"replace"`` substitutes
    U+FFFD like Java's ``StringDeserializer`` does.

    Example::

        serdes.String().serialize("t", "é")                  # b"\\xc3\\xa9"
        serdes.String(encoding="latin-1").serialize("t", "é")  # b"\\xe9"
    """

    def __init__(self, encoding: str = "utf-8", errors: str = "strict") -> None:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise ConfigError(f"String serde: unknown encoding {encoding!r}") from exc
        self.encoding = encoding
        self.errors = errors
        # str.encode()/bytes.decode() without arguments take CPython's fast UTF-8 path
        self._plain = codecs.lookup(encoding).name == "utf-8" and errors == "strict"

    def serialize(
        self, topic: str, value: str | None, headers: Headers | None = None
    ) -> bytes | None:
        """Encode ``value`` (a ``str``)."""
        if value is None:
            return None
        try:
            if self._plain:
                return value.encode()
            return value.encode(self.encoding, self.errors)
        except AttributeError as exc:
            raise _serialize_error(self, topic, value, "expected str") from exc
        except Exception as exc:
            raise _serialize_error(self, topic, value, exc) from exc

    def deserialize(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> str | None:
        """Decode ``data`` to ``str``."""
        if data is None:
            return None
        try:
            if self._plain:
                return data.decode()
            return data.decode(self.encoding, self.errors)
        except AttributeError:  # a memoryview or other buffer without .decode()
            try:
                return str(data, self.encoding, self.errors)
            except Exception as exc:
                raise _deserialize_error(self, topic, data, exc) from exc
        except Exception as exc:
            raise _deserialize_error(self, topic, data, exc) from exc

    def __repr__(self) -> str:
        args = f"encoding={self.encoding!r}"
        if self.errors != "strict":
            args += f", errors={self.errors!r}"
        return f"String({args})"


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


_TRUE = b"\x01"
_FALSE = b"\x00"


class Boolean(BaseSerde[bool]):
    """One byte, ``0x01`` for true and ``0x00`` for false (Java ``Serdes.Boolean()``, Kafka 3.x).

    Only real ``bool`` values serialize (``1``/``0`` are rejected, so a wrong serde choice is
    caught early); any byte other than ``0x00``/``0x01`` fails to deserialize.

    Example::

        serdes.Boolean().serialize("t", True)     # b"\\x01"
        serdes.Boolean().deserialize("t", b"\\x00")  # False
    """

    def serialize(
        self, topic: str, value: bool | None, headers: Headers | None = None
    ) -> bytes | None:
        """``True`` -> ``b"\\x01"``, ``False`` -> ``b"\\x00"``."""
        if value is True:
            return _TRUE
        if value is False:
            return _FALSE
        if value is None:
            return None
        raise _serialize_error(self, topic, value, "expected bool")

    def deserialize(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> bool | None:
        """``b"\\x01"`` -> ``True``, ``b"\\x00"`` -> ``False``; anything else is an error."""
        if data is None:
            return None
        if data == _TRUE:
            return True
        if data == _FALSE:
            return False
        if len(data) != 1:
            detail = (
                f"Size of data received by BooleanDeserializer is not 1 (got {len(data)} bytes)"
            )
        else:
            detail = f"Unexpected byte received by BooleanDeserializer: {data[0]:#04x}"
        raise SerializationError(f"{self!r}: {detail}", topic=topic)


class UUID(BaseSerde[_uuid.UUID]):
    """A UUID as its 36-character string form in UTF-8 (Java ``Serdes.UUID()``).

    ``serialize`` takes a :class:`uuid.UUID` or a string that parses as one (it is
    normalized to the lowercase hyphenated form Java writes); ``deserialize`` returns
    :class:`uuid.UUID`.

    Example::

        u = uuid.UUID("123e4567-e89b-12d3-a456-426614174000")
        serdes.UUID().serialize("t", u)  # b"123e4567-e89b-12d3-a456-426614174000"
    """

    def serialize(
        self, topic: str, value: _uuid.UUID | str | None, headers: Headers | None = None
    ) -> bytes | None:
        """Write ``str(value)`` as UTF-8."""
        if value is None:
            return None
        if type(value) is _uuid.UUID:
            return str(value).encode()
        try:
            if isinstance(value, str):
                return str(_uuid.UUID(value)).encode()
            if isinstance(value, _uuid.UUID):
                return str(value).encode()
        except Exception as exc:
            raise _serialize_error(self, topic, value, exc) from exc
        raise _serialize_error(self, topic, value, "expected uuid.UUID or str")

    def deserialize(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> _uuid.UUID | None:
        """Parse the UTF-8 string form into :class:`uuid.UUID`."""
        if data is None:
            return None
        try:
            return _uuid.UUID(str(data, "utf-8"))
        except Exception as exc:
            raise _deserialize_error(
                self, topic, data, f"Error parsing data into UUID: {exc}"
            ) from exc


class Void(BaseSerde[None]):
    """Only ``None`` (Java ``Serdes.Void()``): for keys or values that must always be null.

    Any other value, or any bytes, raise :class:`~streams.errors.SerializationError`.

    Example::

        serdes.Void().serialize("t", None)  # None
    """

    def serialize(self, topic: str, value: None, headers: Headers | None = None) -> bytes | None:
        """Return ``None``; a non-``None`` value is an error."""
        if value is None:
            return None
        raise _serialize_error(self, topic, value, "Void serde only accepts None")

    def deserialize(self, topic: str, data: bytes | None, headers: Headers | None = None) -> None:
        """Return ``None``; non-null data is an error (Java: "Data should be null")."""
        if data is None:
            return None
        raise _deserialize_error(self, topic, data, "Data should be null for a VoidDeserializer")


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
