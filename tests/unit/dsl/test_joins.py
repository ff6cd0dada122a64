"""Non-windowed joins (stream-table, stream-global table, table-table) against Kafka Streams'
semantics, through the TopologyTestDriver.

The expected outputs come from Kafka Streams: the join semantics tables of the "Kafka Streams
Join Semantics" wiki page, and the record sequences of KTableKTableInnerJoinTest,
KTableKTableLeftJoinTest and KTableKTableOuterJoinTest (same inputs, timestamps and outputs).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from streams import Consumed, Materialized, Produced, StreamsBuilder, serdes
from streams.errors import TopologyError
from streams.runtime.internal_topics import plan_topics
from streams.testing import TopologyTestDriver

S, INT = serdes.String(), serdes.Integer()
STR = Consumed(key_serde=S, value_serde=S)
INT_STR = Consumed(key_serde=INT, value_serde=S)
OUT = Produced(key_serde=S, value_serde=S)
INT_OUT = Produced(key_serde=INT, value_serde=S)
# Kafka Streams' join tests run with the record cache off, so that every update is visible
APP = {"application.id": "app", "statestore.cache.max.bytes": 0}

KVT = tuple[Any, Any, int]


def read(d: TopologyTestDriver, topic: str, key_serde: Any = S) -> list[KVT]:
    """Everything written to ``topic`` since the last read, as (key, value, timestamp)."""
    return [(r.key, r.value, r.timestamp)
            for r in d.create_output_topic(topic, key_serde, S).read_records_to_list()]


def plus(left: Any, right: Any) -> str:
    """Kafka's MockValueJoiner.TOSTRING_JOINER: ``left + "+" + right``, None as "null"."""
    return f"{'null' if left is None else left}+{'null' if right is None else right}"


def dash(left: Any, right: Any) -> str:
    """The wiki's notation: ``A - a``, None as "null"."""
    return f"{'null' if left is None else left} - {'null' if right is None else right}"


# ---------------------------------------------------------------------- KStream-KTable

# The wiki's example: one key, the stream and the table updated in timestamp order
# (None is a null value: a tombstone for the table, an ignored record for the stream).
WIKI_STREAM = [(1, None), (3, "A"), (5, "B"), (7, None), (9, "C"), (12, None), (15, "D")]
WIKI_TABLE = [(2, None), (4, "a"), (6, "b"), (8, None), (10, "c"), (11, None), (13, None),
              (14, "d")]


def pipe_wiki(left: Any, right: Any) -> None:
    """Pipe the wiki's two inputs, interleaved by timestamp, all with key "k"."""
    for ts, topic, value in sorted([(ts, 0, v) for ts, v in WIKI_STREAM]
                                   + [(ts, 1, v) for ts, v in WIKI_TABLE]):
        (left if topic == 0 else right).pipe_input("k", value, ts)


def test_stream_table_joins_follow_the_kafka_semantics_table() -> None:
    b = StreamsBuilder()
    table = b.table("t", STR)
    stream = b.stream("s", STR)
    stream.join(table, dash).to("inner", OUT)
    stream.left_join(table, dash).to("left", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        pipe_wiki(d.create_input_topic("s", S, S), d.create_input_topic("t", S, S))
        # only stream records trigger; the output has the stream record's timestamp
        assert read(d, "inner") == [("k", "B - a", 5), ("k", "D - d", 15)]
        assert read(d, "left") == [("k", "A - null", 3), ("k", "B - a", 5), ("k", "C - null", 9),
                                   ("k", "D - d", 15)]


def test_stream_table_join_no_match_match_update_and_tombstone() -> None:
    b = StreamsBuilder()
    customers = b.table("customers", STR)
    orders = b.stream("orders", STR)
    orders.join(customers, lambda o, c: f"{o}@{c}").to("inner", OUT)
    orders.left_join(customers, lambda o, c: f"{o}@{c}").to("left", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        o = d.create_input_topic("orders", S, S)
        c = d.create_input_topic("customers", S, S)
        o.pipe_input("alice", "book", 10)     # no customer yet
        c.pipe_input("alice", "Alice", 20)    # a table update triggers nothing
        o.pipe_input("alice", "pen", 15)      # match (timestamp: the stream record's)
        c.pipe_input("alice", "Alice B.", 30)
        o.pipe_input("alice", "ink", 31)      # sees the updated row
        o.pipe_input("bob", "cup", 32)        # other key, no row
        c.pipe_input("alice", None, 40)       # tombstone deletes the row
        o.pipe_input("alice", "pad", 41)
        assert read(d, "inner") == [("alice", "pen@Alice", 15), ("alice", "ink@Alice B.", 31)]
        assert read(d, "left") == [
            ("alice", "book@None", 10), ("alice", "pen@Alice", 15), ("alice", "ink@Alice B.", 31),
            ("bob", "cup@None", 32), ("alice", "pad@None", 41)]


def test_stream_record_with_none_value_is_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    b = StreamsBuilder()
    table = b.table("t", STR)
    stream = b.stream("s", STR)
    stream.join(table, plus).to("inner", OUT)
    stream.left_join(table, plus).to("left", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("t", S, S).pipe_input("k", "row", 1)
        with caplog.at_level(logging.WARNING):
            d.create_input_topic("s", S, S).pipe_input("k", None, 2)
        assert read(d, "inner") == []
        assert read(d, "left") == []  # not even a left join joins a None value
    dropped = [r.getMessage() for r in caplog.records if "None value cannot be joined" in r.getMessage()]
    assert len(dropped) == 2 and "KSTREAM-JOIN-" in dropped[0] and "offset=0" in dropped[0]


def test_none_key_inner_join_drops_left_join_joins_with_none(caplog: pytest.LogCaptureFixture) -> None:
    # KIP-962 (Kafka 3.7): a left join no longer drops a stream record with a None key
    b = StreamsBuilder()
    table = b.table("t", STR)
    stream = b.stream("s", STR)
    stream.join(table, lambda k, v, t: f"{k}:{v}:{t}").to("inner", OUT)
    stream.left_join(table, lambda k, v, t: f"{k}:{v}:{t}").to("left", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("t", S, S).pipe_input("k", "row", 1)
        with caplog.at_level(logging.WARNING):
            d.create_input_topic("s", S, S).pipe_input(None, "orphan", 5)
        assert read(d, "inner") == []
        assert read(d, "left") == [(None, "None:orphan:None", 5)]
    assert any("join key is None" in r.getMessage() for r in caplog.records)


def test_joiner_forms_value_only_or_with_key() -> None:
    def with_default(value: str, row: str, sep: str = "|") -> str:  # 2 required: value form
        return f"{value}{sep}{row}"

    b = StreamsBuilder()
    table = b.table("t", STR)
    stream = b.stream("s", STR)
    stream.join(table, lambda key, value, row: f"{key}/{value}/{row}").to("with-key", OUT)
    stream.join(table, with_default).to("value-only", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("t", S, S).pipe_input("k", "row", 1)
        d.create_input_topic("s", S, S).pipe_input("k", "v", 2)
        assert read(d, "with-key") == [("k", "k/v/row", 2)]
        assert read(d, "value-only") == [("k", "v|row", 2)]


def test_joiner_of_the_wrong_shape_fails_at_build_time() -> None:
    b = StreamsBuilder()
    table = b.table("t", STR)
    with pytest.raises(TopologyError, match=r"KStream\.join"):
        b.stream("s", STR).join(table, lambda v: v)


# ---------------------------------------------------------------- repartition before a join

def rekeyed_orders_topology(name: str | None = None) -> Any:
    b = StreamsBuilder()
    customers = b.table("customers", STR)
    orders = b.stream("orders", STR)  # keyed by order id; value "customer/item"
    (orders.select_key(lambda v: v.split("/")[0])
     .join(customers, lambda o, c: f"{o.split('/')[1]} for {c}", name=name)
     .to("out", OUT))
    return b.build()


def test_rekeyed_stream_is_repartitioned_before_a_stream_table_join() -> None:
    topology = rekeyed_orders_topology()
    # as Kafka Streams: the topic is named after the node before it; generated node names
    assert list(topology.internal_topics) == ["KSTREAM-KEY-SELECT-0000000004-repartition"]
    assert list(topology.nodes) == [
        "KSTREAM-SOURCE-0000000001", "KTABLE-SOURCE-0000000002", "KSTREAM-SOURCE-0000000003",
        "KSTREAM-KEY-SELECT-0000000004", "KSTREAM-FILTER-0000000006", "KSTREAM-SINK-0000000005",
        "KSTREAM-SOURCE-0000000007", "KSTREAM-JOIN-0000000008", "KSTREAM-SINK-0000000009"]
    text = str(topology.describe())
    assert "Sink: KSTREAM-SINK-0000000005 (topic: KSTREAM-KEY-SELECT-0000000004-repartition)" in text
    assert ("Source: KSTREAM-SOURCE-0000000007 (topics: [KSTREAM-KEY-SELECT-0000000004-repartition])"
            in text)
    assert "Processor: KSTREAM-JOIN-0000000008 (stores: [customers-STATE-STORE-0000000000])" in text
    # the join has no Joined serdes yet: the repartition topic's key serde comes from the config
    with TopologyTestDriver(topology, {**APP, "default.key.serde": S}) as d:
        d.create_input_topic("customers", S, S).pipe_input("alice", "Alice", 1)
        orders = d.create_input_topic("orders", S, S)
        orders.pipe_input("order-1", "alice/book", 5)
        orders.pipe_input("order-2", "bob/pen", 6)  # no customer bob
        assert read(d, "out") == [("alice", "book for Alice", 5)]
        assert "app-KSTREAM-KEY-SELECT-0000000004-repartition" in d.produced_topic_names()


def test_named_join_names_its_repartition_topic() -> None:
    topology = rekeyed_orders_topology(name="enrich")
    assert list(topology.internal_topics) == ["enrich-repartition"]
    assert list(topology.nodes)[4:8] == [
        "enrich-repartition-filter", "enrich-repartition-sink", "enrich-repartition-source", "enrich"]


def test_two_unnamed_joins_of_one_rekeyed_stream_share_the_repartition_topic() -> None:
    b = StreamsBuilder()
    customers = b.table("customers", STR)
    rekeyed = b.stream("orders", STR).select_key(lambda v: v.split("/")[0] or None)
    rekeyed.join(customers, lambda k, o, c: f"{k}:{o}@{c}").to("inner", OUT)
    rekeyed.left_join(customers, lambda k, o, c: f"{k}:{o}@{c}").to("left", OUT)
    topology = b.build()
    assert list(topology.internal_topics) == ["KSTREAM-KEY-SELECT-0000000004-repartition"]
    # Kafka Streams burns the second repartition's three indexes: the second join is 13
    assert "KSTREAM-JOIN-0000000008" in topology.nodes
    assert "KSTREAM-LEFTJOIN-0000000013" in topology.nodes
    with TopologyTestDriver(topology, {**APP, "default.key.serde": S}) as d:
        d.create_input_topic("customers", S, S).pipe_input("alice", "Alice", 1)
        orders = d.create_input_topic("orders", S, S)
        orders.pipe_input("o1", "alice/book", 5)
        # new key None: the inner join came first, yet the shared topic keeps None keys
        # for the left join, and the inner join drops them itself
        orders.pipe_input("o2", "/pen", 6)
        assert read(d, "inner") == [("alice", "alice:alice/book@Alice", 5)]
        assert read(d, "left") == [("alice", "alice:alice/book@Alice", 5),
                                   (None, "None:/pen@None", 6)]


def test_inner_join_after_repartition_drops_none_keys_before_the_topic() -> None:
    b = StreamsBuilder()
    customers = b.table("customers", STR)
    (b.stream("orders", STR).select_key(lambda v: None)
     .join(customers, plus).to("out", OUT))
    with TopologyTestDriver(b.build(), {**APP, "default.key.serde": S}) as d:
        d.create_input_topic("orders", S, S).pipe_input("o1", "x", 5)
        assert read(d, "out") == []
        assert "app-KSTREAM-KEY-SELECT-0000000004-repartition" not in d.produced_topic_names()


# ------------------------------------------------------------------ KStream-GlobalKTable

def global_join_topology() -> Any:
    b = StreamsBuilder()
    regions = b.global_table("regions", STR)
    orders = b.stream("orders", STR)  # value "region/item"; "-/item" has no region

    def region_of(key: str, value: str) -> str | None:
        return None if value.startswith("-") else value.split("/")[0]

    orders.join(regions, region_of, lambda o, r: f"{o} in {r}").to("inner", OUT)
    orders.left_join(regions, region_of, lambda k, o, r: f"{k}:{o} in {r}").to("left", OUT)
    return b.build()


def test_stream_global_table_inner_and_left_join_through_a_key_selector() -> None:
    with TopologyTestDriver(global_join_topology(), APP) as d:
        orders = d.create_input_topic("orders", S, S)
        regions = d.create_input_topic("regions", S, S)
        orders.pipe_input("o1", "eu/book", 1)    # no region yet
        regions.pipe_input("eu", "Europe", 2)    # global table updates trigger nothing
        orders.pipe_input("o2", "eu/pen", 3)
        orders.pipe_input("o3", "-/cup", 4)      # selector returns None
        orders.pipe_input(None, "eu/ink", 5)     # a None stream key is fine: the selector decides
        regions.pipe_input("eu", None, 6)
        orders.pipe_input("o4", "eu/pad", 7)
        orders.pipe_input("o5", None, 8)         # None value: ignored by both
        assert read(d, "inner") == [("o2", "eu/pen in Europe", 3), (None, "eu/ink in Europe", 5)]
        assert read(d, "left") == [
            ("o1", "o1:eu/book in None", 1), ("o2", "o2:eu/pen in Europe", 3),
            ("o3", "o3:-/cup in None", 4), (None, "None:eu/ink in Europe", 5),
            ("o4", "o4:eu/pad in None", 7)]


def test_global_table_stays_global_and_needs_no_copartitioning() -> None:
    topology = global_join_topology()
    text = str(topology.describe())
    # as Kafka Streams: the global store is not connected to the join (its sub-topology stays
    # global), and both global joins are named KSTREAM-LEFTJOIN-<n>
    assert "for global store (will not generate tasks)" in text
    assert "Processor: KSTREAM-LEFTJOIN-0000000004 (stores: [])" in text
    assert "Processor: KSTREAM-LEFTJOIN-0000000006 (stores: [])" in text
    plan = plan_topics(topology, "app", {"orders": 3, "regions": 1, "inner": 1, "left": 1})
    assert list(plan.subtopology_partitions.values()) == [3]  # the stream's tasks
    assert all("regions" not in group for group in topology.copartition_groups)


# ------------------------------------------------------------------ KTable-KTable

def table_join(mode: str, **kwargs: Any) -> Any:
    b = StreamsBuilder()
    t1 = b.table("topic1", INT_STR)
    t2 = b.table("topic2", INT_STR)
    joined = getattr(t1, mode)(t2, plus, **kwargs)
    joined.to_stream().to("output", INT_OUT)
    return b.build()


def pipe_kafka_sequence(d: TopologyTestDriver, step: str) -> None:
    """The inputs of Kafka's KTableKTable{Inner,Left}JoinTest.testJoin, step by step."""
    t1 = d.create_input_topic("topic1", INT, S)
    t2 = d.create_input_topic("topic2", INT, S)
    keys = [0, 1, 2, 3]
    if step == "a":
        for i in range(2):
            t1.pipe_input(keys[i], f"X{keys[i]}", 5 + i)
        t1.pipe_input(None, "SomeVal", 42)  # dropped: a table needs keys
    elif step == "b":
        for i in range(2):
            t2.pipe_input(keys[i], f"Y{keys[i]}", 10 * i)
        t2.pipe_input(None, "AnotherVal", 73)
    elif step == "c":
        for k in keys:
            t1.pipe_input(k, f"XX{k}", 7)
    elif step == "d":
        for k in keys:
            t2.pipe_input(k, f"YY{k}", k * 5)
    elif step == "e":
        for k in keys:
            t1.pipe_input(k, f"XXX{k}", 6)
    elif step == "f":
        t2.pipe_input(keys[0], None, 5)
        t2.pipe_input(keys[1], None, 7)
    elif step == "g":
        for k in keys:
            t1.pipe_input(k, f"XXXX{k}", 13)
    elif step == "h":
        for k, ts in zip(keys, [0, 42, 5, 20], strict=True):
            t1.pipe_input(k, None, ts)


def run_sequence(mode: str, expected: dict[str, list[KVT]]) -> None:
    with TopologyTestDriver(table_join(mode), APP) as d:
        for step, want in expected.items():
            pipe_kafka_sequence(d, step)
            assert read(d, "output", INT) == want, f"step {step}"


def test_table_table_inner_join_matches_kafka() -> None:
    run_sequence("join", {
        "a": [],  # the other table is empty
        "b": [(0, "X0+Y0", 5), (1, "X1+Y1", 10)],  # timestamps: the larger of both sides
        "c": [(0, "XX0+Y0", 7), (1, "XX1+Y1", 10)],
        "d": [(0, "XX0+YY0", 7), (1, "XX1+YY1", 7), (2, "XX2+YY2", 10), (3, "XX3+YY3", 15)],
        "e": [(0, "XXX0+YY0", 6), (1, "XXX1+YY1", 6), (2, "XXX2+YY2", 10), (3, "XXX3+YY3", 15)],
        "f": [(0, None, 6), (1, None, 7)],  # right deleted after a match: tombstones
        "g": [(2, "XXXX2+YY2", 13), (3, "XXXX3+YY3", 15)],
        "h": [(2, None, 10), (3, None, 20)],  # keys 0, 1 have no right side: nothing
    })


def test_table_table_left_join_matches_kafka() -> None:
    run_sequence("left_join", {
        "a": [(0, "X0+null", 5), (1, "X1+null", 6)],
        "b": [(0, "X0+Y0", 5), (1, "X1+Y1", 10)],
        "c": [(0, "XX0+Y0", 7), (1, "XX1+Y1", 10), (2, "XX2+null", 7), (3, "XX3+null", 7)],
        "d": [(0, "XX0+YY0", 7), (1, "XX1+YY1", 7), (2, "XX2+YY2", 10), (3, "XX3+YY3", 15)],
        "e": [(0, "XXX0+YY0", 6), (1, "XXX1+YY1", 6), (2, "XXX2+YY2", 10), (3, "XXX3+YY3", 15)],
        "f": [(0, "XXX0+null", 6), (1, "XXX1+null", 7)],
        "g": [(0, "XXXX0+null", 13), (1, "XXXX1+null", 13), (2, "XXXX2+YY2", 13),
              (3, "XXXX3+YY3", 15)],
        "h": [(0, None, 0), (1, None, 42), (2, None, 10), (3, None, 20)],
    })


def test_table_table_outer_join_matches_kafka() -> None:
    # KTableKTableOuterJoinTest's values, with the timestamps of the inner/left sequence
    run_sequence("outer_join", {
        "a": [(0, "X0+null", 5), (1, "X1+null", 6)],
        "b": [(0, "X0+Y0", 5), (1, "X1+Y1", 10)],
        "c": [(0, "XX0+Y0", 7), (1, "XX1+Y1", 10), (2, "XX2+null", 7), (3, "XX3+null", 7)],
        "d": [(0, "XX0+YY0", 7), (1, "XX1+YY1", 7), (2, "XX2+YY2", 10), (3, "XX3+YY3", 15)],
        "e": [(0, "XXX0+YY0", 6), (1, "XXX1+YY1", 6), (2, "XXX2+YY2", 10), (3, "XXX3+YY3", 15)],
        "f": [(0, "XXX0+null", 6), (1, "XXX1+null", 7)],
        "g": [(0, "XXXX0+null", 13), (1, "XXXX1+null", 13), (2, "XXXX2+YY2", 13),
              (3, "XXXX3+YY3", 15)],
        "h": [(0, None, 0), (1, None, 42), (2, "null+YY2", 10), (3, "null+YY3", 20)],
    })


def test_table_table_joins_follow_the_kafka_semantics_table() -> None:
    b = StreamsBuilder()
    left = b.table("left", STR)
    right = b.table("right", STR)
    left.join(right, dash).to_stream().to("inner", OUT)
    left.left_join(right, dash).to_stream().to("left-join", OUT)
    left.outer_join(right, dash).to_stream().to("outer", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        pipe_wiki(d.create_input_topic("left", S, S), d.create_input_topic("right", S, S))
        assert read(d, "inner") == [
            ("k", "A - a", 4), ("k", "B - a", 5), ("k", "B - b", 6), ("k", None, 7),
            ("k", "C - c", 10), ("k", None, 11), ("k", "D - d", 15)]
        assert read(d, "left-join") == [
            ("k", "A - null", 3), ("k", "A - a", 4), ("k", "B - a", 5), ("k", "B - b", 6),
            ("k", None, 7), ("k", "C - null", 9), ("k", "C - c", 10), ("k", "C - null", 11),
            ("k", None, 12), ("k", "D - d", 15)]
        assert read(d, "outer") == [
            ("k", "A - null", 3), ("k", "A - a", 4), ("k", "B - a", 5), ("k", "B - b", 6),
            ("k", "null - b", 7), ("k", None, 8), ("k", "C - null", 9), ("k", "C - c", 10),
            ("k", "C - null", 11), ("k", None, 12), ("k", "null - d", 14), ("k", "D - d", 15)]


def test_deleting_a_key_this_side_never_had_still_emits_a_tombstone() -> None:
    # Kafka Streams' inner and left table joins forward every update once the other side has
    # the key; a source table forwards a tombstone even for a key it did not have
    b = StreamsBuilder()
    left = b.table("left", STR)
    right = b.table("right", STR)
    left.join(right, plus).to_stream().to("inner", OUT)
    left.left_join(right, plus).to_stream().to("left-join", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("right", S, S).pipe_input("k", "r", 1)
        d.create_input_topic("left", S, S).pipe_input("k", None, 2)
        assert read(d, "inner") == [("k", None, 2)]
        assert read(d, "left-join") == [("k", None, 2)]


def test_table_table_join_with_key_joiner() -> None:
    b = StreamsBuilder()
    left = b.table("left", STR)
    left.join(b.table("right", STR), lambda k, lv, rv: f"{k}={lv}{rv}").to_stream().to("out", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("left", S, S).pipe_input("k", "L", 1)
        d.create_input_topic("right", S, S).pipe_input("k", "R", 2)
        assert read(d, "out") == [("k", "k=LR", 2)]


def test_table_table_join_names_as_kafka_streams() -> None:
    b = StreamsBuilder()
    t1 = b.table("t1", STR)  # store 0, source 1, table source 2
    t2 = b.table("t2", STR)  # store 3, source 4, table source 5
    t1.outer_join(t2, plus)                                       # merge 6, this 7, other 8
    t1.join(t2, plus, Materialized(name="j", value_serde=S), name="named")  # 9, 10, 11
    t1.left_join(t2, plus, Materialized(value_serde=S))          # store 12, merge 13, 14, 15
    topology = b.build()
    assert list(topology.nodes)[4:] == [
        "KTABLE-JOINTHIS-0000000007", "KTABLE-JOINOTHER-0000000008", "KTABLE-MERGE-0000000006",
        "named-join-this", "named-join-other", "named",
        "KTABLE-JOINTHIS-0000000014", "KTABLE-JOINOTHER-0000000015", "KTABLE-MERGE-0000000013"]
    assert list(topology.stores)[2:] == ["j", "KTABLE-MERGE-STATE-STORE-0000000012"]


# ------------------------------------------------------ value getters and materialized results

def test_join_result_filtered_and_mapped_without_store_is_read_through_value_getters() -> None:
    b = StreamsBuilder()
    prices = b.table("prices", STR)
    stock = b.table("stock", STR)
    offers = (prices.join(stock, lambda p, s: (int(p), int(s)))  # no store anywhere after this
              .filter(lambda v: v[1] > 0)
              .map_values(lambda k, v: f"{k} at {v[0]} ({v[1]} left)"))
    orders = b.stream("orders", STR)
    orders.join(offers, lambda o, offer: f"{o}: {offer}").to("inner", OUT)
    orders.left_join(offers, lambda o, offer: f"{o}: {offer}").to("left", OUT)
    topology = b.build()
    # the joins read both source stores through the getter chain
    assert "Processor: KSTREAM-JOIN-0000000012 (stores: [prices-STATE-STORE-0000000000, " \
           "stock-STATE-STORE-0000000003])" in str(topology.describe())
    with TopologyTestDriver(topology, APP) as d:
        p = d.create_input_topic("prices", S, S)
        s = d.create_input_topic("stock", S, S)
        o = d.create_input_topic("orders", S, S)
        p.pipe_input("pen", "3", 1)
        o.pipe_input("pen", "o1", 2)   # no stock row: the inner join has no row
        s.pipe_input("pen", "5", 3)
        o.pipe_input("pen", "o2", 4)
        s.pipe_input("pen", "0", 5)    # filtered out
        o.pipe_input("pen", "o3", 6)
        s.pipe_input("pen", "2", 7)
        p.pipe_input("pen", "4", 8)
        o.pipe_input("pen", "o4", 9)
        assert read(d, "inner") == [("pen", "o2: pen at 3 (5 left)", 4),
                                    ("pen", "o4: pen at 4 (2 left)", 9)]
        assert read(d, "left") == [("pen", "o1: None", 2), ("pen", "o2: pen at 3 (5 left)", 4),
                                   ("pen", "o3: None", 6), ("pen", "o4: pen at 4 (2 left)", 9)]


def test_join_of_a_join_result_without_store() -> None:
    b = StreamsBuilder()
    a, bb, c = b.table("a", STR), b.table("b", STR), b.table("c", STR)
    ab = a.join(bb, plus)                       # read through a joined value getter
    ab.left_join(c, plus).to_stream().to("out", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        ta, tb, tc = (d.create_input_topic(t, S, S) for t in "abc")
        tc.pipe_input("k", "C", 1)      # nothing on the left yet
        ta.pipe_input("k", "A", 2)      # a alone: a⋈b has no row
        tb.pipe_input("k", "B", 3)      # a⋈b appears and meets c
        tc.pipe_input("k", "C2", 4)     # an update of c looks up a⋈b through its getter
        tc.pipe_input("k", None, 5)
        ta.pipe_input("k", None, 6)     # a⋈b disappears: the left join's row too
        assert read(d, "out") == [("k", "A+B+C", 3), ("k", "A+B+C2", 4), ("k", "A+B+null", 5),
                                  ("k", None, 6)]


def test_materialized_join_result_is_queryable() -> None:
    b = StreamsBuilder()
    left = b.table("left", STR)
    right = b.table("right", STR)
    joined = left.outer_join(right, plus, Materialized(name="joined", value_serde=S))
    joined.to_stream().to("out", OUT)
    # a stream joined with the materialized result reads its store
    b.stream("s", STR).join(joined, plus).to("enriched", OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        lt, rt = d.create_input_topic("left", S, S), d.create_input_topic("right", S, S)
        lt.pipe_input("a", "A", 10)
        rt.pipe_input("a", "x", 5)
        rt.pipe_input("b", "y", 7)
        lt.pipe_input("c", "C", 8)
        lt.pipe_input("c", None, 9)
        store = d.get_key_value_store("joined")
        assert sorted(store.all()) == [("a", "A+x"), ("b", "null+y")]
        assert d.get_timestamped_key_value_store("joined").get("a").timestamp == 10
        d.create_input_topic("s", S, S).pipe_input("b", "v", 11)
        assert read(d, "enriched") == [("b", "v+null+y", 11)]
        assert read(d, "out") == [("a", "A+null", 10), ("a", "A+x", 10), ("b", "null+y", 7),
                                  ("c", "C+null", 8), ("c", None, 9)]


# ------------------------------------------------------------------ co-partitioning

def test_stream_table_join_on_topics_of_different_partition_counts_fails_at_start_up() -> None:
    b = StreamsBuilder()
    customers = b.table("customers", STR)
    b.stream("orders", STR).join(customers, plus).to("out", OUT)
    topology = b.build()
    assert plan_topics(topology, "app", {"orders": 3, "customers": 3, "out": 1}).subtopology_partitions \
        == {0: 3}
    with pytest.raises(TopologyError) as info:
        plan_topics(topology, "app", {"orders": 3, "customers": 2, "out": 1})
    message = str(info.value)
    assert "co-partitioned" in message
    assert "customers=2" in message and "orders=3" in message
    assert "repartition(" in message


def test_table_table_join_on_topics_of_different_partition_counts_fails_at_start_up() -> None:
    with pytest.raises(TopologyError, match=r"co-partitioned .*topic1=4, topic2=2"):
        plan_topics(table_join("join"), "app", {"topic1": 4, "topic2": 2, "output": 1})


def test_repartition_topic_before_a_join_takes_the_tables_partition_count() -> None:
    plan = plan_topics(rekeyed_orders_topology(), "app", {"orders": 3, "customers": 2,
                                                              "out": 1})
    assert plan.internal["app-KSTREAM-KEY-SELECT-0000000004-repartition"][0] == 2
