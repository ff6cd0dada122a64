"""Processors and wire formats behind the foreign-key KTable-KTable join (Kafka's KIP-213).

The join runs in two sub-topologies that talk through two internal topics, as in Kafka
Streams:

* **left side** (the table being joined, keyed by its primary key): on every update
  :class:`SubscriptionSendProcessor` extracts the foreign key of the new and the old value and
  sends :class:`SubscriptionWrapper` records, keyed by foreign key, to the subscription topic;
  :class:`ResponseJoinProcessor` receives the responses, drops stale ones (the left value
  changed since the subscription was sent: its hash no longer matches) and computes the join;
  :class:`ForeignKeyJoinResultProcessor` turns the results into a table (Change pairs).
* **right side** (the table holding the foreign keys as its keys):
  :class:`SubscriptionReceiveProcessor` keeps the subscriptions in a store keyed by
  *combined key* (foreign key + primary key, prefix-scannable by foreign key);
  :class:`SubscriptionJoinProcessor` answers each subscription with the right row;
  :class:`ForeignTableJoinProcessor` answers every subscriber of a right row when it changes.
  Responses (:class:`SubscriptionResponseWrapper`) go back keyed by primary key, to the
  partition the subscription came from.

The wrappers' bytes are this library's own format (a version byte first); they are read only
by this library. Value hashes are 128-bit BLAKE2b digests of the left value's serialized
bytes (Kafka Streams uses Murmur3; any stable 128-bit hash does, since the hash is computed
and compared on the left side only).
"""

from __future__ import annotations

import hashlib
import logging
import struct
from collections.abc import Callable
from enum import IntEnum
from typing import Any, NamedTuple

from streams.dsl.change import Change
from streams.dsl.getters import GetterFactory
from streams.dsl.processors.stateless import _Base, drop_record
from streams.errors import SerializationError
from streams.processor.api import ProcessorContext
from streams.processor.record import Record
from streams.serdes import Bytes
from streams.state.timestamped import ValueAndTimestamp

log = logging.getLogger(__name__)

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


_DELETES = (Instruction.DELETE_KEY_AND_PROPAGATE, Instruction.DELETE_KEY_NO_PROPAGATE)


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


# ------------------------------------------------------------------------- helpers
def resolve_serde(serde: Any, which: str, context: ProcessorContext) -> Any:
    """``serde``, or the config's ``default.<which>.serde`` (Bytes when unset), at init."""
    if serde is None:
        serde = context.app_configs.get(f"default.{which}.serde")
        if serde is None:
            serde = Bytes()
    return serde


def _task_partition(context: ProcessorContext) -> int | None:
    """The partition of the task (``"1_3"`` -> 3): where responses must come back to."""
    try:
        return int(str(context.task_id).rsplit("_", 1)[1])
    except (IndexError, ValueError):
        part = context.partition
        return part if part is not None and part >= 0 else None


class _FkBase(_Base):
    """Names the pseudo topics the join's serdes see, as Kafka Streams does:
    ``<application.id>-<subscription topic>-fk``/``-pk``/``-vh``."""

    def __init__(self, node: str, subscription_topic: str) -> None:
        self.node = node
        self.subscription_topic = subscription_topic

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        base = f"{context.application_id}-{self.subscription_topic}"
        self.fk_topic, self.pk_topic, self.vh_topic = f"{base}-fk", f"{base}-pk", f"{base}-vh"


# ------------------------------------------------------------------------- left side
class SubscriptionSendProcessor(_FkBase):
    """Left table update -> subscription records keyed by foreign key (Kafka's
    ``SubscriptionSendProcessorSupplier``, KIP-962 semantics for None foreign keys).

    Inner join: a new row subscribes (answer only if the right row exists); a changed foreign
    key unsubscribes the old one silently and subscribes the new one with "answer even with
    None" (so an old result is retracted); a deleted row, or one whose new foreign key is
    None, unsubscribes with "answer None" (a tombstone). Left join: every update is answered,
    None foreign keys included (joined with None).
    """

    def __init__(self, node: str, subscription_topic: str, extractor: Callable[..., Any],
                 extractor_takes_key: bool, left_join: bool, foreign_key_serde: Any,
                 left_value_serde: Any) -> None:
        super().__init__(node, subscription_topic)
        self.extractor = extractor
        self.extractor_takes_key = extractor_takes_key
        self.left_join = left_join
        self._fk_serde = foreign_key_serde
        self._value_serde = left_value_serde

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.fk_ser = resolve_serde(self._fk_serde, "key", context).serialize
        self.value_ser = resolve_serde(self._value_serde, "value", context).serialize
        self.partition = _task_partition(context)

    def _fk(self, key: Any, value: Any) -> Any:
        return self.extractor(key, value) if self.extractor_takes_key else self.extractor(value)

    def _same(self, a: Any, b: Any) -> bool:
        """Foreign keys compared by their bytes, as Kafka Streams does."""
        ser = self.fk_ser
        return bool(ser(self.fk_topic, a) == ser(self.fk_topic, b))

    def process(self, record: Record) -> None:
        key = record.key
        if key is None:
            drop_record(self.context, self.node, "a table update needs a key")
            return
        change: Change = record.value
        new, old = change.new, change.old
        if new is None and old is None:
            return  # deleting a row that does not exist: nothing to retract
        h = None if new is None else value_hash(self.value_ser(self.vh_topic, new))

        def send(fk: Any, instruction: Instruction) -> None:
            wrapper = SubscriptionWrapper(h, instruction, key, self.partition)
            self.forward(Record(fk, wrapper, record.timestamp, record.headers))

        old_fk = None if old is None else self._fk(key, old)
        if self.left_join:
            new_fk = None if new is None else self._fk(key, new)
            if old_fk is not None and not self._same(new_fk, old_fk):
                # the new subscription goes elsewhere: remove the old one, without an answer
                send(old_fk, Instruction.DELETE_KEY_NO_PROPAGATE)
            # always answered, even for a None foreign key (joined with None, KIP-962) or a
            # deleted row (the None foreign key's answer retracts the result)
            send(new_fk, Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE)
            return
        if new is None:
            if old_fk is not None:
                send(old_fk, Instruction.DELETE_KEY_AND_PROPAGATE)
            return
        new_fk = self._fk(key, new)
        if new_fk is None:
            drop_record(self.context, self.node, "its foreign key is None (inner join)")
            if old_fk is not None:
                send(old_fk, Instruction.DELETE_KEY_AND_PROPAGATE)
        elif old_fk is None:
            send(new_fk, Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE)
        elif self._same(new_fk, old_fk):
            # same right row: if it does not exist, the old value did not join either
            send(new_fk, Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE)
        else:
            send(old_fk, Instruction.DELETE_KEY_NO_PROPAGATE)
            send(new_fk, Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE)


class ResponseJoinProcessor(_FkBase):
    """Response -> join result (Kafka's ``ResponseJoinProcessorSupplier``).

    A response whose hash differs from the hash of the left row's *current* value is stale
    (the row changed or went away after the subscription was sent; a newer response is on its
    way) and is dropped. Otherwise: no right value -> a tombstone (inner join) or
    ``joiner(left, None)`` (left join); else ``joiner(left, right)``.
    """

    def __init__(self, node: str, subscription_topic: str, left_getter: GetterFactory,
                 joiner: Callable[..., Any], joiner_takes_key: bool, left_join: bool,
                 left_value_serde: Any) -> None:
        super().__init__(node, subscription_topic)
        self.make_getter = left_getter[1]
        self.joiner = joiner
        self.joiner_takes_key = joiner_takes_key
        self.left_join = left_join
        self._value_serde = left_value_serde

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.get = self.make_getter(context)
        self.value_ser = resolve_serde(self._value_serde, "value", context).serialize

    def process(self, record: Record) -> None:
        key = record.key
        response: SubscriptionResponseWrapper | None = record.value
        if key is None or response is None:
            drop_record(self.context, self.node, "a foreign-key join response needs a key and a value")
            return
        current = self.get(key)
        left = None if current is None else current.value
        current_hash = None if left is None else value_hash(self.value_ser(self.vh_topic, left))
        if current_hash != response.hash:
            log.debug("%s dropped a stale foreign-key join response for key %r", self.node, key)
            return
        right = response.foreign_value
        if left is None or (right is None and not self.left_join):
            result = None
        elif self.joiner_takes_key:
            result = self.joiner(key, left, right)
        else:
            result = self.joiner(left, right)
        self.forward(Record(key, result, record.timestamp, record.headers))


class ForeignKeyJoinResultProcessor(_Base):
    """Join results -> table updates (Kafka's ``KTableSource`` behind ``KTABLE-FK-JOIN-OUTPUT``):
    with a store, ``Change(new, previous result)``; without, ``Change(new, None)``."""

    def __init__(self, node: str, store_name: str | None) -> None:
        self.node = node
        self.store_name = store_name
        self.store: Any = None

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        if self.store_name:
            self.store = context.get_state_store(self.store_name)

    def process(self, record: Record) -> None:
        key, new = record.key, record.value
        if key is None:
            drop_record(self.context, self.node, "a table update needs a key")
            return
        old = None
        if self.store is not None:
            vt = self.store.get(key)
            old = None if vt is None else vt.value
            if new is None:
                self.store.delete(key)
            else:
                self.store.put(key, ValueAndTimestamp(new, record.timestamp))
        self.forward(Record(key, Change(new, old), record.timestamp, record.headers))


# ------------------------------------------------------------------------- right side
class SubscriptionReceiveProcessor(_FkBase):
    """Subscription -> subscription store (Kafka's ``SubscriptionReceiveProcessorSupplier``).

    Stores (or, for the two delete instructions, removes) the subscription under
    :func:`combined_key_bytes` and forwards ``Change(new, old)`` of
    :class:`~streams.state.timestamped.ValueAndTimestamp` wrappers keyed by
    :class:`CombinedKey`. A None foreign key (left join, KIP-962) is passed on without
    touching the store; other records with a None foreign key are dropped.
    """

    def __init__(self, node: str, subscription_topic: str, store_name: str,
                 foreign_key_serde: Any, primary_key_serde: Any) -> None:
        super().__init__(node, subscription_topic)
        self.store_name = store_name
        self._fk_serde = foreign_key_serde
        self._pk_serde = primary_key_serde

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.store = context.get_state_store(self.store_name)
        self.fk_ser = resolve_serde(self._fk_serde, "key", context).serialize
        self.pk_ser = resolve_serde(self._pk_serde, "key", context).serialize

    def process(self, record: Record) -> None:
        fk = record.key
        wrapper: SubscriptionWrapper | None = record.value
        if wrapper is None:
            drop_record(self.context, self.node, "a subscription record has no value")
            return
        ts, headers = record.timestamp, record.headers
        new = ValueAndTimestamp(wrapper, ts)
        ckey = CombinedKey(fk, wrapper.primary_key)
        if fk is None:
            if wrapper.instruction != Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE:
                drop_record(self.context, self.node, "its foreign key is None")
                return
            self.forward(Record(ckey, Change(new, None), ts, headers))
            return
        pk_bytes = self.pk_ser(self.pk_topic, wrapper.primary_key)
        store_key = combined_key_bytes(self.fk_ser(self.fk_topic, fk), pk_bytes)
        old = self.store.get(store_key)
        if wrapper.instruction in _DELETES:
            self.store.delete(store_key)
        else:
            # stored with the primary key's bytes (the store has no primary-key serde)
            stored = SubscriptionWrapper(wrapper.hash, wrapper.instruction, pk_bytes,
                                         wrapper.primary_partition)
            self.store.put(store_key, ValueAndTimestamp(stored, ts))
        self.forward(Record(ckey, Change(new, old), ts, headers))


class SubscriptionJoinProcessor(_Base):
    """Subscription -> response with the right row (Kafka's ``SubscriptionJoinProcessorSupplier``);
    the response's timestamp is the larger of the subscription's and the right row's."""

    def __init__(self, node: str, right_getter: GetterFactory) -> None:
        self.node = node
        self.make_getter = right_getter[1]

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.get = self.make_getter(context)

    def process(self, record: Record) -> None:
        ckey: CombinedKey = record.key
        vt: ValueAndTimestamp = record.value.new
        wrapper: SubscriptionWrapper = vt.value
        right = None if ckey.foreign_key is None else self.get(ckey.foreign_key)
        ts = vt.timestamp if right is None else max(vt.timestamp, right.timestamp)
        instruction = wrapper.instruction
        if instruction == Instruction.DELETE_KEY_NO_PROPAGATE:
            return
        if instruction == Instruction.DELETE_KEY_AND_PROPAGATE:
            value = None
        elif instruction == Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE:
            value = None if right is None else right.value
        else:  # PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE
            if right is None:
                return
            value = right.value
        response = SubscriptionResponseWrapper(wrapper.hash, value, wrapper.primary_partition)
        self.forward(Record(ckey.primary_key, response, ts, record.headers))


class ForeignTableJoinProcessor(_FkBase):
    """Right table update -> a response to every subscriber of that key (Kafka's
    ``ForeignTableJoinProcessorSupplier``): a prefix scan of the subscription store."""

    def __init__(self, node: str, subscription_topic: str, store_name: str,
                 foreign_key_serde: Any, primary_key_serde: Any) -> None:
        super().__init__(node, subscription_topic)
        self.store_name = store_name
        self._fk_serde = foreign_key_serde
        self._pk_serde = primary_key_serde

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.store = context.get_state_store(self.store_name)
        self.fk_ser = resolve_serde(self._fk_serde, "key", context).serialize
        self.pk_de = resolve_serde(self._pk_serde, "key", context).deserialize

    def process(self, record: Record) -> None:
        fk = record.key
        if fk is None:
            drop_record(self.context, self.node, "a table update needs a key")
            return
        new = record.value.new
        prefix = foreign_key_prefix(self.fk_ser(self.fk_topic, fk))
        n = len(prefix)
        # read all subscribers first: forwarding must not interleave with the store's iterator
        subscribers = list(self.store.prefix_scan(prefix))
        for store_key, vt in subscribers:
            wrapper: SubscriptionWrapper = vt.value
            pk = self.pk_de(self.pk_topic, store_key[n:])
            response = SubscriptionResponseWrapper(wrapper.hash, new, wrapper.primary_partition)
            self.forward(Record(pk, response, record.timestamp, record.headers))
