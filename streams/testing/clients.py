"""Small admin, produce and consume helpers for tests, demos and examples.

They talk to any cluster given its ``bootstrap.servers`` (a
:class:`~streams.testing.local_kafka.LocalKafka`, ``KAFKA_BOOTSTRAP_SERVERS``, ...) and favour
determinism over speed: every call waits until the cluster has really done what was asked.

Keys and values may be ``bytes``, ``str`` (encoded as UTF-8) or ``None``; anything else needs
a serde (an object with ``serialize(topic, value)`` / ``deserialize(topic, data)``, such as
those in :mod:`streams.serdes`). Records are partitioned with the Java client's murmur2
partitioner, so a key lands where a Java producer (and Kafka Streams) would put it.

Example::

    from streams.testing import clients

    clients.create_topic(bootstrap, "words", partitions=3)
    clients.produce(bootstrap, "words", [("k1", "hello"), ("k2", "world")])
    for record in clients.consume(bootstrap, "words", 2):
        print(record.partition, record.key, record.value)
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from streams.errors import KafkaUnavailableError, StreamsError

__all__ = [
    "ConsumedRecord",
    "DeliveredRecord",
    "ProducerRecord",
    "RecordLike",
    "admin_client",
    "consume",
    "consume_all",
    "create_topic",
    "delete_topic",
    "produce",
    "topic_partitions",
]

log = logging.getLogger(__name__)
_librdkafka_log = logging.getLogger("streams.testing.librdkafka")
# Without any handler Python's last-resort handler would print client warnings (expected ones,
# like "coordinator load in progress" right after start-up) to stderr.
_librdkafka_log.addHandler(logging.NullHandler())


class _Serializer(Protocol):
    def serialize(self, topic: str, value: Any, headers: Any = None) -> bytes | None: ...


class _Deserializer(Protocol):
    def deserialize(self, topic: str, data: bytes | None, headers: Any = None) -> Any: ...


@dataclass(frozen=True)
class ProducerRecord:
    """A record to produce, when a ``(key, value)`` pair is not enough."""

    key: Any
    value: Any
    partition: int | None = None
    timestamp: int | None = None
    headers: Sequence[tuple[str, bytes | None]] | None = None


#: What :func:`produce` accepts per record: ``(key, value)`` or a :class:`ProducerRecord`.
RecordLike = ProducerRecord | tuple[Any, Any]


@dataclass(frozen=True)
class DeliveredRecord:
    """Where the broker stored a produced record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class ConsumedRecord:
    """A record read back; ``key``/``value`` are bytes unless a serde was given."""

    topic: str
    partition: int
    offset: int
    key: Any
    value: Any
    timestamp: int
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)


def _quiet_logger() -> logging.Logger:
    # librdkafka prints connection chatter to stderr unless handed a logger.
    return _librdkafka_log


def admin_client(bootstrap_servers: str, **config: Any) -> Any:
    """A ``confluent_kafka.admin.AdminClient`` whose log goes to Python logging, not stderr."""
    from confluent_kafka.admin import AdminClient

    conf: dict[str, Any] = {"bootstrap.servers": bootstrap_servers, "logger": _quiet_logger()}
    conf.update(config)
    return AdminClient(conf)


def topic_partitions(bootstrap_servers: str, topic: str, timeout: float = 10.0) -> dict[int, Any]:
    """Partition metadata (``leader``, ``replicas``, ``isrs``) by partition id; ``{}`` if the
    topic does not exist."""
    return _partitions(admin_client(bootstrap_servers), topic, timeout)


def _partitions(admin: Any, topic: str, timeout: float) -> dict[int, Any]:
    metadata = admin.list_topics(topic=topic, timeout=timeout)
    info = metadata.topics.get(topic)
    if info is None or info.error is not None:
        return {}
    return dict(info.partitions)


def create_topic(
    bootstrap_servers: str,
    name: str,
    partitions: int = 1,
    replication_factor: int = 1,
    config: Mapping[str, str] | None = None,
    *,
    timeout: float = 30.0,
) -> str:
    """Create a topic and wait until all its partitions have a leader; returns ``name``.

    Raises :class:`StreamsError` naming the topic if the broker refuses (e.g. it exists).
    """
    from confluent_kafka.admin import NewTopic

    admin = admin_client(bootstrap_servers)
    new = NewTopic(
        name,
        num_partitions=partitions,
        replication_factor=replication_factor,
        config={k: str(v) for k, v in (config or {}).items()},
    )
    future = admin.create_topics([new], operation_timeout=timeout, request_timeout=timeout)[name]
    try:
        future.result(timeout=timeout)
    except Exception as exc:
        raise StreamsError(f"could not create topic {name!r}: {exc}") from exc
    deadline = time.monotonic() + timeout
    while True:
        parts = _partitions(admin, name, timeout=max(1.0, deadline - time.monotonic()))
        if len(parts) == partitions and all(p.leader >= 0 for p in parts.values()):
            return name
        if time.monotonic() > deadline:
            raise KafkaUnavailableError(
                f"topic {name!r} was created but its {partitions} partitions did not all get a "
                f"leader within {timeout:.0f} s (seen: {sorted(parts)})"
            )
        time.sleep(0.05)


def delete_topic(bootstrap_servers: str, name: str, *, timeout: float = 30.0) -> None:
    """Delete a topic and wait until metadata no longer lists it; missing topics are fine."""
    from confluent_kafka import KafkaError

    admin = admin_client(bootstrap_servers)
    future = admin.delete_topics([name], operation_timeout=timeout, request_timeout=timeout)[name]
    try:
        future.result(timeout=timeout)
    except Exception as exc:
        error = exc.args[0] if exc.args else None
        if getattr(error, "code", lambda: None)() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            return
        raise StreamsError(f"could not delete topic {name!r}: {exc}") from exc
    deadline = time.monotonic() + timeout
    while _partitions(admin, name, 10.0) and time.monotonic() < deadline:
        time.sleep(0.05)


def _to_bytes(value: Any, topic: str, serde: _Serializer | None, what: str) -> bytes | None:
    if serde is not None:
        return serde.serialize(topic, value)
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"{what} {value!r} is {type(value).__name__}; pass bytes, str or a serde")


def produce(
    bootstrap_servers: str,
    topic: str,
    records: Iterable[RecordLike] | Mapping[Any, Any],
    *,
    key_serde: _Serializer | None = None,
    value_serde: _Serializer | None = None,
    config: Mapping[str, Any] | None = None,
    timeout: float = 30.0,
) -> list[DeliveredRecord]:
    """Produce ``records`` with an idempotent ``acks=all`` producer and wait for every ack.

    ``records`` is an iterable of ``(key, value)`` pairs or :class:`ProducerRecord` (a mapping
    is taken as key -> value). Returns where each record landed, in input order. Raises
    :class:`StreamsError` if any record fails.
    """
    from confluent_kafka import Producer

    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "linger.ms": 5,
        "logger": _quiet_logger(),
    }
    conf.update(config or {})
    producer = Producer(conf)
    items: Iterable[Any] = records.items() if isinstance(records, Mapping) else records
    delivered: list[DeliveredRecord | None] = []
    errors: list[str] = []

    def on_delivery(index: int) -> Any:
        def callback(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(f"record #{index} (key={msg.key()!r}): {err}")
                return
            delivered[index] = DeliveredRecord(
                msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value()
            )

        return callback

    for index, item in enumerate(items):
        record = item if isinstance(item, ProducerRecord) else ProducerRecord(item[0], item[1])
        kwargs: dict[str, Any] = {
            "key": _to_bytes(record.key, topic, key_serde, "key"),
            "value": _to_bytes(record.value, topic, value_serde, "value"),
            "on_delivery": on_delivery(index),
        }
        if record.partition is not None:
            kwargs["partition"] = record.partition
        if record.timestamp is not None:
            kwargs["timestamp"] = record.timestamp
        if record.headers is not None:
            kwargs["headers"] = list(record.headers)
        delivered.append(None)
        while True:
            try:
                producer.produce(topic, **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(timeout)
    if remaining:
        raise KafkaUnavailableError(
            f"{remaining} record(s) to topic {topic!r} were not acknowledged within {timeout:.0f} s"
        )
    if errors:
        raise StreamsError(f"producing to topic {topic!r} failed: " + "; ".join(errors[:5]))
    return [d for d in delivered if d is not None]


def _convert(
    msg: Any, key_serde: _Deserializer | None, value_serde: _Deserializer | None
) -> ConsumedRecord:
    topic = msg.topic()
    headers = msg.headers() or []
    key = msg.key()
    value = msg.value()
    if key_serde is not None:
        key = key_serde.deserialize(topic, key, headers)
    if value_serde is not None:
        value = value_serde.deserialize(topic, value, headers)
    return ConsumedRecord(
        topic=topic,
        partition=msg.partition(),
        offset=msg.offset(),
        key=key,
        value=value,
        timestamp=msg.timestamp()[1],
        headers=list(headers),
    )


def _assigned_consumer(
    bootstrap_servers: str, topic: str, config: Mapping[str, Any] | None, timeout: float
) -> Any:
    """A consumer assigned to every partition of ``topic`` from the beginning.

    Assignment (not a group subscription) skips the group join, and reads the topic whole.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        # Required by the client even though no group is joined and nothing is committed.
        "group.id": f"streams-testing-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "logger": _quiet_logger(),
    }
    conf.update(config or {})
    consumer = Consumer(conf)
    parts = topic_partitions(bootstrap_servers, topic, timeout=timeout)
    if not parts:
        consumer.close()
        raise StreamsError(f"cannot consume: topic {topic!r} does not exist")
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(parts)])
    return consumer


def consume(
    bootstrap_servers: str,
    topic: str,
    n: int,
    timeout: float = 30.0,
    *,
    key_serde: _Deserializer | None = None,
    value_serde: _Deserializer | None = None,
    config: Mapping[str, Any] | None = None,
) -> list[ConsumedRecord]:
    """Read exactly ``n`` records from the beginning of every partition of ``topic``.

    Only committed records are read (``read_committed``). Raises :class:`TimeoutError` saying
    how many arrived if fewer than ``n`` are there within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    consumer = _assigned_consumer(bootstrap_servers, topic, config, timeout)
    out: list[ConsumedRecord] = []
    try:
        while len(out) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"read only {len(out)} of {n} records from topic {topic!r} "
                    f"within {timeout:.0f} s"
                )
            for msg in consumer.consume(
                num_messages=min(1000, n - len(out)), timeout=min(0.5, remaining)
            ):
                if msg.error() is not None:
                    raise StreamsError(f"consuming topic {topic!r} failed: {msg.error()}")
                out.append(_convert(msg, key_serde, value_serde))
    finally:
        consumer.close()
    return out


def consume_all(
    bootstrap_servers: str,
    topic: str,
    timeout: float = 30.0,
    *,
    key_serde: _Deserializer | None = None,
    value_serde: _Deserializer | None = None,
    config: Mapping[str, Any] | None = None,
) -> list[ConsumedRecord]:
    """Read every record of ``topic`` up to the end offsets seen when the call starts.

    Unlike :func:`consume` it returns duplicates and extras too, which makes it the helper for
    "nothing lost, nothing doubled" checks.
    """
    from confluent_kafka import TopicPartition

    deadline = time.monotonic() + timeout
    consumer = _assigned_consumer(bootstrap_servers, topic, config, timeout)
    out: list[ConsumedRecord] = []
    try:
        ends: dict[int, int] = {}
        for tp in consumer.assignment():
            _low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
            if high > 0:
                ends[tp.partition] = high
        positions: dict[int, int] = {}
        while any(positions.get(p, -1) < end for p, end in ends.items()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"topic {topic!r}: did not reach end offsets {ends} within {timeout:.0f} s "
                    f"(read {len(out)} records)"
                )
            for msg in consumer.consume(num_messages=1000, timeout=min(0.5, remaining)):
                if msg.error() is not None:
                    raise StreamsError(f"consuming topic {topic!r} failed: {msg.error()}")
                out.append(_convert(msg, key_serde, value_serde))
            # Positions move past transaction markers and aborted records too, so they (not the
            # count of records) tell when the end has been reached.
            for tp in consumer.position([TopicPartition(topic, p) for p in ends]):
                if tp.offset >= 0:
                    positions[tp.partition] = tp.offset
    finally:
        consumer.close()
    return out
