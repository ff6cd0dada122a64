"""How far a stream thread's consumer trails the end of each input partition.

A task with several input partitions (a join, a merge of topics) may only skip an empty input
when nothing is waiting on the broker for it; otherwise it would process one side before the
other side's earlier records and, for a stream-table join, miss table rows. This is Kafka
Streams' "fetched lag" (KIP-695), which :meth:`streams.engine.task.Task.process` consults
through :meth:`FetchedLags.lag`.

librdkafka gives the partition's end as the high watermark of the last fetch response (the
last stable offset under ``read_committed``) and the position as the offset after the last
record handed to the application, past transaction markers. Until a record of a partition has
been handed over, the position is unknown; the offset the partition was assigned at stands in.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import TopicPartition as KafkaTopicPartition

#: the lag of a partition whose end or position is not known yet
UNKNOWN = -1


class FetchedLags:
    """Fetched lags of the partitions a consumer was assigned at explicit offsets."""

    def __init__(self, consumer: Any) -> None:
        self._consumer = consumer
        self._start: dict[tuple[str, int], int] = {}

    def use(self, consumer: Any) -> None:
        """Read lags from ``consumer`` from now on (the thread replaced its main consumer)."""
        self._consumer = consumer

    def track(self, starts: dict[tuple[str, int], int]) -> None:
        """Remember where partitions start (their committed or reset offsets) at assignment."""
        self._start.update(starts)

    def clear(self) -> None:
        """Forget every partition (on revocation)."""
        self._start.clear()

    def lag(self, tp: tuple[str, int]) -> int:
        """Records on the broker not yet handed to the application; :data:`UNKNOWN` until the
        partition's end has been seen in a fetch response."""
        ktp = KafkaTopicPartition(tp[0], tp[1])
        marks = self._consumer.get_watermark_offsets(ktp, cached=True)
        if not marks:
            return UNKNOWN
        low, high = marks
        if high < 0:
            return UNKNOWN
        position = self._consumer.position([ktp])[0].offset
        if position < 0:
            position = self._start.get(tp, UNKNOWN)
            if position < 0:
                return UNKNOWN
            # records before the log start were deleted: they will never come
            position = max(position, low)
        return high - position if high > position else 0
