"""Start-up validation without a broker: topics written by name, client settings, and how an
unreachable cluster is reported (see test_startup_checks.py for the same against a broker)."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from streams import Consumed, Materialized, Produced, StreamsBuilder, serdes
from streams.config import StreamsConfig
from streams.errors import ConfigError, KafkaUnavailableError, StreamsError
from streams.runtime.client_check import (
    KNOWN_PROPERTIES,
    check_client_configs,
    client_specs,
    startup_admin,
)
from streams.runtime.client_log import CollapsingClientLog
from streams.runtime.client_supplier import KafkaClientSupplier
from streams.runtime.internal_topics import (
    DEAD_LETTER_KEY,
    InternalTopicManager,
    MissingSinkTopicError,
    MissingSourceTopicError,
    plan_topics,
    written_topics,
)
from streams.topology.topology import Topology

S = serdes.String()
APP = "app"


def counting(source: str = "lines", sink: str = "counts") -> Topology:
    """lines -> count per key (repartition-free) -> counts."""
    b = StreamsBuilder()
    (b.stream(source, Consumed(key_serde=S, value_serde=S))
     .group_by_key().count(Materialized(name="c"))
     .to_stream().to(sink, Produced(key_serde=S, value_serde=serdes.Long())))
    return b.build()


def config(**extra: Any) -> StreamsConfig:
    return StreamsConfig({"application.id": APP, "bootstrap.servers": "127.0.0.1:1", **extra})


# ---------------------------------------------------------------------- topics written by name

def test_missing_output_topic_is_named_with_its_sink_node_and_what_to_do():
    with pytest.raises(MissingSinkTopicError) as info:
        plan_topics(counting(), APP, {"lines": 3})
    message = str(info.value)
    [sink] = [n for n in counting().nodes if n.startswith("KSTREAM-SINK-")]
    assert "counts" in message and f"sink node {sink}" in message
    assert "create" in message and "--partitions" in message and repr(APP) in message
    assert info.value.topics == {"counts": [f"sink node {sink}"]}
    assert plan_topics(counting(), APP, {"lines": 3, "counts": 1}).subtopology_partitions == {0: 3}


def test_missing_dead_letter_topic_is_named_with_its_config_key():
    existing = {"lines": 1, "counts": 1}
    with pytest.raises(MissingSinkTopicError) as info:
        plan_topics(counting(), APP, existing, dead_letter_topic="bad-records")
    assert f"bad-records (written by {DEAD_LETTER_KEY})" in str(info.value)
    assert info.value.topics == {"bad-records": [DEAD_LETTER_KEY]}
    plan_topics(counting(), APP, {**existing, "bad-records": 1}, dead_letter_topic="bad-records")
    plan_topics(counting(), APP, existing, dead_letter_topic=None)


def test_every_missing_written_topic_is_named_once_with_every_writer():
    b = StreamsBuilder()
    stream = b.stream("in")
    stream.to("out", Produced(name="first"))
    stream.filter(lambda k, v: True).to("out", Produced(name="second"))
    stream.to("other", Produced(name="third"))
    with pytest.raises(MissingSinkTopicError) as info:
        plan_topics(b.build(), APP, {"in": 1}, dead_letter_topic="out")
    assert info.value.topics == {
        "other": ["sink node third"],
        "out": ["sink node first", "sink node second", DEAD_LETTER_KEY],
    }
    assert str(info.value).count("out (written by") == 1


def test_internal_topics_and_topics_chosen_per_record_are_not_required():
    b = StreamsBuilder()
    (b.stream("in", Consumed(key_serde=S, value_serde=S))
     .group_by(lambda k, v: v)  # a repartition topic: created at start-up, never "missing"
     .count(Materialized(name="c"))
     .to_stream().to(lambda k, v, ctx: f"out-{k}", Produced(key_serde=S,
                                                          value_serde=serdes.Long())))
    topology = b.build()
    assert written_topics(topology, APP) == {}
    plan = plan_topics(topology, APP, {"in": 2})
    assert any(t.endswith("-repartition") for t in plan.internal)


def test_processor_api_sinks_are_checked_too():
    t = Topology()
    t.add_source("src", ["in"])
    t.add_sink("to-out", "out", "src")
    with pytest.raises(MissingSinkTopicError, match=r"out \(written by sink node to-out\)"):
        plan_topics(t, APP, {"in": 1})


def test_missing_source_error_also_lists_missing_outputs():
    with pytest.raises(MissingSourceTopicError) as info:
        plan_topics(counting(), APP, {}, dead_letter_topic="dlq")
    message = str(info.value)
    assert message.startswith("source topic(s) lines do not exist")
    assert "Also missing" in message and "counts (written by sink node" in message
    assert f"dlq (written by {DEAD_LETTER_KEY})" in message
    assert not isinstance(info.value, MissingSinkTopicError)


def test_a_topic_read_and_written_is_reported_once_as_a_source():
    b = StreamsBuilder()
    b.stream("in").to("loop")
    b.stream("loop").to("in")
    with pytest.raises(MissingSourceTopicError) as info:
        plan_topics(b.build(), APP, {"in": 1})
    assert "Also missing" not in str(info.value)


# ---------------------------------------------------------------------- client settings

def test_misspelt_consumer_key_names_the_key_the_clients_and_the_fix():
    with pytest.raises(ConfigError) as info:
        check_client_configs(config(**{"consumer.sesion.timeout.ms": 6000}), counting(), "cid")
    message = str(info.value)
    assert "consumer.sesion.timeout.ms=6000" in message
    assert "main consumer, restore consumer" in message and "producer" not in message
    assert "No such configuration property" in message
    assert "did you mean 'consumer.session.timeout.ms'?" in message


def test_alias_and_conflicting_settings_are_traced_to_the_users_key():
    # librdkafka reports linger.ms as queue.buffering.max.ms, and a conflict with a setting
    # streams makes (enable.idempotence) without naming the user's key at all
    with pytest.raises(ConfigError) as info:
        check_client_configs(config(**{"producer.linger.ms": -5, "producer.acks": 1}),
                             counting(), "cid")
    message = str(info.value)
    assert "invalid Kafka client settings:" in message  # both reported in one go
    assert "producer.linger.ms=-5 (given to the producer)" in message
    assert "producer.acks=1 (given to the producer)" in message
    assert "enable.idempotence" in message


def test_settings_only_exactly_once_rejects_are_checked_under_exactly_once():
    # streams sets transaction.timeout.ms=10000 under exactly_once_v2; librdkafka wants
    # message.timeout.ms <= transaction.timeout.ms
    key = {"producer.message.timeout.ms": 20000}
    check_client_configs(config(**key), counting(), "cid")
    with pytest.raises(ConfigError, match=r"producer\.message\.timeout\.ms=20000"):
        check_client_configs(config(**key, **{"processing.guarantee": "exactly_once_v2"}),
                             counting(), "cid")


def test_the_most_specific_prefix_is_named():
    cfg = config(**{"consumer.session.timeout.ms": 6000,
                    "main.consumer.session.timeout.ms": "abc"})
    with pytest.raises(ConfigError) as info:
        check_client_configs(cfg, counting(), "cid")
    message = str(info.value)
    assert "main.consumer.session.timeout.ms=abc (given to the main consumer)" in message
    assert "restore consumer" not in message


def test_common_settings_are_checked_for_every_client():
    with pytest.raises(ConfigError) as info:
        check_client_configs(config(**{"security.protocol": "bogus"}), counting(), "cid")
    assert ("security.protocol=bogus (given to the main consumer, restore consumer, producer, "
            "admin client)") in str(info.value)


def test_hints_for_streams_keys_java_names_and_admin_settings():
    cfg = config(**{"consumer.commit.interval.ms": 100, "producer.value.serializer": "x",
                    "admin.request.timeout.mss": 5})
    with pytest.raises(ConfigError) as info:
        check_client_configs(cfg, counting(), "cid")
    message = str(info.value)
    assert "give it without the 'consumer.' prefix" in message
    assert "Produced(value_serde=...)" in message
    assert "admin.request.timeout.mss=5 (given to the admin client)" in message
    assert "did you mean 'admin.request.timeout.ms'?" in message


def test_secrets_are_not_echoed():
    with pytest.raises(ConfigError) as info:
        check_client_configs(config(**{"consumer.my.secret": "hunter2"}), counting(), "cid")
    assert "consumer.my.secret" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_valid_settings_pass_quietly(capfd: pytest.CaptureFixture[str],
                                     caplog: pytest.LogCaptureFixture) -> None:
    cfg = config(**{"consumer.session.timeout.ms": 6000, "consumer.heartbeat.interval.ms": 1000,
                    "producer.linger.ms": 20, "restore.consumer.fetch.max.bytes": 1 << 20,
                    "admin.request.timeout.ms": 5000, "processing.guarantee": "exactly_once_v2"})
    with caplog.at_level(logging.DEBUG):
        started = time.monotonic()
        check_client_configs(cfg, counting(), "cid")
        with pytest.raises(ConfigError):
            check_client_configs(config(**{"consumer.x.y": 1}), counting(), "cid")
    assert time.monotonic() - started < 5  # local: no connection is made
    assert capfd.readouterr().err == ""
    assert caplog.records == []


def test_global_consumer_is_checked_when_there_is_one():
    b = StreamsBuilder()
    b.global_table("regions", Consumed(key_serde=S, value_serde=S), Materialized(name="g"))
    b.stream("in").to("out")
    cfg = config(**{"global.consumer.fetch.wait.max.ms": "soon"})
    names = [s.name for s in client_specs(config(), b.build(), "cid")]
    assert "global consumer" in names
    assert "global consumer" not in [s.name for s in client_specs(config(), counting(), "cid")]
    with pytest.raises(ConfigError, match=r"global\.consumer\.fetch\.wait\.max\.ms=soon "
                                          r"\(given to the global consumer\)"):
        check_client_configs(cfg, b.build(), "cid")


def test_known_properties_exist_in_this_librdkafka():
    from confluent_kafka import Consumer

    unknown = []
    for name in KNOWN_PROPERTIES:
        try:
            Consumer({"group.id": "g", name: "\x01", "logger": logging.getLogger("null")}).close()
        except KafkaException as exc:
            if "No such configuration property" in exc.args[0].str():
                unknown.append(name)
    assert unknown == []


def test_api_timeout_key():
    assert config()["default.api.timeout.ms"] == 30000
    with pytest.raises(ConfigError, match=r"default\.api\.timeout\.ms"):
        config(**{"default.api.timeout.ms": 0})


# ---------------------------------------------------------------------- unreachable cluster

def test_client_log_says_each_line_once_and_keeps_the_problems(caplog: pytest.LogCaptureFixture):
    client_log = CollapsingClientLog("start-up admin client")
    line = "[thrd:h:1/bootstrap]: h:1/bootstrap: Connect to ipv4#1.2.3.4:1 failed: refused " \
           "(after {}ms in state CONNECT)"
    with caplog.at_level(logging.DEBUG, logger="streams.runtime.librdkafka"):
        for ms in (0, 3, 12):
            client_log.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1",
                           line.format(ms))
        client_log.log(logging.INFO, "%s [%s] %s", "INIT", "rdkafka#producer-1", "started")
    forwarded = [r for r in caplog.records if r.name == "streams.runtime.librdkafka"]
    assert len(forwarded) == 2
    assert forwarded[0].levelno == logging.WARNING  # capped: the raised error is the error
    assert client_log.problems() == [
        "h:1/bootstrap: Connect to ipv4#1.2.3.4:1 failed: refused (after 0ms in state CONNECT)"
        " (x3)"]
    assert client_log.repeats() == 2


class _FailingAdmin:
    """An admin whose metadata requests fail with ``code``."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.calls = 0

    def list_topics(self, timeout: float) -> Any:
        self.calls += 1
        time.sleep(min(timeout, 0.05))
        raise KafkaException(KafkaError(self.code, "Failed to get metadata"))

    def poll(self, timeout: float) -> int:
        return 0


def test_unreachable_cluster_is_retried_for_the_timeout_then_reported():
    admin = _FailingAdmin(KafkaError._TRANSPORT)
    manager = InternalTopicManager(admin, -1, {}, 0.5, bootstrap_servers="h:1")  # type: ignore[arg-type]
    started = time.monotonic()
    with pytest.raises(KafkaUnavailableError) as info:
        manager.existing_partitions()
    assert 0.5 <= time.monotonic() - started < 2.0
    assert admin.calls > 1
    assert "cannot reach bootstrap.servers=h:1 (tried for 0.5 s)" in str(info.value)
    assert "default.api.timeout.ms" in str(info.value)


def test_other_metadata_errors_are_reported_at_once():
    admin = _FailingAdmin(KafkaError.CLUSTER_AUTHORIZATION_FAILED)
    manager = InternalTopicManager(admin, -1, {}, 30, bootstrap_servers="h:1")  # type: ignore[arg-type]
    with pytest.raises(StreamsError) as info:
        manager.existing_partitions()
    assert not isinstance(info.value, KafkaUnavailableError)
    assert admin.calls == 1
    assert "could not read topic metadata from bootstrap.servers=h:1" in str(info.value)


def test_real_admin_against_a_closed_port_fails_in_time_and_quietly(
        capfd: pytest.CaptureFixture[str]) -> None:
    cfg = config(**{"default.api.timeout.ms": 1500})
    admin, client_log = startup_admin(cfg, KafkaClientSupplier())
    manager = InternalTopicManager(admin, -1, {}, 1.5, bootstrap_servers="127.0.0.1:1",
                                   client_log=client_log)
    started = time.monotonic()
    with pytest.raises(KafkaUnavailableError) as info:
        manager.existing_partitions()
    assert time.monotonic() - started < 1.5 + 3
    message = str(info.value)
    assert "cannot reach bootstrap.servers=127.0.0.1:1 (tried for 1.5 s)" in message
    assert "Connection refused" in message  # what the client saw, not just "transport failure"
    del admin, manager
    assert "Connect to" not in capfd.readouterr().err  # librdkafka's own stderr stays silent
