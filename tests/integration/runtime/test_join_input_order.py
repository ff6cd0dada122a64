"""A stream-table join that starts on a backlog: every order must see its customer.

When the application starts, the customers table and the orders stream both have records on
the broker. A task must not process an order while the customers partition still has unread
records on the broker (max.task.idle.ms, KIP-353/KIP-695): it would find no customer and, as
an inner join, drop the order. And it must process both inputs in timestamp order, so orders
before a customer's update join the old row and orders after it the new one.
"""

from __future__ import annotations

import pytest
from rt_helpers import committed, wait_for

from streams import Consumed, Produced, StreamsBuilder, serdes
from streams.testing import clients
from streams.testing.clients import ProducerRecord

pytestmark = pytest.mark.integration

CUSTOMERS = 12_000
ORDERS = 24_000
BASE = 10_000_000  # orders' event time; every first customer row is older
UPDATE_AT = BASE + ORDERS  # half the orders are older than the updates, half newer
PAD = "x" * 150  # table rows big enough that the table takes many fetches to read


def order_ts(i: int) -> int:
    return BASE + 2 * i + 1  # odd: never equal to UPDATE_AT


@pytest.mark.timeout(180)
def test_stream_table_join_waits_for_the_table_and_follows_event_time(
        app_factory, topic_factory, kafka_bootstrap):
    customers = topic_factory("customers", partitions=2)
    orders = topic_factory("orders", partitions=2)
    enriched = topic_factory("enriched", partitions=2)

    # orders first in the log, so without waiting they would be fetched well before the table
    delivered = clients.produce(kafka_bootstrap, orders, [
        ProducerRecord(f"c{i % CUSTOMERS}", f"o{i}", timestamp=order_ts(i)) for i in range(ORDERS)])
    clients.produce(kafka_bootstrap, customers, [
        ProducerRecord(f"c{c}", f"v1-{c}-{PAD}", timestamp=1 + c) for c in range(CUSTOMERS)])
    updated = range(0, CUSTOMERS, 3)
    clients.produce(kafka_bootstrap, customers, [
        ProducerRecord(f"c{c}", f"v2-{c}-{PAD}", timestamp=UPDATE_AT) for c in updated])

    expected = {}
    for i in range(ORDERS):
        c = i % CUSTOMERS
        version = "v2" if c % 3 == 0 and order_ts(i) > UPDATE_AT else "v1"
        expected[f"o{i}"] = f"o{i}|{version}-{c}"

    s = serdes.String()
    builder = StreamsBuilder()
    table = builder.table(customers, Consumed(key_serde=s, value_serde=s))
    (builder.stream(orders, Consumed(key_serde=s, value_serde=s))
     .join(table, lambda order, customer: f"{order}|{customer.removesuffix('-' + PAD)}")
     .to(enriched, Produced(key_serde=s, value_serde=s)))
    app = app_factory(builder.build(), **{"max.poll.records": 500})
    app.start()
    app.wait_until_running(60)

    # every order is read and committed; an inner join drops orders it could not join, so
    # the output is not what to wait for
    ends: dict[int, int] = {}
    for d in delivered:
        ends[d.partition] = max(ends.get(d.partition, 0), d.offset + 1)
    wait_for(lambda: committed(kafka_bootstrap, app.config["application.id"], orders, ends), 120,
             "all orders read and committed", interval=0.5)
    out = clients.consume_all(kafka_bootstrap, enriched, 30, key_serde=s, value_serde=s)
    got = {r.value.split("|")[0]: r.value for r in out}
    missing = sorted(set(expected) - set(got), key=lambda o: int(o[1:]))
    assert not missing, f"{len(missing)} orders were not joined, first {missing[:5]}"
    assert len(out) == ORDERS  # none twice
    wrong = [(got[o], want) for o, want in expected.items() if got[o] != want]
    assert not wrong, f"{len(wrong)} orders joined the wrong customer version, e.g. {wrong[:3]}"
