"""Where sink nodes and changelogging stores send serialized records.

The runtime's collector (:class:`~streams.runtime.record_collector.KafkaRecordCollector`) wraps
a Kafka producer; :class:`InMemoryCollector`, the test driver's, keeps records in memory. Both
implement :class:`RecordCollector`, so the Task code is the same.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from streams.errors import StreamsError

Headers = Sequence[tuple[str, bytes | None]]


class RecordCollector(Protocol):
    """Accepts serialized records for a topic; the partition is chosen by key when None."""

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None,
        timestamp: int,
        partition: int | None = None,
    ) -> None:
        """Queue one record for ``topic``."""
        ...

    def partitions_for(self, topic: str) -> int | None:
        """Partition count of ``topic`` if known (used by custom partitioners)."""
        ...


class ProducedRecord:
    """A record an :class:`InMemoryCollector` received."""

    __slots__ = ("headers", "key", "partition", "timestamp", "topic", "value")

    def __init__(self, topic: str, key: bytes | None, value: bytes | None, headers: Any,
                 timestamp: int, partition: int | None) -> None:
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
        self.partition = partition


class InMemoryCollector:
    """Keeps every record, per topic and in one queue of records not yet taken; every topic
    has one partition. The test driver's collector."""

    def __init__(self) -> None:
        self.by_topic: dict[str, list[ProducedRecord]] = {}
        #: records sent and not yet taken (the driver feeds them to the tasks that read them)
        self.pending: deque[ProducedRecord] = deque()

    def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Any,
             timestamp: int, partition: int | None = None) -> None:
        """Keep one record."""
        rec = ProducedRecord(topic, key, value, list(headers) if headers else None, timestamp,
                             partition)
        self.by_topic.setdefault(topic, []).append(rec)
        self.pending.append(rec)

    def partitions_for(self, topic: str) -> int | None:
        """Always 1."""
        return 1


class NoOutputCollector:
    """For global tasks, which maintain stores and write nowhere: a send is a topology bug."""

    def send(self, topic: str, *args: Any, **kwargs: Any) -> None:
        """Raise, naming the topic."""
        raise StreamsError(f"a global store processor tried to write to topic {topic!r}")

    def partitions_for(self, topic: str) -> int | None:
        """Unknown."""
        return None
