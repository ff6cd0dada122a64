"""The record that flows between processor nodes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Headers = Sequence[tuple[str, bytes | None]]


class Record:
    """A key, a value, a timestamp (ms since the epoch) and headers.

    Records are treated as immutable: the ``with_*`` methods return a copy, so one record can be
    forwarded to several children safely. Example::

        record.with_value(record.value.upper())
    """

    __slots__ = ("headers", "key", "timestamp", "value")

    def __init__(
        self, key: Any, value: Any, timestamp: int, headers: Headers | None = None
    ) -> None:
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.headers = headers

    def with_key(self, key: Any) -> Record:
        """A copy with another key."""
        return Record(key, self.value, self.timestamp, self.headers)

    def with_value(self, value: Any) -> Record:
        """A copy with another value."""
        return Record(self.key, value, self.timestamp, self.headers)

    def with_timestamp(self, timestamp: int) -> Record:
        """A copy with another timestamp."""
        return Record(self.key, self.value, timestamp, self.headers)

    def with_headers(self, headers: Headers | None) -> Record:
        """A copy with other headers."""
        return Record(self.key, self.value, self.timestamp, headers)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return (
            self.key == other.key
            and self.value == other.value
            and self.timestamp == other.timestamp
            and list(self.headers or ()) == list(other.headers or ())
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Record(key={self.key!r}, value={self.value!r}, timestamp={self.timestamp}"
            + (f", headers={list(self.headers)!r})" if self.headers else ")")
        )


class RecordMetadata:
    """Where the record being processed came from: topic, partition and offset."""

    __slots__ = ("offset", "partition", "topic")

    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset

    def __repr__(self) -> str:
        return f"RecordMetadata(topic={self.topic!r}, partition={self.partition}, offset={self.offset})"
