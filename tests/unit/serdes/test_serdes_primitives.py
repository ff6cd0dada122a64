"""Java-compatible primitive serdes: known byte vectors, tombstones, errors."""

from __future__ import annotations

import copy
import math
import pickle
import struct
import uuid
from typing import Any

import pytest

from streams import serdes
from streams.errors import ConfigError, SerializationError
from streams.serdes import Serde, is_bytes_serde

ALL_SERDES: list[Serde[Any]] = [
    serdes.Bytes(),
    serdes.String(),
    serdes.Short(),
    serdes.Integer(),
    serdes.Long(),
    serdes.Float(),
    serdes.Double(),
    serdes.Boolean(),
    serdes.UUID(),
    serdes.Void(),
    serdes.List(serdes.Integer()),
    serdes.List(serdes.String()),
]


@pytest.mark.parametrize("serde", ALL_SERDES, ids=repr)
def test_none_is_a_tombstone_both_ways(serde: Serde[Any]) -> None:
    assert serde.serialize("t", None) is None
    assert serde.deserialize("t", None) is None
    assert serde.serialize("t", None, [("h", b"v")]) is None


@pytest.mark.parametrize("serde", ALL_SERDES, ids=repr)
def test_every_serde_satisfies_the_protocol(serde: Serde[Any]) -> None:
    assert isinstance(serde, Serde)
    assert isinstance(serde, serdes.BaseSerde)


# -- known vectors (the bytes Kafka's Java serdes write) ------------------------------------

VECTORS: list[tuple[Serde[Any], Any, str]] = [
    (serdes.Short(), 0, "0000"),
    (serdes.Short(), 1, "0001"),
    (serdes.Short(), 256, "0100"),
    (serdes.Short(), -2, "fffe"),
    (serdes.Short(), 2**15 - 1, "7fff"),
    (serdes.Short(), -(2**15), "8000"),
    (serdes.Integer(), 0, "00000000"),
    (serdes.Integer(), 1, "00000001"),
    (serdes.Integer(), -1, "ffffffff"),
    (serdes.Integer(), 256, "00000100"),
    (serdes.Integer(), 2**31 - 1, "7fffffff"),
    (serdes.Integer(), -(2**31), "80000000"),
    (serdes.Long(), 1, "0000000000000001"),
    (serdes.Long(), -1, "ffffffffffffffff"),
    (serdes.Long(), 2**40, "0000010000000000"),
    (serdes.Long(), 2**63 - 1, "7fffffffffffffff"),
    (serdes.Long(), -(2**63), "8000000000000000"),
    (serdes.Float(), 1.5, "3fc00000"),
    (serdes.Float(), -2.0, "c0000000"),
    (serdes.Float(), 0.0, "00000000"),
    (serdes.Float(), math.inf, "7f800000"),
    (serdes.Double(), 1.5, "3ff8000000000000"),
    (serdes.Double(), -2.0, "c000000000000000"),
    (serdes.Double(), 0.1, "3fb999999999999a"),
    (serdes.Double(), -math.inf, "fff0000000000000"),
    (serdes.String(), "é", "c3a9"),
    (serdes.String(), "", ""),
    (serdes.String(), "kafka", "6b61666b61"),
    (serdes.String(), "€𝄞", "e282acf09d849e"),
    (serdes.String(encoding="latin-1"), "é", "e9"),
    (serdes.String(encoding="utf-16-be"), "A", "0041"),
    (serdes.Boolean(), True, "01"),
    (serdes.Boolean(), False, "00"),
    (
        serdes.UUID(),
        uuid.UUID("123e4567-e89b-12d3-a456-426614174000"),
        b"123e4567-e89b-12d3-a456-426614174000".hex(),
    ),
    (serdes.Bytes(), b"\x00\xff", "00ff"),
    (serdes.Bytes(), b"", ""),
]


@pytest.mark.parametrize(("serde", "value", "hex_bytes"), VECTORS, ids=str)
def test_known_vectors(serde: Serde[Any], value: Any, hex_bytes: str) -> None:
    data = serde.serialize("t", value)
    assert data == bytes.fromhex(hex_bytes)
    assert serde.deserialize("t", data) == value


def test_double_nan_round_trips() -> None:
    data = serdes.Double().serialize("t", math.nan)
    assert data == bytes.fromhex("7ff8000000000000")
    assert math.isnan(serdes.Double().deserialize("t", data) or 0.0)


def test_float_rounds_to_binary32() -> None:
    serde = serdes.Float()
    assert (
        serde.deserialize("t", serde.serialize("t", 0.1))
        == struct.unpack(">f", struct.pack(">f", 0.1))[0]
    )


def test_numbers_accept_ints_where_java_would_widen() -> None:
    assert serdes.Double().serialize("t", 2) == serdes.Double().serialize("t", 2.0)
    assert serdes.Float().serialize("t", 2) == serdes.Float().serialize("t", 2.0)


def test_bool_is_accepted_as_int_by_integer_serdes() -> None:
    # Python's bool is an int: documented, Java-identical bytes for 0/1.
    assert serdes.Integer().serialize("t", True) == b"\x00\x00\x00\x01"
    assert serdes.Long().serialize("t", False) == b"\x00" * 8


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("serde", "value"),
    [
        (serdes.Integer(), 2**31),
        (serdes.Integer(), -(2**31) - 1),
        (serdes.Short(), 2**15),
        (serdes.Long(), 2**63),
        (serdes.Long(), -(2**63) - 1),
    ],
    ids=str,
)
def test_out_of_range_ints_raise_instead_of_wrapping(serde: Serde[int], value: int) -> None:
    with pytest.raises(SerializationError, match="out of range") as info:
        serde.serialize("numbers", value)
    assert info.value.topic == "numbers"
    assert "topic='numbers'" in str(info.value)
    assert isinstance(info.value.__cause__, struct.error)


def test_float_too_large_for_binary32_raises() -> None:
    with pytest.raises(SerializationError) as info:
        serdes.Float().serialize("t", 1e40)
    assert isinstance(info.value.__cause__, OverflowError)


@pytest.mark.parametrize("value", [1.5, "1", b"\x01", [1]], ids=repr)
def test_integer_rejects_non_ints(value: Any) -> None:
    with pytest.raises(SerializationError) as info:
        serdes.Integer().serialize("t", value)
    assert info.value.__cause__ is not None


SIZED: list[tuple[Serde[Any], str, int]] = [
    (serdes.Short(), "ShortDeserializer", 2),
    (serdes.Integer(), "IntegerDeserializer", 4),
    (serdes.Long(), "LongDeserializer", 8),
    (serdes.Float(), "FloatDeserializer", 4),
    (serdes.Double(), "DoubleDeserializer", 8),
]


@pytest.mark.parametrize(
    ("serde", "java_name", "size", "length"),
    [(*case, n) for case in SIZED for n in (0, 1, 3, 5, 9) if n != case[2]],
    ids=str,
)
def test_wrong_size_raises_with_javas_message(
    serde: Serde[Any], java_name: str, size: int, length: int
) -> None:
    with pytest.raises(SerializationError) as info:
        serde.deserialize("counts", b"\x01" * length)
    err = info.value
    assert f"Size of data received by {java_name} is not {size}" in str(err)
    assert err.topic == "counts"
    assert isinstance(err.__cause__, struct.error)


def test_error_keeps_cause_through_with_location() -> None:
    with pytest.raises(SerializationError) as info:
        serdes.Integer().deserialize("counts", b"abc")
    located = info.value.with_location(partition=3, offset=42)
    assert "topic='counts', partition=3, offset=42" in str(located)
    assert located.__cause__ is info.value.__cause__


def test_string_errors() -> None:
    with pytest.raises(SerializationError, match="expected str") as info:
        serdes.String().serialize("names", 42)  # type: ignore[arg-type]
    assert info.value.topic == "names"
    assert isinstance(info.value.__cause__, AttributeError)

    with pytest.raises(SerializationError) as info:
        serdes.String().deserialize("names", b"\xff\xfe\xfa")
    assert isinstance(info.value.__cause__, UnicodeDecodeError)

    with pytest.raises(SerializationError) as info:
        serdes.String(encoding="ascii").serialize("names", "é")
    assert isinstance(info.value.__cause__, UnicodeEncodeError)


def test_string_replace_errors_like_java() -> None:
    assert serdes.String(errors="replace").deserialize("t", b"a\xffb") == "a\ufffdb"


def test_string_accepts_other_buffers() -> None:
    assert serdes.String().deserialize("t", memoryview(b"abc")) == "abc"  # type: ignore[arg-type]
    assert serdes.String().deserialize("t", bytearray(b"abc")) == "abc"  # type: ignore[arg-type]


def test_string_unknown_encoding_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        serdes.String(encoding="no-such-codec")


def test_bytes_passthrough() -> None:
    serde = serdes.Bytes()
    data = b"abc"
    assert serde.serialize("t", data) is data
    assert serde.deserialize("t", data) is data
    assert serde.serialize("t", bytearray(b"ab")) == b"ab"  # type: ignore[arg-type]
    assert serde.serialize("t", memoryview(b"ab")) == b"ab"  # type: ignore[arg-type]
    with pytest.raises(SerializationError, match="expected bytes"):
        serde.serialize("t", "str")  # type: ignore[arg-type]
    assert serdes.Bytes.is_passthrough is True
    assert is_bytes_serde(serde)
    assert not is_bytes_serde(serdes.String())
    assert not is_bytes_serde(serdes.Long())


def test_boolean_errors() -> None:
    serde = serdes.Boolean()
    with pytest.raises(SerializationError, match="expected bool"):
        serde.serialize("flags", 1)  # type: ignore[arg-type]
    with pytest.raises(SerializationError, match="Unexpected byte received by BooleanDeserializer"):
        serde.deserialize("flags", b"\x02")
    with pytest.raises(
        SerializationError, match="Size of data received by BooleanDeserializer is not 1"
    ):
        serde.deserialize("flags", b"\x01\x00")
    with pytest.raises(SerializationError, match="not 1"):
        serde.deserialize("flags", b"")


def test_uuid() -> None:
    serde = serdes.UUID()
    u = uuid.uuid4()
    assert serde.serialize("t", u) == str(u).encode()
    assert serde.deserialize("t", str(u).encode()) == u
    # Strings are accepted and normalized to the lowercase hyphenated form Java writes.
    assert serde.serialize("t", str(u).upper()) == str(u).encode()
    assert len(serde.serialize("t", u) or b"") == 36
    with pytest.raises(SerializationError, match="Error parsing data into UUID") as info:
        serde.deserialize("ids", b"not-a-uuid")
    assert info.value.topic == "ids"
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(SerializationError):
        serde.serialize("ids", "nope")
    with pytest.raises(SerializationError, match=r"expected uuid\.UUID"):
        serde.serialize("ids", 5)  # type: ignore[arg-type]


def test_void() -> None:
    serde = serdes.Void()
    with pytest.raises(SerializationError, match="only accepts None"):
        serde.serialize("t", 1)  # type: ignore[arg-type]
    with pytest.raises(SerializationError, match="Data should be null"):
        serde.deserialize("t", b"")


# -- List (Java ListSerde layout) ---------------------------------------------------------


def test_list_of_fixed_size_uses_constant_size_layout() -> None:
    serde = serdes.List(serdes.Integer())
    data = serde.serialize("t", [1, None, -1])
    assert data == bytes.fromhex(
        "00"  # CONSTANT_SIZE
        "00000001"  # one null entry
        "00000001"  # ... at index 1
        "00000003"  # list size
        "00000001"
        "ffffffff"
    )
    assert serde.deserialize("t", data) == [1, None, -1]


def test_list_of_variable_size_uses_length_prefixes() -> None:
    serde = serdes.List(serdes.String())
    data = serde.serialize("t", ["a", None, ""])
    assert data == bytes.fromhex(
        "01"  # VARIABLE_SIZE
        "00000003"  # list size
        "00000001"
        "61"  # "a"
        "ffffffff"  # null entry
        "00000000"  # ""
    )
    assert serde.deserialize("t", data) == ["a", None, ""]


@pytest.mark.parametrize(
    ("inner", "values"),
    [
        (serdes.Short(), [1, -1, None]),
        (serdes.Long(), [2**40, None, None, 0]),
        (serdes.Double(), [1.5, None]),
        (serdes.Float(), [None, 0.5]),
        (serdes.UUID(), [uuid.uuid4(), None]),
        (serdes.Json(), [{"a": 1}, None, [1, 2]]),
        (serdes.Bytes(), [b"", b"\x00", None]),
    ],
    ids=repr,
)
def test_list_round_trips(inner: Serde[Any], values: list[Any]) -> None:
    serde = serdes.List(inner)
    assert serde.deserialize("t", serde.serialize("t", values)) == values
    assert serde.deserialize("t", serde.serialize("t", [])) == []


def test_list_empty_layouts() -> None:
    assert serdes.List(serdes.Long()).serialize("t", []) == bytes.fromhex("00 00000000 00000000")
    assert serdes.List(serdes.String()).serialize("t", []) == bytes.fromhex("01 00000000")


def test_list_errors() -> None:
    serde = serdes.List(serdes.String())
    with pytest.raises(SerializationError, match="Invalid serialization strategy"):
        serde.deserialize("t", b"\x07\x00\x00\x00\x00")
    with pytest.raises(SerializationError, match="invalid entry length"):
        serde.deserialize("t", bytes.fromhex("01 00000001 00000009 61"))
    with pytest.raises(SerializationError, match="not a fixed-size serde"):
        serde.deserialize("t", bytes.fromhex("00 00000000 00000000"))
    with pytest.raises(SerializationError) as info:
        serde.deserialize("t", b"")
    assert isinstance(info.value.__cause__, IndexError)
    with pytest.raises(SerializationError, match="expected str") as info:
        serde.serialize("names", ["a", 1])  # type: ignore[list-item]
    assert info.value.topic == "names"
    with pytest.raises(SerializationError):
        serdes.List(serdes.Integer()).serialize("t", 5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        serdes.List("not a serde")  # type: ignore[arg-type]


# -- repr ------------------------------------------------------------------------------------


def test_reprs() -> None:
    assert repr(serdes.Long()) == "Long()"
    assert repr(serdes.Integer()) == "Integer()"
    assert repr(serdes.Bytes()) == "Bytes()"
    assert repr(serdes.String()) == "String(encoding='utf-8')"
    assert (
        repr(serdes.String("latin-1", errors="replace"))
        == "String(encoding='latin-1', errors='replace')"
    )
    assert repr(serdes.List(serdes.UUID())) == "List(UUID())"


def test_base_serde_wraps_errors_of_custom_serdes() -> None:
    class Upper(serdes.BaseSerde[str]):
        def _to(self, value: str) -> bytes:
            return value.upper().encode()

        def _from(self, data: bytes) -> str:
            return data.decode("ascii")

    serde = Upper()
    assert serde.serialize("t", "a") == b"A"
    assert serde.serialize("t", None) is None
    with pytest.raises(SerializationError) as info:
        serde.deserialize("letters", b"\xff")
    assert info.value.topic == "letters"
    assert isinstance(info.value.__cause__, UnicodeDecodeError)
    assert "Upper() could not deserialize 1 bytes" in str(info.value)


@pytest.mark.parametrize("serde", ALL_SERDES, ids=repr)
def test_copy_and_pickle(serde: Serde[Any]) -> None:
    for clone in (copy.copy(serde), copy.deepcopy(serde), pickle.loads(pickle.dumps(serde))):
        assert type(clone) is type(serde)
        assert repr(clone) == repr(serde)
    assert pickle.loads(pickle.dumps(serdes.Long())).serialize("t", 7) == b"\x00" * 7 + b"\x07"
