"""Page views per user per minute: a windowed count.

Reads page views from ``page-views`` (string key = user id, string value = the page; the
record timestamp is when the page was viewed), counts them per user in one-minute tumbling
windows that accept late views for 10 seconds, and writes every updated count to
``views-per-minute``. Its keys are windowed: ``TimeWindowedSerde(String(), 60_000)``, i.e. the
user id followed by the window start as an 8-byte big-endian long (as Kafka Streams'
``WindowedSerdes.timeWindowedSerdeFrom(String.class, 60_000)``); its values are longs.

A view that arrives more than 10 seconds after its minute ended (by stream time, the largest
timestamp seen so far) is dropped, counted in the task's dropped-records metric and logged at
debug level. Counts are emitted on every view, not once per window (see docs/windowing.md).

Print the topology with::

    python -m examples.windowed_count

Run it against a broker with::

    streams run examples.windowed_count:app

The topic names are module constants; the environment variables ``WINDOWED_COUNT_INPUT`` and
``WINDOWED_COUNT_OUTPUT`` override them (read when the module is imported), so several copies
can run side by side on one cluster. Importing this module has no other side effects: ``app``
is the function that builds the topology.
"""

from __future__ import annotations

import os
from typing import Any

from streams import Consumed, Materialized, Produced, StreamsBuilder, Topology, serdes
from streams.dsl.window_specs import TimeWindows

INPUT_TOPIC = os.environ.get("WINDOWED_COUNT_INPUT", "page-views")
OUTPUT_TOPIC = os.environ.get("WINDOWED_COUNT_OUTPUT", "views-per-minute")
STORE_NAME = "views-per-minute-store"
WINDOW_MS = 60_000
GRACE_MS = 10_000

#: Configuration the runner starts from (``--set``/config files/environment override it).
CONFIG: dict[str, Any] = {
    "application.id": "windowed-count",
    "bootstrap.servers": "localhost:9092",
}


def build_topology() -> Topology:
    """page-views -> group by user -> 1-minute windows (10 s grace) -> count -> views-per-minute."""
    builder = StreamsBuilder()
    (
        builder.stream(INPUT_TOPIC, Consumed(key_serde=serdes.String(), value_serde=serdes.String()))
        .group_by_key()
        .windowed_by(TimeWindows.of_size_and_grace(WINDOW_MS, GRACE_MS))
        .count(Materialized(name=STORE_NAME))
        .to_stream()
        .to(OUTPUT_TOPIC, Produced(key_serde=serdes.TimeWindowedSerde(serdes.String(), WINDOW_MS),
                                   value_serde=serdes.Long()))
    )
    return builder.build()


#: What ``streams run examples.windowed_count:app`` runs (a function returning the Topology).
app = build_topology


if __name__ == "__main__":
    print(build_topology().describe())
