"""Processors behind KStream-KStream windowed joins (inner, left, outer).

Each side puts its records into its own window store (keeping duplicates); each side's join
processor looks up the other side's store within the join window. As in Kafka Streams since
KAFKA-10847, a left/outer record that found no partner is not emitted at once: it waits in a
shared "outer" store and is emitted, joined with None, only when its join window has closed
(stream time past record time + window + grace), unless a partner arrives first.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from streams.dsl.processors.stateless import _Base, drop_record
from streams.errors import SerializationError
from streams.processor.api import ProcessorContext
from streams.processor.record import Record

_TS = struct.Struct(">q")
LEFT, RIGHT = True, False


class SharedTime:
    """Stream time seen by both sides of one join (per task), and the oldest pending record."""

    __slots__ = ("min_time", "stream_time")

    def __init__(self) -> None:
        self.stream_time = -1
        self.min_time = 1 << 62


class JoinWindowProcessor(_Base):
    """Puts each record into its side's window store, then forwards it to the join."""

    def __init__(self, store_name: str) -> None:
        self.store_name = store_name

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.store = context.get_state_store(self.store_name)

    def process(self, record: Record) -> None:
        if record.key is not None and record.value is not None:
            self.store.put(record.key, record.value, record.timestamp)
        self.forward(record)


class StreamStreamJoinProcessor(_Base):
    """One side of the join. ``is_left`` says which side; ``outer`` whether its unmatched
    records are emitted (left side of left joins, both sides of outer joins)."""

    def __init__(self, node: str, other_store: str, outer_store: str | None,
                 joiner: Callable[..., Any], with_key: bool, is_left: bool, outer: bool,
                 before_ms: int, after_ms: int, grace_ms: int,
                 shared: dict[str, SharedTime]) -> None:
        self.node = node
        self.other_store_name = other_store
        self.outer_store_name = outer_store
        self.joiner = joiner
        self.with_key = with_key
        self.is_left = is_left
        self.outer = outer
        # the other side's records this record may join: [ts - before, ts + after]
        self.before = before_ms
        self.after = after_ms
        self.grace = grace_ms
        self.lookback = max(before_ms, after_ms)
        # a pending left record's window closes ``after`` (of the JoinWindows) past its time, a
        # right record's ``before`` past it; this side's before/after are the other's swapped
        self.left_lookback = after_ms if is_left else before_ms
        self.right_lookback = before_ms if is_left else after_ms
        self._shared = shared

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.other = context.get_state_store(self.other_store_name)
        self.outer_store = (context.get_state_store(self.outer_store_name)
                            if self.outer_store_name else None)
        # both sides of one task share a clock, keyed by task id
        self.time = self._shared.setdefault(context.task_id, SharedTime())

    def _join(self, key: Any, mine: Any, other: Any) -> Any:
        left, right = (mine, other) if self.is_left else (other, mine)
        return self.joiner(key, left, right) if self.with_key else self.joiner(left, right)

    def process(self, record: Record) -> None:
        key, value, ts = record.key, record.value, record.timestamp
        if value is None:
            drop_record(self.context, self.node, "a record with a None value cannot be joined")
            return
        if key is None:
            if self.outer:  # KIP-962: left/outer joins keep null-key records, unjoined
                self.forward(Record(key, self._join(key, value, None), ts, record.headers))
            else:
                drop_record(self.context, self.node, "its key is None (inner join side)")
            return
        time = self.time
        if ts > time.stream_time:
            time.stream_time = ts
        if ts + self.after + self.grace < time.stream_time:
            drop_record(self.context, self.node, "its join window has closed (late record)")
            return
        if self.outer_store is not None and ts == time.stream_time:
            self._emit_closed(record)
        time_from = max(0, ts - self.before)
        time_to = max(0, ts + self.after)
        matched = False
        for other_ts, other_value in list(self.other.fetch(key, time_from, time_to)):
            matched = True
            if self.outer_store is not None:
                # the partner is joined now: it no longer waits for an unjoined emission
                self.outer_store.delete((other_ts, not self.is_left, key))
            self.forward(Record(key, self._join(key, value, other_value), max(ts, other_ts),
                                record.headers))
        if matched or not self.outer:
            return
        if self.outer_store is None or time_to < time.stream_time:
            self.forward(Record(key, self._join(key, value, None), ts, record.headers))
        else:
            if ts < time.min_time:
                time.min_time = ts
            self.outer_store.put((ts, self.is_left, key), (self.is_left, value))

    def _emit_closed(self, record: Record) -> None:
        """Emit pending unjoined records whose windows have closed, oldest first."""
        time = self.time
        if time.min_time >= time.stream_time - self.lookback - self.grace:
            return
        store = self.outer_store
        assert store is not None
        done = []
        for (ts, is_left, key), (_, value) in store.all():
            time.min_time = ts
            lookback = self.left_lookback if is_left else self.right_lookback
            if ts + lookback + self.grace >= time.stream_time:
                break
            left, right = (value, None) if is_left else (None, value)
            out = self.joiner(key, left, right) if self.with_key else self.joiner(left, right)
            self.forward(Record(key, out, ts, record.headers))
            done.append((ts, is_left, key))
        else:
            time.min_time = 1 << 62
        for k in done:
            store.delete(k)


class JoinSideKeySerde:
    """Key of the outer store: 8-byte timestamp, 1 side byte, then the key (time order)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def with_defaults(self, key_default: Any, value_default: Any) -> JoinSideKeySerde:
        """Fill a missing key serde from the config default."""
        return self if self.inner is not None else JoinSideKeySerde(key_default)

    def serialize(self, topic: str, value: Any, headers: Any = None) -> bytes | None:
        if value is None:
            return None
        ts, is_left, key = value
        return _TS.pack(ts) + (b"\x01" if is_left else b"\x00") + self.inner.serialize(topic, key, headers)

    def deserialize(self, topic: str, data: bytes | None, headers: Any = None) -> Any:
        if data is None:
            return None
        if len(data) < 9:
            raise SerializationError("outer join store key shorter than 9 bytes", topic=topic)
        return (_TS.unpack_from(data)[0], data[8] == 1, self.inner.deserialize(topic, data[9:], headers))


class LeftOrRightSerde:
    """Value of the outer store: 1 side byte, then the value with that side's serde."""

    def __init__(self, left: Any, right: Any) -> None:
        self.left = left
        self.right = right

    def with_defaults(self, key_default: Any, value_default: Any) -> LeftOrRightSerde:
        """Fill missing value serdes from the config default."""
        return LeftOrRightSerde(self.left if self.left is not None else value_default,
                                self.right if self.right is not None else value_default)

    def serialize(self, topic: str, value: Any, headers: Any = None) -> bytes | None:
        if value is None:
            return None
        is_left, v = value
        serde = self.left if is_left else self.right
        return (b"\x01" if is_left else b"\x00") + (serde.serialize(topic, v, headers) or b"")

    def deserialize(self, topic: str, data: bytes | None, headers: Any = None) -> Any:
        if data is None:
            return None
        is_left = data[0] == 1
        serde = self.left if is_left else self.right
        return (is_left, serde.deserialize(topic, data[1:], headers))


class OuterStoreBuilder:
    """Builds the shared outer-join store with wrapper serdes (defaults filled per task)."""

    store_type = "key_value"

    def __init__(self, supplier: Any, key_serde: Any, left_serde: Any, right_serde: Any) -> None:
        self.supplier = supplier
        self.key_serde = key_serde
        self.left_serde = left_serde
        self.right_serde = right_serde

    name = property(lambda self: str(self.supplier.name))
    persistent = property(lambda self: bool(self.supplier.persistent))
    logging_enabled = True
    log_config: dict[str, str] = {}

    def with_default_serdes(self, key_default: Any, value_default: Any) -> OuterStoreBuilder:
        """A copy with missing serdes filled."""
        return OuterStoreBuilder(
            self.supplier,
            self.key_serde if self.key_serde is not None else key_default,
            self.left_serde if self.left_serde is not None else value_default,
            self.right_serde if self.right_serde is not None else value_default,
        )

    def build(self) -> Any:
        """A fresh typed KV store."""
        from streams.state.stores import Stores

        return Stores.key_value_store_builder(
            self.supplier, JoinSideKeySerde(self.key_serde),
            LeftOrRightSerde(self.left_serde, self.right_serde)).build()
