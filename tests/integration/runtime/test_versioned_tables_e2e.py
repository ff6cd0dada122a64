"""A versioned table and a stream-table join with a grace period on a real broker: lookups as
of each order's time, the versions queryable, and both the table's history and the join's
waiting orders restored from their changelogs into an empty state directory."""

from __future__ import annotations

import pytest
from rt_helpers import wait_for

from streams import Consumed, Joined, Materialized, Produced, StreamsBuilder, serdes
from streams.state import Stores, VersionedRecord
from streams.testing import clients
from streams.testing.clients import ProducerRecord

pytestmark = pytest.mark.integration

S = serdes.String()
GRACE = 1_000


def _topology(prices: str, orders: str, out: str):  # noqa: ANN202
    b = StreamsBuilder()
    table = b.table(prices, Consumed(key_serde=S, value_serde=S), Materialized.as_(
        Stores.persistent_versioned_key_value_store("prices-v", history_retention_ms=60_000)))
    b.stream(orders, Consumed(key_serde=S, value_serde=S)).left_join(
        table, lambda order, price: f"{order}@{price}",
        Joined.with_(S, S, S, name="priced", grace_ms=GRACE),
    ).to(out, Produced(key_serde=S, value_serde=S))
    return b.build()


def _produce(bootstrap: str, topic: str, records: list[tuple[str, str, int]]) -> None:
    clients.produce(bootstrap, topic, [ProducerRecord(k, v, timestamp=ts) for k, v, ts in records],
                    key_serde=S, value_serde=S)


def _output(bootstrap: str, topic: str) -> list[tuple[str, str, int]]:
    return [(r.key, r.value, r.timestamp) for r in
            clients.consume_all(bootstrap, topic, 5.0, key_serde=S, value_serde=S)]


@pytest.mark.timeout(180)
def test_versioned_join_with_grace_survives_a_move_to_an_empty_state_dir(
        app_factory, topic_factory, kafka_bootstrap, tmp_path):
    prices, orders, out = (topic_factory(n, partitions=1) for n in ("prices", "orders", "out"))
    t0 = 1_700_000_000_000
    first = app_factory(_topology(prices, orders, out), state_dir=tmp_path / "first")
    first.start()
    first.wait_until_running(60)
    # prices arrive out of order; orders wait GRACE ms of stream time before they are joined
    _produce(kafka_bootstrap, prices, [("apple", "3", t0 + 100), ("apple", "2", t0 + 10)])
    _produce(kafka_bootstrap, orders, [("apple", "o1", t0 + 50), ("apple", "o2", t0 + 150),
                                       ("apple", "o0", t0 + 5)])
    _produce(kafka_bootstrap, orders, [("pear", "tick", t0 + 1_100)])  # moves stream time
    wait_for(lambda: len(_output(kafka_bootstrap, out)) >= 2, 60, "the first joined orders")
    # stream time t0+1100, grace 1000: o0 (t0+5) and o1 (t0+50) are due, o2 (t0+150) is not
    assert _output(kafka_bootstrap, out) == [("apple", "o0@None", t0 + 5),
                                             ("apple", "o1@2", t0 + 50)]
    view = first.store("prices-v")
    assert view.get("apple", t0 + 60) == VersionedRecord("2", t0 + 10, t0 + 100)
    assert [r.value for r in view.versions("apple")] == ["3", "2"]
    assert first.close(30)

    # a new instance with nothing on disk: both stores come back from their changelogs
    second = app_factory(_topology(prices, orders, out), state_dir=tmp_path / "second")
    second.start()
    second.wait_until_running(60)
    assert second.store("prices-v").get("apple", t0 + 60) == VersionedRecord(
        "2", t0 + 10, t0 + 100)
    _produce(kafka_bootstrap, orders, [("pear", "tock", t0 + 2_200)])  # o2 and tick are due
    wait_for(lambda: len(_output(kafka_bootstrap, out)) >= 4, 60,
             "the restored waiting order and the first tick to be joined")
    assert _output(kafka_bootstrap, out)[2:] == [("apple", "o2@3", t0 + 150),
                                                 ("pear", "tick@None", t0 + 1_100)]
    assert second.close(30)
