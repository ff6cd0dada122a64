"""KStream operators, run through the TopologyTestDriver with exact expected outputs."""

from __future__ import annotations

from typing import Any

import pytest

from streams import (
    Branched,
    Consumed,
    Grouped,
    Materialized,
    Processor,
    Produced,
    Record,
    Repartitioned,
    StreamsBuilder,
    TopologyError,
    serdes,
)
from streams.state import Stores
from streams.testing import TopologyTestDriver

S, L, INT = serdes.String(), serdes.Long(), serdes.Integer()
STR = Consumed(key_serde=S, value_serde=S)
OUT = Produced(key_serde=S, value_serde=S)
APP = {"application.id": "app"}


def records(driver: TopologyTestDriver, topic: str, key: Any = S, value: Any = S) -> list[Record]:
    return driver.create_output_topic(topic, key, value).read_records_to_list()


def pairs(driver: TopologyTestDriver, topic: str, key: Any = S, value: Any = S) -> list[tuple[Any, Any]]:
    return driver.create_output_topic(topic, key, value).read_key_values_to_list()


# --------------------------------------------------------------------------- stateless
def test_filter_with_value_predicate_keeps_matching_records_with_their_timestamps() -> None:
    b = StreamsBuilder()
    b.stream("in", STR).filter(lambda v: v.startswith("a")).to("out", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_record_list([
            Record("k1", "apple", 10), Record("k2", "banana", 11), Record("k3", "avocado", 12),
        ])
        assert records(d, "out") == [Record("k1", "apple", 10), Record("k3", "avocado", 12)]


def test_filter_and_filter_not_with_key_predicate() -> None:
    b = StreamsBuilder()
    s = b.stream("in", STR)
    s.filter(lambda k, v: k == v).to("same", OUT)
    s.filter_not(lambda k, v: k == v).to("different", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list([("a", "a"), ("a", "b"), ("c", "c")])
        assert pairs(d, "same") == [("a", "a"), ("c", "c")]
        assert pairs(d, "different") == [("a", "b")]


def test_map_values_takes_the_value_or_the_key_and_value() -> None:
    b = StreamsBuilder()
    s = b.stream("in", STR)
    s.map_values(str.upper).to("upper", OUT)
    s.map_values(lambda k, v: f"{k}={v}").to("joined", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_input("k", "v", timestamp=7, headers=[("h", b"x")])
        assert records(d, "upper") == [Record("k", "V", 7, [("h", b"x")])]
        assert records(d, "joined") == [Record("k", "k=v", 7, [("h", b"x")])]


def test_map_replaces_key_and_value() -> None:
    b = StreamsBuilder()
    b.stream("in", STR).map(lambda k, v: (v, len(k))).to("out", Produced(key_serde=S, value_serde=INT))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list([("abc", "x"), ("de", "y")])
        assert pairs(d, "out", S, INT) == [("x", 3), ("y", 2)]


def test_map_returning_a_non_pair_fails_with_the_node_name() -> None:
    b = StreamsBuilder()
    b.stream("in", STR).map(lambda k, v: v, name="bad-map").to("out", OUT)
    with TopologyTestDriver(b.build(), APP) as d, pytest.raises(Exception, match="bad-map"):
        d.create_input_topic("in", S, S).pipe_input("k", "value")


def test_flat_map_emits_zero_or_more_pairs() -> None:
    b = StreamsBuilder()
    (b.stream("in", STR)
     .flat_map(lambda k, v: [(f"{k}{i}", c) for i, c in enumerate(v)])
     .to("out", OUT))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_record_list([
            Record("k", "ab", 5), Record("z", "", 6), Record("m", "c", 7),
        ])
        assert records(d, "out") == [Record("k0", "a", 5), Record("k1", "b", 5), Record("m0", "c", 7)]


def test_flat_map_values_accepts_a_method_with_optional_parameters() -> None:
    # str.split has one required parameter (self) and optional ones: it is a value mapper
    b = StreamsBuilder()
    s = b.stream("in", STR)
    s.flat_map_values(str.split).to("words", OUT)
    s.flat_map_values(lambda k, v: [k] * len(v)).to("keys", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_input("the key", "a b c")
        assert pairs(d, "words") == [("the key", "a"), ("the key", "b"), ("the key", "c")]
        assert pairs(d, "keys") == [("the key", "the key")] * 5


def test_select_key_keeps_value_and_timestamp() -> None:
    b = StreamsBuilder()
    s = b.stream("in", STR)
    s.select_key(lambda v: v[0]).to("by-first", OUT)
    s.select_key(lambda k, v: k + v).to("by-both", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_input("k", "xyz", timestamp=3)
        assert records(d, "by-first") == [Record("x", "xyz", 3)]
        assert records(d, "by-both") == [Record("kxyz", "xyz", 3)]


def test_peek_passes_records_on_and_foreach_is_terminal() -> None:
    peeked: list[tuple[str, str]] = []
    seen: list[str] = []
    b = StreamsBuilder()
    s = b.stream("in", STR)
    s.peek(lambda k, v: peeked.append((k, v))).to("out", OUT)
    assert s.foreach(lambda v: seen.append(v)) is None
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list([("a", "1"), ("b", "2")])
        assert peeked == [("a", "1"), ("b", "2")]
        assert seen == ["1", "2"]
        assert pairs(d, "out") == [("a", "1"), ("b", "2")]


def test_sources_without_serdes_pass_bytes_through() -> None:
    b = StreamsBuilder()
    b.stream("in").to("out")
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in").pipe_input(b"k", b"\x00\x01", timestamp=1)
        assert d.create_output_topic("out").read_record() == Record(b"k", b"\x00\x01", 1)


def test_sources_use_config_default_serdes() -> None:
    b = StreamsBuilder()
    b.stream("in").map_values(lambda v: v * 2).to("out")
    config = {**APP, "default.key.serde": S, "default.value.serde": INT}
    with TopologyTestDriver(b.build(), config) as d:
        d.create_input_topic("in", S, INT).pipe_input("k", 21)
        assert pairs(d, "out", S, INT) == [("k", 42)]


# --------------------------------------------------------------------------- split / merge
def test_split_routes_to_first_matching_named_branch_and_default() -> None:
    b = StreamsBuilder()
    branches = (
        b.stream("in", Consumed(key_serde=S, value_serde=INT))
        .split(name="route-")
        .branch(lambda v: v < 0, Branched.as_("negative"))
        .branch(lambda v: v < 10, name="small")
        .default_branch(name="large")
    )
    assert sorted(branches) == ["route-large", "route-negative", "route-small"]
    for name, stream in branches.items():
        stream.to(name, Produced(key_serde=S, value_serde=INT))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, INT).pipe_key_value_list(
            [("a", -5), ("b", 3), ("c", 50), ("d", -1), ("e", 9)])
        assert pairs(d, "route-negative", S, INT) == [("a", -5), ("d", -1)]
        assert pairs(d, "route-small", S, INT) == [("b", 3), ("e", 9)]
        assert pairs(d, "route-large", S, INT) == [("c", 50)]


def test_split_without_default_drops_unmatched_and_chain_functions_apply() -> None:
    b = StreamsBuilder()
    branches = (
        b.stream("in", STR)
        .split(name="s-")
        .branch(lambda k, v: k == "x",
                Branched.with_function(lambda st: st.map_values(str.upper), name="x"))
        .branch(lambda v: v == "drop-me", Branched.with_function(lambda st: None, name="gone"))
        .no_default_branch()
    )
    assert list(branches) == ["s-x"]  # a chain returning None leaves the branch out
    branches["s-x"].to("out", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list(
            [("x", "hello"), ("y", "drop-me"), ("y", "unmatched"), ("x", "drop-me")])
        assert pairs(d, "out") == [("x", "HELLO"), ("x", "DROP-ME")]


def test_merge_interleaves_two_streams_in_arrival_order() -> None:
    b = StreamsBuilder()
    left = b.stream("left", STR)
    right = b.stream("right", STR).map_values(str.upper)
    left.merge(right).to("out", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        li, ri = d.create_input_topic("left", S, S), d.create_input_topic("right", S, S)
        li.pipe_input("a", "x", 1)
        ri.pipe_input("b", "y", 2)
        li.pipe_input("c", "z", 3)
        assert records(d, "out") == [Record("a", "x", 1), Record("b", "Y", 2), Record("c", "z", 3)]


def test_merged_streams_feed_one_aggregation_without_repartition() -> None:
    b = StreamsBuilder()
    merged = b.stream("clicks", STR).merge(b.stream("views", STR))
    merged.group_by_key().count(Materialized(name="per-user")).to_stream().to(
        "counts", Produced(key_serde=S, value_serde=L))
    topology = b.build()
    assert topology.internal_topics == {}
    assert len(topology.subtopologies()) == 1  # both topics co-partitioned in one task
    with TopologyTestDriver(topology, APP) as d:
        d.create_input_topic("clicks", S, S).pipe_input("u1", "c", 5)
        d.create_input_topic("views", S, S).pipe_input("u1", "v", 3)
        d.create_input_topic("views", S, S).pipe_input("u2", "v", 4)
        assert records(d, "counts", S, L) == [
            Record("u1", 1, 5), Record("u1", 2, 5), Record("u2", 1, 4)]


def test_merge_with_a_rekeyed_stream_repartitions_before_aggregating() -> None:
    b = StreamsBuilder()
    plain = b.stream("a", STR)
    rekeyed = b.stream("b", STR).select_key(lambda v: v)
    plain.merge(rekeyed).group_by_key(Grouped(name="merged", key_serde=S)).count().to_stream().to(
        "counts", Produced(key_serde=S, value_serde=L))
    topology = b.build()
    assert set(topology.internal_topics) == {"merged-repartition"}
    with TopologyTestDriver(topology, APP) as d:
        d.create_input_topic("a", S, S).pipe_input("k", "ignored")
        d.create_input_topic("b", S, S).pipe_input("other", "k")
        assert pairs(d, "counts", S, L) == [("k", 1), ("k", 2)]
        assert "app-merged-repartition" in d.produced_topic_names()


# --------------------------------------------------------------------------- repartition
def test_repartition_writes_through_an_internal_topic_and_reads_it_back() -> None:
    b = StreamsBuilder()
    (b.stream("in", STR)
     .map(lambda k, v: (v, k))
     .repartition(Repartitioned(name="by-value", key_serde=S, value_serde=S))
     .map_values(str.upper)
     .to("out", OUT))
    topology = b.build()
    assert set(topology.internal_topics) == {"by-value-repartition"}
    assert [s.source_topics for s in topology.subtopologies()] == [("in",), ("by-value-repartition",)]
    with TopologyTestDriver(topology, APP) as d:
        d.create_input_topic("in", S, S).pipe_input("k", "v", timestamp=9)
        assert records(d, "out") == [Record("v", "K", 9)]
        assert records(d, "app-by-value-repartition") == [Record("v", "k", 9)]
        assert {"app-by-value-repartition", "out"} <= d.produced_topic_names()


def test_repartition_without_name_uses_a_generated_topic_name() -> None:
    b = StreamsBuilder()
    b.stream("in", STR).repartition().to("out", OUT)
    topology = b.build()
    assert set(topology.internal_topics) == {"KSTREAM-REPARTITION-0000000001-repartition"}
    with TopologyTestDriver(topology, {"application.id": "rp"}) as d:
        d.create_input_topic("in", S, S).pipe_input("k", "v")
        assert pairs(d, "out") == [("k", "v")]
        assert "rp-KSTREAM-REPARTITION-0000000001-repartition" in d.produced_topic_names()


def test_repartition_partition_count_and_partitioner_are_recorded() -> None:
    calls: list[tuple[str, Any, Any, int]] = []

    def partitioner(topic: str, key: Any, value: Any, n: int) -> int:
        calls.append((topic, key, value, n))
        return 0

    b = StreamsBuilder()
    b.stream("in", STR).repartition(Repartitioned(name="r", num_partitions=4,
                                                  partitioner=partitioner)).to("out", OUT)
    topology = b.build()
    assert topology.internal_topics["r-repartition"].partitions == 4
    with TopologyTestDriver(topology, APP) as d:
        d.create_input_topic("in", S, S).pipe_input("k", "v")
        assert calls == [("app-r-repartition", "k", "v", 1)]  # the driver has one partition


# --------------------------------------------------------------------------- sinks
def test_to_with_a_topic_extractor_chooses_the_topic_per_record() -> None:
    def by_key(key: str, value: str, record: Record) -> str:
        assert record.key == key and record.value == value
        return f"out-{key}"

    b = StreamsBuilder()
    b.stream("in", STR).to(by_key, OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list([("a", "1"), ("b", "2"), ("a", "3")])
        assert pairs(d, "out-a") == [("a", "1"), ("a", "3")]
        assert pairs(d, "out-b") == [("b", "2")]


def test_to_with_produced_partitioner_is_called_with_topic_key_value_and_count() -> None:
    calls: list[tuple[str, Any, Any, int]] = []
    b = StreamsBuilder()
    b.stream("in", STR).to("out", Produced(
        key_serde=S, value_serde=S,
        partitioner=lambda t, k, v, n: calls.append((t, k, v, n)) or 0))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list([("a", "1"), ("b", "2")])
        assert calls == [("out", "a", "1", 1), ("out", "b", "2", 1)]
        assert pairs(d, "out") == [("a", "1"), ("b", "2")]


def test_to_table_keeps_latest_value_and_none_deletes() -> None:
    b = StreamsBuilder()
    table = b.stream("in", STR).to_table(Materialized(name="latest"))
    table.to_stream().to("changes", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_record_list([
            Record("a", "1", 1), Record("b", "2", 2), Record("a", "3", 3), Record("b", None, 4),
        ])
        assert records(d, "changes") == [
            Record("a", "1", 1), Record("b", "2", 2), Record("a", "3", 3), Record("b", None, 4)]
        assert list(d.get_key_value_store("latest").all()) == [("a", "3")]


def test_to_table_after_a_key_change_repartitions_named_after_the_node() -> None:
    b = StreamsBuilder()
    (b.stream("in", STR).select_key(lambda v: v)
     .to_table(Materialized(key_serde=S), name="tbl").to_stream().to("out", OUT))
    topology = b.build()
    assert set(topology.internal_topics) == {"tbl-repartition"}
    with TopologyTestDriver(topology, APP) as d:
        d.create_input_topic("in", S, S).pipe_input("old", "new", timestamp=4)
        assert records(d, "out") == [Record("new", "new", 4)]


# --------------------------------------------------------------------------- Processor API in the DSL
class CountPerKey(Processor):
    """Counts records per key in store "counts" and forwards (key + '!', count)."""

    def init(self, context: Any) -> None:
        self.context = context
        self.store = context.get_state_store("counts")

    def process(self, record: Record) -> None:
        n = (self.store.get(record.key) or 0) + 1
        self.store.put(record.key, n)
        self.context.forward(Record(record.key + "!", n, record.timestamp, record.headers))


def counts_store_builder(in_memory: bool = True) -> Any:
    supplier = (Stores.in_memory_key_value_store("counts") if in_memory
                else Stores.persistent_key_value_store("counts"))
    return Stores.key_value_store_builder(supplier, S, L)


@pytest.mark.parametrize("in_memory", [True, False], ids=["in-memory", "rocksdb"])
def test_process_runs_a_processor_with_a_store_and_may_change_keys(in_memory: bool) -> None:
    b = StreamsBuilder()
    b.add_state_store(counts_store_builder(in_memory))
    b.stream("in", STR).process(CountPerKey, stores=["counts"]).to(
        "out", Produced(key_serde=S, value_serde=L))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list([("a", "x"), ("b", "y"), ("a", "z")])
        assert pairs(d, "out", S, L) == [("a!", 1), ("b!", 1), ("a!", 2)]
        assert list(d.get_key_value_store("counts").all()) == [("a", 2), ("b", 1)]
        assert "app-counts-changelog" in d.produced_topic_names()


def test_process_values_keeps_the_input_key() -> None:
    b = StreamsBuilder()
    b.add_state_store(counts_store_builder())
    b.stream("in", STR).process_values(CountPerKey, stores=["counts"]).to(
        "out", Produced(key_serde=S, value_serde=L))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list([("a", "x"), ("a", "y")])
        assert pairs(d, "out", S, L) == [("a", 1), ("a", 2)]


def test_process_output_needs_repartition_before_grouping_but_process_values_does_not() -> None:
    b = StreamsBuilder()
    b.add_state_store(counts_store_builder())
    s = b.stream("in", STR)
    s.process(CountPerKey, stores=["counts"]).group_by_key(Grouped(key_serde=S, value_serde=L,
                                                                    name="after-process")).count()
    s.process_values(Processor, name="pv").group_by_key(Grouped(name="after-pv")).count()
    assert set(b.build().internal_topics) == {"after-process-repartition"}


# --------------------------------------------------------------------------- grouping
def test_group_by_key_after_map_inserts_a_repartition_topic() -> None:
    b = StreamsBuilder()
    (b.stream("in", STR)
     .map(lambda k, v: (v, k))
     .group_by_key(Grouped(key_serde=S, value_serde=S))
     .count(Materialized(name="by-value"))
     .to_stream()
     .to("out", Produced(key_serde=S, value_serde=L)))
    topology = b.build()
    assert set(topology.internal_topics) == {"by-value-repartition"}
    text = str(topology.describe())
    assert "Sink: by-value-repartition-sink (topic: by-value-repartition)" in text
    assert "Source: by-value-repartition-source (topics: [by-value-repartition])" in text
    with TopologyTestDriver(topology, {"application.id": "grp"}) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list([("a", "x"), ("b", "x"), ("c", "y")])
        assert pairs(d, "out", S, L) == [("x", 1), ("x", 2), ("y", 1)]
        assert d.produced_topic_names() == {
            "grp-by-value-repartition", "grp-by-value-changelog", "out"}


def test_group_by_key_without_key_change_does_not_repartition() -> None:
    b = StreamsBuilder()
    (b.stream("in", STR).filter(lambda v: True).map_values(str.upper).peek(lambda v: None)
     .group_by_key().count())
    topology = b.build()
    assert topology.internal_topics == {}
    assert len(topology.subtopologies()) == 1


def test_group_by_always_repartitions_and_grouped_name_names_node_and_topic() -> None:
    b = StreamsBuilder()
    b.stream("in", STR).group_by(lambda v: v, Grouped(name="by-v", key_serde=S)).count()
    topology = b.build()
    assert set(topology.internal_topics) == {"by-v-repartition"}
    assert "by-v" in topology.nodes  # the key-select node takes the Grouped name


def test_functions_with_wrong_arity_fail_at_build_time() -> None:
    s = StreamsBuilder().stream("in", STR)
    with pytest.raises(TopologyError, match="map_values"):
        s.map_values(lambda: 1)
    with pytest.raises(TopologyError, match="filter"):
        s.filter(lambda a, b, c: True)
    with pytest.raises(TopologyError, match="map"):
        s.map(lambda v: (v, v))


def test_one_source_for_several_topics() -> None:
    b = StreamsBuilder()
    b.stream(["a", "b"], STR).map_values(str.upper).to("out", OUT)
    topology = b.build()
    assert topology.subtopologies()[0].source_topics == ("a", "b")
    with TopologyTestDriver(topology, APP) as d:
        d.create_input_topic("b", S, S).pipe_input("k", "from b", 2)
        d.create_input_topic("a", S, S).pipe_input("k", "from a", 1)
        assert records(d, "out") == [Record("k", "FROM B", 2), Record("k", "FROM A", 1)]


def test_table_to_stream_with_key_mapper_counts_as_a_key_change() -> None:
    b = StreamsBuilder()
    table = b.table("t", STR)
    table.to_stream().group_by_key(Grouped(name="same-key")).count()
    table.to_stream(lambda k, v: v).group_by_key(Grouped(name="new-key", key_serde=S)).count()
    assert set(b.build().internal_topics) == {"new-key-repartition"}
