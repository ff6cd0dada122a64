"""serdes.from_type: the conventional serde for a Python type."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, TypedDict

import msgspec
import pytest

from streams import serdes
from streams.errors import ConfigError


class Order(msgspec.Struct):
    id: str


@dataclasses.dataclass
class Point:
    x: int


class Movie(TypedDict):
    title: str


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (bytes, serdes.Bytes),
        (str, serdes.String),
        (int, serdes.Long),
        (float, serdes.Double),
        (bool, serdes.Boolean),
        (uuid.UUID, serdes.UUID),
        (None, serdes.Void),
        (type(None), serdes.Void),
    ],
    ids=repr,
)
def test_primitive_types(tp: Any, expected: type) -> None:
    assert type(serdes.from_type(tp)) is expected


@pytest.mark.parametrize(
    "tp", [Order, Point, Movie, dict, list, list[int], dict[str, Order]], ids=repr
)
def test_structured_types_get_typed_json(tp: Any) -> None:
    serde = serdes.from_type(tp)
    assert isinstance(serde, serdes.Json)
    assert serde.type is tp


def test_typed_json_from_type_round_trips() -> None:
    serde = serdes.from_type(Order)
    assert serde.deserialize("t", serde.serialize("t", Order("a"))) == Order("a")


def test_unknown_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no default serde"):
        serdes.from_type(complex)
