"""This project's worker for ``benchmarks.compare``: the four workloads as ``KafkaStreams`` apps.

    python3 -m benchmarks.workers_streams WORKLOAD --bootstrap ... --input ... --output ...

Runs until SIGTERM. One stream thread, ``commit.interval.ms`` from ``--commit-ms``, the
consumer's ``fetch.queue.backoff.ms=100`` (as in ``runtime_bench``); ``--set KEY=VALUE``
adds or overrides any streams config key (``max.poll.records``, ``statestore.cache.max.bytes``,
``default.dsl.store``, ``producer.linger.ms``, ...), which is how the tuning guide's figures
were measured; ``--set bench.join=global`` runs the join as KStream-GlobalKTable instead of
KStream-KTable.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from benchmarks.peers.common import (
    GRACE_MS,
    WINDOW_MS,
    exit_on_sigterm,
    join_value,
    keep_first,
    mark_first,
    parse_args,
    split_words,
    transform,
)

DEFAULT_SETTINGS = {"consumer.fetch.queue.backoff.ms": "100"}


def build(workload: str, a: Any, config: dict[str, Any] | None = None) -> Any:
    from streams import Consumed, Grouped, Materialized, Produced, StreamsBuilder, serdes
    from streams.dsl.window_specs import TimeWindows

    s = serdes.String()
    b = StreamsBuilder(config)  # the config: for default.dsl.store
    src = b.stream(a.input, Consumed(key_serde=s, value_serde=s))
    if workload == "stateless":
        src.filter(keep_first).map_values(transform).to(a.output, Produced(key_serde=s,
                                                                           value_serde=s))
    elif workload == "wordcount":
        (src.flat_map_values(split_words)
            .group_by(lambda _k, word: word, Grouped(key_serde=s, value_serde=s))
            .count(Materialized(name="counts"))
            .to_stream()
            .to(a.output, Produced(key_serde=s, value_serde=serdes.Long())))
    elif workload == "windowed":
        (src.peek(lambda _k, _v: mark_first())
            .group_by_key()
            .windowed_by(TimeWindows.of_size_and_grace(WINDOW_MS, GRACE_MS))
            .count(Materialized(name="window-counts"))
            .to_stream()
            .to(a.output, Produced(key_serde=serdes.TimeWindowedSerde(s, WINDOW_MS),
                                   value_serde=serdes.Long())))
    elif a.join == "ktable":  # KStream-KTable, as the Java worker; max.task.idle.ms makes the
        # task read the customers partition up to its end before it joins later orders
        customers = b.table(a.table, Consumed(key_serde=s, value_serde=s),
                            Materialized(name="customers"))
        (src.peek(lambda _k, _v: mark_first())
            .join(customers, join_value)
            .to(a.output, Produced(key_serde=s, value_serde=s)))
    else:  # KStream-GlobalKTable: the table is loaded before any order is processed
        gcustomers = b.global_table(a.table, Consumed(key_serde=s, value_serde=s),
                                    Materialized(name="customers"))
        (src.peek(lambda _k, _v: mark_first())
            .join(gcustomers, lambda key, _order: key, join_value)
            .to(a.output, Produced(key_serde=s, value_serde=s)))
    return b.build()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    a = parse_args("workers_streams", argv)
    # the join: "ktable" (default, as the Java worker) or "global"
    a.join = a.settings.pop("bench.join", "ktable")
    from streams.runtime import KafkaStreams
    from streams.runtime.kafka_streams import State

    config: dict[str, Any] = {
        "application.id": a.app_id, "bootstrap.servers": a.bootstrap, "state.dir": a.state_dir,
        "commit.interval.ms": a.commit_ms, "num.stream.threads": 1,
        **DEFAULT_SETTINGS, **a.settings,
    }
    app = KafkaStreams(build(a.workload, a, config), config)
    exit_on_sigterm()
    app.start()
    try:
        while True:
            time.sleep(0.2)
            if app.state in (State.ERROR, State.PENDING_ERROR, State.NOT_RUNNING):
                failures = [t.failure for t in app.threads if t.failure]
                print(f"streams app stopped in state {app.state.value}: {failures}",
                      file=sys.stderr, flush=True)
                return 1
    finally:
        app.close(10)


if __name__ == "__main__":
    sys.exit(main())
