"""Start-up checks against the broker: what must exist, what must match, what gets created."""

from __future__ import annotations

import time

import pytest
from confluent_kafka.admin import ConfigResource
from wordcount_app import build_topology

from streams import Consumed, Grouped, Materialized, Produced, Repartitioned, StreamsBuilder, serdes
from streams.errors import ConfigError, KafkaUnavailableError, TopologyError
from streams.runtime.internal_topics import MissingSinkTopicError, MissingSourceTopicError
from streams.runtime.kafka_streams import KafkaStreams, State
from streams.testing import clients

pytestmark = pytest.mark.integration


def _topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    admin = clients.admin_client(bootstrap)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(10)
    return {name: entry.value for name, entry in entries.items()}


def _partitions(bootstrap: str, topic: str) -> int:
    return len(clients.topic_partitions(bootstrap, topic))


def _assert_nothing_started(app: KafkaStreams, bootstrap: str, app_id: str) -> None:
    """Still CREATED, no thread, no internal topic created, and closes at once."""
    assert app.state == State.CREATED
    assert app.threads == []
    topics = clients.admin_client(bootstrap).list_topics(timeout=10).topics
    assert [t for t in topics if t.startswith(f"{app_id}-")] == []
    assert app.close(5)


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


@pytest.mark.timeout(60)
def test_missing_output_topic_fails_at_start(app_factory, topic_factory, kafka_bootstrap):
    lines = topic_factory("lines")
    missing = f"no-such-output-{app_factory.app_id}"
    topology = build_topology(lines, missing)
    app = app_factory(topology)
    with pytest.raises(MissingSinkTopicError) as info:
        app.start()
    message = str(info.value)
    [sink] = [n for n in topology.nodes if n.startswith("KSTREAM-SINK-")]
    assert f"{missing} (written by sink node {sink})" in message
    assert "create" in message and "--partitions" in message
    assert info.value.topics == {missing: [f"sink node {sink}"]}
    _assert_nothing_started(app, kafka_bootstrap, app_factory.app_id)


@pytest.mark.timeout(120)
def test_missing_dead_letter_topic_fails_at_start(app_factory, topic_factory, kafka_bootstrap):
    lines = topic_factory("lines")
    counts = topic_factory("counts")
    dlq = f"no-such-dlq-{app_factory.app_id}"
    settings = {"errors.dead.letter.queue.topic.name": dlq,
                "default.deserialization.exception.handler": "log_and_continue"}
    app = app_factory(build_topology(lines, counts), **settings)
    with pytest.raises(MissingSinkTopicError) as info:
        app.start()
    assert f"{dlq} (written by errors.dead.letter.queue.topic.name)" in str(info.value)
    _assert_nothing_started(app, kafka_bootstrap, app_factory.app_id)

    # once the topic exists, the same app starts
    clients.create_topic(kafka_bootstrap, dlq, partitions=1)
    try:
        again = app_factory(build_topology(lines, counts), **settings)
        again.start()
        again.wait_until_running(60)
        assert again.close(30)
    finally:
        clients.delete_topic(kafka_bootstrap, dlq)


@pytest.mark.timeout(60)
def test_misspelt_client_setting_fails_at_start_naming_the_key(app_factory, topic_factory,
                                                                kafka_bootstrap):
    lines = topic_factory("lines")
    counts = topic_factory("counts")
    app = app_factory(build_topology(lines, counts), **{"consumer.sesion.timeout.ms": 6000})
    with pytest.raises(ConfigError) as info:
        app.start()
    message = str(info.value)
    assert "consumer.sesion.timeout.ms=6000 (given to the main consumer" in message
    assert "did you mean 'consumer.session.timeout.ms'?" in message
    _assert_nothing_started(app, kafka_bootstrap, app_factory.app_id)


@pytest.mark.timeout(60)
def test_unreachable_cluster_is_one_clear_error_in_bounded_time(app_factory, topic_factory,
                                                                capfd):
    bound = 5.0
    app = app_factory(build_topology("lines", "counts"),
                      **{"bootstrap.servers": "127.0.0.1:1", "default.api.timeout.ms": 5000})
    started = time.monotonic()
    with pytest.raises(KafkaUnavailableError) as info:
        app.start()
    elapsed = time.monotonic() - started
    assert bound <= elapsed < bound + 10
    message = str(info.value)
    assert "cannot reach bootstrap.servers=127.0.0.1:1 (tried for 5 s)" in message
    assert "Connection refused" in message  # what the client saw
    assert app.state == State.CREATED and app.threads == []
    # librdkafka's own "Connect to ... failed" lines (one a second or so) stay off stderr
    assert "Connect to" not in capfd.readouterr().err


@pytest.mark.timeout(120)
@pytest.mark.parametrize("problem", ["missing-output", "misspelt-key", "unknown-key"])
def test_streams_run_reports_a_failed_start_in_one_line(problem, worker_factory, topic_factory):
    lines = topic_factory("lines")
    extra: tuple[str, ...] = ()
    if problem == "missing-output":  # found by start()
        output = f"no-such-output-{worker_factory.app_id}"
        expected = f"writes to do not exist: {output} (written by sink node"
    elif problem == "misspelt-key":  # found by start(), before any thread starts
        output, extra = topic_factory("counts"), ("-s", "consumer.sesion.timeout.ms=6000")
        expected = "consumer.sesion.timeout.ms=6000"
    else:  # found when the config is loaded, before start()
        output, extra = topic_factory("counts"), ("-s", "num.stream.thread=2")
        expected = "unknown config key 'num.stream.thread'"
    worker = worker_factory(problem, lines, output, extra=extra)
    assert worker.proc.wait(60) == 1, worker.text()[-3000:]
    text = worker.text()
    failed = [line for line in text.splitlines() if "could not start:" in line]
    assert len(failed) == 1 and expected in failed[0], text[-3000:]
    assert "Traceback" not in text
