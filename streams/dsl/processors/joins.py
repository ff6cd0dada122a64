"""Processors behind the non-windowed joins: stream-table, stream-global table, table-table.

Semantics follow Kafka Streams (including KIP-962 for null keys in left joins): a stream record
looks up the table's value at processing time; input records with a None value never trigger a
join; table-table joins emit (new, old) pairs so downstream tables retract correctly, with the
larger of the two sides' timestamps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.dsl.change import Change
from streams.dsl.getters import GetterFactory
from streams.dsl.processors.aggregate import materialized_change
from streams.dsl.processors.stateless import _Base, drop_record
from streams.processor.api import ProcessorContext
from streams.processor.record import Record


class StreamTableJoinProcessor(_Base):
    """KStream-KTable and KStream-GlobalKTable join (inner or left).

    With a versioned table (``as_of``) a record meets the table's value as of its own
    timestamp (KIP-914); with a grace period (``buffer``, KIP-923) records first wait in a
    :class:`~streams.dsl.processors.join_buffer.JoinBuffer` and are joined in timestamp order
    once stream time has passed them by the grace.
    """

    def __init__(self, getter: GetterFactory, joiner: Callable[..., Any], with_key: bool,
                 left: bool, node: str,
                 key_selector: Callable[[Any, Any], Any] | None = None, *,
                 as_of: bool = False, buffer: str | None = None) -> None:
        self.make_getter = getter[1]
        self.joiner = joiner
        self.with_key = with_key
        self.left = left
        self.node = node
        self.key_selector = key_selector
        self.as_of = as_of
        self.buffer_name = buffer
        self.buffer: Any = None

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.get = self.make_getter(context)
        if self.buffer_name is not None:
            self.buffer = context.get_state_store(self.buffer_name)

    def process(self, record: Record) -> None:
        value = record.value
        if value is None:
            drop_record(self.context, self.node, "a record with a None value cannot be joined")
            return
        key = record.key if self.key_selector is None else self.key_selector(record.key, value)
        if key is None and not self.left:
            drop_record(self.context, self.node, "its join key is None (inner join)")
            return
        buffer = self.buffer
        # a None key (left join) cannot be buffered by its key bytes: it is joined at once
        if buffer is None or key is None or not buffer.put(record):
            self._join(record, key)
            return
        for due in buffer.evict():
            due_key = due.key if self.key_selector is None else self.key_selector(due.key,
                                                                                  due.value)
            self._join(due, due_key)

    def _join(self, record: Record, key: Any) -> None:
        value = record.value
        if key is None:
            other = None
        else:
            vt = self.get(key, record.timestamp) if self.as_of else self.get(key)
            other = None if vt is None else vt.value
            if other is None and not self.left:
                return  # no match: an inner join emits nothing
        joined = (self.joiner(record.key, value, other) if self.with_key
                  else self.joiner(value, other))
        self.forward(Record(record.key, joined, record.timestamp, record.headers))


class JoinRepartitionFilterProcessor(_Base):
    """The filter in front of a stream-table join's repartition topic: drops records with a
    None key, unless a left join reads the topic (KIP-962: a left join joins them with None;
    an inner join reading the same topic drops them itself)."""

    def __init__(self, node: str, keep_null_keys: bool) -> None:
        self.node = node
        self.keep_null_keys = keep_null_keys

    def process(self, record: Record) -> None:
        if record.key is None and not self.keep_null_keys:
            drop_record(self.context, self.node, "its key is None and it cannot be repartitioned")
            return
        self.forward(record)


class TableTableJoinProcessor(_Base):
    """One side of a KTable-KTable join: on an update of this side, look up the other.

    ``mode`` is "inner", "left" or "outer"; ``this_is_left`` says which side this processor
    serves, so the joiner always gets ``(left_value, right_value)``.
    """

    def __init__(self, other: GetterFactory, joiner: Callable[..., Any], with_key: bool,
                 mode: str, this_is_left: bool, versioned_input: bool = False) -> None:
        self.make_getter = other[1]
        self.joiner = joiner
        self.with_key = with_key
        self.mode = mode
        self.this_is_left = this_is_left
        #: this side is a versioned table: its out-of-order updates are not joined (KIP-914)
        self.skip_not_latest = versioned_input

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.get = self.make_getter(context)

    def _join(self, key: Any, mine: Any, other: Any) -> Any:
        left, right = (mine, other) if self.this_is_left else (other, mine)
        if self.mode == "inner" and (left is None or right is None):
            return None
        if self.mode == "left" and left is None:
            return None
        if left is None and right is None:
            return None
        return self.joiner(key, left, right) if self.with_key else self.joiner(left, right)

    def process(self, record: Record) -> None:
        key = record.key
        if key is None:
            drop_record(self.context, self.node_name(), "a table update needs a key")
            return
        change: Change = record.value
        if self.skip_not_latest and not change.is_latest:
            drop_record(self.context, self.node_name(),
                        "it is an out-of-order update of a versioned table")
            return
        vt = self.get(key)
        other = None if vt is None else vt.value
        if other is None:
            # Kafka Streams: an inner join, or the right side of a left join, stays silent when
            # the side it must join with is missing; the others stay silent only when this
            # side had nothing and has nothing
            needs_other = self.mode == "inner" or (self.mode == "left" and not self.this_is_left)
            if needs_other or (change.new is None and change.old is None):
                return
        # when the other side exists every update is forwarded, a deletion as a tombstone (even
        # of a key this side never had, as Kafka Streams does); the result's timestamp is the
        # larger of the two sides'
        ts = record.timestamp if vt is None else max(record.timestamp, vt.timestamp)
        new = self._join(key, change.new, other)
        old = self._join(key, change.old, other)
        self.forward(Record(key, Change(new, old), ts, record.headers))

    def node_name(self) -> str:
        return getattr(self.context, "node_name", "KTABLE-JOIN")


class TableJoinMergeProcessor(_Base):
    """Joins both sides' results into one table node; materializes it when asked."""

    def __init__(self, store_name: str | None) -> None:
        self.store_name = store_name
        self.store: Any = None

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        if self.store_name:
            self.store = context.get_state_store(self.store_name)

    def process(self, record: Record) -> None:
        if self.store is None:
            self.forward(record)
            return
        change = record.value
        out = materialized_change(self.store, record.key, change.new, change.old, record)
        if out is not None:
            self.forward(out)
