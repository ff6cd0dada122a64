"""One consumed record, shaped like confluent-kafka's ``Message``: what a task takes.

The runtime hands tasks confluent-kafka's own messages; the test driver and the in-memory
clients of the unit tests hand them :class:`Message`, which answers the same calls.
"""

from __future__ import annotations

from typing import Any

#: confluent-kafka's TIMESTAMP_CREATE_TIME: the timestamp type every Message reports
TIMESTAMP_CREATE_TIME = 1


class Message:
    """A consumed record: topic, partition, offset, timestamp, key, value and headers."""

    __slots__ = ("_headers", "_key", "_offset", "_partition", "_timestamp", "_topic", "_value")

    def __init__(self, topic: str, partition: int, offset: int, timestamp: int,
                 key: bytes | None, value: bytes | None, headers: Any = None) -> None:
        self._topic = topic
        self._partition = partition
        self._offset = offset
        self._timestamp = timestamp
        self._key = key
        self._value = value
        self._headers = headers

    def topic(self) -> str:
        """The topic it was read from."""
        return self._topic

    def partition(self) -> int:
        """The partition it was read from."""
        return self._partition

    def offset(self) -> int:
        """Its offset in that partition."""
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        """``(timestamp type, timestamp in ms)``, as confluent-kafka gives it."""
        return (TIMESTAMP_CREATE_TIME, self._timestamp)

    def key(self) -> bytes | None:
        """The key bytes."""
        return self._key

    def value(self) -> bytes | None:
        """The value bytes."""
        return self._value

    def headers(self) -> Any:
        """The headers: a list of ``(name, bytes)`` or None."""
        return self._headers

    def error(self) -> None:
        """Always None: a Message is a record, never an error event."""
        return None

    def __repr__(self) -> str:
        return (f"Message({self._topic}-{self._partition}@{self._offset}, ts={self._timestamp}, "
                f"key={self._key!r})")
