"""What a Kafka Streams user looks for first is importable from the top-level package."""

from __future__ import annotations


def test_kafka_streams_and_its_states_come_from_the_top_level_package() -> None:
    import streams
    from streams.runtime.kafka_streams import KafkaStreams, State

    assert streams.KafkaStreams is KafkaStreams and streams.State is State
    assert {"KafkaStreams", "State", "StreamsBuilder", "Topology"} <= set(streams.__all__)
