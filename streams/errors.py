"""The exception hierarchy: every error raised by streams subclasses :class:`StreamsError`.

Messages name what is involved (topic, partition, offset, processor node, store) so that an
operator can find the record or the piece of the topology without a debugger.
"""

from __future__ import annotations


class StreamsError(Exception):
    """Base class of every error raised by streams."""


class ConfigError(StreamsError):
    """A configuration key is unknown or its value is invalid."""


class TopologyError(StreamsError):
    """The topology cannot be built or run as described (raised at ``build()`` or start-up)."""


class ProductionError(StreamsError):
    """A record could not be written to Kafka (refused when handed to the producer, or its
    delivery failed)."""


class SerializationError(StreamsError):
    """Bytes could not be turned into a value, or a value into bytes.

    Carries the topic and, where known, the partition and offset of the record; the
    original exception is chained as ``__cause__``.

    Example::

        try:
            serdes.Integer().deserialize("counts", b"abc")
        except SerializationError as e:
            print(e.topic)  # "counts"
    """

    def __init__(
        self,
        message: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.reason = message
        self.topic = topic
        self.partition = partition
        self.offset = offset
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.topic is not None:
            where.append(f"topic={self.topic!r}")
        if self.partition is not None:
            where.append(f"partition={self.partition}")
        if self.offset is not None:
            where.append(f"offset={self.offset}")
        return f"{self.reason} ({', '.join(where)})" if where else self.reason

    def with_location(
        self, *, topic: str | None = None, partition: int | None = None, offset: int | None = None
    ) -> SerializationError:
        """Return a copy that also names the record's location, keeping the original cause."""
        err = SerializationError(
            self.reason,
            topic=topic if topic is not None else self.topic,
            partition=partition if partition is not None else self.partition,
            offset=offset if offset is not None else self.offset,
        )
        err.__cause__ = self.__cause__
        return err


class ProcessorError(StreamsError):
    """A user function or processor raised while processing a record.

    The message names the processor node, task, and the record's topic/partition/offset.
    """


class StateStoreError(StreamsError):
    """A state store is missing, closed, misused, or could not be opened or restored."""


class InvalidStateStoreError(StateStoreError):
    """A store was accessed when it is not available (closed, migrated, or not owned here)."""


class KafkaUnavailableError(StreamsError):
    """The local Kafka broker could not be started, or a cluster could not be reached."""
