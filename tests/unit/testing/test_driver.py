"""TopologyTestDriver: input/output topic API, timestamps, headers, stores, internal topics,
lifecycle and error cases."""

from __future__ import annotations

import os
from typing import Any

import pytest

import streams.testing
from streams import (
    Consumed,
    Grouped,
    Materialized,
    Produced,
    Record,
    StreamsBuilder,
    StreamsError,
    Topology,
    serdes,
)
from streams.state.timestamped import ValueAndTimestamp
from streams.testing import NoSuchElementError, TopologyTestDriver

S, L, INT = serdes.String(), serdes.Long(), serdes.Integer()
STR = Consumed(key_serde=S, value_serde=S)
APP = {"application.id": "app"}


def passthrough() -> Topology:
    b = StreamsBuilder()
    b.stream("in", STR).to("out", Produced(key_serde=S, value_serde=S))
    return b.build()


def word_counts() -> Topology:
    b = StreamsBuilder()
    (b.stream("lines", STR)
     .flat_map_values(str.split)
     .group_by(lambda k, w: w, Grouped(key_serde=S, value_serde=S))
     .count(Materialized(name="counts"))
     .to_stream().to("counts-out", Produced(key_serde=S, value_serde=L)))
    return b.build()


# --------------------------------------------------------------------------- piping
def test_pipe_input_variants() -> None:
    with TopologyTestDriver(passthrough(), APP) as d:
        i = d.create_input_topic("in", S, S)
        o = d.create_output_topic("out", S, S)
        i.pipe_input("k", "v", timestamp=1)
        i.pipe_input(value="keyless", timestamp=2)
        i.pipe_key_value_list([("a", "1"), ("b", "2")])
        i.pipe_value_list(["x"])
        i.pipe_record_list([Record("r", "rv", 9, [("h", b"1")])])
        got = o.read_records_to_list()
    assert [(r.key, r.value) for r in got] == [
        ("k", "v"), (None, "keyless"), ("a", "1"), ("b", "2"), (None, "x"), ("r", "rv")]
    assert got[-1] == Record("r", "rv", 9, [("h", b"1")])


def test_default_timestamps_start_and_auto_advance() -> None:
    with TopologyTestDriver(passthrough(), APP, initial_wall_clock_time_ms=500) as d:
        o = d.create_output_topic("out", S, S)
        i = d.create_input_topic("in", S, S, start_timestamp=1_000, auto_advance_ms=10)
        i.pipe_value_list(["a", "b"])
        i.advance_time(100)
        i.pipe_input("k", "c")
        i.pipe_input("k", "explicit", timestamp=7)  # explicit timestamps do not move the clock
        i.pipe_input("k", "d")
        assert [r.timestamp for r in o.read_records_to_list()] == [1_000, 1_010, 1_120, 7, 1_130]
        # without start_timestamp the topic starts at the driver's (mocked) wall clock
        j = d.create_input_topic("in", S, S)
        j.pipe_input("k", "e")
        assert o.read_record().timestamp == 500
        with pytest.raises(ValueError):
            i.advance_time(-1)


def test_read_methods_consume_in_order() -> None:
    with TopologyTestDriver(passthrough(), APP) as d:
        d.create_input_topic("in", S, S).pipe_record_list([
            Record(f"k{n}", f"v{n}", n) for n in range(8)])
        o = d.create_output_topic("out", S, S)
        assert o.get_queue_size() == 8 and not o.is_empty()
        assert o.read_value() == "v0"
        assert o.read_key_value() == ("k1", "v1")
        assert o.read_record() == streams.testing.TestRecord("k2", "v2", 2)
        assert o.read_values_to_list() == ["v3", "v4", "v5", "v6", "v7"]
        assert o.is_empty() and o.get_queue_size() == 0
        assert o.read_key_values_to_list() == []
        assert o.read_values_to_list() == []


def test_read_key_values_to_map_keeps_latest_and_none_removes() -> None:
    with TopologyTestDriver(passthrough(), APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list(
            [("a", "1"), ("b", "2"), ("a", "3"), ("c", "4"), ("b", None)])
        assert d.create_output_topic("out", S, S).read_key_values_to_map() == {"a": "3", "c": "4"}


def test_output_readers_of_one_topic_share_the_read_position() -> None:
    with TopologyTestDriver(passthrough(), APP) as d:
        d.create_input_topic("in", S, S).pipe_record_list([Record("a", "1", 1), Record("b", "2", 2)])
        first = d.create_output_topic("out", S, S)
        raw = d.create_output_topic("out")
        assert first.read_value() == "1"
        assert raw.read_record() == Record(b"b", b"2", 2)
        assert first.is_empty()


def test_headers_are_passed_through_and_serdes_can_be_omitted() -> None:
    with TopologyTestDriver(passthrough(), APP) as d:
        d.create_input_topic("in", S, S).pipe_input("k", "v", 3, headers=[("a", b"1"), ("b", None)])
        rec = d.create_output_topic("out").read_record()  # no serdes: raw bytes
        assert rec == Record(b"k", b"v", 3, [("a", b"1"), ("b", None)])


def test_empty_or_unknown_output_topic_raises_no_such_element() -> None:
    with TopologyTestDriver(passthrough(), APP) as d:
        out = d.create_output_topic("out", S, S)
        with pytest.raises(NoSuchElementError, match="'out' has no more records"):
            out.read_value()
        never = d.create_output_topic("never-written", S, S)
        assert never.is_empty()
        with pytest.raises(NoSuchElementError):
            never.read_record()
        with pytest.raises(LookupError):  # NoSuchElementError is also a LookupError
            never.read_key_value()
        d.create_input_topic("in", S, S).pipe_input("k", "v")
        assert out.read_value() == "v"
        with pytest.raises(NoSuchElementError):
            out.read_value()


def test_unknown_input_topic_is_rejected_with_the_topics_it_reads() -> None:
    with TopologyTestDriver(passthrough(), APP) as d, \
            pytest.raises(StreamsError, match=r"'nope' is not read by the topology \(it reads: in\)"):
        d.create_input_topic("nope", S, S)


# --------------------------------------------------------------------------- internal topics, timestamps
def test_repartition_records_are_read_back_and_output_timestamps_are_kafka_streams() -> None:
    with TopologyTestDriver(word_counts(), {"application.id": "wc",
                                            "statestore.cache.max.bytes": 0}) as d:
        lines = d.create_input_topic("lines", S, S)
        lines.pipe_input(None, "a b a", timestamp=10)
        lines.pipe_input(None, "b c", timestamp=5)
        lines.pipe_input(None, "a", timestamp=7)
        got = d.create_output_topic("counts-out", S, L).read_records_to_list()
        assert got == [
            Record("a", 1, 10), Record("b", 1, 10), Record("a", 2, 10),
            Record("b", 2, 10),   # max(5, 10): the count's timestamp never goes back
            Record("c", 1, 5),
            Record("a", 3, 10),
        ]
        assert d.produced_topic_names() == {"counts-out", "wc-counts-repartition", "wc-counts-changelog"}
        repartition = d.create_output_topic("wc-counts-repartition", S, S).read_records_to_list()
        assert [(r.key, r.timestamp) for r in repartition] == [
            ("a", 10), ("b", 10), ("a", 10), ("b", 5), ("c", 5), ("a", 7)]
        changelog = d.create_output_topic("wc-counts-changelog", S).read_records_to_list()
        assert [r.key for r in changelog] == ["a", "b", "a", "b", "c", "a"]


def test_the_record_cache_is_flushed_after_every_piped_record() -> None:
    # as Kafka Streams' driver, which commits after each record: updates of one key caused by
    # one input record become one output record, in the order of their last update
    with TopologyTestDriver(word_counts(), {"application.id": "wc"}) as d:
        lines = d.create_input_topic("lines", S, S)
        lines.pipe_input(None, "a b a", timestamp=10)
        lines.pipe_input(None, "b c", timestamp=5)
        lines.pipe_input(None, "a", timestamp=7)
        got = d.create_output_topic("counts-out", S, L).read_records_to_list()
        assert got == [
            Record("b", 1, 10), Record("a", 2, 10),
            Record("b", 2, 10), Record("c", 1, 5),
            Record("a", 3, 10),
        ]


def test_store_accessors() -> None:
    with TopologyTestDriver(word_counts(), APP) as d:
        d.create_input_topic("lines", S, S).pipe_input(None, "x y x", timestamp=4)
        assert d.get_key_value_store("counts").get("x") == 2
        assert list(d.get_key_value_store("counts").all()) == [("x", 2), ("y", 1)]
        assert d.get_timestamped_key_value_store("counts").get("y") == ValueAndTimestamp(1, 4)
        assert d.get_state_store("counts").get("x") == ValueAndTimestamp(2, 4)
        assert set(d.get_all_state_stores()) == {"counts"}
        assert d.get_key_value_store("nope") is None
        assert d.get_timestamped_key_value_store("nope") is None


# --------------------------------------------------------------------------- lifecycle
def test_context_manager_closes_and_removes_its_state_directory() -> None:
    with TopologyTestDriver(word_counts(), APP) as d:
        state_dir = d.config["state.dir"]
        lines = d.create_input_topic("lines", S, S)
        lines.pipe_input(None, "a")
        assert os.path.isdir(state_dir)
    assert not os.path.exists(state_dir)
    with pytest.raises(StreamsError, match="closed"):
        lines.pipe_input(None, "b")
    with pytest.raises(StreamsError, match="closed"):
        d.advance_wall_clock_time(1)
    d.close()  # closing twice is harmless


def test_a_given_state_dir_is_kept(tmp_path: Any) -> None:
    with TopologyTestDriver(word_counts(), {**APP, "state.dir": str(tmp_path)}) as d:
        d.create_input_topic("lines", S, S).pipe_input(None, "a")
    assert (tmp_path / "app").is_dir()


def test_advance_wall_clock_time_rejects_negative_durations() -> None:
    with TopologyTestDriver(passthrough(), APP) as d, pytest.raises(ValueError):
        d.advance_wall_clock_time(-1)


def test_driver_validates_config() -> None:
    from streams import ConfigError

    with pytest.raises(ConfigError, match=r"Did you mean 'application\.id'"):
        TopologyTestDriver(passthrough(), {"aplication.id": "x"})
    with pytest.raises(ConfigError, match=r"default\.deserialization\.exception\.handler"):
        TopologyTestDriver(passthrough(), {**APP, "default.deserialization.exception.handler": "nope"})
