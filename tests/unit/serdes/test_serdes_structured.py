"""JSON and MessagePack serdes (msgspec), untyped and typed."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import msgspec
import pytest

from streams import serdes
from streams.errors import SerializationError


class Order(msgspec.Struct):
    id: str
    amount: float
    tags: list[str] = []


@dataclasses.dataclass
class Point:
    x: int
    y: int


@pytest.fixture(params=[serdes.Json, serdes.MsgPack], ids=["json", "msgpack"])
def kind(request: pytest.FixtureRequest) -> Any:
    return request.param


def test_json_bytes() -> None:
    serde = serdes.Json()
    assert serde.serialize("t", {"a": 1, "b": [True, None]}) == b'{"a":1,"b":[true,null]}'
    assert serde.deserialize("t", b'{"a": 1, "b": [true, null]}') == {"a": 1, "b": [True, None]}
    assert serde.serialize("t", "é") == '"é"'.encode()


def test_msgpack_bytes() -> None:
    serde = serdes.MsgPack()
    assert serde.serialize("t", {"a": 1}) == b"\x81\xa1a\x01"
    assert serde.deserialize("t", b"\x81\xa1a\x01") == {"a": 1}
    assert serde.deserialize("t", serde.serialize("t", {"raw": b"\x00\xff"})) == {
        "raw": b"\x00\xff"
    }


def test_none_is_a_tombstone(kind: Any) -> None:
    for serde in (kind(), kind(Order)):
        assert serde.serialize("t", None) is None
        assert serde.deserialize("t", None) is None


def test_untyped_round_trip_gives_plain_objects(kind: Any) -> None:
    serde = kind()
    value = {"id": "o-1", "n": [1, 2.5, "x", None, {"nested": True}]}
    assert serde.deserialize("t", serde.serialize("t", value)) == value
    # A Struct serializes; untyped decoding gives a dict back.
    data = serde.serialize("t", Order("o-1", 9.5))
    assert serde.deserialize("t", data) == {"id": "o-1", "amount": 9.5, "tags": []}


def test_typed_round_trip_returns_instances(kind: Any) -> None:
    serde = kind(Order)
    order = Order("o-1", 9.5, ["a"])
    back = serde.deserialize("orders", serde.serialize("orders", order))
    assert isinstance(back, Order)
    assert back == order

    points = kind(Point)
    assert points.deserialize("t", points.serialize("t", Point(1, 2))) == Point(1, 2)

    lists = kind(list[int])
    assert lists.deserialize("t", lists.serialize("t", [1, 2])) == [1, 2]


def test_typed_json_decodes_plain_json() -> None:
    serde = serdes.Json(Order)
    assert serde.deserialize("t", b'{"id": "o-1", "amount": 3}') == Order("o-1", 3.0)


def test_typed_validation_error_is_a_serialization_error(kind: Any) -> None:
    serde = kind(Order)
    bad = kind().serialize("t", {"id": "o-1", "amount": "lots"})
    with pytest.raises(SerializationError) as info:
        serde.deserialize("orders", bad)
    err = info.value
    assert err.topic == "orders"
    assert isinstance(err.__cause__, msgspec.ValidationError)
    assert "$.amount" in str(err)
    assert "Order" in str(err)


def test_missing_field_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError) as info:
        serdes.Json(Order).deserialize("orders", b'{"amount": 1.0}')
    assert isinstance(info.value.__cause__, msgspec.ValidationError)
    assert "id" in str(info.value)


def test_malformed_input_is_a_serialization_error(kind: Any) -> None:
    with pytest.raises(SerializationError) as info:
        kind().deserialize("t", b"\xc1{not valid")
    assert isinstance(info.value.__cause__, msgspec.DecodeError)
    assert info.value.topic == "t"


def test_unencodable_value_is_a_serialization_error(kind: Any) -> None:
    with pytest.raises(SerializationError, match="could not serialize object value") as info:
        kind().serialize("t", object())
    assert isinstance(info.value.__cause__, TypeError)
    assert info.value.topic == "t"


def test_non_strict_coerces() -> None:
    assert serdes.Json(Order, strict=False).deserialize(
        "t", b'{"id": "x", "amount": "1.5"}'
    ) == Order("x", 1.5)


def test_deterministic_order_for_keys() -> None:
    serde = serdes.Json(order="deterministic")
    assert serde.serialize("t", {"b": 1, "a": 2}) == serde.serialize("t", {"a": 2, "b": 1})
    assert serdes.Json().serialize("t", {"b": 1, "a": 2}) == b'{"b":1,"a":2}'


def test_hooks() -> None:
    class Money:
        def __init__(self, cents: int) -> None:
            self.cents = cents

    def enc(obj: Any) -> Any:
        if isinstance(obj, Money):
            return obj.cents
        raise NotImplementedError

    def dec(tp: type, obj: Any) -> Any:
        if tp is Money:
            return Money(obj)
        raise NotImplementedError

    serde = serdes.Json(dict[str, Money], enc_hook=enc, dec_hook=dec)
    data = serde.serialize("t", {"price": Money(150)})
    assert data == b'{"price":150}'
    back = serde.deserialize("t", data)
    assert back is not None
    assert back["price"].cents == 150


def test_encoder_and_decoder_are_reused(kind: Any) -> None:
    serde = kind(Order)
    encoder, decoder = serde.encoder, serde.decoder
    for i in range(3):
        serde.deserialize("t", serde.serialize("t", Order(str(i), 1.0)))
    assert serde.encoder is encoder
    assert serde.decoder is decoder


def test_reprs() -> None:
    assert repr(serdes.Json()) == "Json()"
    assert repr(serdes.Json(Order)) == "Json(type=Order)"
    assert (
        repr(serdes.MsgPack(Order, order="deterministic"))
        == "MsgPack(type=Order, order='deterministic')"
    )
    assert repr(serdes.Json(list[int])) == "Json(type=list[int])"


@pytest.mark.parametrize(
    "serde",
    [serdes.Json(), serdes.Json(Order, strict=False), serdes.MsgPack(list[int], order="sorted")],
    ids=repr,
)
def test_copy_and_pickle_rebuild_the_codecs(serde: Any) -> None:
    value = Order("o", 1.0) if serde.type is Order else [1, 2]
    data = serde.serialize("t", value)
    for clone in (copy.copy(serde), copy.deepcopy(serde), pickle.loads(pickle.dumps(serde))):
        assert repr(clone) == repr(serde)
        assert clone.encoder is not serde.encoder
        assert clone.deserialize("t", data) == value
        assert clone.serialize("t", value) == data
