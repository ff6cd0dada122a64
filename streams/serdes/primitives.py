"""Serdes with the exact byte layouts of Kafka's Java ``Serdes`` (``org.apache.kafka.common``):
bytes, text, boolean, UUID and void.

Records written by these serdes can be read by Java, Kafka Connect or ksqlDB with the
matching Java serde, and the other way round:

==================  ===========================  ==========================================
streams             Java                         bytes
==================  ===========================  ==========================================
``Bytes()``         ``Serdes.ByteArray()``       unchanged
``String()``        ``Serdes.String()``          UTF-8 (or the given encoding)
``Boolean()``       ``Serdes.Boolean()``         1 byte, ``0x01`` true / ``0x00`` false
``UUID()``          ``Serdes.UUID()``            36-char string form, UTF-8
``Void()``          ``Serdes.Void()``            only ``None``
==================  ===========================  ==========================================

The numbers (``Short``, ``Integer``, ``Long``, ``Float``, ``Double``) are in
:mod:`streams.serdes.numeric`, ``List`` in :mod:`streams.serdes.lists`.
"""

from __future__ import annotations

import codecs
import uuid as _uuid
from typing import ClassVar

from streams.errors import ConfigError, SerializationError
from streams.serdes.base import BaseSerde, Headers, _deserialize_error, _serialize_error

__all__ = ["UUID", "Boolean", "Bytes", "String", "Void"]


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
