"""Reading watermarks rides out the errors a broker gives right after a topic is created."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from streams.errors import KafkaUnavailableError
from streams.runtime.offsets import watermarks


class FlakyConsumer:
    def __init__(self, errors: list[int], marks: tuple[int, int] = (3, 9)) -> None:
        self.errors = errors
        self.marks = marks
        self.calls = 0
        self.refreshed: list[str] = []

    def list_topics(self, topic: str, timeout: float) -> None:
        self.refreshed.append(topic)

    def get_watermark_offsets(self, tp: Any, timeout: float, cached: bool) -> tuple[int, int]:
        assert not cached
        self.calls += 1
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return self.marks


def test_not_leader_and_unknown_partition_are_retried() -> None:
    consumer = FlakyConsumer([KafkaError.NOT_LEADER_FOR_PARTITION,
                              KafkaError.UNKNOWN_TOPIC_OR_PART])
    assert watermarks(consumer, "t", 0) == (3, 9)
    assert consumer.calls == 3


def test_other_errors_fail_at_once_naming_the_partition() -> None:
    consumer = FlakyConsumer([KafkaError.TOPIC_AUTHORIZATION_FAILED])
    with pytest.raises(KafkaUnavailableError, match="offsets of t-4"):
        watermarks(consumer, "t", 4)
    assert consumer.calls == 1


def test_a_partition_that_never_settles_times_out() -> None:
    consumer = FlakyConsumer([KafkaError.LEADER_NOT_AVAILABLE] * 1000)
    with pytest.raises(KafkaUnavailableError, match=r"offsets of t-1 within 0 s"):
        watermarks(consumer, "t", 1, timeout=0.3)
    assert consumer.calls >= 2


def test_unknown_partition_after_a_broker_kill_is_retried() -> None:
    # issue #16: librdkafka's local _UNKNOWN_PARTITION (-190), seen while partitions move after
    # a broker dies, killed the stream thread on its first occurrence
    consumer = FlakyConsumer([KafkaError._UNKNOWN_PARTITION, KafkaError._TRANSPORT,
                              KafkaError.NOT_COORDINATOR])
    assert watermarks(consumer, "t", 3) == (3, 9)
    assert consumer.calls == 4
    # each retry first asks for the topic's metadata again: a client that does not fetch the
    # topic otherwise keeps answering from its stale cache after the broker died
    assert consumer.refreshed == ["t", "t", "t"]
