"""Three-node cluster: a partition leader goes away and comes back while a producer keeps
writing; with replication factor 3, min.insync.replicas 2 and an idempotent acks=all producer,
nothing is lost and nothing is doubled."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from typing import Any

import pytest
from confluent_kafka import Producer

from streams.testing import clients
from streams.testing.local_kafka import LocalKafka


class ContinuousProducer(threading.Thread):
    """One idempotent ``acks=all`` producer writing ``key-<n % 20>`` -> ``<seq>`` until stopped."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.topic = topic
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "partitioner": "murmur2_random",
                "linger.ms": 5,
                "logger": clients._quiet_logger(),
            }
        )
        self.sent = 0
        self.acked: list[int] = []
        self.errors: list[str] = []
        self._halt = threading.Event()

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(str(err))
        else:
            self.acked.append(int(msg.value()))

    def run(self) -> None:
        while not self._halt.is_set():
            seq = self.sent
            try:
                self.producer.produce(
                    self.topic, key=f"key-{seq % 20}", value=str(seq), on_delivery=self._on_delivery
                )
            except BufferError:
                self.producer.poll(0.1)
                continue
            self.sent += 1
            self.producer.poll(0)
            time.sleep(0.002)

    def wait_for_acks(self, count: int, timeout: float) -> None:
        """Block until ``count`` records are acknowledged (the producer keeps running)."""
        deadline = time.monotonic() + timeout
        while len(self.acked) < count:
            assert time.monotonic() < deadline, f"only {len(self.acked)} of {count} acked"
            time.sleep(0.05)

    def finish(self, timeout: float = 60.0) -> None:
        """Stop producing and wait for every outstanding acknowledgement."""
        self._halt.set()
        self.join(timeout)
        assert self.producer.flush(timeout) == 0, "records left unacknowledged"


def _wait_for_isr(bootstrap: str, topic: str, size: int, timeout: float = 60.0) -> dict[int, Any]:
    deadline = time.monotonic() + timeout
    while True:
        parts = clients.topic_partitions(bootstrap, topic)
        if parts and all(len(p.isrs) == size for p in parts.values()):
            return parts
        assert time.monotonic() < deadline, {p: m.isrs for p, m in parts.items()}
        time.sleep(0.2)


def _wait_for_leader_other_than(
    bootstrap: str, topic: str, node: int, timeout: float = 30.0
) -> None:
    # Surviving brokers learn about the new leaders from the metadata log a moment later.
    deadline = time.monotonic() + timeout
    while True:
        parts = clients.topic_partitions(bootstrap, topic)
        if parts and all(p.leader not in (node, -1) for p in parts.values()):
            return
        assert time.monotonic() < deadline, {p: m.leader for p, m in parts.items()}
        time.sleep(0.1)


@pytest.mark.timeout(300)
def test_leader_restart_loses_and_duplicates_nothing(three_node_kafka: LocalKafka) -> None:
    kafka = three_node_kafka
    bootstrap = kafka.bootstrap_servers
    assert len(bootstrap.split(",")) == 3
    topic = kafka.create_topic(
        f"failover-{uuid.uuid4().hex[:8]}",
        partitions=3,
        replication_factor=3,
        config={"min.insync.replicas": "2"},
    )
    parts = _wait_for_isr(bootstrap, topic, 3)
    assert all(sorted(p.replicas) == [0, 1, 2] for p in parts.values())
    victim = parts[0].leader

    producer = ContinuousProducer(bootstrap, topic)
    producer.start()
    producer.wait_for_acks(300, timeout=60)

    kafka.stop_node(victim)
    assert not kafka.is_running(victim)
    _wait_for_leader_other_than(bootstrap, topic, victim)
    acked_before_restart = len(producer.acked)
    producer.wait_for_acks(acked_before_restart + 300, timeout=60)  # 2 of 3 in sync suffices

    kafka.start_node(victim)
    assert kafka.is_running()
    producer.wait_for_acks(len(producer.acked) + 300, timeout=60)
    _wait_for_isr(bootstrap, topic, 3)  # the restarted node caught up and rejoined every ISR
    producer.finish()

    assert producer.errors == []
    assert len(producer.acked) == producer.sent
    records = kafka.consume_all(topic, timeout=60)
    seqs = [int(r.value) for r in records]
    assert len(seqs) == len(set(seqs)), "duplicates in the topic"
    assert sorted(seqs) == list(range(producer.sent)), "records lost"
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_key[r.key].append(int(r.value))
    assert all(s == sorted(s) for s in by_key.values()), "per-key order broken"
