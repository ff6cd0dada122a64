"""Order enrichment: a stream-table join, then a windowed stream-stream join.

Inputs (all keys are strings, all values JSON):

* ``orders`` — key: order id, value ``{"customer_id": "c1", "amount": 12.5}``;
* ``customers`` — a table: key: customer id, value ``{"name": "Ada", "tier": "gold"}``;
* ``payments`` — key: order id, value ``{"amount": 12.5}`` (the amount paid).

The pipeline:

1. re-key each order by its customer id (keeping the order id in the value) and write it
   through the repartition topic ``<application.id>-orders-by-customer-repartition``, so it
   is co-partitioned with ``customers``;
2. enrich it from the ``customers`` table (a stream-table **inner** join: an order whose
   customer is not in the table when the order is processed is dropped);
3. re-key it back by order id (``<application.id>-orders-by-id-repartition``), co-partitioned
   with ``payments``;
4. join it with ``payments`` of the same order id at most 5 minutes apart (a KStream-KStream
   inner join with ``JoinWindows`` of 5 minutes, no grace): every (order, payment) pair
   within the window is one result;
5. write the result to ``paid-orders`` (key: order id), e.g.
   ``{"order_id": "o1", "customer_id": "c1", "customer_name": "Ada", "tier": "gold",
   "amount": 12.5, "paid": 12.5, "fully_paid": true}``.

Print the topology with::

    python -m examples.order_enrichment

Run it against a broker with::

    streams run examples.order_enrichment:app

The topic names are module constants; the environment variables ``ORDER_ENRICHMENT_ORDERS``,
``ORDER_ENRICHMENT_CUSTOMERS``, ``ORDER_ENRICHMENT_PAYMENTS`` and ``ORDER_ENRICHMENT_OUTPUT``
override them (read when the module is imported), so several copies can run side by side on
one cluster. ``orders``, ``customers`` and ``payments`` need the same partition count.
Importing this module has no other side effects: ``app`` is the function that builds the
topology.
"""

from __future__ import annotations

import os
from typing import Any

from streams import (
    Consumed,
    JoinWindows,
    Materialized,
    Produced,
    Repartitioned,
    StreamsBuilder,
    Topology,
    serdes,
)

ORDERS_TOPIC = os.environ.get("ORDER_ENRICHMENT_ORDERS", "orders")
CUSTOMERS_TOPIC = os.environ.get("ORDER_ENRICHMENT_CUSTOMERS", "customers")
PAYMENTS_TOPIC = os.environ.get("ORDER_ENRICHMENT_PAYMENTS", "payments")
OUTPUT_TOPIC = os.environ.get("ORDER_ENRICHMENT_OUTPUT", "paid-orders")

CUSTOMERS_STORE = "customers"
#: How far apart an order and its payment may be to match.
PAYMENT_WINDOW = JoinWindows.of_time_difference_with_no_grace(5 * 60 * 1000)

#: Configuration the runner starts from (``--set``/config files/environment override it).
CONFIG: dict[str, Any] = {
    "application.id": "order-enrichment",
    "bootstrap.servers": "localhost:9092",
}


def key_by_customer(order_id: str, order: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(customer id, the order with its id in the value)."""
    return order["customer_id"], {**order, "order_id": order_id}


def enrich(order: dict[str, Any], customer: dict[str, Any]) -> dict[str, Any]:
    """The order with its customer's name and tier."""
    return {
        "order_id": order["order_id"],
        "customer_id": order["customer_id"],
        "customer_name": customer["name"],
        "tier": customer["tier"],
        "amount": order["amount"],
    }


def paid(order: dict[str, Any], payment: dict[str, Any]) -> dict[str, Any]:
    """The enriched order with the amount of one payment."""
    return {**order, "paid": payment["amount"], "fully_paid": payment["amount"] >= order["amount"]}


def build_topology() -> Topology:
    """orders -> by customer -> join customers -> by order id -> join payments -> paid-orders."""
    text, json = serdes.String(), serdes.Json()
    builder = StreamsBuilder()
    orders = builder.stream(ORDERS_TOPIC, Consumed(key_serde=text, value_serde=json))
    customers = builder.table(CUSTOMERS_TOPIC, Consumed(key_serde=text, value_serde=json),
                              Materialized(name=CUSTOMERS_STORE))
    payments = builder.stream(PAYMENTS_TOPIC, Consumed(key_serde=text, value_serde=json))
    (
        orders
        .map(key_by_customer, name="key-by-customer")
        .repartition(Repartitioned(name="orders-by-customer", key_serde=text, value_serde=json))
        .join(customers, enrich, name="enrich-with-customer")
        .select_key(lambda _customer_id, order: order["order_id"], name="key-by-order")
        .repartition(Repartitioned(name="orders-by-id", key_serde=text, value_serde=json))
        .join(payments, paid, PAYMENT_WINDOW, name="match-payment")
        .to(OUTPUT_TOPIC, Produced(key_serde=text, value_serde=json))
    )
    return builder.build()


#: What ``streams run examples.order_enrichment:app`` runs (a function returning the Topology).
app = build_topology


if __name__ == "__main__":
    print(build_topology().describe())
