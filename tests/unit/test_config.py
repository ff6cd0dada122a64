"""StreamsConfig: Kafka Streams keys, validation with helpful messages, kwargs form, prefixes."""

from __future__ import annotations

from typing import Any

import pytest

from streams import ConfigError, StreamsConfig, serdes
from streams.config import KEYS


def test_defaults_are_kafka_streams_defaults() -> None:
    c = StreamsConfig({"application.id": "app"})
    assert c["num.stream.threads"] == 1
    assert c["processing.guarantee"] == "at_least_once"
    assert c["commit.interval.ms"] == 30000
    assert c["default.key.serde"] is None and c["default.value.serde"] is None
    assert c["default.deserialization.exception.handler"] == "log_and_fail"
    assert c["auto.offset.reset"] == "earliest"
    assert str(c["default.dsl.store"]).lower() == "rocksdb"
    assert set(c) == set(KEYS)  # every known key has a value (None where Kafka has none)
    assert len(c) == len(KEYS)


def test_exactly_once_v2_changes_the_commit_interval_default() -> None:
    assert StreamsConfig({"processing.guarantee": "exactly_once_v2"})["commit.interval.ms"] == 100
    assert StreamsConfig({"processing.guarantee": "EXACTLY_ONCE_V2"})["processing.guarantee"] == \
        "exactly_once_v2"
    explicit = StreamsConfig({"processing.guarantee": "exactly_once_v2", "commit.interval.ms": 5})
    assert explicit["commit.interval.ms"] == 5


def test_unknown_key_suggests_the_closest_known_one() -> None:
    with pytest.raises(ConfigError) as err:
        StreamsConfig({"application.id": "a", "num.stream.thread": 2})
    msg = str(err.value)
    assert "unknown config key 'num.stream.thread'" in msg
    assert "Did you mean 'num.stream.threads'?" in msg
    assert "'consumer.', 'producer.' or 'admin.'" in msg


def test_unknown_key_without_a_close_match_has_no_suggestion() -> None:
    with pytest.raises(ConfigError) as err:
        StreamsConfig({"zzzz": 1})
    assert "Did you mean" not in str(err.value)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("num.stream.threads", 0, "must be >= 1, got 0"),
    ("num.stream.threads", "many", "expected an integer, got 'many'"),
    ("num.stream.threads", True, "expected an integer"),
    ("commit.interval.ms", -1, "must be >= 0"),
    ("application.id", "has space", "may only contain letters, digits"),
    ("application.id", "", "must be a non-empty string"),
    ("processing.guarantee", "exactly_once", "must be one of at_least_once, exactly_once_v2"),
    ("auto.offset.reset", "none", "must be one of earliest, latest"),
    ("default.dsl.store", "redis", "must be one of rocksdb, in_memory"),
    ("topology.optimization", "some", "must be one of none, all"),
    ("default.key.serde", 5, "expected a serde"),
    ("bootstrap.servers", "  ", "must be a non-empty string"),
])
def test_bad_values_are_rejected_naming_the_key(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        StreamsConfig({key: value})
    assert f"invalid value for {key!r}" in str(err.value)
    assert message in str(err.value)


def test_values_are_normalized() -> None:
    c = StreamsConfig({"num.stream.threads": "3", "default.dsl.store": "ROCKSDB",
                       "default.value.serde": serdes.Long})
    assert c["num.stream.threads"] == 3
    assert c["default.dsl.store"] == "rocksdb"
    assert isinstance(c["default.value.serde"], serdes.Long)  # a serde class is instantiated


def test_keyword_form_turns_underscores_into_dots_and_wins_over_the_dict() -> None:
    c = StreamsConfig({"application.id": "from-dict", "num.stream.threads": 1},
                      application_id="from-kwargs", num_stream_threads=4)
    assert c["application.id"] == "from-kwargs"
    assert c["num.stream.threads"] == 4
    with pytest.raises(ConfigError, match=r"Did you mean 'num\.stream\.threads'"):
        StreamsConfig(num_stream_thread=2)


def test_client_prefixes_pass_through_and_client_config_strips_them() -> None:
    c = StreamsConfig(
        {"application.id": "a", "consumer.max.poll.interval.ms": 300000,
         "producer.linger.ms": 5, "admin.request.timeout.ms": 1000,
         "security.protocol": "SSL", "sasl.mechanism": "PLAIN"},
        consumer_fetch_min_bytes=1,
    )
    assert c.client_config("consumer.") == {
        "security.protocol": "SSL", "sasl.mechanism": "PLAIN",
        "max.poll.interval.ms": 300000, "fetch.min.bytes": 1}
    assert c.client_config("producer.") == {
        "security.protocol": "SSL", "sasl.mechanism": "PLAIN", "linger.ms": 5}
    assert c.client_config("admin.") == {
        "security.protocol": "SSL", "sasl.mechanism": "PLAIN", "request.timeout.ms": 1000}
    for prefix in ("main.consumer.", "restore.consumer.", "global.consumer.", "topic."):
        assert StreamsConfig({f"{prefix}x": 1})[f"{prefix}x"] == 1


def test_require_lists_every_missing_key() -> None:
    StreamsConfig({"application.id": "a", "bootstrap.servers": "b:9092"}).require(
        "application.id", "bootstrap.servers")
    with pytest.raises(ConfigError, match=r"missing required config: application\.id, bootstrap\.servers"):
        StreamsConfig({}).require("application.id", "bootstrap.servers")


def test_with_overrides_returns_a_validated_copy() -> None:
    base = StreamsConfig({"application.id": "a"})
    other = base.with_overrides(num_stream_threads=2)
    assert other["num.stream.threads"] == 2 and base["num.stream.threads"] == 1
    with pytest.raises(ConfigError):
        base.with_overrides(num_stream_threads=0)


def test_a_streams_config_can_be_copied_from_another() -> None:
    base = StreamsConfig({"application.id": "a", "consumer.x": 1})
    copy = StreamsConfig(base)
    assert set(copy) == set(base)
    # (the default "rocksDB" is only lower-cased once it goes through validation)
    assert {k: v for k, v in copy.items() if k != "default.dsl.store"} == \
        {k: v for k, v in base.items() if k != "default.dsl.store"}


def test_kafka_streams_4_handler_names_are_the_same_settings() -> None:
    cfg = StreamsConfig({"production.exception.handler": "continue",
                         "deserialization.exception.handler": "log_and_continue"})
    assert cfg["default.production.exception.handler"] == "continue"
    assert cfg["default.deserialization.exception.handler"] == "log_and_continue"
    with pytest.raises(ConfigError, match="are one setting"):
        StreamsConfig({"production.exception.handler": "continue",
                       "default.production.exception.handler": "fail"})
