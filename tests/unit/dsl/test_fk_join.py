"""Foreign-key KTable-KTable joins (KIP-213) through the TopologyTestDriver.

The scenarios, inputs and expected outputs are those of Kafka Streams'
KTableKTableForeignKeyJoinIntegrationTest (left values ``"<value>|<foreign key>"``, joiner
``"(" + left + "," + right + ")"``), for the inner and the left join, with and without a
materialized result; outputs are checked record by record, with their timestamps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from streams import Consumed, Grouped, Materialized, Produced, StreamsBuilder, serdes
from streams.dsl.processors.fk_join_formats import (
    Instruction,
    SubscriptionResponseWrapper,
    SubscriptionResponseWrapperSerde,
    SubscriptionWrapper,
    SubscriptionWrapperSerde,
    combined_key_bytes,
    response_partitioner,
    split_combined_key,
    value_hash,
)
from streams.errors import SerializationError, TopologyError
from streams.runtime.internal_topics import plan_topics
from streams.testing import TopologyTestDriver
from streams.topology.topology import Topology

S = serdes.String()
STR = Consumed(key_serde=S, value_serde=S)
OUT = Produced(key_serde=S, value_serde=S)
APP = {"application.id": "app"}
LEFT, RIGHT, OUTPUT, REJOIN = "left_table", "right_table", "output-topic", "rejoin-output-topic"
# generated names, as Kafka Streams gives them (two source tables use indexes 0-5)
SUBSCRIPTION_STORE = "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010"
RESPONSE_TOPIC = "app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic"

KVT = tuple[Any, Any, int]
Extractor = Callable[..., Any]


def split_extractor(value: str) -> str | None:
    """KS's test extractor: the part after ``|``, or None."""
    tokens = value.split("|")
    return tokens[1] if len(tokens) == 2 else None


def joiner(left: Any, right: Any) -> str:
    """KS's test joiner: ``(left,right)`` with None as "null"."""
    return f"({left},{'null' if right is None else right})"


def fk_topology(left_join: bool, materialized: bool, extractor: Extractor = split_extractor,
                rejoin: bool = False) -> Topology:
    """KS's getTopology: left.[left_]join(right, extractor, joiner, mainMaterialized)."""
    b = StreamsBuilder()
    left = b.table(LEFT, STR)
    right = b.table(RIGHT, STR)
    m = Materialized(name="store", value_serde=S) if materialized else None
    fk = (left.left_join if left_join else left.join)(right, extractor, joiner, m)
    fk.to_stream().to(OUTPUT, OUT)
    if rejoin:
        rejoiner = lambda v1, v2: f"rejoin({v1},{v2})"  # noqa: E731
        rm = Materialized(name="store-rejoin", value_serde=S)
        (fk.left_join if left_join else fk.join)(left, rejoiner, rm).to_stream().to(REJOIN, OUT)
    return b.build()


def read(d: TopologyTestDriver, topic: str = OUTPUT) -> list[KVT]:
    """Everything written to ``topic`` since the last read, as (key, value, timestamp)."""
    return [(r.key, r.value, r.timestamp)
            for r in d.create_output_topic(topic, S, S).read_records_to_list()]


def store_map(d: TopologyTestDriver, name: str = "store") -> dict[Any, Any]:
    return dict(d.get_key_value_store(name).all())


def inputs(d: TopologyTestDriver) -> tuple[Any, Any]:
    return d.create_input_topic(LEFT, S, S), d.create_input_topic(RIGHT, S, S)


MODES = pytest.mark.parametrize("left_join", [False, True], ids=["inner", "left"])
MATERIALIZED = pytest.mark.parametrize("materialized", [True, False], ids=["store", "no-store"])


# ------------------------------------------------------------------- KS scenarios
@MODES
@MATERIALIZED
def test_join_from_left_then_delete_left_entity(left_join: bool, materialized: bool) -> None:
    with TopologyTestDriver(fk_topology(left_join, materialized), APP) as d:
        left, right = inputs(d)
        right.pipe_input("rhs1", "rhsValue1", 0)
        right.pipe_input("rhs2", "rhsValue2", 1)
        right.pipe_input("rhs3", "rhsValue3", 2)  # never referenced
        assert read(d) == []
        left.pipe_input("lhs1", "lhsValue1|rhs1", 3)
        left.pipe_input("lhs2", "lhsValue2|rhs2", 4)
        assert read(d) == [("lhs1", "(lhsValue1|rhs1,rhsValue1)", 3),
                           ("lhs2", "(lhsValue2|rhs2,rhsValue2)", 4)]
        # another reference to an existing foreign key
        left.pipe_input("lhs3", "lhsValue3|rhs1", 5)
        assert read(d) == [("lhs3", "(lhsValue3|rhs1,rhsValue1)", 5)]
        # deleting a left row retracts its result
        left.pipe_input("lhs1", None, 6)
        assert read(d) == [("lhs1", None, 6)]
        if materialized:
            assert store_map(d) == {"lhs2": "(lhsValue2|rhs2,rhsValue2)",
                                    "lhs3": "(lhsValue3|rhs1,rhsValue1)"}


@MODES
def test_join_from_left_then_update_fk_then_revert_back(left_join: bool) -> None:
    with TopologyTestDriver(fk_topology(left_join, True), APP) as d:
        left, right = inputs(d)
        right.pipe_input("rhs1", "rhsValue1", 0)
        right.pipe_input("rhs2", "rhsValue2", 1)
        left.pipe_input("lhs1", "lhsValue1|rhs1", 3)
        assert read(d) == [("lhs1", "(lhsValue1|rhs1,rhsValue1)", 3)]
        # the foreign key changes: the result is replaced (one update, no tombstone first)
        left.pipe_input("lhs1", "lhsValue1|rhs2", 5)
        assert read(d) == [("lhs1", "(lhsValue1|rhs2,rhsValue2)", 5)]
        left.pipe_input("lhs1", "lhsValue1|rhs1", 6)
        assert read(d) == [("lhs1", "(lhsValue1|rhs1,rhsValue1)", 6)]
        assert store_map(d) == {"lhs1": "(lhsValue1|rhs1,rhsValue1)"}


@MODES
@MATERIALIZED
def test_join_from_right_then_delete_right_entity(left_join: bool, materialized: bool) -> None:
    with TopologyTestDriver(fk_topology(left_join, materialized), APP) as d:
        left, right = inputs(d)
        left.pipe_input("lhs1", "lhsValue1|rhs1", 0)
        left.pipe_input("lhs2", "lhsValue2|rhs2", 1)
        left.pipe_input("lhs3", "lhsValue3|rhs1", 2)
        assert read(d) == ([("lhs1", "(lhsValue1|rhs1,null)", 0),
                            ("lhs2", "(lhsValue2|rhs2,null)", 1),
                            ("lhs3", "(lhsValue3|rhs1,null)", 2)] if left_join else [])
        # a right update reaches every subscriber (in primary-key byte order), with its timestamp
        right.pipe_input("rhs1", "rhsValue1", 3)
        assert read(d) == [("lhs1", "(lhsValue1|rhs1,rhsValue1)", 3),
                           ("lhs3", "(lhsValue3|rhs1,rhsValue1)", 3)]
        right.pipe_input("rhs2", "rhsValue2", 4)
        assert read(d) == [("lhs2", "(lhsValue2|rhs2,rhsValue2)", 4)]
        right.pipe_input("rhs3", "rhsValue3", 5)  # no subscriber
        assert read(d) == []
        # deleting the right row: tombstones (inner) or joiner(left, None) (left)
        right.pipe_input("rhs1", None, 6)
        if left_join:
            assert read(d) == [("lhs1", "(lhsValue1|rhs1,null)", 6),
                               ("lhs3", "(lhsValue3|rhs1,null)", 6)]
        else:
            assert read(d) == [("lhs1", None, 6), ("lhs3", None, 6)]
        if materialized:
            expected = {"lhs2": "(lhsValue2|rhs2,rhsValue2)"}
            if left_join:
                expected |= {"lhs1": "(lhsValue1|rhs1,null)", "lhs3": "(lhsValue3|rhs1,null)"}
            assert store_map(d) == expected


@MODES
def test_deleting_a_non_joining_record_emits_a_tombstone(left_join: bool) -> None:
    with TopologyTestDriver(fk_topology(left_join, True), APP) as d:
        left, _ = inputs(d)
        left.pipe_input("lhs1", "lhsValue1|rhs1", 0)
        assert read(d) == ([("lhs1", "(lhsValue1|rhs1,null)", 0)] if left_join else [])
        # inner: an unnecessary tombstone (whether a result was emitted is unknown);
        # left: a necessary one
        left.pipe_input("lhs1", None, 1)
        assert read(d) == [("lhs1", None, 1)]
        assert store_map(d) == {}
        # deleting a row that no longer exists is idempotent
        left.pipe_input("lhs1", None, 2)
        assert read(d) == []


@MODES
def test_deleting_a_record_that_never_existed_emits_nothing(left_join: bool) -> None:
    with TopologyTestDriver(fk_topology(left_join, True), APP) as d:
        left, _ = inputs(d)
        left.pipe_input("lhs1", None, 0)
        assert read(d) == []
        assert store_map(d) == {}


@MODES
@MATERIALIZED
def test_non_matching_foreign_keys(left_join: bool, materialized: bool) -> None:
    with TopologyTestDriver(fk_topology(left_join, materialized), APP) as d:
        left, right = inputs(d)
        left.pipe_input("lhs1", "lhsValue1|rhs1", 0)
        # no output for a new inner join on a missing right row; the left join half-joins
        assert read(d) == ([("lhs1", "(lhsValue1|rhs1,null)", 0)] if left_join else [])
        # moving to another missing row: an unnecessary tombstone (inner), an update (left)
        left.pipe_input("lhs1", "lhsValue1|rhs2", 1)
        assert read(d) == [("lhs1", "(lhsValue1|rhs2,null)" if left_join else None, 1)]
        left.pipe_input("lhs1", "lhsValue1|rhs3", 2)
        assert read(d) == [("lhs1", "(lhsValue1|rhs3,null)" if left_join else None, 2)]
        # rhs1 is no longer referenced: adding it changes nothing
        right.pipe_input("rhs1", "rhsValue1", 3)
        assert read(d) == []
        left.pipe_input("lhs1", "lhsValue1|rhs1", 4)
        assert read(d) == [("lhs1", "(lhsValue1|rhs1,rhsValue1)", 4)]
        left.pipe_input("lhs1", "lhsValue1|rhs2", 5)
        assert read(d) == [("lhs1", "(lhsValue1|rhs2,null)" if left_join else None, 5)]
        if materialized:
            assert store_map(d) == ({"lhs1": "(lhsValue1|rhs2,null)"} if left_join else {})


@MODES
def test_changing_the_foreign_key_unsubscribes_the_old_one(left_join: bool) -> None:
    with TopologyTestDriver(fk_topology(left_join, True), APP) as d:
        left, right = inputs(d)
        right.pipe_input("rhs1", "rhsValue1", 0)
        right.pipe_input("rhs2", "rhsValue2", 1)
        left.pipe_input("lhs1", "lhsValue1|rhs1", 2)
        assert read(d) == [("lhs1", "(lhsValue1|rhs1,rhsValue1)", 2)]
        left.pipe_input("lhs1", "lhsValue1|rhs2", 3)
        assert read(d) == [("lhs1", "(lhsValue1|rhs2,rhsValue2)", 3)]
        # an update of the old right row no longer reaches lhs1
        right.pipe_input("rhs1", "rhsValue1Delta", 4)
        assert read(d) == []
        assert store_map(d) == {"lhs1": "(lhsValue1|rhs2,rhsValue2)"}
        # ... but one of the new row does
        right.pipe_input("rhs2", "rhsValue2Delta", 5)
        assert read(d) == [("lhs1", "(lhsValue1|rhs2,rhsValue2Delta)", 5)]


def test_result_timestamp_is_the_larger_of_both_rows() -> None:
    with TopologyTestDriver(fk_topology(False, True), APP) as d:
        left, right = inputs(d)
        right.pipe_input("rhs1", "rhsValue1", 50)
        left.pipe_input("lhs1", "lhsValue1|rhs1", 10)  # joined when subscribing: max(10, 50)
        assert read(d) == [("lhs1", "(lhsValue1|rhs1,rhsValue1)", 50)]
        right.pipe_input("rhs1", "rhsValue1b", 20)  # a right update: its own timestamp
        assert read(d) == [("lhs1", "(lhsValue1|rhs1,rhsValue1b)", 20)]


def test_the_docs_example_table() -> None:
    # docs/joins.md, "Foreign-key table joins": left values "<value>/<foreign key>"; every
    # output has the timestamp of the step that caused it (steps are at ts 1, 2, ...)
    b = StreamsBuilder()
    left = b.table("left", STR)
    right = b.table("right", STR)
    ext = lambda v: v.split("/")[1] if "/" in v else None  # noqa: E731
    dash = lambda lv, rv: f"{lv} - {'null' if rv is None else rv}"  # noqa: E731
    left.join(right, ext, dash).to_stream().to("inner", OUT)
    left.left_join(right, ext, dash).to_stream().to("left-join", OUT)
    steps = [("left", "k1", "A/r1"), ("right", "r1", "X"), ("left", "k2", "B/r1"),
             ("right", "r1", "Y"), ("left", "k1", "A/r2"), ("right", "r1", None),
             ("left", "k2", None), ("left", "k3", "C")]
    inner: list[list[KVT]] = []
    left_join: list[list[KVT]] = []
    with TopologyTestDriver(b.build(), APP) as d:
        topics = {t: d.create_input_topic(t, S, S) for t in ("left", "right")}
        for ts, (topic, key, value) in enumerate(steps, 1):
            topics[topic].pipe_input(key, value, ts)
            inner.append(read(d, "inner"))
            left_join.append(read(d, "left-join"))
    assert inner == [[], [("k1", "A/r1 - X", 2)], [("k2", "B/r1 - X", 3)],
                     [("k1", "A/r1 - Y", 4), ("k2", "B/r1 - Y", 4)], [("k1", None, 5)],
                     [("k2", None, 6)], [("k2", None, 7)], []]
    assert left_join == [[("k1", "A/r1 - null", 1)], [("k1", "A/r1 - X", 2)],
                         [("k2", "B/r1 - X", 3)], [("k1", "A/r1 - Y", 4), ("k2", "B/r1 - Y", 4)],
                         [("k1", "A/r2 - null", 5)], [("k2", "B/r1 - null", 6)],
                         [("k2", None, 7)], [("k3", "C - null", 8)]]


# ------------------------------------------------------------------- None foreign keys
def test_none_foreign_key_left_join_joins_with_none() -> None:
    # KIP-962: the left join emits joiner(left, None) for a None foreign key
    with TopologyTestDriver(fk_topology(True, True, extractor=lambda v: None), APP) as d:
        left, _ = inputs(d)
        left.pipe_input("lhs1", "lhsValue1|rhs1", 0)
        assert read(d) == [("lhs1", "(lhsValue1|rhs1,null)", 0)]
        assert store_map(d) == {"lhs1": "(lhsValue1|rhs1,null)"}
        left.pipe_input("lhs1", None, 1)
        assert read(d) == [("lhs1", None, 1)]


def test_none_foreign_key_inner_join_drops_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    with TopologyTestDriver(fk_topology(False, True, extractor=lambda v: None), APP) as d:
        left, _ = inputs(d)
        with caplog.at_level(logging.WARNING):
            left.pipe_input("lhs1", "lhsValue1|rhs1", 0)
        assert read(d) == []
        left.pipe_input("lhs1", None, 1)  # it never subscribed: nothing to retract
        assert read(d) == []
    dropped = [r.getMessage() for r in caplog.records if "foreign key is None" in r.getMessage()]
    assert len(dropped) == 1 and "offset=0" in dropped[0]


def returns_none_for_marker(value: str) -> str | None:
    """KS's shouldEmitRecordWhenOldAndNewFkDiffer extractor."""
    fk = value.split("|")[1]
    return None if fk == "returnNull" else fk


def test_left_join_foreign_key_changing_to_none_unsubscribes_and_emits() -> None:
    with TopologyTestDriver(fk_topology(True, True, extractor=returns_none_for_marker), APP) as d:
        left, _ = inputs(d)
        subscriptions = d.get_timestamped_key_value_store(SUBSCRIPTION_STORE)
        key = b"\x00\x00\x00\x04" + b"rhs1" + b"lhs1"  # length-prefixed fk, then pk (as KS)
        left.pipe_input("lhs1", "lhsValue1|rhs1", 0)
        assert read(d) == [("lhs1", "(lhsValue1|rhs1,null)", 0)]
        assert subscriptions.get(key) is not None
        left.pipe_input("lhs1", "lhsValue1|returnNull", 0)
        assert read(d) == [("lhs1", "(lhsValue1|returnNull,null)", 0)]
        assert store_map(d) == {"lhs1": "(lhsValue1|returnNull,null)"}
        assert subscriptions.get(key) is None


def test_inner_join_foreign_key_changing_to_none_retracts_the_result() -> None:
    with TopologyTestDriver(fk_topology(False, True, extractor=returns_none_for_marker), APP) as d:
        left, right = inputs(d)
        subscriptions = d.get_timestamped_key_value_store(SUBSCRIPTION_STORE)
        right.pipe_input("rhs1", "rhsValue1", 0)
        left.pipe_input("lhs1", "lhsValue1|rhs1", 1)
        assert read(d) == [("lhs1", "(lhsValue1|rhs1,rhsValue1)", 1)]
        left.pipe_input("lhs1", "lhsValue1|returnNull", 2)
        assert read(d) == [("lhs1", None, 2)]
        assert store_map(d) == {}
        assert list(subscriptions.all()) == []
        right.pipe_input("rhs1", "rhsValue1b", 3)  # no longer subscribed
        assert read(d) == []


# ------------------------------------------------------------------- stale responses
@MODES
def test_stale_response_is_dropped(left_join: bool) -> None:
    # A response carries the hash of the left value its subscription was sent for; when it
    # arrives after the left row changed (replayed here, as a slow round trip would deliver
    # it), the hash no longer matches and it is dropped.
    with TopologyTestDriver(fk_topology(left_join, True), APP) as d:
        left, right = inputs(d)
        responses = d.create_output_topic(RESPONSE_TOPIC)  # raw bytes
        replay = d.create_input_topic(RESPONSE_TOPIC)
        right.pipe_input("rhs1", "rhsValue1", 0)
        left.pipe_input("lhs1", "A|rhs1", 1)
        assert read(d) == [("lhs1", "(A|rhs1,rhsValue1)", 1)]
        [for_a] = responses.read_records_to_list()
        left.pipe_input("lhs1", "B|rhs1", 2)
        assert read(d) == [("lhs1", "(B|rhs1,rhsValue1)", 2)]
        [for_b] = responses.read_records_to_list()
        replay.pipe_input(for_a.key, for_a.value, 3)  # stale: for A, the row is B now
        assert read(d) == []
        assert store_map(d) == {"lhs1": "(B|rhs1,rhsValue1)"}
        replay.pipe_input(for_b.key, for_b.value, 4)  # current: applied again
        assert read(d) == [("lhs1", "(B|rhs1,rhsValue1)", 4)]
        left.pipe_input("lhs1", None, 5)
        assert read(d) == [("lhs1", None, 5)]
        responses.read_records_to_list()
        replay.pipe_input(for_b.key, for_b.value, 6)  # the row is gone: stale too
        assert read(d) == []


# ------------------------------------------------------------------- downstream use
@MODES
def test_materialized_result_can_be_joined_again(left_join: bool) -> None:
    # KS's "rejoin": the FK join result joined with the left table on the primary key
    with TopologyTestDriver(fk_topology(left_join, True, rejoin=True), APP) as d:
        left, right = inputs(d)
        right.pipe_input("rhs1", "rhsValue1", 0)
        right.pipe_input("rhs2", "rhsValue2", 1)
        left.pipe_input("lhs1", "lhsValue1|rhs1", 3)
        left.pipe_input("lhs2", "lhsValue2|rhs2", 4)
        assert [(k, v) for k, v, _ in read(d, REJOIN)] == [
            ("lhs1", "rejoin((lhsValue1|rhs1,rhsValue1),lhsValue1|rhs1)"),
            ("lhs2", "rejoin((lhsValue2|rhs2,rhsValue2),lhsValue2|rhs2)")]
        left.pipe_input("lhs1", None, 6)
        assert ("lhs1", None) in [(k, v) for k, v, _ in read(d, REJOIN)]
        assert store_map(d, "store-rejoin") == {
            "lhs2": "rejoin((lhsValue2|rhs2,rhsValue2),lhsValue2|rhs2)"}


def test_unmaterialized_result_cannot_be_read_by_key() -> None:
    b = StreamsBuilder()
    left = b.table(LEFT, STR)
    fk = left.join(b.table(RIGHT, STR), split_extractor, joiner)
    with pytest.raises(TopologyError, match="materialize it"):
        fk.join(left, joiner)


def test_materialized_result_retracts_old_values_downstream() -> None:
    # the result store provides old values, so a re-grouping moves rows between groups
    b = StreamsBuilder()
    orders = b.table("orders", STR)  # order -> customer id
    customers = b.table("customers", STR)  # customer id -> region
    by_region = orders.join(customers, lambda customer: customer, lambda o, region: region,
                            Materialized(name="order-region", value_serde=S))
    (by_region.group_by(lambda order, region: (region, order), Grouped(key_serde=S, value_serde=S))
        .count(Materialized(name="per-region"))
        .to_stream().to("counts", Produced(key_serde=S, value_serde=serdes.Long())))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("customers", S, S).pipe_input("c1", "EU", 0)
        d.create_input_topic("customers", S, S).pipe_input("c2", "US", 0)
        o = d.create_input_topic("orders", S, S)
        o.pipe_input("o1", "c1", 1)
        o.pipe_input("o2", "c1", 2)
        assert dict(d.get_key_value_store("per-region").all()) == {"EU": 2}
        o.pipe_input("o1", "c2", 3)  # moves from EU to US
        assert dict(d.get_key_value_store("per-region").all()) == {"EU": 1, "US": 1}
        d.create_input_topic("customers", S, S).pipe_input("c1", "APAC", 4)  # o2 follows c1
        assert dict(d.get_key_value_store("per-region").all()) == {"EU": 0, "US": 1, "APAC": 1}


def test_key_forms_of_extractor_and_joiner() -> None:
    b = StreamsBuilder()
    left = b.table(LEFT, STR)
    right = b.table(RIGHT, STR)
    left.left_join(right, lambda key, value: f"rhs-{key}", lambda key, lv, rv: f"{key}:{lv}+{rv}",
                   Materialized(name="store", value_serde=S)).to_stream().to(OUTPUT, OUT)
    with TopologyTestDriver(b.build(), APP) as d:
        lt, rt = inputs(d)
        rt.pipe_input("rhs-a", "R", 0)
        lt.pipe_input("a", "L", 1)
        lt.pipe_input("b", "M", 2)
        assert read(d) == [("a", "a:L+R", 1), ("b", "b:M+None", 2)]


def test_other_serdes_and_none_valued_right_rows() -> None:
    # Integer foreign keys, JSON values; an empty-string right value is a value, not None
    b = StreamsBuilder()
    orders = b.table("orders", Consumed(key_serde=S, value_serde=serdes.Json()))
    products = b.table("products", Consumed(key_serde=serdes.Integer(), value_serde=S))
    orders.left_join(products, lambda o: o["product"], lambda o, p: {**o, "name": p},
                     Materialized(name="store", value_serde=serdes.Json())
                     ).to_stream().to(OUTPUT, Produced(key_serde=S, value_serde=serdes.Json()))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("products", serdes.Integer(), S).pipe_input(7, "", 0)
        d.create_input_topic("orders", S, serdes.Json()).pipe_input("o1", {"product": 7}, 1)
        d.create_input_topic("orders", S, serdes.Json()).pipe_input("o2", {"product": 8}, 2)
        out = d.create_output_topic(OUTPUT, S, serdes.Json()).read_key_values_to_list()
        assert out == [("o1", {"product": 7, "name": ""}), ("o2", {"product": 8, "name": None})]


# ------------------------------------------------------------------- topology
def test_named_join_names_nodes_topics_and_stores_as_kafka_streams() -> None:
    b = StreamsBuilder()
    left = b.table(LEFT, STR)
    right = b.table(RIGHT, STR)
    left.join(right, split_extractor, joiner, name="fk")
    topology = b.build()
    assert set(topology.internal_topics) == {"fk-subscription-registration-topic",
                                             "fk-subscription-response-topic"}
    suffixes = ["-subscription-registration-processor", "-subscription-registration-sink",
                "-subscription-registration-source", "-subscription-receive",
                "-subscription-join-foreign", "-foreign-join-subscription",
                "-subscription-response-sink", "-subscription-response-source",
                "-subscription-response-resolver", "-result"]
    assert {f"fk{s}" for s in suffixes} <= set(topology.nodes)
    assert "fk-subscription-store" in topology.stores
    # indexes are used as for an unnamed join: the next generated name continues after them
    assert b.new_name("X-") == "X-0000000020"


def test_generated_names_follow_kafka_streams() -> None:
    topology = fk_topology(False, True)
    assert set(topology.internal_topics) == {
        "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic",
        "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic"}
    assert SUBSCRIPTION_STORE in topology.stores
    assert {"KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007", "KTABLE-SINK-0000000008",
            "KTABLE-SOURCE-0000000009", "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011",
            "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012",
            "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013", "KTABLE-SINK-0000000015",
            "KTABLE-SOURCE-0000000016",
            "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017",
            "KTABLE-FK-JOIN-OUTPUT-0000000018"} <= set(topology.nodes)
    # the subscription side runs with the right table, the response side with the left
    subs = {s.id: set(s.source_topics) for s in topology.subtopologies()}
    assert {LEFT, "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic"} in subs.values()
    assert {RIGHT, "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic"} in subs.values()


def test_internal_topics_follow_the_side_that_reads_them() -> None:
    plan = plan_topics(fk_topology(True, True), "app", {LEFT: 4, RIGHT: 2, "output-topic": 1})
    assert plan.internal["app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic"][0] == 2
    assert plan.internal["app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic"][0] == 4
    assert plan.internal[f"app-{SUBSCRIPTION_STORE}-changelog"][0] == 2


def test_internal_topics_of_tables_fed_by_repartition_topics() -> None:
    # neither side reads a user topic directly: without partitions_from, each FK topic would
    # follow its writer, i.e. the other side of the join (a cycle)
    b = StreamsBuilder()
    g = Grouped(key_serde=S, value_serde=S)
    left = b.stream("ls", STR).group_by(lambda k, v: v, g).reduce(lambda a, v: v,
                                                                   Materialized(name="lagg"))
    right = b.stream("rs", STR).group_by(lambda k, v: v, g).reduce(lambda a, v: v,
                                                                    Materialized(name="ragg"))
    left.join(right, lambda v: v, joiner, name="fk")
    plan = plan_topics(b.build(), "app", {"ls": 3, "rs": 5})
    assert plan.internal["app-fk-subscription-registration-topic"][0] == 5
    assert plan.internal["app-fk-subscription-response-topic"][0] == 3
    assert plan.internal["app-fk-subscription-store-changelog"][0] == 5


def test_positional_and_keyword_arguments() -> None:
    b = StreamsBuilder()
    left = b.table(LEFT, STR)
    right = b.table(RIGHT, STR)
    # primary-key joins keep their forms
    left.join(right, joiner, Materialized(name="pk1"), "pk-join")
    left.left_join(right, joiner, materialized=Materialized(name="pk2"), name="pk-left")
    # foreign-key joins: a function third
    left.join(right, split_extractor, joiner, Materialized(name="fk1"), "fk-a")
    left.left_join(right, split_extractor, joiner, materialized=Materialized(name="fk2"),
                   name="fk-b")
    topology = b.build()
    assert {"pk-join", "pk-left", "fk-a-result", "fk-b-result"} <= set(topology.nodes)
    assert {"pk1", "pk2", "fk1", "fk2"} <= set(topology.stores)
    with pytest.raises(TypeError, match="multiple values for 'materialized'"):
        left.join(right, joiner, Materialized(), materialized=Materialized())
    with pytest.raises(TypeError, match="positional arguments"):
        left.join(right, split_extractor, joiner, Materialized(), "n", "extra")


def test_build_errors() -> None:
    b = StreamsBuilder()
    left = b.table(LEFT, STR)
    right = b.table(RIGHT, STR)
    with pytest.raises(TopologyError, match="foreign key extractor"):
        left.join(right, lambda a, b, c: a, joiner)
    with pytest.raises(TopologyError, match="needs another KTable"):
        left.join(b.stream("s", STR), split_extractor, joiner)  # type: ignore[arg-type]
    with pytest.raises(TopologyError, match="same StreamsBuilder"):
        left.join(StreamsBuilder().table("x", STR), split_extractor, joiner)


def test_unknown_serdes_need_config_defaults() -> None:
    b = StreamsBuilder()
    left = b.table(LEFT, STR).map_values(lambda v: v.upper())  # value serde unknown
    left.join(b.table(RIGHT, STR), split_extractor, joiner)
    with pytest.raises(TopologyError, match="hashes the left table's values"):
        b.build().validate({"application.id": "app"})


# ------------------------------------------------------------------- wire formats
def test_subscription_wrapper_round_trip() -> None:
    serde = SubscriptionWrapperSerde(S)
    for h in (None, value_hash(b"x")):
        for instruction in Instruction:
            w = SubscriptionWrapper(h, instruction, "pk", 3)
            assert serde.deserialize("t", serde.serialize("t", w)) == w
    no_partition = SubscriptionWrapper(None, Instruction.DELETE_KEY_NO_PROPAGATE, "", None)
    assert serde.deserialize("t", serde.serialize("t", no_partition)) == no_partition
    assert serde.serialize("t", None) is None and serde.deserialize("t", None) is None
    assert SubscriptionWrapperSerde(None).with_defaults(S, None).inner is S


def test_response_wrapper_round_trip_keeps_none_and_empty_apart() -> None:
    serde = SubscriptionResponseWrapperSerde(S)
    for value in (None, "", "v"):
        w = SubscriptionResponseWrapper(value_hash(b"x"), value, 0)
        assert serde.deserialize("t", serde.serialize("t", w)) == w
    assert SubscriptionResponseWrapperSerde(None).with_defaults(None, S).inner is S


def test_wrappers_of_an_unknown_version_are_rejected() -> None:
    data = SubscriptionWrapperSerde(S).serialize(
        "t", SubscriptionWrapper(None, Instruction.DELETE_KEY_AND_PROPAGATE, "pk", 0))
    assert data is not None
    with pytest.raises(SerializationError, match="version 9"):
        SubscriptionWrapperSerde(S).deserialize("t", b"\x09" + data[1:])
    with pytest.raises(SerializationError, match="empty"):
        SubscriptionResponseWrapperSerde(S).deserialize("t", b"")


def test_combined_key_and_partitioner() -> None:
    key = combined_key_bytes(b"fk", b"pk")
    assert key == b"\x00\x00\x00\x02fkpk" and split_combined_key(key) == (b"fk", b"pk")
    response = SubscriptionResponseWrapper(None, None, 2)
    assert response_partitioner("t", "k", response, 4) == 2
    assert response_partitioner("t", "k", response, 2) is None  # out of range: by key
    assert response_partitioner("t", "k", SubscriptionResponseWrapper(None, None, None), 4) is None
