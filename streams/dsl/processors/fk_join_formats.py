"""The records of the foreign-key KTable-KTable join and their bytes (Kafka's KIP-213): the
subscriptions and responses the two sides exchange through internal topics, their serdes, the
subscription store's combined keys and the left values' hashes.

The wrappers' bytes are this library's own format (a version byte first); they are read only
by this library. Value hashes are 128-bit BLAKE2b digests of the left value's serialized
bytes (Kafka Streams uses Murmur3; any stable 128-bit hash does, since the hash is computed
and compared on the left side only). The processors that exchange these records are in
:mod:`streams.dsl.processors.fk_join`.
"""

from __future__ import annotations

import hashlib
import struct
from enum import IntEnum
from typing import Any, NamedTuple

from streams.errors import SerializationError

__all__ = [
    "CombinedKey",
    "Instruction",
    "SubscriptionResponseWrapper",
    "SubscriptionResponseWrapperSerde",
    "SubscriptionWrapper",
    "SubscriptionWrapperSerde",
    "combined_key_bytes",
    "foreign_key_prefix",
    "response_partitioner",
    "split_combined_key",
    "value_hash",
]

_VERSION = 0
_INT = struct.Struct(">i")
_HASH_SIZE = 16


class Instruction(IntEnum):
    """What the right side does with a subscription (Kafka's ``SubscriptionWrapper.Instruction``)."""

    #: remove the subscription and answer with "no right value" (the left row is gone, or
    #: its new foreign key is None in an inner join): the join result becomes a tombstone
    DELETE_KEY_AND_PROPAGATE = 0
    #: remove the subscription silently (the foreign key changed; the new one will answer)
    DELETE_KEY_NO_PROPAGATE = 1
    #: subscribe and always answer, with None when the right table has no row
    PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE = 2
    #: subscribe and answer only when the right table has a row
    PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE = 3


class SubscriptionWrapper:
    """A subscription: the left row's primary key, the hash of its value when it was sent,
    the instruction, and the left partition the response must go back to."""

    __slots__ = ("hash", "instruction", "primary_key", "primary_partition")

    def __init__(self, hash: bytes | None, instruction: Instruction, primary_key: Any,
                 primary_partition: int | None) -> None:
        self.hash = hash
        self.instruction = instruction
        self.primary_key = primary_key
        self.primary_partition = primary_partition

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SubscriptionWrapper) and self.hash == other.hash
                and self.instruction == other.instruction
                and self.primary_key == other.primary_key
                and self.primary_partition == other.primary_partition)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"SubscriptionWrapper({self.instruction.name}, pk={self.primary_key!r}, "
                f"partition={self.primary_partition})")


class SubscriptionResponseWrapper:
    """A response: the right row's value (None: no row), the hash the subscription carried,
    and the left partition to send it to."""

    __slots__ = ("foreign_value", "hash", "primary_partition")

    def __init__(self, hash: bytes | None, foreign_value: Any, primary_partition: int | None) -> None:
        self.hash = hash
        self.foreign_value = foreign_value
        self.primary_partition = primary_partition

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SubscriptionResponseWrapper) and self.hash == other.hash
                and self.foreign_value == other.foreign_value
                and self.primary_partition == other.primary_partition)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"SubscriptionResponseWrapper(value={self.foreign_value!r}, "
                f"partition={self.primary_partition})")


class CombinedKey(NamedTuple):
    """Foreign key and primary key of one subscription (the subscription store's key)."""

    foreign_key: Any
    primary_key: Any


# ------------------------------------------------------------------------- byte helpers
def value_hash(data: bytes | None) -> bytes | None:
    """The 128-bit hash of a serialized left value (None for None)."""
    if data is None:
        return None
    return hashlib.blake2b(data, digest_size=_HASH_SIZE).digest()


def foreign_key_prefix(fk_bytes: bytes) -> bytes:
    """The subscription store's key prefix of one foreign key: 4-byte big-endian length, then
    the key's bytes (the length keeps ``"ab"`` from matching ``"abc"``)."""
    return _INT.pack(len(fk_bytes)) + fk_bytes


def combined_key_bytes(fk_bytes: bytes, pk_bytes: bytes) -> bytes:
    """The subscription store's key: :func:`foreign_key_prefix` + the primary key's bytes
    (the same layout as Kafka Streams' ``CombinedKeySchema``)."""
    return _INT.pack(len(fk_bytes)) + fk_bytes + pk_bytes


def split_combined_key(data: bytes) -> tuple[bytes, bytes]:
    """``(fk_bytes, pk_bytes)`` of a :func:`combined_key_bytes` key."""
    (n,) = _INT.unpack_from(data)
    return data[4:4 + n], data[4 + n:]


def _pack_hash(h: bytes | None) -> bytes:
    return b"\x00" if h is None else bytes([len(h)]) + h


def _unpack_hash(data: bytes, pos: int, topic: str) -> tuple[bytes | None, int]:
    n = data[pos]
    if n == 0:
        return None, pos + 1
    if pos + 1 + n > len(data):
        raise SerializationError("truncated value hash in a foreign-key join record", topic=topic)
    return bytes(data[pos + 1:pos + 1 + n]), pos + 1 + n


def _check_version(data: bytes, topic: str, what: str) -> None:
    if not data:
        raise SerializationError(f"empty {what} record", topic=topic)
    if data[0] != _VERSION:
        raise SerializationError(
            f"{what} of version {data[0]}, newer than this library reads ({_VERSION}); "
            "upgrade every instance of the application", topic=topic)


# ------------------------------------------------------------------------- serdes
class SubscriptionWrapperSerde:
    """Serde of :class:`SubscriptionWrapper` around the primary key's serde.

    Layout: version byte, instruction byte, hash (length byte, 0 = none, then the bytes),
    4-byte primary partition (-1 = unknown), then the primary key's bytes. The primary key is
    serialized for the pseudo topic ``<topic>-pk``, as Kafka Streams does.
    """

    def __init__(self, primary_key_serde: Any) -> None:
        self.inner = primary_key_serde

    def with_defaults(self, key_default: Any, value_default: Any) -> SubscriptionWrapperSerde:
        """Fill a missing primary-key serde with the config's default key serde."""
        return self if self.inner is not None else SubscriptionWrapperSerde(key_default)

    def serialize(self, topic: str, wrapper: SubscriptionWrapper | None,
                  headers: Any = None) -> bytes | None:
        """Encode ``wrapper`` (None stays None)."""
        if wrapper is None:
            return None
        pk = self.inner.serialize(f"{topic}-pk", wrapper.primary_key)
        if pk is None:
            raise SerializationError("a subscription needs a primary key", topic=topic)
        partition = -1 if wrapper.primary_partition is None else wrapper.primary_partition
        return (bytes([_VERSION, int(wrapper.instruction)]) + _pack_hash(wrapper.hash)
                + _INT.pack(partition) + pk)

    def deserialize(self, topic: str, data: bytes | None,
                    headers: Any = None) -> SubscriptionWrapper | None:
        """Decode what :meth:`serialize` wrote."""
        if data is None:
            return None
        _check_version(data, topic, "subscription")
        try:
            instruction = Instruction(data[1])
            h, pos = _unpack_hash(data, 2, topic)
            (partition,) = _INT.unpack_from(data, pos)
        except (IndexError, ValueError, struct.error) as exc:
            raise SerializationError(f"malformed subscription record: {exc}", topic=topic) from exc
        pk = self.inner.deserialize(f"{topic}-pk", data[pos + 4:])
        return SubscriptionWrapper(h, instruction, pk, None if partition < 0 else partition)

    def __repr__(self) -> str:
        return f"SubscriptionWrapperSerde({self.inner!r})"


class SubscriptionResponseWrapperSerde:
    """Serde of :class:`SubscriptionResponseWrapper` around the right table's value serde.

    Layout: version byte, hash (length byte, then the bytes), 4-byte primary partition (-1 =
    unknown), a flag byte (1 = a right value follows, 0 = None), then the value's bytes.
    """

    def __init__(self, foreign_value_serde: Any) -> None:
        self.inner = foreign_value_serde

    def with_defaults(self, key_default: Any, value_default: Any) -> SubscriptionResponseWrapperSerde:
        """Fill a missing right-value serde with the config's default value serde."""
        return self if self.inner is not None else SubscriptionResponseWrapperSerde(value_default)

    def serialize(self, topic: str, wrapper: SubscriptionResponseWrapper | None,
                  headers: Any = None) -> bytes | None:
        """Encode ``wrapper`` (None stays None)."""
        if wrapper is None:
            return None
        value = (None if wrapper.foreign_value is None
                 else self.inner.serialize(topic, wrapper.foreign_value, headers))
        partition = -1 if wrapper.primary_partition is None else wrapper.primary_partition
        head = bytes([_VERSION]) + _pack_hash(wrapper.hash) + _INT.pack(partition)
        return head + (b"\x00" if value is None else b"\x01" + value)

    def deserialize(self, topic: str, data: bytes | None,
                    headers: Any = None) -> SubscriptionResponseWrapper | None:
        """Decode what :meth:`serialize` wrote."""
        if data is None:
            return None
        _check_version(data, topic, "subscription response")
        try:
            h, pos = _unpack_hash(data, 1, topic)
            (partition,) = _INT.unpack_from(data, pos)
            present = data[pos + 4]
        except (IndexError, struct.error) as exc:
            raise SerializationError(f"malformed subscription response: {exc}", topic=topic) from exc
        value = self.inner.deserialize(topic, data[pos + 5:], headers) if present else None
        return SubscriptionResponseWrapper(h, value, None if partition < 0 else partition)

    def __repr__(self) -> str:
        return f"SubscriptionResponseWrapperSerde({self.inner!r})"


def response_partitioner(topic: str, key: Any, value: Any, num_partitions: int) -> int | None:
    """Send a response to the left partition its subscription came from (None: by key)."""
    partition = getattr(value, "primary_partition", None)
    if partition is None or not 0 <= partition < num_partitions:
        return None
    return int(partition)
