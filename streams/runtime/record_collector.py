"""The runtime's RecordCollector: one Kafka producer per stream thread.

Records are produced asynchronously; :meth:`KafkaRecordCollector.flush` (at every commit)
waits for all of them and raises if any failed, so offsets are never committed past a record
that was not written. Delivery reports are requested for errors only (no per-record callback on
the hot path); changelog positions for checkpoints are read from the brokers after a flush.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from streams.errors import ProductionError

__all__ = ["KafkaRecordCollector", "ProductionError"]

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes | None]]

class KafkaRecordCollector:
    """Sends serialized records through a confluent-kafka Producer."""

    def __init__(self, producer: Producer, name: str) -> None:
        self._producer = producer
        self._produce = producer.produce
        self._poll = producer.poll
        self.name = name
        self._errors: list[str] = []
        self._partition_counts: dict[str, int] = {}
        self._since_poll = 0

    def on_delivery(self, err: KafkaError | None, msg: Any) -> None:
        """Delivery report callback (errors only)."""
        if err is not None:
            self._errors.append(
                f"topic={msg.topic()!r} partition={msg.partition()}: {err.str()}"
            )

    def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Any,
             timestamp: int, partition: int | None = None) -> None:
        """Queue one record; blocks briefly (serving delivery reports) if the queue is full."""
        while True:
            try:
                # passing headers=None still costs librdkafka a conversion: leave it out
                if partition is None:
                    if headers is None:
                        self._produce(topic, value, key, timestamp=timestamp)
                    else:
                        self._produce(topic, value, key, timestamp=timestamp, headers=headers)
                else:
                    self._produce(topic, value, key, partition, timestamp=timestamp,
                                  headers=headers)
                break
            except BufferError:
                self._poll(0.05)
            except KafkaException as exc:
                raise ProductionError(f"could not send to topic {topic!r}: {exc}") from exc

    def maintain(self) -> None:
        """Serve delivery reports and raise on failed sends; the stream thread calls this once
        per loop iteration instead of per record."""
        self._poll(0)
        if self._errors:
            self.check_errors()

    def partitions_for(self, topic: str) -> int | None:
        """Partition count of ``topic`` (cached)."""
        n = self._partition_counts.get(topic)
        if n is None:
            md = self._producer.list_topics(topic, timeout=10)
            t = md.topics.get(topic)
            if t is None or t.error is not None or not t.partitions:
                return None
            n = self._partition_counts[topic] = len(t.partitions)
        return n

    def check_errors(self) -> None:
        """Raise if any record failed to be delivered."""
        if self._errors:
            errors, self._errors = self._errors, []
            raise ProductionError(
                f"{len(errors)} record(s) could not be written by {self.name}; first: {errors[0]}"
            )

    def replace_producer(self, producer: Producer) -> None:
        """Send through ``producer`` from now on (the old one failed fatally)."""
        self._producer = producer
        self._produce = producer.produce
        self._poll = producer.poll
        self._partition_counts.clear()

    def discard_errors(self) -> None:
        """Forget delivery failures seen so far: after a transaction is aborted they belong
        to records that are void anyway."""
        if self._errors:
            log.info("%s: %d delivery failure(s) of the aborted transaction discarded; first: %s",
                     self.name, len(self._errors), self._errors[0])
        self._errors = []

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until every queued record is acknowledged; raise on failures or timeout."""
        remaining = self._producer.flush(timeout)
        self.check_errors()
        if remaining:
            raise ProductionError(
                f"{remaining} record(s) of {self.name} were not acknowledged within {timeout}s"
            )

    def close(self) -> None:
        """Flush what is left (best effort) before the producer is dropped."""
        try:
            self._producer.flush(10)
        except Exception as exc:  # closing anyway; report, don't mask the caller's error
            log.warning("%s: flush on close failed: %s", self.name, exc)
