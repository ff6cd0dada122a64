"""JSON and MessagePack serdes built on msgspec, untyped or typed (validated on decode).

Each serde builds one msgspec ``Encoder`` and one ``Decoder`` up front and reuses them for
every record, so the per-record cost is the encode/decode call itself.

Example::

    import msgspec
    from streams import serdes

    class Order(msgspec.Struct):
        id: str
        amount: float

    orders = serdes.Json(Order)
    data = orders.serialize("orders", Order("o-1", 9.5))  # b'{"id":"o-1","amount":9.5}'
    orders.deserialize("orders", data)                     # Order(id='o-1', amount=9.5)
    serdes.Json().deserialize("orders", data)              # {'id': 'o-1', 'amount': 9.5}
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable
from typing import Any, Literal, TypeVar, cast, overload

import msgspec

from streams.serdes.base import BaseSerde, Headers, _deserialize_error, _serialize_error

T = TypeVar("T")

#: ``order`` option of msgspec encoders: ``None`` (insertion order, fastest),
#: ``"deterministic"`` (dict keys and sets sorted, so equal values give equal bytes) or
#: ``"sorted"`` (also struct/dataclass fields sorted by name).
Order = Literal["deterministic", "sorted"] | None

EncHook = Callable[[Any], Any]
DecHook = Callable[[builtins.type[Any], Any], Any]

__all__ = ["Json", "MsgPack"]


def _type_name(tp: Any) -> str:
    if isinstance(tp, builtins.type):
        return tp.__qualname__
    return repr(tp).replace("typing.", "")


class _MsgspecSerde(BaseSerde[T]):
    """Shared hot path of :class:`Json` and :class:`MsgPack`."""

    type: Any
    _encode: Callable[[Any], bytes]
    _decode: Callable[[Any], Any]

    def _setup(
        self, tp: Any, encoder: Any, decoder: Any, order: Order, options: dict[str, Any]
    ) -> None:
        self._options = options  # constructor keywords, to rebuild copies (see __reduce__)
        self.type = tp
        self.order = order
        self.encoder = encoder
        self.decoder = decoder
        self._encode = encoder.encode
        self._decode = decoder.decode

    def serialize(
        self, topic: str, value: T | None, headers: Headers | None = None
    ) -> bytes | None:
        """Encode ``value`` (anything msgspec can encode); ``None`` stays ``None``."""
        if value is None:
            return None
        try:
            return self._encode(value)
        except Exception as exc:
            raise _serialize_error(self, topic, value, exc) from exc

    def deserialize(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> T | None:
        """Decode ``data``; when typed, validate and build the declared type."""
        if data is None:
            return None
        try:
            return self._decode(data)
        except Exception as exc:
            raise _deserialize_error(self, topic, data, exc) from exc

    def __reduce__(self) -> tuple[Any, ...]:
        # msgspec encoders/decoders are not picklable: rebuild them from the arguments.
        return (functools.partial(cast(Any, type(self)), self.type, **self._options), ())

    def __repr__(self) -> str:
        args = [] if self.type is None else [f"type={_type_name(self.type)}"]
        if self.order is not None:
            args.append(f"order={self.order!r}")
        return f"{type(self).__name__}({', '.join(args)})"


class Json(_MsgspecSerde[T]):
    """JSON through msgspec: untyped (plain Python objects) or typed with ``type``.

    * ``Json()`` decodes to ``dict``/``list``/``str``/``int``/``float``/``bool``/``None``.
    * ``Json(MyStruct)`` (any type msgspec understands: ``msgspec.Struct``, dataclasses,
      ``TypedDict``, ``list[int]``, ...) validates on decode and returns instances; a
      mismatch raises :class:`~streams.errors.SerializationError` whose ``__cause__`` is the
      ``msgspec.ValidationError`` (its message gives the JSON path, e.g. ``$.amount``).
    * ``serialize`` encodes any value msgspec can encode (it does not check ``type``).
    * Use ``order="deterministic"`` for **key** serdes over dicts or sets, so equal keys give
      equal bytes (same partition, same store entry). Structs always encode in field order.
    * ``strict=False`` lets the decoder coerce strings to numbers etc.; ``enc_hook`` /
      ``dec_hook`` handle custom types (see msgspec's docs).

    Example::

        class Order(msgspec.Struct):
            id: str
            amount: float

        serde = serdes.Json(Order)
        serde.deserialize("orders", b'{"id": "o-1", "amount": 9.5}')  # Order(id='o-1', amount=9.5)
    """

    @overload
    def __init__(
        self: Json[Any],
        type: None = None,
        *,
        strict: bool = True,
        order: Order = None,
        enc_hook: EncHook | None = None,
        dec_hook: DecHook | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: Json[T],
        type: builtins.type[T],
        *,
        strict: bool = True,
        order: Order = None,
        enc_hook: EncHook | None = None,
        dec_hook: DecHook | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: Json[Any],
        type: Any,
        *,
        strict: bool = True,
        order: Order = None,
        enc_hook: EncHook | None = None,
        dec_hook: DecHook | None = None,
    ) -> None: ...

    def __init__(
        self,
        type: Any = None,
        *,
        strict: bool = True,
        order: Order = None,
        enc_hook: EncHook | None = None,
        dec_hook: DecHook | None = None,
    ) -> None:
        encoder = msgspec.json.Encoder(enc_hook=enc_hook, order=order)
        if type is None:
            decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
                strict=strict, dec_hook=dec_hook
            )
        else:
            decoder = msgspec.json.Decoder(type, strict=strict, dec_hook=dec_hook)
        options = {"strict": strict, "order": order, "enc_hook": enc_hook, "dec_hook": dec_hook}
        self._setup(type, encoder, decoder, order, options)


class MsgPack(_MsgspecSerde[T]):
    """MessagePack through msgspec: untyped or typed with ``type``, like :class:`Json`.

    Smaller and faster than JSON, with native ``bytes``. Options are the same as
    :class:`Json`'s; ``ext_hook`` decodes MessagePack extension types.

    Example::

        serde = serdes.MsgPack()
        serde.serialize("t", {"a": 1})               # b"\\x81\\xa1a\\x01"
        serdes.MsgPack(dict[str, int]).deserialize("t", b"\\x81\\xa1a\\x01")  # {'a': 1}
    """

    @overload
    def __init__(
        self: MsgPack[Any],
        type: None = None,
        *,
        strict: bool = True,
        order: Order = None,
        enc_hook: EncHook | None = None,
        dec_hook: DecHook | None = None,
        ext_hook: Callable[[int, memoryview], Any] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: MsgPack[T],
        type: builtins.type[T],
        *,
        strict: bool = True,
        order: Order = None,
        enc_hook: EncHook | None = None,
        dec_hook: DecHook | None = None,
        ext_hook: Callable[[int, memoryview], Any] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: MsgPack[Any],
        type: Any,
        *,
        strict: bool = True,
        order: Order = None,
        enc_hook: EncHook | None = None,
        dec_hook: DecHook | None = None,
        ext_hook: Callable[[int, memoryview], Any] | None = None,
    ) -> None: ...

    def __init__(
        self,
        type: Any = None,
        *,
        strict: bool = True,
        order: Order = None,
        enc_hook: EncHook | None = None,
        dec_hook: DecHook | None = None,
        ext_hook: Callable[[int, memoryview], Any] | None = None,
    ) -> None:
        encoder = msgspec.msgpack.Encoder(enc_hook=enc_hook, order=order)
        if type is None:
            decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(
                strict=strict, dec_hook=dec_hook, ext_hook=ext_hook
            )
        else:
            decoder = msgspec.msgpack.Decoder(
                type, strict=strict, dec_hook=dec_hook, ext_hook=ext_hook
            )
        options = {
            "strict": strict,
            "order": order,
            "enc_hook": enc_hook,
            "dec_hook": dec_hook,
            "ext_hook": ext_hook,
        }
        self._setup(type, encoder, decoder, order, options)
