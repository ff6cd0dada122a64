"""The public timestamped store builders: stores of ValueAndTimestamp, as the DSL's tables use,
for Processor API code (Kafka Streams' Stores.timestampedKeyValueStoreBuilder and
timestampedWindowStoreBuilder)."""

from __future__ import annotations

from typing import Any

from streams import Processor, Record, Topology, serdes
from streams.state import Stores
from streams.state.timestamped import ValueAndTimestamp
from streams.testing import TopologyTestDriver

S = serdes.String()


class _Latest(Processor):
    """Keeps each key's latest value with its timestamp, and the window of 10 ms it fell in."""

    def init(self, context: Any) -> None:
        super().init(context)
        self.table = context.get_state_store("latest")
        self.windows = context.get_state_store("per-window")

    def process(self, record: Record) -> None:
        self.table.put(record.key, ValueAndTimestamp(record.value, record.timestamp))
        start = record.timestamp - record.timestamp % 10
        self.windows.put(record.key, ValueAndTimestamp(record.value, record.timestamp), start)


def test_processor_api_stores_of_values_with_timestamps() -> None:
    t = Topology()
    t.add_source("src", ["in"], key_serde=S, value_serde=S)
    t.add_processor("latest", _Latest, "src")
    t.add_state_store(Stores.timestamped_key_value_store_builder(
        Stores.persistent_key_value_store("latest"), S, S), "latest")
    t.add_state_store(Stores.timestamped_window_store_builder(
        Stores.in_memory_window_store("per-window", 100, 10), S, S), "latest")
    with TopologyTestDriver(t, {"application.id": "ts"}) as d:
        i = d.create_input_topic("in", S, S)
        i.pipe_input("k", "a", 3)
        i.pipe_input("k", "b", 14)
        got = d.get_timestamped_key_value_store("latest").get("k")
        assert (got.value, got.timestamp) == ("b", 14)
        windows = list(d.get_window_store("per-window").fetch("k", 0, 100))
        assert windows == [(0, "a"), (10, "b")]  # the driver's view shows plain values
    assert t.stores["latest"].store_type == "timestamped_key_value"
    assert t.stores["per-window"].store_type == "timestamped_window"
