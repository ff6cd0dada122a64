"""Windowed key serdes: Kafka Streams' byte layouts, round trips, tombstones, errors."""

from __future__ import annotations

import pickle
import struct
from typing import Any

import pytest

from streams import serdes
from streams.errors import SerializationError
from streams.processor.window_types import MAX_TIMESTAMP, SessionWindow, TimeWindow, Windowed
from streams.serdes.windowed_keys import SessionWindowedSerde, TimeWindowedSerde
from streams.state.session_bytes_store import session_store_key
from streams.state.window_bytes_store import window_store_key


def test_time_windowed_layout_is_key_then_start() -> None:
    serde = TimeWindowedSerde(serdes.String(), window_size_ms=60_000)
    data = serde.serialize("t", Windowed("a", TimeWindow(120_000, 180_000)))
    assert data == b"a" + struct.pack(">q", 120_000)
    # Same as a window store key without its 4-byte seqnum.
    assert data == window_store_key(b"a", 120_000)[:-4]
    assert serde.deserialize("t", data) == Windowed("a", TimeWindow(120_000, 180_000))


def test_time_windowed_end_comes_from_the_window_size() -> None:
    serde = TimeWindowedSerde(serdes.Long(), window_size_ms=10)
    data = serde.serialize("t", Windowed(7, TimeWindow(5, 999)))  # the end is not written
    assert data == struct.pack(">qq", 7, 5)
    assert serde.deserialize("t", data) == Windowed(7, TimeWindow(5, 15))
    capped = serde.deserialize("t", struct.pack(">qq", 7, MAX_TIMESTAMP - 1))
    assert capped is not None and capped.window.end == MAX_TIMESTAMP


def test_session_windowed_layout_is_key_end_start() -> None:
    serde = SessionWindowedSerde(serdes.String())
    key = Windowed("user", SessionWindow(1_000, 5_000))
    data = serde.serialize("t", key)
    assert data == b"user" + struct.pack(">qq", 5_000, 1_000)
    assert data == session_store_key(b"user", 1_000, 5_000)
    assert serde.deserialize("t", data) == key


@pytest.mark.parametrize(
    "serde",
    [TimeWindowedSerde(serdes.String(), 10), SessionWindowedSerde(serdes.String())],
    ids=repr,
)
def test_none_is_a_tombstone(serde: Any) -> None:
    assert serde.serialize("t", None) is None
    assert serde.deserialize("t", None) is None


def test_empty_keys_round_trip() -> None:
    serde = TimeWindowedSerde(serdes.Bytes(), 10)
    assert serde.deserialize("t", serde.serialize("t", Windowed(b"", TimeWindow(0, 10)))) == (
        Windowed(b"", TimeWindow(0, 10))
    )


@pytest.mark.parametrize(
    ("serde", "size"),
    [(TimeWindowedSerde(serdes.String(), 10), 7), (SessionWindowedSerde(serdes.String()), 15)],
    ids=["time", "session"],
)
def test_short_data_is_an_error(serde: Any, size: int) -> None:
    with pytest.raises(SerializationError) as info:
        serde.deserialize("out", b"x" * size)
    assert info.value.topic == "out"


def test_bad_values_are_errors() -> None:
    serde = TimeWindowedSerde(serdes.String(), 10)
    with pytest.raises(SerializationError, match="Windowed"):
        serde.serialize("t", "not windowed")  # type: ignore[arg-type]
    with pytest.raises(SerializationError, match="None"):
        serde.serialize("t", Windowed(None, TimeWindow(0, 10)))
    with pytest.raises(SerializationError):
        SessionWindowedSerde(serdes.String()).deserialize("t", b"k" + struct.pack(">qq", 1, 5))


def test_inner_serde_is_filled_from_defaults() -> None:
    bare = TimeWindowedSerde(None, 10)
    with pytest.raises(SerializationError, match="no inner key serde"):
        bare.serialize("t", Windowed("a", TimeWindow(0, 10)))
    filled = bare.with_defaults(serdes.String(), serdes.Long())
    assert isinstance(filled.inner, serdes.String) and filled.window_size_ms == 10
    own = TimeWindowedSerde(serdes.Long(), 10)
    assert own.with_defaults(serdes.String(), serdes.Long()) is own
    session = SessionWindowedSerde(None).with_defaults(serdes.String(), None)
    assert isinstance(session.inner, serdes.String)
    with pytest.raises(SerializationError):
        SessionWindowedSerde(None).deserialize("t", bytes(16))


def test_window_size_is_validated() -> None:
    with pytest.raises(ValueError):
        TimeWindowedSerde(serdes.String(), -1)
    with pytest.raises(TypeError):
        TimeWindowedSerde(serdes.String(), 1.5)  # type: ignore[arg-type]


def test_repr() -> None:
    inner = serdes.String()
    assert repr(TimeWindowedSerde(inner, 10)) == f"TimeWindowedSerde({inner!r}, window_size_ms=10)"
    assert repr(SessionWindowedSerde(None)) == "SessionWindowedSerde(None)"


# -- the value types -------------------------------------------------------------------------------


def test_windows_are_immutable_values() -> None:
    w = TimeWindow(0, 10)
    assert w == TimeWindow(0, 10) and hash(w) == hash(TimeWindow(0, 10))
    assert w != SessionWindow(0, 10) and w != (0, 10)
    with pytest.raises(AttributeError):
        w.start = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del w.end  # type: ignore[misc]
    key = Windowed("k", w)
    assert key == Windowed("k", TimeWindow(0, 10)) and key != Windowed("k", TimeWindow(0, 11))
    assert {key: 1}[Windowed("k", TimeWindow(0, 10))] == 1
    with pytest.raises(AttributeError):
        key.key = "x"  # type: ignore[misc]
    assert repr(key) == "Windowed('k', TimeWindow(start=0, end=10))"
    assert repr(SessionWindow(1, 2)) == "SessionWindow(start=1, end=2)"
    assert pickle.loads(pickle.dumps(key)) == key
    assert pickle.loads(pickle.dumps(SessionWindow(1, 2))) == SessionWindow(1, 2)


def test_window_bounds_and_overlap() -> None:
    with pytest.raises(ValueError):
        TimeWindow(5, 4)
    with pytest.raises(ValueError):
        SessionWindow(-1, 4)
    assert TimeWindow(3, 3).start == 3  # zero-size windows (joins) are allowed
    assert TimeWindow(0, 10).overlap(TimeWindow(5, 15))
    assert not TimeWindow(0, 10).overlap(TimeWindow(10, 20))  # end is exclusive
    assert SessionWindow(0, 10).overlap(SessionWindow(10, 20))  # both ends inclusive
    assert not SessionWindow(0, 10).overlap(SessionWindow(11, 20))
    with pytest.raises(TypeError):
        TimeWindow(0, 1).overlap(SessionWindow(0, 1))  # type: ignore[arg-type]
