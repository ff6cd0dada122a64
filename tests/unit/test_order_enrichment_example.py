"""examples/order_enrichment.py: its output equals results computed here independently, in
plain Python, from the same input."""

from __future__ import annotations

import importlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from streams import Topology, serdes
from streams.testing import TopologyTestDriver

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # examples/ lives at the repository root, next to streams/
    sys.path.insert(0, str(ROOT))
example = importlib.import_module("examples.order_enrichment")
S, J = serdes.String(), serdes.Json()
MINUTE = 60_000
WINDOW = 5 * MINUTE

#: One input event, in processing order: (topic, key, value, timestamp).
Event = tuple[str, str, Any, int]
#: One output record: (key, value, timestamp).
Out = tuple[str, dict[str, Any], int]


def expected_paid_orders(events: list[Event]) -> list[Out]:
    """What the app should write to paid-orders, from the definition:

    an order is enriched with the customer row the table holds when the order is processed
    (no row: the order is dropped); every payment of the same order id at most 5 minutes
    before or after the order (both ends included) gives one result, timestamped with the
    later of the two."""
    customers: dict[str, dict[str, Any]] = {}
    orders: list[tuple[str, dict[str, Any], int]] = []
    payments: list[tuple[str, dict[str, Any], int]] = []
    for topic, key, value, ts in events:
        if topic == "customers":
            if value is None:
                customers.pop(key, None)
            else:
                customers[key] = value
        elif topic == "orders":
            customer = customers.get(value["customer_id"])
            if customer is not None:
                orders.append((key, {"order_id": key, "customer_id": value["customer_id"],
                                     "customer_name": customer["name"], "tier": customer["tier"],
                                     "amount": value["amount"]}, ts))
        else:
            payments.append((key, value, ts))
    out = []
    for order_id, order, order_ts in orders:
        for pay_id, payment, pay_ts in payments:
            if pay_id == order_id and abs(order_ts - pay_ts) <= WINDOW:
                out.append((order_id, {**order, "paid": payment["amount"],
                                       "fully_paid": payment["amount"] >= order["amount"]},
                            max(order_ts, pay_ts)))
    return out


def run(events: list[Event]) -> list[Out]:
    """Pipe ``events`` in order through the example; everything it wrote to paid-orders."""
    with TopologyTestDriver(example.build_topology(), example.CONFIG) as d:
        topics = {name: d.create_input_topic(topic, S, J) for name, topic in (
            ("orders", example.ORDERS_TOPIC), ("customers", example.CUSTOMERS_TOPIC),
            ("payments", example.PAYMENTS_TOPIC))}
        for topic, key, value, ts in events:
            topics[topic].pipe_input(key, value, ts)
        out = d.create_output_topic(example.OUTPUT_TOPIC, S, J)
        return [(r.key, r.value, r.timestamp) for r in out.read_records_to_list()]


def canonical(records: list[Out]) -> list[tuple[str, int, str]]:
    """Records in a comparable order (the join emits pairs in processing order)."""
    return sorted((k, ts, json.dumps(v, sort_keys=True)) for k, v, ts in records)


def test_module_shape() -> None:
    assert example.CONFIG["application.id"] == "order-enrichment"
    assert callable(example.app)
    assert isinstance(example.app(), Topology)
    assert (example.ORDERS_TOPIC, example.CUSTOMERS_TOPIC, example.PAYMENTS_TOPIC,
            example.OUTPUT_TOPIC) == ("orders", "customers", "payments", "paid-orders")


def test_enriches_and_matches_payments_within_five_minutes() -> None:
    t = 1_000 * MINUTE
    events: list[Event] = [
        ("customers", "c1", {"name": "Ada", "tier": "gold"}, t),
        ("customers", "c2", {"name": "Bob", "tier": "silver"}, t),
        ("orders", "o1", {"customer_id": "c1", "amount": 10.0}, t + 1),
        ("orders", "o2", {"customer_id": "c2", "amount": 20.0}, t + 2),
        ("orders", "o3", {"customer_id": "c9", "amount": 5.0}, t + 3),  # unknown customer
        ("orders", "o4", {"customer_id": "c1", "amount": 7.5}, t + 4),   # never paid
        ("payments", "o1", {"amount": 10.0}, t + MINUTE),
        ("payments", "o3", {"amount": 5.0}, t + MINUTE),                 # its order was dropped
        ("payments", "o9", {"amount": 1.0}, t + MINUTE),                 # no such order
        ("payments", "o2", {"amount": 15.0}, t + 2 + WINDOW),            # just in time
        ("payments", "o2", {"amount": 5.0}, t + 3 + WINDOW),             # 1 ms too late
        ("payments", "o1", {"amount": 1.0}, t + 2 * MINUTE),             # a second payment
    ]
    got = run(events)
    ada = {"customer_id": "c1", "customer_name": "Ada", "tier": "gold"}
    assert got == [
        ("o1", {"order_id": "o1", **ada, "amount": 10.0, "paid": 10.0, "fully_paid": True},
         t + MINUTE),
        ("o2", {"order_id": "o2", "customer_id": "c2", "customer_name": "Bob", "tier": "silver",
                "amount": 20.0, "paid": 15.0, "fully_paid": False}, t + 2 + WINDOW),
        ("o1", {"order_id": "o1", **ada, "amount": 10.0, "paid": 1.0, "fully_paid": False},
         t + 2 * MINUTE),
    ]
    assert canonical(got) == canonical(expected_paid_orders(events))


def test_payment_before_its_order_and_customer_updates() -> None:
    t = 50 * MINUTE
    events: list[Event] = [
        ("customers", "c1", {"name": "Ada", "tier": "silver"}, t),
        ("payments", "o1", {"amount": 3.0}, t + 1),                      # paid first
        ("orders", "o1", {"customer_id": "c1", "amount": 3.0}, t + 2),
        ("customers", "c1", {"name": "Ada", "tier": "gold"}, t + 3),    # upgraded afterwards
        ("orders", "o2", {"customer_id": "c1", "amount": 4.0}, t + 4),
        ("customers", "c1", None, t + 5),                                # deleted
        ("orders", "o3", {"customer_id": "c1", "amount": 5.0}, t + 6),  # dropped
        ("payments", "o2", {"amount": 4.0}, t + 7),
        ("payments", "o3", {"amount": 5.0}, t + 8),
    ]
    got = run(events)
    assert [(k, v["tier"], v["paid"], ts) for k, v, ts in got] == [
        ("o1", "silver", 3.0, t + 2), ("o2", "gold", 4.0, t + 7)]
    assert canonical(got) == canonical(expected_paid_orders(events))


def random_events(seed: int, n_orders: int = 300) -> list[Event]:
    """Customers first (some updated or deleted later), then orders and payments over about
    30 minutes, in timestamp order; payments up to 8 minutes around their order, some orders
    paid twice, some never, some payments for unknown orders."""
    rng = random.Random(seed)
    t0 = 10_000 * MINUTE
    customers = [f"c{i}" for i in range(25)]
    events: list[tuple[int, int, Event]] = []
    seq = 0

    def add(ts: int, event: Event) -> None:
        nonlocal seq
        events.append((ts, seq, event))
        seq += 1

    for c in customers[:20]:  # c20..c24 never exist: their orders are dropped
        add(t0, ("customers", c, {"name": c.upper(), "tier": rng.choice(["gold", "silver"])},
                 t0))
    for i in range(n_orders):
        order_ts = t0 + MINUTE + rng.randrange(30 * MINUTE)
        order_id = f"o{i}"
        add(order_ts, ("orders", order_id, {"customer_id": rng.choice(customers),
                                            "amount": rng.randrange(100, 10_000) / 100},
                       order_ts))
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            pay_ts = max(t0, order_ts + rng.randrange(-8 * MINUTE, 8 * MINUTE))
            add(pay_ts, ("payments", order_id, {"amount": rng.randrange(100, 10_000) / 100},
                         pay_ts))
        if rng.random() < 0.05:
            add(order_ts, ("payments", f"x{i}", {"amount": 1.0}, order_ts))
        if rng.random() < 0.03:
            c = rng.choice(customers[:20])
            update = None if rng.random() < 0.3 else {"name": c.upper(), "tier": "platinum"}
            add(order_ts, ("customers", c, update, order_ts))
    return [e for _, _, e in sorted(events)]


def test_matches_a_plain_python_join_on_random_input() -> None:
    for seed in (1, 2, 3):
        events = random_events(seed)
        expected = expected_paid_orders(events)
        assert len(expected) > 100  # the input exercises the joins
        assert canonical(run(events)) == canonical(expected)


def test_main_prints_the_description() -> None:
    result = subprocess.run([sys.executable, "-m", "examples.order_enrichment"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True)
    text = result.stdout
    assert "(topic: orders-by-customer-repartition)" in text
    assert "(topic: orders-by-id-repartition)" in text
    assert "Processor: enrich-with-customer (stores: [customers])" in text
    assert "Processor: match-payment-this-join (stores: [match-payment-other-join-store])" in text
    assert "(topic: paid-orders)" in text


def test_topic_names_come_from_the_environment() -> None:
    env = {**os.environ, "ORDER_ENRICHMENT_ORDERS": "o-x", "ORDER_ENRICHMENT_CUSTOMERS": "c-x",
           "ORDER_ENRICHMENT_PAYMENTS": "p-x", "ORDER_ENRICHMENT_OUTPUT": "out-x"}
    result = subprocess.run([sys.executable, "-m", "examples.order_enrichment"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60, check=True)
    for topic in ("topics: [o-x]", "topics: [c-x]", "topics: [p-x]", "topic: out-x"):
        assert topic in result.stdout
