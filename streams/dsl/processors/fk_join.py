"""The processors behind the foreign-key KTable-KTable join (Kafka's KIP-213).

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

The records the two sides exchange, their bytes and the subscription store's key layout are in
:mod:`streams.dsl.processors.fk_join_formats`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from streams.dsl.change import Change
from streams.dsl.getters import GetterFactory
from streams.dsl.processors.fk_join_formats import (
    CombinedKey,
    Instruction,
    SubscriptionResponseWrapper,
    SubscriptionWrapper,
    combined_key_bytes,
    foreign_key_prefix,
    value_hash,
)
from streams.dsl.processors.stateless import _Base, drop_record
from streams.processor.api import ProcessorContext
from streams.processor.record import Record
from streams.serdes import Bytes
from streams.state.timestamped import ValueAndTimestamp

__all__ = [
    "ForeignKeyJoinResultProcessor",
    "ForeignTableJoinProcessor",
    "ResponseJoinProcessor",
    "SubscriptionJoinProcessor",
    "SubscriptionReceiveProcessor",
    "SubscriptionSendProcessor",
    "resolve_serde",
]

log = logging.getLogger(__name__)

#: The subscription instructions that remove the subscription from the store.
_DELETES = (Instruction.DELETE_KEY_AND_PROPAGATE, Instruction.DELETE_KEY_NO_PROPAGATE)


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
                 left_value_serde: Any, versioned_input: bool = False) -> None:
        super().__init__(node, subscription_topic)
        #: the left table is versioned: its out-of-order updates are not joined (KIP-914)
        self.skip_not_latest = versioned_input
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
        if self.skip_not_latest and not change.is_latest:
            drop_record(self.context, self.node, "it is an out-of-order update of a versioned table")
            return
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
                 foreign_key_serde: Any, primary_key_serde: Any,
                 versioned_input: bool = False) -> None:
        super().__init__(node, subscription_topic)
        self.store_name = store_name
        self._fk_serde = foreign_key_serde
        self._pk_serde = primary_key_serde
        #: the right table is versioned: its out-of-order updates are not joined (KIP-914)
        self.skip_not_latest = versioned_input

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
                 foreign_key_serde: Any, primary_key_serde: Any,
                 versioned_input: bool = False) -> None:
        super().__init__(node, subscription_topic)
        self.store_name = store_name
        self._fk_serde = foreign_key_serde
        self._pk_serde = primary_key_serde
        #: the right table is versioned: its out-of-order updates are not joined (KIP-914)
        self.skip_not_latest = versioned_input

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
        if self.skip_not_latest and not record.value.is_latest:
            drop_record(self.context, self.node, "it is an out-of-order update of a versioned table")
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
