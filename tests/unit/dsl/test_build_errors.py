"""Build-time errors: each says what to change."""

from __future__ import annotations

import pytest

from streams import (
    Branched,
    Consumed,
    Grouped,
    Materialized,
    Processor,
    Produced,
    Record,
    StreamsBuilder,
    StreamsError,
    Topology,
    TopologyError,
    serdes,
)
from streams.state import Stores
from streams.testing import TopologyTestDriver

S, L = serdes.String(), serdes.Long()
STR = Consumed(key_serde=S, value_serde=S)
APP = {"application.id": "app"}


def count_by_computed_key(builder: StreamsBuilder, grouped: Grouped | None = None,
                          materialized: Materialized | None = None) -> None:
    (builder.stream("in", STR)
     .group_by(lambda v: v.upper(), grouped)
     .count(materialized)
     .to_stream().to("out", Produced(value_serde=L)))


def test_stateful_operation_on_computed_key_without_serde_fails_at_build_with_config() -> None:
    b = StreamsBuilder(APP)
    count_by_computed_key(b)
    with pytest.raises(TopologyError) as err:
        b.build()
    msg = str(err.value)
    assert "needs a key serde" in msg
    assert "Grouped(key_serde=...)" in msg
    assert "'default.key.serde'" in msg
    assert "KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition" in msg


def test_without_builder_config_the_check_happens_when_the_driver_starts() -> None:
    b = StreamsBuilder()
    count_by_computed_key(b)
    topology = b.build()  # no config yet: cannot know the defaults
    with pytest.raises(TopologyError, match="needs a key serde"):
        TopologyTestDriver(topology, APP)


def test_computed_key_serde_from_grouped_or_config_default_is_enough() -> None:
    b = StreamsBuilder(APP)
    count_by_computed_key(b, grouped=Grouped(key_serde=S))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_input("k", "word")
        assert d.create_output_topic("out", S, L).read_key_value() == ("WORD", 1)

    b = StreamsBuilder({**APP, "default.key.serde": S})
    count_by_computed_key(b)
    b.build()


def test_computed_value_without_serde_fails_when_written_to_a_topic() -> None:
    b = StreamsBuilder(APP)
    b.stream("in", STR).map_values(len).to("out")
    with pytest.raises(TopologyError, match=r"needs a value serde.*Produced\(value_serde=\.\.\.\)"):
        b.build()


def test_aggregate_without_value_serde_names_the_store() -> None:
    b = StreamsBuilder(APP)
    b.stream("in", STR).group_by_key().aggregate(list, lambda v, agg: [*agg, v],
                                                 Materialized(name="lists"))
    with pytest.raises(TopologyError, match="'lists' holds computed values"):
        b.build()


def test_two_stores_with_one_name() -> None:
    b = StreamsBuilder()
    b.add_state_store(Stores.key_value_store_builder(Stores.in_memory_key_value_store("s"), S, L))
    with pytest.raises(TopologyError, match="state store 's' is added twice; give each store its own name"):
        b.add_state_store(Stores.key_value_store_builder(Stores.persistent_key_value_store("s"), S, L))

    b = StreamsBuilder()
    s = b.stream("in", STR)
    s.group_by_key().count(Materialized(name="counts"))
    with pytest.raises(TopologyError, match="'counts' is added twice"):
        s.group_by_key().reduce(lambda a, v: v, Materialized(name="counts"))


def test_processor_asking_for_a_store_that_was_not_added() -> None:
    b = StreamsBuilder()
    b.add_state_store(Stores.key_value_store_builder(Stores.in_memory_key_value_store("real"), S, L))
    with pytest.raises(TopologyError) as err:
        b.stream("in").process(Processor, stores=["missing"], name="proc")
    assert "'missing'" in str(err.value)
    assert "stores: real" in str(err.value)
    assert "builder.add_state_store" in str(err.value)


def test_processor_using_a_store_it_was_not_connected_to() -> None:
    class Sneaky(Processor):
        def init(self, context: object) -> None:
            context.get_state_store("private")  # type: ignore[attr-defined]

        def process(self, record: Record) -> None:
            pass

    b = StreamsBuilder()
    b.add_state_store(Stores.key_value_store_builder(Stores.in_memory_key_value_store("private"), S, L))
    b.stream("a").process(Processor, stores=["private"])
    b.stream("b").process(Sneaky, name="sneaky")
    with pytest.raises(StreamsError, match=r"'sneaky' has no access to state store 'private'.*stores=\['private'\]"):
        TopologyTestDriver(b.build(), APP)


def test_store_connected_to_no_processor() -> None:
    b = StreamsBuilder()
    b.add_state_store(Stores.key_value_store_builder(Stores.in_memory_key_value_store("lonely"), S, L))
    b.stream("in").to("out")
    with pytest.raises(TopologyError, match="'lonely' is not connected to any processor"):
        b.build()


@pytest.mark.parametrize("make", [
    lambda b: b.stream(""),
    lambda b: b.stream(["ok", ""]),
    lambda b: b.table(""),
    lambda b: b.stream("in").to(""),
])
def test_empty_topic_name(make: object) -> None:
    with pytest.raises(TopologyError, match="empty topic name"):
        make(StreamsBuilder())  # type: ignore[operator]


def test_empty_operation_name() -> None:
    with pytest.raises(TopologyError, match="must not be empty"):
        StreamsBuilder().stream("in").filter(bool, name="")


def test_topic_read_twice() -> None:
    b = StreamsBuilder()
    b.stream("in")
    with pytest.raises(TopologyError, match="read it once and share the stream"):
        b.stream("in")


def test_node_name_used_twice() -> None:
    b = StreamsBuilder()
    s = b.stream("in")
    s.filter(bool, name="f")
    with pytest.raises(TopologyError, match="'f' is used twice"):
        s.map_values(str, name="f")


def test_empty_topology_and_reused_builder() -> None:
    with pytest.raises(TopologyError, match="the topology is empty"):
        StreamsBuilder().build()
    b = StreamsBuilder()
    b.stream("in")
    b.build()
    with pytest.raises(TopologyError, match="already built"):
        b.stream("other")


def test_split_misuse() -> None:
    b = StreamsBuilder()
    splitter = b.stream("in").split(name="s-").branch(bool, name="x")
    with pytest.raises(TopologyError, match="unique"):
        splitter.branch(bool, Branched.as_("x")).no_default_branch()
    done = b.stream("in2").split()
    done.default_branch()
    with pytest.raises(TopologyError, match="after the default branch"):
        done.branch(bool)


def test_invalid_materialized_store_type() -> None:
    with pytest.raises(TopologyError, match="'rocksdb' or 'in_memory'"):
        StreamsBuilder().stream("in").group_by_key().count(Materialized(store_type="redis"))


def test_processor_api_wiring_errors() -> None:
    topology = Topology()
    with pytest.raises(TopologyError, match="needs at least one parent"):
        topology.add_processor("p", Processor)
    with pytest.raises(TopologyError, match="parent 'nope', which does not exist"):
        topology.add_processor("p", Processor, "nope")
    topology.add_source("src", "in").add_sink("sink", "out", "src")
    with pytest.raises(TopologyError, match="cannot have sink 'sink' as its parent"):
        topology.add_processor("p", Processor, "sink")
    with pytest.raises(TopologyError, match="supplier must be callable"):
        topology.add_processor("p", object(), "src")  # type: ignore[arg-type]
    with pytest.raises(TopologyError, match="offset_reset"):
        topology.add_source("src2", "in2", offset_reset="middle")
