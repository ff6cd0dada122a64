"""The plain confluent-kafka consume -> process -> produce loop (the Python floor) of
``benchmarks.compare``, for the four workloads. Runs until SIGTERM.

Same producer settings as the runtime's collector (acks=all, idempotence, linger.ms=5, murmur2),
``consume(num_messages=1000)``, producer flush + synchronous offset commit every
``--commit-ms``. State lives in dicts: no changelog, no repartition topic, so nothing survives
a crash. For the join the loop first reads the whole customers topic into a dict, then the
orders.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from benchmarks.peers.common import (
    LONG,
    WINDOW_MS,
    exit_on_sigterm,
    join_value,
    keep,
    mark_first,
    parse_args,
    transform,
    windowed_key,
)

BATCH = 1000


def load_table(bootstrap: str, topic: str, consumer_settings: dict[str, str]) -> dict[bytes, bytes]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "plain-table-loader",
                  "enable.auto.commit": False, **consumer_settings})
    md = c.list_topics(topic, timeout=10).topics[topic]
    parts = sorted(md.partitions)
    ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    pending = {p for p, hi in ends.items() if hi > 0}
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
    table: dict[bytes, bytes] = {}
    while pending:
        for m in c.consume(BATCH, 0.1):
            if m.error():
                raise RuntimeError(f"plain loop: {m.error()}")
            table[m.key()] = m.value()
            if m.offset() + 1 >= ends[m.partition()]:
                pending.discard(m.partition())
    c.close()
    return table


def main(argv: list[str] | None = None) -> int:
    a = parse_args("plain_worker", argv)
    from confluent_kafka import Consumer, Producer, TopicPartition

    from benchmarks.runtime_bench import _producer_config

    exit_on_sigterm()
    consumer_settings = {"fetch.queue.backoff.ms": "100"}
    consumer_settings.update({k[len("consumer."):]: v for k, v in a.settings.items()
                              if k.startswith("consumer.")})
    table = load_table(a.bootstrap, a.table, consumer_settings) if a.workload == "join" else {}
    consumer = Consumer({
        "bootstrap.servers": a.bootstrap, "group.id": a.app_id, "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "partition.assignment.strategy": "range",
        **consumer_settings,
    })
    producer = Producer(_producer_config(a.bootstrap))
    consumer.subscribe([a.input])
    produce, poll = producer.produce, producer.poll
    out = a.output
    offsets: dict[int, int] = {}
    counts: dict[Any, int] = {}
    pack = LONG.pack

    def send(value: bytes, key: bytes, ts: int) -> None:
        while True:
            try:
                produce(out, value, key, timestamp=ts)
                return
            except BufferError:
                poll(0.05)

    def commit() -> None:
        if producer.flush(60):
            raise RuntimeError("plain loop: producer flush timed out")
        if offsets:
            consumer.commit(offsets=[TopicPartition(a.input, p, o + 1) for p, o in offsets.items()],
                            asynchronous=False)
            offsets.clear()

    last_commit = time.monotonic()
    while True:
        msgs = consumer.consume(num_messages=BATCH, timeout=0.1)
        if msgs:
            mark_first()
        for m in msgs:
            if m.error():
                raise RuntimeError(f"plain loop: consumer error {m.error()}")
            ts = m.timestamp()[1]
            if a.workload == "stateless":
                value = m.value().decode()
                if keep(value):
                    send(transform(value).encode(), m.key(), ts)
            elif a.workload == "wordcount":
                for word in m.value().decode().split():
                    n = counts.get(word, 0) + 1
                    counts[word] = n
                    send(pack(n), word.encode(), ts)
            elif a.workload == "windowed":
                wkey = windowed_key(m.key(), ts - ts % WINDOW_MS)
                n = counts.get(wkey, 0) + 1
                counts[wkey] = n
                send(pack(n), wkey, ts)
            else:
                customer = table.get(m.key())
                if customer is not None:
                    send(join_value(m.value().decode(), customer.decode()).encode(), m.key(), ts)
            offsets[m.partition()] = m.offset()
        if msgs:
            poll(0)
        now = time.monotonic()
        if now - last_commit >= a.commit_ms / 1000:
            commit()
            last_commit = now


if __name__ == "__main__":
    sys.exit(main())
