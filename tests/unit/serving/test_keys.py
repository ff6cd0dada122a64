"""URL text read as a store's keys, and values written as JSON."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest

from streams import serdes
from streams.processor.window_types import TimeWindow, Windowed
from streams.serving.keys import KeyTextError, checked_key, key_text, parse_key, to_json
from streams.serving.server import parse_listen


class Point(msgspec.Struct):
    x: int
    y: int


@pytest.mark.parametrize(("serde", "text", "key"), [
    (serdes.String(), "héllo", "héllo"),
    (serdes.Bytes(), "raw", b"raw"),
    (serdes.Integer(), "-42", -42),
    (serdes.Long(), "9000000000", 9_000_000_000),
    (serdes.Double(), "2.5", 2.5),
    (serdes.Boolean(), "TRUE", True),
    (serdes.UUID(), "12345678-1234-5678-1234-567812345678",
     uuid.UUID("12345678-1234-5678-1234-567812345678")),
    (serdes.Json(), '{"a": [1, 2]}', {"a": [1, 2]}),
    (serdes.Json(Point), '{"x": 1, "y": 2}', Point(1, 2)),
])
def test_text_becomes_the_key_the_serde_takes_and_back(serde: Any, text: str, key: Any) -> None:
    assert checked_key(text, serde, "t") == key
    assert parse_key(key_text(key, serde), serde) == key


@pytest.mark.parametrize(("serde", "text", "reason"), [
    (serdes.Integer(), "abc", "is not a key of serde Integer"),
    (serdes.Short(), "70000", "is not a key of serde Short"),  # only the serde knows its range
    (serdes.Boolean(), "yes", "expected true or false"),
    (serdes.Json(Point), '{"x": "no"}', "is not a key of serde Json"),
    (serdes.Void(), "x", "cannot be given as URL text"),
])
def test_text_that_does_not_fit_is_refused_naming_the_serde(serde: Any, text: str,
                                                            reason: str) -> None:
    with pytest.raises(KeyTextError, match=reason):
        checked_key(text, serde, "t")


def test_values_become_json_windowed_keys_included() -> None:
    assert msgspec.json.decode(to_json({"key": Windowed("k", TimeWindow(0, 10)), "v": Point(1, 2),
                                        "b": b"\x00"})) == {
        "key": {"key": "k", "start": 0, "end": 10}, "v": {"x": 1, "y": 2}, "b": "AA=="}


@pytest.mark.parametrize(("listen", "bound"), [
    ("8080", ("127.0.0.1", 8080)), (":8080", ("127.0.0.1", 8080)),
    ("0.0.0.0:1", ("0.0.0.0", 1)), ("[::1]:9", ("::1", 9))])
def test_listen_addresses(listen: str, bound: tuple[str, int]) -> None:
    assert parse_listen(listen) == bound


def test_a_bad_listen_address_names_the_key() -> None:
    from streams.errors import ConfigError

    with pytest.raises(ConfigError, match=r"http\.listen"):
        parse_listen("host:http")
