"""KGroupedStream: count, reduce, aggregate; Materialized stores; output timestamps."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from streams import (
    Consumed,
    Grouped,
    Materialized,
    Produced,
    Record,
    StreamsBuilder,
    serdes,
)
from streams.state.timestamped import ValueAndTimestamp
from streams.testing import TopologyTestDriver

S, L, INT = serdes.String(), serdes.Long(), serdes.Integer()
STR = Consumed(key_serde=S, value_serde=S)
APP = {"application.id": "app"}


def out_records(d: TopologyTestDriver, value_serde: Any = L, topic: str = "out") -> list[Record]:
    return d.create_output_topic(topic, S, value_serde).read_records_to_list()


def test_count_per_key_with_max_timestamp_of_contributing_records() -> None:
    b = StreamsBuilder()
    b.stream("in", STR).group_by_key().count(Materialized(name="c")).to_stream().to(
        "out", Produced(key_serde=S, value_serde=L))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_record_list([
            Record("a", "x", 10), Record("b", "x", 20), Record("a", "y", 5), Record("a", "z", 30),
        ])
        # the second "a" update keeps ts 10: max(input 5, previous aggregate 10)
        assert out_records(d) == [
            Record("a", 1, 10), Record("b", 1, 20), Record("a", 2, 10), Record("a", 3, 30)]
        assert d.get_timestamped_key_value_store("c").get("a") == ValueAndTimestamp(3, 30)
        assert d.get_key_value_store("c").get("a") == 3


def test_count_skips_and_logs_records_with_none_key_or_value(caplog: pytest.LogCaptureFixture) -> None:
    b = StreamsBuilder()
    b.stream("in", STR).group_by_key().count(name="counter").to_stream().to(
        "out", Produced(key_serde=S, value_serde=L))
    with caplog.at_level(logging.WARNING), TopologyTestDriver(b.build(), APP) as d:
        i = d.create_input_topic("in", S, S)
        i.pipe_input("a", "x", 1)
        i.pipe_input(None, "x", 2)
        i.pipe_input("a", None, 3)
        i.pipe_input("a", "y", 4)
        assert out_records(d) == [Record("a", 1, 1), Record("a", 2, 4)]
    skipped = [r.getMessage() for r in caplog.records if "skipped a record" in r.getMessage()]
    assert len(skipped) == 2
    assert all("counter" in m for m in skipped)
    assert "offset=1" in skipped[0] and "offset=2" in skipped[1]


def test_group_by_drops_none_keys_before_the_repartition_topic() -> None:
    b = StreamsBuilder()
    (b.stream("in", STR)
     .group_by(lambda v: None if v == "-" else v, Grouped(key_serde=S))
     .count(Materialized(name="words"))
     .to_stream().to("out", Produced(key_serde=S, value_serde=L)))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_value_list(["a", "-", "a"])
        assert [(r.key, r.value) for r in out_records(d)] == [("a", 1), ("a", 2)]
        repartitioned = d.create_output_topic("app-words-repartition", S, S).read_key_values_to_list()
        assert repartitioned == [("a", "a"), ("a", "a")]


def test_reduce_combines_values_and_keeps_max_timestamp() -> None:
    b = StreamsBuilder()
    (b.stream("in", Consumed(key_serde=S, value_serde=INT))
     .group_by_key()
     .reduce(lambda agg, v: agg + v, Materialized(name="sum"))
     .to_stream().to("out", Produced(key_serde=S, value_serde=INT)))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, INT).pipe_record_list([
            Record("a", 1, 100), Record("a", 2, 50), Record("b", 7, 60), Record("a", 3, 200),
        ])
        assert out_records(d, INT) == [
            Record("a", 1, 100), Record("a", 3, 100), Record("b", 7, 60), Record("a", 6, 200)]


def test_aggregate_with_value_only_and_key_taking_aggregators() -> None:
    b = StreamsBuilder()
    grouped = b.stream("in", STR).group_by_key()
    (grouped.aggregate(list, lambda v, agg: [*agg, v],
                       Materialized(name="lists", value_serde=serdes.Json()))
     .to_stream().to("lists-out", Produced(key_serde=S, value_serde=serdes.Json())))
    (grouped.aggregate(lambda: "", lambda k, v, agg: agg + f"{k}:{v};",
                       Materialized(name="strings", value_serde=S))
     .to_stream().to("strings-out", Produced(key_serde=S, value_serde=S)))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list([("a", "1"), ("b", "2"), ("a", "3")])
        lists = d.create_output_topic("lists-out", S, serdes.Json()).read_key_values_to_list()
        assert lists == [("a", ["1"]), ("b", ["2"]), ("a", ["1", "3"])]
        strings = d.create_output_topic("strings-out", S, S).read_key_values_to_map()
        assert strings == {"a": "a:1;a:3;", "b": "b:2;"}
        assert dict(d.get_key_value_store("lists").all()) == {"a": ["1", "3"], "b": ["2"]}


@pytest.mark.parametrize("store_type", ["in_memory", "rocksdb"])
def test_materialized_store_type_in_memory_or_persistent(store_type: str) -> None:
    b = StreamsBuilder()
    b.stream("in", STR).group_by_key().count(Materialized(name="c", store_type=store_type))
    topology = b.build()
    assert topology.stores["c"].persistent is (store_type == "rocksdb")
    with TopologyTestDriver(topology, APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list([("k2", "x"), ("k1", "x"), ("k2", "y")])
        assert list(d.get_key_value_store("c").all()) == [("k1", 1), ("k2", 2)]
        assert d.get_key_value_store("c").approximate_num_entries() == 2


def test_default_dsl_store_config_picks_the_store_type() -> None:
    b = StreamsBuilder({**APP, "default.dsl.store": "in_memory"})
    b.stream("in", STR).group_by_key().count(Materialized(name="c"))
    assert b.build().stores["c"].persistent is False
    b = StreamsBuilder()
    b.stream("in", STR).group_by_key().count(Materialized(name="c"))
    assert b.build().stores["c"].persistent is True  # Kafka Streams' default: rocksDB


def test_materialized_serdes_and_logging_disabled() -> None:
    b = StreamsBuilder()
    (b.stream("in", STR)
     .group_by(lambda v: len(v))
     .count(Materialized(name="by-len", key_serde=INT).with_logging_disabled())
     .to_stream().to("out", Produced(key_serde=INT, value_serde=L)))
    config = {**APP, "default.value.serde": S}  # the repartition topic's value serde
    with TopologyTestDriver(b.build(), config) as d:
        d.create_input_topic("in", S, S).pipe_value_list(["aa", "b", "cc"])
        assert d.create_output_topic("out", INT, L).read_key_values_to_list() == [(2, 1), (1, 1), (2, 2)]
        assert "app-by-len-changelog" not in d.produced_topic_names()
        assert "app-by-len-repartition" in d.produced_topic_names()


def test_unnamed_aggregations_get_generated_store_and_repartition_names() -> None:
    b = StreamsBuilder()
    b.stream("in", STR).select_key(lambda v: v).group_by_key(Grouped(key_serde=S)).count()
    topology = b.build()
    assert list(topology.stores) == ["KSTREAM-AGGREGATE-STATE-STORE-0000000002"]
    assert set(topology.internal_topics) == {"KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition"}
    with TopologyTestDriver(topology, APP) as d:
        d.create_input_topic("in", S, S).pipe_value_list(["x", "x"])
        assert d.get_key_value_store("KSTREAM-AGGREGATE-STATE-STORE-0000000002").get("x") == 2


def test_two_aggregations_of_a_named_grouping_share_its_repartition_topic() -> None:
    b = StreamsBuilder()
    grouped = (b.stream("in", STR).map(lambda k, v: (v, k))
               .group_by_key(Grouped(name="by-v", key_serde=S, value_serde=S)))
    grouped.count(Materialized(name="n")).to_stream().to("n-out", Produced(key_serde=S, value_serde=L))
    grouped.reduce(lambda a, v: a + v, Materialized(name="cat")).to_stream().to(
        "cat-out", Produced(key_serde=S, value_serde=S))
    topology = b.build()
    assert set(topology.internal_topics) == {"by-v-repartition"}
    assert len(topology.subtopologies()) == 2
    with TopologyTestDriver(topology, APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list([("x", "k"), ("y", "k")])
        assert d.create_output_topic("n-out", S, L).read_key_values_to_list() == [("k", 1), ("k", 2)]
        assert d.create_output_topic("cat-out", S, S).read_key_values_to_list() == [
            ("k", "x"), ("k", "xy")]
        # each record crossed the repartition topic once, not once per aggregation
        assert len(d.create_output_topic("app-by-v-repartition").read_records_to_list()) == 2


def test_aggregation_over_a_repartition_keeps_input_timestamps() -> None:
    b = StreamsBuilder()
    (b.stream("in", STR).group_by(lambda k, v: v, Grouped(key_serde=S))
     .count(Materialized(name="c")).to_stream().to("out", Produced(key_serde=S, value_serde=L)))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_record_list([
            Record("1", "w", 40), Record("2", "w", 10), Record("3", "v", 20), Record("4", "w", 50)])
        assert out_records(d) == [
            Record("w", 1, 40), Record("w", 2, 40), Record("v", 1, 20), Record("w", 3, 50)]
