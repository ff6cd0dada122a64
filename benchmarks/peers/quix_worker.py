"""Quix Streams worker of ``benchmarks.compare`` (runs in its own venv; see requirements-quix.txt).

    <venv>/bin/python -m benchmarks.peers.quix_worker WORKLOAD --bootstrap ... --input ...

Runs until SIGTERM. Keys and values are plain strings / bytes (no JSON), counts are 8-byte
big-endian longs, windowed keys use Kafka Streams' layout, as in every other system.
"""

from __future__ import annotations

import sys
from typing import Any

from benchmarks.peers.common import (
    GRACE_MS,
    LONG,
    WINDOW_MS,
    exit_on_sigterm,
    join_value,
    keep_first,
    mark_first,
    parse_args,
    split_words,
    transform,
    windowed_key,
)


def main(argv: list[str] | None = None) -> int:
    a = parse_args("quix_worker", argv)
    exit_on_sigterm()
    from quixstreams import Application
    from quixstreams.models.serializers import Serializer

    class Second(Serializer):
        """Value serializer of ``(key, value)`` tuples: writes the value (bytes) only."""

        def __call__(self, value: Any, ctx: Any) -> bytes:
            return value[1]

    consumer = {"fetch.queue.backoff.ms": "100"}
    consumer.update({k[len("consumer."):]: v for k, v in a.settings.items()
                     if k.startswith("consumer.")})
    app = Application(
        broker_address=a.bootstrap, consumer_group=a.app_id, auto_offset_reset="earliest",
        commit_interval=a.commit_ms / 1000, state_dir=a.state_dir, loglevel="WARNING",
        consumer_extra_config=consumer, processing_guarantee="at-least-once",
    )
    inp = app.topic(a.input, key_deserializer="str", value_deserializer="str")
    if a.workload == "stateless":
        out = app.topic(a.output, key_serializer="str", value_serializer="str")
        sdf = app.dataframe(inp).filter(keep_first).apply(transform)
        sdf.to_topic(out)
    elif a.workload == "wordcount":
        out = app.topic(a.output, key_serializer="str", value_serializer="bytes")

        def count(word: str, state: Any) -> bytes:
            n = state.get("n", 0) + 1
            state.set("n", n)
            return LONG.pack(n)

        sdf = app.dataframe(inp).apply(split_words, expand=True)
        sdf = sdf.group_by(lambda word: word, name="word")  # repartition topic, as the others
        sdf = sdf.apply(count, stateful=True)
        sdf.to_topic(out)
    elif a.workload == "windowed":
        out = app.topic(a.output, key_serializer="bytes", value_serializer=Second())

        def encode(window: dict[str, Any], key: str, ts: int, headers: Any) -> tuple[bytes, bytes]:
            return windowed_key(key.encode(), window["start"]), LONG.pack(window["value"])

        sdf = app.dataframe(inp).update(lambda v: mark_first())
        sdf = sdf.tumbling_window(duration_ms=WINDOW_MS, grace_ms=GRACE_MS).count().current()
        sdf = sdf.apply(encode, metadata=True)
        sdf.to_topic(out, key=lambda kv: kv[0])
    else:  # join: Quix's join_asof (the table side is kept per key in a RocksDB store)
        out = app.topic(a.output, key_serializer="str", value_serializer="str")
        table = app.topic(a.table, key_deserializer="str", value_deserializer="str")
        orders = app.dataframe(inp).update(lambda v: mark_first())
        customers = app.dataframe(table)
        sdf = orders.join_asof(customers, how="inner", on_merge=join_value)
        sdf.to_topic(out)
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
