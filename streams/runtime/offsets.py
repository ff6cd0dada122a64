"""Reading a partition's low and high watermarks from the broker, riding out the moments after
a topic is created or a leader moves, when the broker answers "not leader" or "unknown
partition" for a while."""

from __future__ import annotations

from typing import Any

from confluent_kafka import TopicPartition

from streams.runtime.retries import retrying


def watermarks(consumer: Any, topic: str, partition: int, timeout: float = 30.0) -> tuple[int, int]:
    """``(low, high)`` offsets of ``topic``-``partition`` as the broker has them now; retries
    transient errors until ``timeout`` seconds have passed, then raises
    :class:`~streams.errors.KafkaUnavailableError` naming the partition."""
    tp = TopicPartition(topic, partition)

    def read(attempt_timeout: float) -> tuple[int, int] | None:
        marks = consumer.get_watermark_offsets(tp, timeout=attempt_timeout, cached=False)
        return None if marks is None else (int(marks[0]), int(marks[1]))

    def refresh() -> None:
        # a client that neither fetches nor subscribes to the topic keeps its cached metadata:
        # after a broker dies it answers "unknown partition" until asked to look again
        consumer.list_topics(topic, timeout=2.0)

    return retrying(f"could not read the offsets of {topic}-{partition}", read, timeout,
                    on_retry=refresh)
