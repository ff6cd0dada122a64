"""KafkaRecordCollector on a fake producer: refused sends and failed deliveries are errors
that name the topic, never silent drops."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from streams.errors import ProductionError
from streams.runtime.record_collector import KafkaRecordCollector


class RefusingProducer:
    """Refuses records above ``limit`` bytes as librdkafka does (message.max.bytes)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent: list[tuple[str, bytes | None]] = []

    def produce(self, topic: str, value: bytes | None, key: bytes | None = None,
                *args: Any, **kwargs: Any) -> None:
        if value is not None and len(value) > self.limit:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE,
                                            "Message size too large"))
        self.sent.append((topic, value))

    def poll(self, timeout: float) -> int:
        return 0


def test_a_refused_record_raises_production_error_naming_the_topic() -> None:
    producer = RefusingProducer(limit=10)
    collector = KafkaRecordCollector(producer, "T-1")  # type: ignore[arg-type]
    collector.send("words", b"k", b"short", None, 1)
    with pytest.raises(ProductionError, match=r"could not send to topic 'words'.*too large"):
        collector.send("words", b"k", b"x" * 11, None, 2)
    assert producer.sent == [("words", b"short")]


class _Msg:
    def topic(self) -> str:
        return "words"

    def partition(self) -> int:
        return 2


def test_a_failed_delivery_is_raised_at_the_next_check() -> None:
    collector = KafkaRecordCollector(RefusingProducer(limit=100), "T-1")  # type: ignore[arg-type]
    collector.on_delivery(KafkaError(KafkaError.NOT_ENOUGH_REPLICAS, "not enough replicas"),
                          _Msg())
    with pytest.raises(ProductionError, match=r"1 record\(s\) could not be written by T-1; "
                                              r"first: topic='words' partition=2"):
        collector.maintain()
    collector.maintain()  # reported once
