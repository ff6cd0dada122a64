"""The runtime: KafkaStreams, stream threads, tasks, restoration and internal topics."""

from typing import Any

__all__ = ["KafkaStreams", "State", "StreamThreadExceptionResponse"]


def __getattr__(name: str) -> Any:
    # imported lazily so that TopologyTestDriver users never load the Kafka client machinery
    if name in __all__:
        from streams.runtime import kafka_streams

        return getattr(kafka_streams, name)
    raise AttributeError(name)
