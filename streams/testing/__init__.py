"""Testing tools: TopologyTestDriver (no broker) and a local Apache Kafka launcher.

``LocalKafka`` is imported lazily so that driver-only tests load nothing Kafka-specific.
"""

from typing import Any

from streams.testing.driver import (
    NoSuchElementError,
    TestInputTopic,
    TestOutputTopic,
    TestRecord,
    TopologyTestDriver,
)

__all__ = [
    "LocalKafka",
    "NoSuchElementError",
    "TestInputTopic",
    "TestOutputTopic",
    "TestRecord",
    "TopologyTestDriver",
]


def __getattr__(name: str) -> Any:
    if name == "LocalKafka":
        from streams.testing.local_kafka import LocalKafka

        return LocalKafka
    raise AttributeError(name)
