"""Branching, merging and a custom processor with a wall-clock punctuator.

Input: ``payment-events`` with the customer id as (string) key and a JSON value such as
``{"kind": "purchase", "amount": 12.5}``.

* ``split()`` routes each event by kind: ``route-purchases``, ``route-refunds``, and the default
  branch ``route-other`` for anything else (written unchanged to ``unclassified-events``).
* Refunds are turned into negative amounts and **merged** with the purchases into one stream
  of signed amounts, written to ``payments``.
* :class:`BalanceSummary` (Processor API) keeps a running balance per customer in the store
  ``balances`` and, every :data:`SUMMARY_INTERVAL_MS` of wall-clock time, emits a summary per
  customer to ``balance-summaries``: ``{"customer": ..., "balance": ..., "payments": n}``.

Print the topology with ``python -m examples.branching``.
"""

from __future__ import annotations

from typing import Any

from streams import (
    WALL_CLOCK_TIME,
    Branched,
    Consumed,
    Processor,
    ProcessorContext,
    Produced,
    Record,
    StreamsBuilder,
    Topology,
    serdes,
)
from streams.state import Stores

INPUT_TOPIC = "payment-events"
PAYMENTS_TOPIC = "payments"
OTHER_TOPIC = "unclassified-events"
SUMMARY_TOPIC = "balance-summaries"
STORE_NAME = "balances"
SUMMARY_INTERVAL_MS = 60_000

CONFIG: dict[str, Any] = {
    "application.id": "payments-branching",
    "bootstrap.servers": "localhost:9092",
}


def is_kind(kind: str) -> Any:
    """A predicate on event values: ``value["kind"] == kind``."""

    def predicate(event: dict[str, Any]) -> bool:
        return bool(event.get("kind") == kind)

    return predicate


def signed_amount(event: dict[str, Any]) -> float:
    """Purchases count positive, refunds negative."""
    amount = float(event["amount"])
    return -amount if event["kind"] == "refund" else amount


class BalanceSummary(Processor):
    """Adds each signed amount to the customer's balance; emits all balances periodically.

    The store holds ``{"balance": float, "payments": int}`` per customer. Nothing is forwarded
    per record: summaries come from the wall-clock punctuator only.
    """

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.store = context.get_state_store(STORE_NAME)
        context.schedule(SUMMARY_INTERVAL_MS, WALL_CLOCK_TIME, self.emit_summaries)

    def process(self, record: Record) -> None:
        current = self.store.get(record.key) or {"balance": 0.0, "payments": 0}
        self.store.put(record.key, {
            "balance": current["balance"] + record.value,
            "payments": current["payments"] + 1,
        })

    def emit_summaries(self, timestamp: int) -> None:
        """Forward one summary record per customer, stamped with the punctuation time."""
        for customer, entry in self.store.all():
            self.context.forward(Record(
                customer,
                {"customer": customer, "balance": entry["balance"], "payments": entry["payments"]},
                timestamp,
            ))


def build_topology() -> Topology:
    """payment-events -> split -> (purchases + refunds merged) -> payments, summaries."""
    string, json = serdes.String(), serdes.Json()
    builder = StreamsBuilder()
    builder.add_state_store(
        Stores.key_value_store_builder(Stores.in_memory_key_value_store(STORE_NAME), string, json)
    )
    events = builder.stream(INPUT_TOPIC, Consumed(key_serde=string, value_serde=json))
    branches = (
        events.split(name="route-")
        .branch(is_kind("purchase"), Branched.as_("purchases"))
        .branch(is_kind("refund"), Branched.as_("refunds"))
        .default_branch(Branched.as_("other"))
    )
    branches["route-other"].to(OTHER_TOPIC, Produced(key_serde=string, value_serde=json))
    payments = (
        branches["route-purchases"]
        .merge(branches["route-refunds"], name="merge-payments")
        .map_values(signed_amount, name="signed-amount")
    )
    payments.to(PAYMENTS_TOPIC, Produced(key_serde=string, value_serde=serdes.Double()))
    (
        payments.process(BalanceSummary, stores=[STORE_NAME], name="balance-summary")
        .to(SUMMARY_TOPIC, Produced(key_serde=string, value_serde=json))
    )
    return builder.build()


#: What ``streams run examples.branching:app`` runs.
app = build_topology


if __name__ == "__main__":
    print(build_topology().describe())
