"""Start-up checks against the broker: what must exist, what must match, what gets created."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import ConfigResource
from wordcount_app import build_topology

from streams import Consumed, Grouped, Materialized, Produced, Repartitioned, StreamsBuilder, serdes
from streams.errors import TopologyError
from streams.runtime.internal_topics import MissingSourceTopicError
from streams.runtime.kafka_streams import State
from streams.testing import clients

pytestmark = pytest.mark.integration


def _topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    admin = clients.admin_client(bootstrap)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(10)
    return {name: entry.value for name, entry in entries.items()}


def _partitions(bootstrap: str, topic: str) -> int:
    return len(clients.topic_partitions(bootstrap, topic))


@pytest.mark.timeout(60)
def test_missing_source_topic_fails_at_start(app_factory, topic_factory):
    counts_topic = topic_factory("counts")
    missing = f"no-such-topic-{app_factory.app_id}"
    app = app_factory(build_topology(missing, counts_topic))
    with pytest.raises(MissingSourceTopicError) as info:
        app.start()
    assert missing in str(info.value)
    assert "create" in str(info.value)
    assert app.state == State.CREATED  # nothing started
    assert app.threads == []
    assert app.close(5)


@pytest.mark.timeout(60)
def test_inputs_of_one_subtopology_must_be_copartitioned(app_factory, topic_factory):
    left = topic_factory("left", partitions=2)
    right = topic_factory("right", partitions=3)
    out = topic_factory("out")
    builder = StreamsBuilder()
    # two topics read by one stateful sub-topology: partition p of both must meet in task x_p
    (builder.stream([left, right], Consumed(key_serde=serdes.String(), value_serde=serdes.String()))
     .group_by_key()
     .count(Materialized(name="merged-counts"))
     .to_stream().to(out, Produced(key_serde=serdes.String(), value_serde=serdes.Long())))
    app = app_factory(builder.build())
    with pytest.raises(TopologyError) as info:
        app.start()
    message = str(info.value)
    assert "co-partitioned" in message
    assert f"{left}=2" in message and f"{right}=3" in message
    assert app.state == State.CREATED


@pytest.mark.timeout(60)
def test_existing_internal_topic_with_wrong_partition_count(app_factory, topic_factory,
                                                            kafka_bootstrap):
    lines = topic_factory("lines", partitions=3)
    counts = topic_factory("counts")
    changelog = f"{app_factory.app_id}-counts-changelog"
    clients.create_topic(kafka_bootstrap, changelog, partitions=1)  # left from an older run
    app = app_factory(build_topology(lines, counts))
    with pytest.raises(TopologyError) as info:
        app.start()
    message = str(info.value)
    assert changelog in message
    assert "has 1 partitions" in message and "needs 3" in message
    assert "delete" in message.lower() and "internal topics" in message  # says what to do


@pytest.mark.timeout(90)
def test_internal_topics_are_created_as_planned(app_factory, topic_factory, kafka_bootstrap):
    orders = topic_factory("orders", partitions=4)
    out = topic_factory("out")
    builder = StreamsBuilder()
    stream = builder.stream(orders, Consumed(key_serde=serdes.String(), value_serde=serdes.String()))
    # an implicit repartition (group_by) follows the upstream partition count: 4
    (stream.group_by(lambda v: v, Grouped(key_serde=serdes.String(), value_serde=serdes.String(),
                                          name="by-value"))
     .count(Materialized(name="value-counts", log_config={"min.compaction.lag.ms": "1000"}))
     .to_stream().to(out, Produced(key_serde=serdes.String(), value_serde=serdes.Long())))
    # an explicit one takes its own count: 2
    (stream.repartition(Repartitioned(name="two", num_partitions=2))
     .group_by_key()
     .count(Materialized(name="key-counts"))
     .to_stream().to(out, Produced(key_serde=serdes.String(), value_serde=serdes.Long())))
    app = app_factory(builder.build())
    app.start()
    try:
        app_id = app_factory.app_id
        plan = app.plan
        assert plan is not None
        assert _partitions(kafka_bootstrap, f"{app_id}-by-value-repartition") == 4
        assert _partitions(kafka_bootstrap, f"{app_id}-value-counts-changelog") == 4
        assert _partitions(kafka_bootstrap, f"{app_id}-two-repartition") == 2
        assert _partitions(kafka_bootstrap, f"{app_id}-key-counts-changelog") == 2

        changelog = _topic_config(kafka_bootstrap, f"{app_id}-value-counts-changelog")
        assert changelog["cleanup.policy"] == "compact"
        assert changelog["min.compaction.lag.ms"] == "1000"  # Materialized(log_config=...)
        assert _topic_config(kafka_bootstrap, f"{app_id}-key-counts-changelog")[
            "cleanup.policy"] == "compact"
        assert _topic_config(kafka_bootstrap, f"{app_id}-by-value-repartition")[
            "cleanup.policy"] == "delete"
        app.wait_until_running(60)
    finally:
        assert app.close(30)

    # a second start finds the topics in place and accepts them
    again = app_factory(builder.topology)
    again.start()
    again.wait_until_running(60)
    assert again.close(30)
