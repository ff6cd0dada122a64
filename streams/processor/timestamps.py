"""Timestamp extractors: which time a record counts as having.

The default, :class:`FailOnInvalidTimestamp`, takes the Kafka record's own timestamp and fails
on a negative one. Set another with ``default.timestamp.extractor`` or ``Consumed(
timestamp_extractor=...)``; any callable ``(record, partition_time) -> int`` also works::

    def from_value(record, partition_time):
        return record.value["ts"]
"""

from __future__ import annotations

import logging
import time
from typing import Any

from streams.errors import StreamsError

log = logging.getLogger(__name__)


class ConsumedRecord:
    """What an extractor sees: the deserialized record and where it came from."""

    __slots__ = ("headers", "key", "offset", "partition", "timestamp", "topic", "value")

    def __init__(
        self, topic: str, partition: int, offset: int, timestamp: int, key: Any, value: Any,
        headers: Any,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers


class TimestampExtractor:
    """Base class: override :meth:`extract`. Returning a negative number skips the record."""

    def extract(self, record: ConsumedRecord, partition_time: int) -> int:
        """The timestamp (ms) of ``record``; ``partition_time`` is the largest seen on its partition."""
        raise NotImplementedError

    def __call__(self, record: ConsumedRecord, partition_time: int) -> int:
        return self.extract(record, partition_time)


class FailOnInvalidTimestamp(TimestampExtractor):
    """The record's timestamp; a negative one stops processing with an error (the default)."""

    def extract(self, record: ConsumedRecord, partition_time: int) -> int:
        """Return the record timestamp or raise on a negative one."""
        if record.timestamp < 0:
            raise StreamsError(
                f"record has invalid (negative) timestamp {record.timestamp} "
                f"(topic={record.topic!r}, partition={record.partition}, offset={record.offset}); "
                "the producer may be too old to set timestamps. Use "
                "default.timestamp.extractor=LogAndSkipOnInvalidTimestamp or "
                "UsePartitionTimeOnInvalidTimestamp to carry on"
            )
        return record.timestamp


class LogAndSkipOnInvalidTimestamp(TimestampExtractor):
    """The record's timestamp; a record with a negative one is logged and skipped."""

    def extract(self, record: ConsumedRecord, partition_time: int) -> int:
        """Return the record timestamp (negative means: skip)."""
        if record.timestamp < 0:
            log.warning(
                "skipping record with invalid timestamp %d (topic=%r, partition=%d, offset=%d)",
                record.timestamp, record.topic, record.partition, record.offset,
            )
        return record.timestamp


class UsePartitionTimeOnInvalidTimestamp(TimestampExtractor):
    """The record's timestamp; a negative one is replaced by the partition's time so far."""

    def extract(self, record: ConsumedRecord, partition_time: int) -> int:
        """Return the record timestamp, or the partition time if it is negative."""
        if record.timestamp < 0:
            if partition_time < 0:
                raise StreamsError(
                    f"record has invalid timestamp {record.timestamp} and no partition time is "
                    f"known yet (topic={record.topic!r}, partition={record.partition}, "
                    f"offset={record.offset})"
                )
            return partition_time
        return record.timestamp


class WallclockTimestampExtractor(TimestampExtractor):
    """The processing machine's clock (processing-time semantics)."""

    def extract(self, record: ConsumedRecord, partition_time: int) -> int:
        """Return the current wall-clock time in ms."""
        return int(time.time() * 1000)


_BY_NAME: dict[str, type[TimestampExtractor]] = {
    cls.__name__: cls
    for cls in (
        FailOnInvalidTimestamp,
        LogAndSkipOnInvalidTimestamp,
        UsePartitionTimeOnInvalidTimestamp,
        WallclockTimestampExtractor,
    )
}


def resolve_extractor(value: Any) -> Any:
    """Turn a config value (None, a class name, a class, an instance, a function) into a callable,
    or None for the default (record timestamp, fail on negative)."""
    if value is None or value is FailOnInvalidTimestamp or isinstance(value, FailOnInvalidTimestamp):
        return None
    if isinstance(value, str):
        name = value.rsplit(".", 1)[-1]
        if name not in _BY_NAME:
            raise StreamsError(
                f"unknown timestamp extractor {value!r}; choose one of {', '.join(_BY_NAME)}"
            )
        if name == "FailOnInvalidTimestamp":
            return None
        return _BY_NAME[name]()
    if isinstance(value, type):
        value = value()
    if not callable(value):
        raise StreamsError(f"timestamp extractor {value!r} is not callable")
    return value
