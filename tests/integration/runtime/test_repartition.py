"""Re-keying across two sub-topologies, and a global table, on the broker."""

from __future__ import annotations

import collections
import json
import random

import pytest
from rt_helpers import wait_for, wait_latest

from streams import Consumed, Grouped, Materialized, Produced, StreamsBuilder, serdes
from streams.testing import clients

pytestmark = pytest.mark.integration

REGIONS = ["eu", "us", "apac", "latam", "mea"]


@pytest.mark.timeout(120)
def test_group_by_new_key_sums_exactly_and_global_table_is_queryable(
        app_factory, topic_factory, kafka_bootstrap):
    orders = topic_factory("orders", partitions=3)
    totals = topic_factory("totals", partitions=2)
    regions = topic_factory("regions", partitions=2)
    clients.produce(kafka_bootstrap, regions, [("eu", "Europe"), ("us", "United States"),
                                               ("apac", "Asia Pacific")])

    builder = StreamsBuilder()
    (builder.stream(orders, Consumed(key_serde=serdes.String(), value_serde=serdes.Json()))
     .group_by(lambda order: order["region"],
               Grouped(key_serde=serdes.String(), value_serde=serdes.Json(), name="by-region"))
     .aggregate(lambda: 0, lambda region, order, total: total + order["amount"],
                Materialized(name="region-totals", value_serde=serdes.Long()))
     .to_stream()
     .to(totals, Produced(key_serde=serdes.String(), value_serde=serdes.Long())))
    builder.global_table(regions, Consumed(key_serde=serdes.String(), value_serde=serdes.String()),
                         Materialized(name="region-names"))
    topology = builder.build()
    assert len([s for s in topology.subtopologies() if not s.is_global]) == 2

    app = app_factory(topology)
    app.start()
    # the global store is bootstrapped by start(), before any stream thread runs
    names = app.store("region-names")
    assert names.get("eu") == "Europe"
    assert dict(names.all()) == {"eu": "Europe", "us": "United States", "apac": "Asia Pacific"}
    app.wait_until_running(60)

    rng = random.Random(5)
    expected: collections.Counter[str] = collections.Counter()
    records = []
    for i in range(1500):
        region, amount = rng.choice(REGIONS), rng.randint(1, 1000)
        expected[region] += amount
        records.append((f"order-{i}", json.dumps({"region": region, "amount": amount})))
    clients.produce(kafka_bootstrap, orders, records)
    wait_latest(kafka_bootstrap, totals, dict(expected), timeout=60)
    wait_for(lambda: dict(app.store("region-totals").all()) == dict(expected), 30,
             "the region-totals store to match")
    # records are keyed by region in the repartition topic, so each region has one task
    repartition = clients.consume_all(kafka_bootstrap, f"{app_factory.app_id}-by-region-repartition",
                                      key_serde=serdes.String())
    assert len(repartition) == 1500
    partition_of = collections.defaultdict(set)
    for r in repartition:
        partition_of[r.key].add(r.partition)
    assert all(len(p) == 1 for p in partition_of.values()), dict(partition_of)

    # the global thread keeps the store current after the bootstrap
    clients.produce(kafka_bootstrap, regions, [("latam", "Latin America"), ("eu", "EU")])
    wait_for(lambda: names.get("latam") == "Latin America" and names.get("eu") == "EU", 30,
             "the global store to see new records")
    assert app.close(30)
