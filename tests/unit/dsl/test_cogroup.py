"""Cogroup (KIP-150): several grouped streams, one aggregator each, one table; checked record
by record through the TopologyTestDriver (caching off), with the scenarios of Kafka Streams'
CogroupedKStreamImplTest as the model."""

from __future__ import annotations

from typing import Any

import pytest

from streams import Consumed, Grouped, Materialized, Produced, StreamsBuilder, serdes
from streams.dsl.window_specs import SessionWindows, SlidingWindows, TimeWindows
from streams.errors import TopologyError
from streams.testing import TopologyTestDriver

S = serdes.String()
STR = Consumed(key_serde=S, value_serde=S)
APP = {"application.id": "app", "statestore.cache.max.bytes": 0}


def concat(key: str, value: str, agg: str) -> str:
    return agg + value


def _two(b: StreamsBuilder) -> tuple[Any, Any]:
    return (b.stream("one", STR).group_by_key(), b.stream("two", STR).group_by_key())


def _drain(d: TopologyTestDriver, key_serde: Any = S) -> list[tuple[Any, Any, int]]:
    out = d.create_output_topic("out", key_serde, S)
    return [(r.key, r.value, r.timestamp) for r in out.read_records_to_list()]


def test_two_streams_fold_into_one_table_in_processing_order() -> None:
    b = StreamsBuilder()
    one, two = _two(b)
    table = (one.cogroup(concat).cogroup(two, lambda v, agg: agg + v.lower())
             .aggregate(lambda: "", Materialized(name="store", value_serde=S)))
    table.to_stream().to("out", Produced(key_serde=S, value_serde=S))
    with TopologyTestDriver(b.build(), APP) as d:
        i1, i2 = d.create_input_topic("one", S, S), d.create_input_topic("two", S, S)
        i1.pipe_input("k1", "A", 0)
        i2.pipe_input("k1", "B", 5)
        i1.pipe_input("k2", "C", 3)
        i2.pipe_input("k1", "D", 2)   # earlier timestamp: the table keeps the largest
        assert _drain(d) == [("k1", "A", 0), ("k1", "Ab", 5), ("k2", "C", 3), ("k1", "Abd", 5)]
        assert d.get_key_value_store("store").get("k1") == "Abd"


def test_a_regrouped_input_is_repartitioned_and_the_names_are_kafka_streams() -> None:
    b = StreamsBuilder()
    one = b.stream("one", STR).group_by_key()
    two = b.stream("two", STR).group_by(lambda k, v: v[0], Grouped(key_serde=S, value_serde=S))
    (one.cogroup(concat).cogroup(two, concat)
     .aggregate(lambda: "", Materialized(value_serde=S))
     .to_stream().to("out", Produced(key_serde=S, value_serde=S)))
    topology = b.build()
    desc = str(topology.describe())
    assert "COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003" in desc  # after the key selector
    assert "COGROUPKSTREAM-MERGE-" in desc and desc.count("COGROUPKSTREAM-AGGREGATE-0") >= 2
    assert "repartition" in desc
    with TopologyTestDriver(topology, APP) as d:
        d.create_input_topic("one", S, S).pipe_input("x", "1", 0)
        d.create_input_topic("two", S, S).pipe_input("ignored", "x2", 1)
        assert _drain(d) == [("x", "1", 0), ("x", "1x2", 1)]


def test_time_windows_fold_every_input_per_window() -> None:
    b = StreamsBuilder()
    one, two = _two(b)
    # the store is shared: its retention (size + grace) must outlast the slower input's
    # windows, as in Kafka Streams
    (one.cogroup(concat).cogroup(two, concat)
     .windowed_by(TimeWindows.of_size_and_grace(10, 5))
     .aggregate(lambda: "", Materialized(value_serde=S))
     .to_stream().map(lambda k, v: (f"{k.key}@{k.window.start}", v))
     .to("out", Produced(key_serde=S, value_serde=S)))
    with TopologyTestDriver(b.build(), APP) as d:
        i1, i2 = d.create_input_topic("one", S, S), d.create_input_topic("two", S, S)
        i1.pipe_input("k", "a", 1)
        i2.pipe_input("k", "b", 9)
        i2.pipe_input("k", "c", 12)
        i1.pipe_input("k", "d", 3)   # the first input's stream time is 1: its window is open
        assert _drain(d) == [("k@0", "a", 1), ("k@0", "ab", 9), ("k@10", "c", 12),
                             ("k@0", "abd", 9)]


def test_each_input_keeps_its_own_stream_time_as_in_kafka_streams() -> None:
    b = StreamsBuilder()
    one, two = _two(b)
    (one.cogroup(concat).cogroup(two, concat)
     .windowed_by(TimeWindows.of_size_with_no_grace(10))
     .aggregate(lambda: "", Materialized(value_serde=S))
     .to_stream().map(lambda k, v: (f"{k.key}@{k.window.start}", v))
     .to("out", Produced(key_serde=S, value_serde=S)))
    with TopologyTestDriver(b.build(), APP) as d:
        i1, i2 = d.create_input_topic("one", S, S), d.create_input_topic("two", S, S)
        i2.pipe_input("k", "x", 30)
        i2.pipe_input("k", "late", 3)    # late for the second input: dropped
        i1.pipe_input("k", "early", 3)   # the first has seen nothing yet: accepted
        assert _drain(d) == [("k@30", "x", 30), ("k@0", "early", 3)]


def test_sliding_windows() -> None:
    b = StreamsBuilder()
    one, two = _two(b)
    (one.cogroup(concat).cogroup(two, concat)
     .windowed_by(SlidingWindows.of_time_difference_with_no_grace(5))
     .aggregate(lambda: "", Materialized(value_serde=S))
     .to_stream().map(lambda k, v: (f"{k.key}@{k.window.start}-{k.window.end}", v))
     .to("out", Produced(key_serde=S, value_serde=S)))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("one", S, S).pipe_input("k", "a", 10)
        d.create_input_topic("two", S, S).pipe_input("k", "b", 12)
        assert _drain(d) == [("k@5-10", "a", 10), ("k@11-16", "b", 12), ("k@7-12", "ab", 12)]


def test_session_windows_merge_sessions_with_the_merger() -> None:
    b = StreamsBuilder()
    one, two = _two(b)
    (one.cogroup(concat).cogroup(two, lambda v, agg: agg + v.upper())
     .windowed_by(SessionWindows.of_inactivity_gap_with_no_grace(5))
     .aggregate(lambda: "", lambda k, a1, a2: a1 + "+" + a2,
                Materialized(value_serde=S, retention_ms=100))  # keep [0,0] findable
     .to_stream().map(lambda k, v: (f"{k.key}@{k.window.start}-{k.window.end}",
                                    "-" if v is None else v))
     .to("out", Produced(key_serde=S, value_serde=S)))
    with TopologyTestDriver(b.build(), APP) as d:
        i1, i2 = d.create_input_topic("one", S, S), d.create_input_topic("two", S, S)
        i1.pipe_input("k", "a", 0)
        i1.pipe_input("k", "c", 8)
        i2.pipe_input("k", "b", 4)   # bridges [0,0] and [8,8]
        assert _drain(d) == [
            ("k@0-0", "a", 0), ("k@8-8", "c", 8),
            ("k@0-0", "-", 0), ("k@8-8", "-", 8), ("k@0-8", "+a+cB", 8)]


def test_a_grouped_stream_can_be_cogrouped_once() -> None:
    b = StreamsBuilder()
    one, _ = _two(b)
    with pytest.raises(TopologyError, match="cogrouped only once"):
        one.cogroup(concat).cogroup(one, concat)
