"""KTable and KGroupedTable: Kafka Streams' table semantics (updates, tombstones, re-grouping
with subtractor then adder), through the TopologyTestDriver."""

from __future__ import annotations

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
from streams.testing import TopologyTestDriver

S, L, INT = serdes.String(), serdes.Long(), serdes.Integer()
STR = Consumed(key_serde=S, value_serde=S)
# the record cache off: every update is forwarded (tests/unit/state/test_record_cache.py
# covers what the cache changes)
APP = {"application.id": "app", "statestore.cache.max.bytes": 0}


def out(d: TopologyTestDriver, topic: str = "out", value_serde: Any = S) -> list[Record]:
    return d.create_output_topic(topic, S, value_serde).read_records_to_list()


def test_table_source_upserts_and_tombstones_delete() -> None:
    b = StreamsBuilder()
    b.table("t", STR, Materialized(name="tbl")).to_stream().to("out", Produced(key_serde=S, value_serde=S))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("t", S, S).pipe_record_list([
            Record("a", "1", 1), Record("b", "2", 2), Record("a", "3", 3), Record("b", None, 4),
            Record("zz", None, 5),
        ])
        assert out(d) == [Record("a", "1", 1), Record("b", "2", 2), Record("a", "3", 3),
                          Record("b", None, 4), Record("zz", None, 5)]
        store = d.get_key_value_store("tbl")
        assert list(store.all()) == [("a", "3")]
        assert d.get_timestamped_key_value_store("tbl").get("a").timestamp == 3


def test_table_source_skips_records_without_a_key() -> None:
    b = StreamsBuilder()
    b.table("t", STR, Materialized(name="tbl")).to_stream().to("out", Produced(key_serde=S, value_serde=S))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("t", S, S).pipe_input(None, "orphan", 1)
        assert out(d) == []
        assert list(d.get_key_value_store("tbl").all()) == []


@pytest.mark.parametrize("materialized", [False, True])
def test_filter_forwards_a_tombstone_for_every_update_that_fails(materialized: bool) -> None:
    # Kafka Streams' KTableFilter without old values sent downstream (as here, to_stream):
    # every update goes on, one failing the predicate as a tombstone, passed before or not
    b = StreamsBuilder()
    m = Materialized(name="passing") if materialized else None
    (b.table("t", STR).filter(lambda v: v.startswith("a"), m)
     .to_stream().to("out", Produced(key_serde=S, value_serde=S)))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("t", S, S).pipe_record_list([
            Record("k", "banana", 1),   # never passed: a tombstone all the same
            Record("k", "apple", 2),    # passes: forwarded
            Record("k", "avocado", 3),  # still passes: forwarded
            Record("k", "cherry", 4),   # stops passing: tombstone
            Record("k", "date", 5),     # neither old nor new passes: tombstone
            Record("k", None, 6),       # delete: tombstone
            Record("j", "apricot", 7),
            Record("j", None, 8),       # delete of a passing row: tombstone
        ])
        assert out(d) == [Record("k", None, 1), Record("k", "apple", 2),
                          Record("k", "avocado", 3), Record("k", None, 4), Record("k", None, 5),
                          Record("k", None, 6), Record("j", "apricot", 7), Record("j", None, 8)]


def test_filter_drops_what_was_never_in_it_when_old_values_go_downstream() -> None:
    # a re-grouping needs old values: then an update that was not in the filtered table and
    # still is not tells it nothing, and Kafka Streams drops it
    b = StreamsBuilder()
    passing = b.table("t", STR).filter(lambda v: v.startswith("a"))
    passing.to_stream().to("out", Produced(key_serde=S, value_serde=S))
    passing.group_by(lambda k, v: (v, v), Grouped(key_serde=S, value_serde=S)).count(
        Materialized(name="per-value"))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("t", S, S).pipe_record_list([
            Record("k", "banana", 1), Record("k", "apple", 2), Record("k", "date", 3),
            Record("k", "dill", 4)])
        assert out(d) == [Record("k", "apple", 2), Record("k", None, 3)]
        assert list(d.get_key_value_store("per-value").all()) == [("apple", 0)]


def test_filter_not_and_key_predicates_and_materialized_filter_store() -> None:
    b = StreamsBuilder()
    t = b.table("t", STR)
    t.filter_not(lambda k, v: k == v).to_stream().to("differ", Produced(key_serde=S, value_serde=S))
    t.filter(lambda k, v: k == v, Materialized(name="same"))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("t", S, S).pipe_key_value_list(
            [("a", "a"), ("b", "x"), ("b", "b"), ("c", "c")])
        assert [(r.key, r.value) for r in out(d, "differ")] == [
            ("a", None), ("b", "x"), ("b", None), ("c", None)]
        assert list(d.get_key_value_store("same").all()) == [("a", "a"), ("b", "b"), ("c", "c")]


def test_map_values_maps_updates_and_passes_tombstones() -> None:
    b = StreamsBuilder()
    t = b.table("t", STR).map_values(len, Materialized(name="lengths", value_serde=INT))
    t.to_stream().to("out", Produced(key_serde=S, value_serde=INT))
    b.table("u", STR).map_values(lambda k, v: k + v).to_stream().to(
        "with-key", Produced(key_serde=S, value_serde=S))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("t", S, S).pipe_record_list([
            Record("a", "xyz", 1), Record("b", "q", 2), Record("a", None, 3)])
        assert out(d, value_serde=INT) == [Record("a", 3, 1), Record("b", 1, 2), Record("a", None, 3)]
        assert list(d.get_key_value_store("lengths").all()) == [("b", 1)]
        d.create_input_topic("u", S, S).pipe_input("k", "v")
        assert [(r.key, r.value) for r in out(d, "with-key")] == [("k", "kv")]


def test_to_stream_with_key_mapper() -> None:
    b = StreamsBuilder()
    b.table("t", STR).to_stream(lambda k, v: f"{k}/{v}").to("out", Produced(key_serde=S, value_serde=S))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("t", S, S).pipe_input("k", "v", timestamp=12)
        assert out(d) == [Record("k/v", "v", 12)]


# --------------------------------------------------------------------------- re-grouping
def region_counts() -> StreamsBuilder:
    """users(user -> region) re-grouped by region and counted."""
    b = StreamsBuilder()
    (b.table("users", STR)
     .group_by(lambda user, region: (region, user), Grouped(key_serde=S, value_serde=S))
     .count(Materialized(name="per-region"))
     .to_stream().to("out", Produced(key_serde=S, value_serde=L)))
    return b


def test_regrouping_moves_a_row_from_group_a_to_group_b() -> None:
    with TopologyTestDriver(region_counts().build(), APP) as d:
        users = d.create_input_topic("users", S, S)
        users.pipe_input("alice", "A", 1)
        users.pipe_input("bob", "A", 2)
        users.pipe_input("alice", "B", 3)   # A loses alice (subtractor), B gains her (adder)
        users.pipe_input("bob", None, 4)    # bob deleted: A decremented
        assert out(d, value_serde=L) == [
            Record("A", 1, 1), Record("A", 2, 2),
            Record("A", 1, 3), Record("B", 1, 3),
            Record("A", 0, 4)]
        assert dict(d.get_key_value_store("per-region").all()) == {"A": 0, "B": 1}


def test_same_group_update_calls_subtractor_then_adder_and_emits_once() -> None:
    calls: list[tuple[str, Any, Any]] = []

    def adder(agg: int, v: int) -> int:
        calls.append(("add", v, agg))
        return agg + v

    def subtractor(agg: int, v: int) -> int:
        calls.append(("sub", v, agg))
        return agg - v

    b = StreamsBuilder()
    (b.table("balances", Consumed(key_serde=S, value_serde=INT))
     .group_by(lambda account, amount: (account[0], amount), Grouped(key_serde=S, value_serde=INT))
     .reduce(adder, subtractor, Materialized(name="totals"))
     .to_stream().to("out", Produced(key_serde=S, value_serde=INT)))
    with TopologyTestDriver(b.build(), APP) as d:
        balances = d.create_input_topic("balances", S, INT)
        balances.pipe_input("x1", 10, 1)
        balances.pipe_input("x2", 5, 2)
        balances.pipe_input("x1", 12, 3)  # same group "x": one record, subtract 10 then add 12
        assert out(d, value_serde=INT) == [Record("x", 10, 1), Record("x", 15, 2), Record("x", 17, 3)]
        # the first value of a group is the aggregate itself; then adder/subtractor
        assert calls == [("add", 5, 10), ("sub", 10, 15), ("add", 12, 5)]


def test_grouped_table_aggregate_with_key_taking_adder_and_subtractor() -> None:
    calls: list[str] = []

    def add(key: str, value: str, agg: list[str]) -> list[str]:
        calls.append(f"+{key}:{value}")
        return sorted([*agg, value])

    def sub(key: str, value: str, agg: list[str]) -> list[str]:
        calls.append(f"-{key}:{value}")
        return [v for v in agg if v != value]

    b = StreamsBuilder()
    (b.table("t", STR)
     .group_by(lambda k, v: (v, k), Grouped(key_serde=S, value_serde=S))
     .aggregate(list, add, sub, Materialized(name="members", value_serde=serdes.Json()))
     .to_stream().to("out", Produced(key_serde=S, value_serde=serdes.Json())))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("t", S, S).pipe_key_value_list(
            [("u1", "red"), ("u2", "red"), ("u1", "blue"), ("u2", None)])
        got = d.create_output_topic("out", S, serdes.Json()).read_key_values_to_list()
        assert got == [("red", ["u1"]), ("red", ["u1", "u2"]), ("red", ["u2"]), ("blue", ["u1"]),
                       ("red", [])]
        assert calls == ["+red:u1", "+red:u2", "-red:u1", "+blue:u1", "-red:u2"]


def test_grouped_table_count_timestamps_are_max_of_contributing_updates() -> None:
    with TopologyTestDriver(region_counts().build(), APP) as d:
        users = d.create_input_topic("users", S, S)
        users.pipe_input("u1", "A", 50)
        users.pipe_input("u2", "A", 20)
        users.pipe_input("u3", "B", 30)
        assert [r.timestamp for r in out(d, value_serde=L)] == [50, 50, 30]


def test_grouped_table_repartition_topic_is_named_after_the_store_or_grouped_name() -> None:
    b = StreamsBuilder()
    t = b.table("t", STR)
    t.group_by(lambda k, v: (v, k), Grouped(key_serde=S, value_serde=S)).count(
        Materialized(name="cnt"))
    t.group_by(lambda k, v: (k, v), Grouped(name="named", key_serde=S, value_serde=S)).count()
    assert set(b.build().internal_topics) == {"cnt-repartition", "named-repartition"}


def test_worked_example_from_the_docs_sum_of_balances_per_region() -> None:
    """docs/dsl.md: re-grouping with subtractor and adder, every step checked."""
    b = StreamsBuilder()
    (b.table("accounts", Consumed(key_serde=S, value_serde=serdes.Json()))
     .group_by(lambda acct, row: (row["region"], row["balance"]),
               Grouped(key_serde=S, value_serde=L))
     .reduce(lambda agg, v: agg + v, lambda agg, v: agg - v, Materialized(name="by-region"))
     .to_stream().to("region-totals", Produced(key_serde=S, value_serde=L)))
    with TopologyTestDriver(b.build(), {"application.id": "bank"}) as d:
        accounts = d.create_input_topic("accounts", S, serdes.Json())
        accounts.pipe_input("acct-1", {"region": "EU", "balance": 100}, 1)
        accounts.pipe_input("acct-2", {"region": "EU", "balance": 50}, 2)
        accounts.pipe_input("acct-1", {"region": "EU", "balance": 70}, 3)
        accounts.pipe_input("acct-2", {"region": "US", "balance": 50}, 4)
        accounts.pipe_input("acct-1", None, 5)
        totals = d.create_output_topic("region-totals", S, L).read_key_values_to_list()
        assert totals == [("EU", 100), ("EU", 150), ("EU", 120), ("EU", 70), ("US", 50), ("EU", 0)]
        assert dict(d.get_key_value_store("by-region").all()) == {"EU": 0, "US": 50}
        assert "bank-by-region-repartition" in d.produced_topic_names()


# --------------------------------------------------------------------------- global tables
def test_global_table_store_is_filled_from_its_topic() -> None:
    b = StreamsBuilder()
    g = b.global_table("countries", STR, Materialized(name="country-names"))
    assert g.store_name == "country-names"
    b.stream("in", STR).to("out", Produced(key_serde=S, value_serde=S))
    topology = b.build()
    assert [s.is_global for s in topology.subtopologies()] == [True, False]
    assert topology.global_stores == {"country-names"}
    with TopologyTestDriver(topology, APP) as d:
        countries = d.create_input_topic("countries", S, S)
        countries.pipe_key_value_list([("fr", "France"), ("de", "Germany"), ("fr", "République")])
        countries.pipe_input("de", None)
        assert list(d.get_key_value_store("country-names").all()) == [("fr", "République")]
        # a global store has no changelog: its topic is its changelog
        assert not any("changelog" in t for t in d.produced_topic_names())
