"""Join option objects: StreamJoined (stream-stream: serdes, processor and store names, store
type, changelogs) and Joined (stream-table: serdes of the repartition topic, name)."""

from __future__ import annotations

import pytest

from streams import (
    Consumed,
    Joined,
    JoinWindows,
    Produced,
    StreamJoined,
    StreamsBuilder,
    TopologyError,
    serdes,
)
from streams.testing import TopologyTestDriver

S = serdes.String()
STR = Consumed(key_serde=S, value_serde=S)
APP = {"application.id": "app"}
WINDOW = JoinWindows.of_time_difference_with_no_grace(10)


def _joined_values(d: TopologyTestDriver) -> list[tuple[str, str]]:
    return [(r.key, r.value) for r in d.create_output_topic("out", S, S).read_records_to_list()]


def test_stream_joined_names_the_stores_and_turns_their_changelogs_off() -> None:
    b = StreamsBuilder()
    left, right = b.stream("l", STR), b.stream("r", STR)
    (left.left_join(right, lambda a, c: f"{a}+{c}", WINDOW,
                    stream_joined=StreamJoined.with_(S, S, S).with_store_name("pairs")
                    .with_logging_disabled())
     .to("out", Produced(key_serde=S, value_serde=S)))
    topology = b.build()
    stores = topology.stores
    # as Kafka Streams: a left join's other side is the "outer" one
    assert {"pairs-this-join-store", "pairs-outer-other-join-store",
            "pairs-left-shared-join-store"} <= set(stores)
    assert not any(stores[n].logging_enabled for n in stores if n.startswith("pairs-"))
    with TopologyTestDriver(topology, APP) as d:
        d.create_input_topic("l", S, S).pipe_input("k", "a", 1)
        d.create_input_topic("r", S, S).pipe_input("k", "c", 2)
        assert _joined_values(d) == [("k", "a+c")]


def test_stream_joined_store_name_follows_outer_joins_and_logging_configs() -> None:
    b = StreamsBuilder()
    left, right = b.stream("l", STR), b.stream("r", STR)
    left.outer_join(right, lambda a, c: f"{a}+{c}", WINDOW,
                    stream_joined=StreamJoined.as_("o").with_logging_enabled(
                        {"min.insync.replicas": "2"})).to("out")
    stores = b.build().stores
    assert {"o-outer-this-join-store", "o-outer-other-join-store",
            "o-outer-shared-join-store"} <= set(stores)
    assert stores["o-outer-this-join-store"].log_config["min.insync.replicas"] == "2"


def test_a_name_in_stream_joined_names_the_processors() -> None:
    b = StreamsBuilder()
    left, right = b.stream("l", STR), b.stream("r", STR)
    left.join(right, lambda a, c: a + c, WINDOW,
              stream_joined=StreamJoined.with_(S, S, S).with_name("clicks")).to("out")
    assert "clicks-this-join" in str(b.build().describe())
    with pytest.raises(TopologyError, match="differ; give one"):
        left.join(right, lambda a, c: a + c, WINDOW, name="x",
                  stream_joined=StreamJoined().with_name("y"))


def test_joined_gives_the_serdes_of_the_repartition_before_a_table_join() -> None:
    b = StreamsBuilder()
    table = b.table("t", STR)
    # the key changes, and the value becomes an int no serde is known for: the repartition
    # before the join is written with the Joined serdes
    (b.stream("s", STR).select_key(lambda k, v: v).map_values(len)
     .join(table, lambda v, t: f"{v}:{t}", Joined.with_(S, serdes.Integer(), S)
           .with_name("lookup"))
     .to("out", Produced(key_serde=S, value_serde=S)))
    topology = b.build()
    assert "lookup-repartition" in str(topology.describe())
    with TopologyTestDriver(topology, APP) as d:
        d.create_input_topic("t", S, S).pipe_input("xyz", "X")
        d.create_input_topic("s", S, S).pipe_input("ignored", "xyz")
        assert _joined_values(d) == [("xyz", "3:X")]


def test_joined_given_twice_is_an_error() -> None:
    b = StreamsBuilder()
    table = b.table("t", STR)
    with pytest.raises(TopologyError, match="Joined given twice"):
        b.stream("s", STR).join(table, lambda v, t: v, Joined.as_("a"), joined=Joined.as_("b"))


def test_table_joined_names_a_foreign_key_join_and_partitions_its_subscriptions() -> None:
    from streams import Materialized, TableJoined

    seen: list[tuple[str, str]] = []

    def by_first_letter(topic: str, key: str, value: object, n: int) -> int:
        seen.append((topic, key))
        return 0

    b = StreamsBuilder()
    customers = b.table("customers", STR)
    orders = b.table("orders", STR)
    (orders.join(customers, lambda order: order.split(":")[0], lambda o, c: f"{o}|{c}",
                 TableJoined.with_(None, by_first_letter).with_name("oc"),
                 Materialized(name="enriched", value_serde=S))
     .to_stream().to("out", Produced(key_serde=S, value_serde=S)))
    topology = b.build()
    assert "oc-subscription-registration-topic" in str(topology.describe())
    with TopologyTestDriver(topology, APP) as d:
        d.create_input_topic("customers", S, S).pipe_input("c1", "Ann")
        d.create_input_topic("orders", S, S).pipe_input("o1", "c1:book")
        assert _joined_values(d) == [("o1", "c1:book|Ann")]
    assert seen and all(t.endswith("oc-subscription-registration-topic") and k == "c1"
                        for t, k in seen)
