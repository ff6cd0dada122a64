"""examples/order_enrichment.py end to end: two worker processes on the broker.

The workers run ``python -m streams.cli.main run examples.order_enrichment:app`` with the
example's topics pointed at this test's own topics (the ``ORDER_ENRICHMENT_*`` environment
variables) and a unique application id. Customers are produced first and the test waits until
the app has committed them all (so every order finds its customer), then orders and payments
with explicit timestamps: most payments 0-4 minutes from their order, some 5-5.5 minutes away
(outside the 5-minute window), some orders unpaid or paid twice, some for unknown customers.
``paid-orders`` must then hold exactly the results computed here in plain Python.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from rt_helpers import (
    NO_CACHE,
    Worker,
    app_id_for,
    assert_clean_shutdown,
    committed,
    delete_internal_topics,
    dump_logs,
    stable_assignment,
    start_example_worker,
    stop_workers,
    wait_for,
)

from streams import serdes
from streams.testing import clients
from streams.testing.clients import ProducerRecord

pytestmark = pytest.mark.integration

PARTITIONS = 4
#: three sub-topologies: orders -> by customer; enrich -> by order id; join payments
ALL_TASKS = {f"{s}_{p}" for s in (0, 1, 2) for p in range(PARTITIONS)}
MINUTE = 60_000
WINDOW = 5 * MINUTE
S, J = serdes.String(), serdes.Json()


def start_worker(name: str, app_id: str, bootstrap: str, topics: dict[str, str],
                 tmp_path: Path) -> Worker:
    """One ``streams run examples.order_enrichment:app`` process, logging to a file."""
    return start_example_worker(
        name, "examples.order_enrichment:app", app_id, bootstrap, tmp_path,
        {f"ORDER_ENRICHMENT_{k.upper()}": v for k, v in topics.items()},
        extra=NO_CACHE)  # every update is checked: the record cache would fold them


def make_input(seed: int, base: int) -> tuple[dict[str, dict[str, Any]], list[ProducerRecord],
                                              list[ProducerRecord]]:
    """Customers, orders and payments (with timestamps)."""
    rng = random.Random(seed)
    customers = {f"cust-{i}": {"name": f"Customer {i}", "tier": rng.choice(["gold", "silver"])}
                 for i in range(40)}
    orders, payments = [], []
    for i in range(600):
        order_id, ts = f"order-{i}", base + i * 100
        customer = f"cust-{rng.randrange(44)}"  # cust-40..43 do not exist
        orders.append(ProducerRecord(order_id, json.dumps(
            {"customer_id": customer, "amount": rng.randrange(100, 50_000) / 100}), timestamp=ts))
        for _ in range(rng.choice([0, 1, 1, 1, 1, 2])):
            if rng.random() < 0.1:  # outside the window
                offset = WINDOW + rng.randrange(1, 30_000)
            else:
                offset = rng.randrange(-4 * MINUTE, 4 * MINUTE)
            payments.append(ProducerRecord(order_id, json.dumps(
                {"amount": rng.randrange(100, 50_000) / 100}), timestamp=ts + offset))
        if rng.random() < 0.05:
            payments.append(ProducerRecord(f"nobody-{i}", json.dumps({"amount": 1.0}),
                                           timestamp=ts))
    rng.shuffle(payments)
    return customers, orders, payments


def expected_results(customers: dict[str, dict[str, Any]], orders: list[ProducerRecord],
                     payments: list[ProducerRecord]) -> list[tuple[str, str, int]]:
    """(order id, canonical JSON value, timestamp) of every result, sorted: each (order of a
    known customer, payment of the same order id at most 5 minutes apart) pair."""
    by_order: dict[str, list[ProducerRecord]] = {}
    for p in payments:
        by_order.setdefault(str(p.key), []).append(p)
    out = []
    for o in orders:
        order = json.loads(str(o.value))
        customer = customers.get(order["customer_id"])
        if customer is None:
            continue
        assert o.timestamp is not None
        for p in by_order.get(str(o.key), []):
            assert p.timestamp is not None
            if abs(p.timestamp - o.timestamp) > WINDOW:
                continue
            paid = json.loads(str(p.value))["amount"]
            value = {"order_id": o.key, "customer_id": order["customer_id"],
                     "customer_name": customer["name"], "tier": customer["tier"],
                     "amount": order["amount"], "paid": paid,
                     "fully_paid": paid >= order["amount"]}
            out.append((str(o.key), json.dumps(value, sort_keys=True),
                        max(o.timestamp, p.timestamp)))
    return sorted(out)


def read_results(bootstrap: str, topic: str) -> list[tuple[str, str, int]]:
    return sorted((r.key, json.dumps(r.value, sort_keys=True), r.timestamp)
                  for r in clients.consume_all(bootstrap, topic, key_serde=S, value_serde=J))


@pytest.mark.timeout(240)
def test_order_enrichment_with_two_worker_processes(topic_factory, kafka_bootstrap, tmp_path,
                                                    request):
    topics = {name: topic_factory(name, partitions=PARTITIONS)
              for name in ("orders", "customers", "payments")}
    topics["output"] = topic_factory("paid-orders", partitions=2)
    app_id = app_id_for(request)
    base = int(time.time() * 1000) - 20 * MINUTE
    customers, orders, payments = make_input(seed=11, base=base)
    expected = expected_results(customers, orders, payments)
    assert len(expected) > 400

    workers: list[Worker] = []
    try:
        workers = [start_worker(name, app_id, kafka_bootstrap, topics, tmp_path)
                   for name in ("w1", "w2")]
        shares = wait_for(lambda: stable_assignment(workers, ALL_TASKS), 120,
                          "two workers to split the twelve tasks")
        assert sorted(len(s) for s in shares.values()) == [6, 6], shares

        # customers first, timestamped before every order; wait until all are processed
        delivered = clients.produce(
            kafka_bootstrap, topics["customers"],
            [ProducerRecord(k, json.dumps(v), timestamp=base - MINUTE)
             for k, v in customers.items()])
        ends = {p: 0 for p in range(PARTITIONS)}
        for d in delivered:
            ends[d.partition] = max(ends[d.partition], d.offset + 1)
        wait_for(lambda: committed(kafka_bootstrap, app_id, topics["customers"], ends), 60,
                 "the app to commit every customer")

        clients.produce(kafka_bootstrap, topics["orders"], orders)
        clients.produce(kafka_bootstrap, topics["payments"], payments)

        got = wait_for(lambda: (lambda r: r if len(r) >= len(expected) else None)(
            read_results(kafka_bootstrap, topics["output"])), 120,
            f"{len(expected)} paid orders")
        time.sleep(2.0)  # anything beyond the expected results would show up by now
        got = read_results(kafka_bootstrap, topics["output"])
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        assert got == expected, (f"{len(got)} results, {len(expected)} expected; "
                                 f"missing {missing[:3]}, unexpected {extra[:3]}")

        assert_clean_shutdown(workers)
    except BaseException:
        dump_logs(workers)
        raise
    finally:
        stop_workers(workers)
        delete_internal_topics(kafka_bootstrap, app_id)
    assert all(w.proc.poll() is not None for w in workers)  # no stray worker process
