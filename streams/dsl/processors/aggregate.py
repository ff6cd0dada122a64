"""Processors behind KGroupedStream.count/reduce/aggregate and the KTable operators.

Table-side processors forward :class:`~streams.dsl.change.Change` values (new and old), so
that downstream filters, mappers and re-groupings can retract old results as Kafka Streams does.
Stores hold :class:`~streams.state.timestamped.ValueAndTimestamp`; a result's timestamp is the
largest timestamp of the inputs that made it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.dsl.change import Change
from streams.dsl.processors.stateless import _Base, drop_record
from streams.processor.api import ProcessorContext
from streams.processor.record import Record
from streams.state.timestamped import ValueAndTimestamp
from streams.state.versioned import (
    PUT_RETURN_CODE_NOT_PUT,
    PUT_RETURN_CODE_VALID_TO_UNDEFINED,
    VersionedKeyValueStore,
)


class _StoreBase(_Base):
    """A processor that owns a table's store and forwards its changes.

    With a record cache in front of the store (``statestore.cache.max.bytes`` > 0 and caching
    not disabled in ``Materialized``), changes are forwarded when the cache flushes them (at
    commit, or when it is full), so consecutive updates of a key become one record;
    ``eager`` is then False. Without one, every update is forwarded at once.
    """

    def __init__(self, store_name: str, node: str) -> None:
        self.store_name = store_name
        self.node = node
        self.eager = True

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.store = context.get_state_store(self.store_name)
        register = getattr(self.store, "set_flush_listener", None)
        self.eager = not (register is not None and register(self._flush_listener()))

    def _flush_listener(self) -> Callable[..., None]:
        return self._flushed

    def _flushed(self, key: Any, new: ValueAndTimestamp | None,
                 old: ValueAndTimestamp | None) -> None:
        # the task's record context is the flushed update's (see streams.state.cache)
        ctx = self.context
        self.forward(Record(key, Change(None if new is None else new.value,
                                        None if old is None else old.value),
                            ctx.timestamp if new is None else new.timestamp, ctx.headers))


class StreamAggregateProcessor(_StoreBase):
    """``aggregate``/``count``: ``aggregator(key, value, agg)`` (or ``(value, agg)``)."""

    def __init__(self, store_name: str, node: str, initializer: Callable[[], Any],
                 aggregator: Callable[..., Any], with_key: bool) -> None:
        super().__init__(store_name, node)
        self.initializer = initializer
        self.aggregator = aggregator
        self.with_key = with_key

    def process(self, record: Record) -> None:
        key, value = record.key, record.value
        if key is None or value is None:
            drop_record(self.context, self.node, "its key or value is None")
            return
        old = self.store.get(key)
        if old is None:
            agg, ts, old_value = self.initializer(), record.timestamp, None
        else:
            agg, old_value = old.value, old.value
            ts = max(record.timestamp, old.timestamp)
        new = self.aggregator(key, value, agg) if self.with_key else self.aggregator(value, agg)
        self.store.put(key, ValueAndTimestamp(new, ts))
        if self.eager:
            self.forward(Record(key, Change(new, old_value), ts, record.headers))


class StreamReduceProcessor(_StoreBase):
    """``reduce``: the first value is the aggregate; then ``reducer(agg, value)``."""

    def __init__(self, store_name: str, node: str, reducer: Callable[[Any, Any], Any]) -> None:
        super().__init__(store_name, node)
        self.reducer = reducer

    def process(self, record: Record) -> None:
        key, value = record.key, record.value
        if key is None or value is None:
            drop_record(self.context, self.node, "its key or value is None")
            return
        old = self.store.get(key)
        if old is None:
            new, ts, old_value = value, record.timestamp, None
        else:
            old_value = old.value
            new = self.reducer(old_value, value)
            ts = max(record.timestamp, old.timestamp)
        self.store.put(key, ValueAndTimestamp(new, ts))
        if self.eager:
            self.forward(Record(key, Change(new, old_value), ts, record.headers))


def put_table_value(store: Any, key: Any, value: Any, timestamp: int) -> int:
    """Write a table's new value for ``key`` (None deletes) into its timestamped or versioned
    store, as Kafka Streams' ``KeyValueStoreWrapper``: returns the versioned store's code
    (``PUT_RETURN_CODE_NOT_PUT`` for a version too old to keep, a ``valid_to`` for one that is
    not the latest) or ``PUT_RETURN_CODE_VALID_TO_UNDEFINED`` (the latest: always, for a
    timestamped store)."""
    if isinstance(store, VersionedKeyValueStore):
        return store.put(key, value, timestamp)
    if value is None:
        store.delete(key)
    else:
        store.put(key, ValueAndTimestamp(value, timestamp))
    return PUT_RETURN_CODE_VALID_TO_UNDEFINED


class TableSourceProcessor(_StoreBase):
    """Materializes a topic (or stream) as a table: upserts, None deletes.

    Into a versioned store (KIP-914), an out-of-order update goes into the key's history and is
    forwarded with ``is_latest`` False; one older than the history retention is dropped (not
    forwarded either), as in Kafka Streams."""

    def process(self, record: Record) -> None:
        key = record.key
        if key is None:
            drop_record(self.context, self.node, "a table update needs a key and it is None")
            return
        old = self.store.get(key)
        old_value = None if old is None else old.value
        value = record.value
        code = put_table_value(self.store, key, value, record.timestamp)
        if code == PUT_RETURN_CODE_NOT_PUT:
            return
        if self.eager:
            self.forward(Record(key, Change(value, old_value,
                                            code == PUT_RETURN_CODE_VALID_TO_UNDEFINED),
                                record.timestamp, record.headers))


class TableFilterProcessor(_Base):
    """KTable filter: a value failing the predicate becomes a deletion.

    As Kafka Streams' ``KTableFilter``: every update is forwarded, one that fails the predicate
    as a tombstone, even if the key never passed; only when a node downstream needs old values
    (``send_old[0]``: a re-grouping, a suppression, a left/outer or foreign-key join) is an
    update that was not in the table and still is not dropped, since the old value tells
    downstream nothing changed.
    """

    def __init__(self, predicate: Callable[..., Any], with_key: bool, negate: bool,
                 store_name: str | None, send_old: list[bool] | None = None,
                 versioned_input: bool = False) -> None:
        self.predicate = predicate
        self.with_key = with_key
        self.negate = negate
        self.store_name = store_name
        self.store: Any = None
        # Kafka Streams' versioned semantics forward even "nothing was, nothing is"
        self.send_old = bool(send_old and send_old[0]) and not versioned_input

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        if self.store_name:
            self.store = context.get_state_store(self.store_name)

    def _keep(self, key: Any, value: Any) -> Any:
        if value is None:
            return None
        ok = self.predicate(key, value) if self.with_key else self.predicate(value)
        return value if bool(ok) != self.negate else None

    def process(self, record: Record) -> None:
        change: Change = record.value
        key = record.key
        new = self._keep(key, change.new)
        old = self._keep(key, change.old)
        if self.send_old and new is None and old is None:
            return  # nothing was, nothing is, and downstream knows it from the old value
        out = materialized_change(self.store, key, new, old, record)
        if out is not None:
            self.forward(out)


def materialized_change(store: Any, key: Any, new: Any, old: Any, record: Record) -> Record | None:
    """The record a derived table forwards for ``Change(new, old)``, after writing ``new`` to
    its ``store`` if it has one: a store decides ``is_latest`` (a timestamped store: always;
    a versioned one: by its put); without one the input's passes on. A versioned store's
    NOT_PUT yields None: nothing is forwarded."""
    is_latest = record.value.is_latest
    if store is not None:
        code = put_table_value(store, key, new, record.timestamp)
        if code == PUT_RETURN_CODE_NOT_PUT:
            return None
        is_latest = code == PUT_RETURN_CODE_VALID_TO_UNDEFINED
    return Record(key, Change(new, old, is_latest), record.timestamp, record.headers)


class TableMapValuesProcessor(_Base):
    """KTable map_values: maps new and old values (None stays None)."""

    def __init__(self, mapper: Callable[..., Any], with_key: bool, store_name: str | None) -> None:
        self.mapper = mapper
        self.with_key = with_key
        self.store_name = store_name
        self.store: Any = None

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        if self.store_name:
            self.store = context.get_state_store(self.store_name)

    def _map(self, key: Any, value: Any) -> Any:
        if value is None:
            return None
        return self.mapper(key, value) if self.with_key else self.mapper(value)

    def process(self, record: Record) -> None:
        change: Change = record.value
        key = record.key
        new = self._map(key, change.new)
        old = self._map(key, change.old)
        out = materialized_change(self.store, key, new, old, record)
        if out is not None:
            self.forward(out)


class TableToStreamProcessor(_Base):
    """KTable to_stream: forwards the new value (None for deletions), optionally re-keyed."""

    def __init__(self, key_mapper: Callable[[Any, Any], Any] | None) -> None:
        self.key_mapper = key_mapper

    def process(self, record: Record) -> None:
        value = record.value.new
        key = record.key if self.key_mapper is None else self.key_mapper(record.key, value)
        self.forward(Record(key, value, record.timestamp, record.headers))


class TableRepartitionMapProcessor(_Base):
    """KTable group_by: ``selector(key, value) -> (new key, new value)`` for new and old values.

    When both map to the same key, one record carries both (subtractor runs before adder);
    otherwise the old value is retracted from its group and the new one added to its own.
    """

    def __init__(self, selector: Callable[[Any, Any], Any], node: str,
                 versioned_input: bool = False) -> None:
        self.selector = selector
        self.node = node
        #: a versioned table's out-of-order updates are history, not a change of the group
        self.skip_not_latest = versioned_input

    def _select(self, key: Any, value: Any) -> tuple[Any, Any] | None:
        if value is None:
            return None
        pair = self.selector(key, value)
        try:
            new_key, new_value = pair
        except (TypeError, ValueError):
            raise ValueError(
                f"{self.node}: group_by selector must return a (key, value) pair, got {pair!r}"
            ) from None
        return new_key, new_value

    def process(self, record: Record) -> None:
        change: Change = record.value
        if self.skip_not_latest and not change.is_latest:
            return
        ts, headers = record.timestamp, record.headers
        new = self._select(record.key, change.new)
        old = self._select(record.key, change.old)
        if new is not None and new[0] is None:
            drop_record(self.context, self.node, "group_by selected a None key for the new value")
            new = None
        if old is not None and old[0] is None:
            old = None
        if new is not None and old is not None and new[0] == old[0]:
            self.forward(Record(new[0], Change(new[1], old[1]), ts, headers))
            return
        if old is not None:
            self.forward(Record(old[0], Change(None, old[1]), ts, headers))
        if new is not None:
            self.forward(Record(new[0], Change(new[1], None), ts, headers))


class TableAggregateProcessor(_StoreBase):
    """KGroupedTable aggregate/count: subtractor for the old value, then adder for the new."""

    def __init__(self, store_name: str, node: str, initializer: Callable[[], Any],
                 adder: Callable[..., Any], subtractor: Callable[..., Any], with_key: bool) -> None:
        super().__init__(store_name, node)
        self.initializer = initializer
        self.adder = adder
        self.subtractor = subtractor
        self.with_key = with_key

    def process(self, record: Record) -> None:
        key = record.key
        if key is None:
            drop_record(self.context, self.node, "its key is None")
            return
        change: Change = record.value
        old_vt = self.store.get(key)
        old_agg = None if old_vt is None else old_vt.value
        ts = record.timestamp if old_vt is None else max(record.timestamp, old_vt.timestamp)
        agg = old_agg
        if change.old is not None and old_agg is not None:
            agg = (self.subtractor(key, change.old, agg) if self.with_key
                   else self.subtractor(change.old, agg))
        if change.new is not None:
            if agg is None:
                agg = self.initializer()
            agg = self.adder(key, change.new, agg) if self.with_key else self.adder(change.new, agg)
        if agg is None:
            self.store.delete(key)
        else:
            self.store.put(key, ValueAndTimestamp(agg, ts))
        if self.eager:
            self.forward(Record(key, Change(agg, old_agg), ts, record.headers))


class TableReduceProcessor(_StoreBase):
    """KGroupedTable reduce: ``subtractor(agg, old)`` then ``adder(agg, new)``."""

    def __init__(self, store_name: str, node: str, adder: Callable[[Any, Any], Any],
                 subtractor: Callable[[Any, Any], Any]) -> None:
        super().__init__(store_name, node)
        self.adder = adder
        self.subtractor = subtractor

    def process(self, record: Record) -> None:
        key = record.key
        if key is None:
            drop_record(self.context, self.node, "its key is None")
            return
        change: Change = record.value
        old_vt = self.store.get(key)
        old_agg = None if old_vt is None else old_vt.value
        ts = record.timestamp if old_vt is None else max(record.timestamp, old_vt.timestamp)
        agg = old_agg
        if change.old is not None and agg is not None:
            agg = self.subtractor(agg, change.old)
        if change.new is not None:
            agg = change.new if agg is None else self.adder(agg, change.new)
        if agg is None:
            self.store.delete(key)
        else:
            self.store.put(key, ValueAndTimestamp(agg, ts))
        if self.eager:
            self.forward(Record(key, Change(agg, old_agg), ts, record.headers))
