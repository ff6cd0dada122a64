"""Reading a partition's low and high watermarks from the broker, riding out the moments after
a topic is created or a leader moves, when the broker answers "not leader" or "unknown
partition" for a while."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from streams.errors import KafkaUnavailableError

#: errors that go away by themselves once metadata settles
_RETRIABLE = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
    KafkaError.NOT_COORDINATOR,
}


def watermarks(consumer: Any, topic: str, partition: int, timeout: float = 30.0) -> tuple[int, int]:
    """``(low, high)`` offsets of ``topic``-``partition`` as the broker has them now; retries
    transient errors until ``timeout`` seconds have passed, then raises
    :class:`~streams.errors.KafkaUnavailableError` naming the partition."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        left = deadline - time.monotonic()
        try:
            marks = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                   timeout=max(left, 0.1), cached=False)
            if marks is not None:
                return int(marks[0]), int(marks[1])
            error = "no answer"
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if not isinstance(err, KafkaError) or err.code() not in _RETRIABLE:
                raise KafkaUnavailableError(
                    f"could not read the offsets of {topic}-{partition}: {exc}") from exc
            error = str(err)
        if time.monotonic() + delay > deadline:
            raise KafkaUnavailableError(
                f"could not read the offsets of {topic}-{partition} within {timeout:.0f} s "
                f"(last error: {error})")
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
