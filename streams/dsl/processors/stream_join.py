"""Processors behind KStream-KStream windowed joins (inner, left, outer).

Each side puts its records into its own window store (keeping duplicates); each side's join
processor looks up the other side's store within the join window. As in Kafka Streams since
KAFKA-10847, a left/outer record that found no partner is not emitted at once: it waits in a
shared "outer" store and is emitted, joined with None, only when its join window has closed
(stream time past its time + after + grace for a left record, + before + grace for a right
one, as since KAFKA-15417), unless a partner arrives first. Duplicates (same key, side and
time) wait together in one entry, as in Kafka's list-valued store.

Late records behave as in Kafka Streams: a record older than its window store's retention
(before + after + grace behind the newest record of its side) is not stored — it is counted
in the task's dropped records — but it is still joined with what the other side's store
holds, and a left/outer one without a partner is emitted joined with None at once.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams.dsl.processors.stateless import _Base, drop_record
from streams.errors import SerializationError
from streams.processor.api import ProcessorContext
from streams.processor.record import Record
from streams.state.stores import Stores

if TYPE_CHECKING:
    from streams.state.api import StoreBuilder

_TS = struct.Struct(">q")
_LEN = struct.Struct(">I")
LEFT, RIGHT = True, False


class SharedTime:
    """Stream time seen by both sides of one join (per task), and the oldest pending record."""

    __slots__ = ("min_time", "stream_time")

    def __init__(self) -> None:
        self.stream_time = -1
        # unknown until the first scan of the outer store (which may hold records restored
        # from the changelog): the first record at stream time scans it
        self.min_time = -(1 << 62)


class JoinWindowProcessor(_Base):
    """Puts each record into its side's window store, then forwards it to the join.

    A record already older than the store's retention (``retention_ms`` behind the newest
    record this side has put) is not stored, and is counted as dropped, as Kafka Streams'
    window stores do; it is still forwarded to the join."""

    def __init__(self, store_name: str, node: str = "", retention_ms: int | None = None) -> None:
        self.store_name = store_name
        self.node = node or store_name
        self.retention = retention_ms
        self.observed = -1  # newest timestamp this side has stored (the store's stream time)

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.store = context.get_state_store(self.store_name)

    def process(self, record: Record) -> None:
        if record.key is not None and record.value is not None:
            ts = record.timestamp
            if ts > self.observed:
                self.observed = ts
            if self.retention is not None and ts <= self.observed - self.retention:
                drop_record(self.context, self.node, "it is older than the join window store's "
                            "retention, so later records cannot join it (it is still joined "
                            "with the other side's records)")
            else:
                self.store.put(record.key, record.value, ts)
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

    def close(self) -> None:
        # a task that is opened again (rebalance, another test driver) starts a fresh clock
        self._shared.pop(self.context.task_id, None)

    def _join(self, key: Any, mine: Any, other: Any) -> Any:
        left, right = (mine, other) if self.is_left else (other, mine)
        return self.joiner(key, left, right) if self.with_key else self.joiner(left, right)

    def process(self, record: Record) -> None:
        key, value, ts = record.key, record.value, record.timestamp
        time = self.time
        # as in Kafka Streams, every record moves the join's stream time, even one it skips
        if ts > time.stream_time:
            time.stream_time = ts
        if value is None:
            drop_record(self.context, self.node, "a record with a None value cannot be joined")
            return
        if key is None:
            if self.outer:  # KIP-962: left/outer joins keep null-key records, unjoined
                self.forward(Record(key, self._join(key, value, None), ts, record.headers))
            else:
                drop_record(self.context, self.node, "its key is None (inner join side)")
            return
        store = self.outer_store
        if store is not None and ts == time.stream_time:
            self._emit_closed(record)
        time_from = max(0, ts - self.before)
        time_to = max(0, ts + self.after)
        matched = False
        for other_ts, other_value in list(self.other.fetch(key, time_from, time_to)):
            matched = True
            if store is not None:
                # the partner is joined now: it no longer waits for an unjoined emission
                pending = (other_ts, not self.is_left, key)
                if store.get(pending) is not None:
                    store.delete(pending)
            self.forward(Record(key, self._join(key, value, other_value), max(ts, other_ts),
                                record.headers))
        if matched or not self.outer:
            return
        if store is None or time_to < time.stream_time:
            # its window has ended already (an out-of-order record): no need to wait
            self.forward(Record(key, self._join(key, value, None), ts, record.headers))
        else:
            if ts < time.min_time:
                time.min_time = ts
            # duplicates (same key, side and timestamp) wait together, as Kafka's list store
            this_key = (ts, self.is_left, key)
            waiting = store.get(this_key)
            values = [*waiting[1], value] if waiting is not None else [value]
            store.put(this_key, (self.is_left, values))

    def _emit_closed(self, record: Record) -> None:
        """Emit pending unjoined records whose windows have closed, oldest first.

        A left record's window closes ``after`` (of the JoinWindows) + grace past its time, a
        right record's ``before`` + grace. As Kafka Streams, the store is only scanned once the
        oldest pending record is older than this side's window (+ grace); the scan skips
        records still open, and stops once it has seen an open record of both sides."""
        time = self.time
        if time.min_time + self.after + self.grace >= time.stream_time:
            return
        store = self.outer_store
        assert store is not None
        done = []
        oldest_open: int | None = None
        open_sides: set[bool] = set()
        for pending_key, (_, values) in store.all():
            ts, is_left, key = pending_key
            lookback = self.left_lookback if is_left else self.right_lookback
            if ts + lookback + self.grace >= time.stream_time:
                if oldest_open is None:
                    oldest_open = ts
                open_sides.add(is_left)
                if len(open_sides) == 2:
                    break
                continue
            for value in values:
                left, right = (value, None) if is_left else (None, value)
                out = self.joiner(key, left, right) if self.with_key else self.joiner(left, right)
                self.forward(Record(key, out, ts, record.headers))
            done.append(pending_key)
        time.min_time = oldest_open if oldest_open is not None else 1 << 62
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
    """Value of the outer store: ``(is_left, [values])`` — 1 side byte, then each value with
    that side's serde as a 4-byte length and the bytes (duplicates share one entry)."""

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
        is_left, values = value
        serde = self.left if is_left else self.right
        parts = [b"\x01" if is_left else b"\x00"]
        for v in values:
            data = serde.serialize(topic, v, headers) or b""
            parts.append(_LEN.pack(len(data)))
            parts.append(data)
        return b"".join(parts)

    def deserialize(self, topic: str, data: bytes | None, headers: Any = None) -> Any:
        if data is None:
            return None
        is_left = data[0] == 1
        serde = self.left if is_left else self.right
        values = []
        pos, end = 1, len(data)
        while pos < end:
            (n,) = _LEN.unpack_from(data, pos)
            pos += 4
            values.append(serde.deserialize(topic, data[pos:pos + n], headers))
            pos += n
        return (is_left, values)


class OuterStoreBuilder:
    """Builds the shared outer-join store with wrapper serdes (defaults filled per task);
    implements :class:`~streams.state.api.StoreBuilder`. Logged, never cached."""

    #: Kind of store this builder makes.
    store_type = "key_value"

    def __init__(self, supplier: Any, key_serde: Any, left_serde: Any, right_serde: Any, *,
                 logging: bool = True, log_config: dict[str, str] | None = None) -> None:
        """A store made by ``supplier``; None serdes are filled from the config defaults."""
        self.supplier = supplier
        self.key_serde = key_serde
        self.left_serde = left_serde
        self.right_serde = right_serde
        self._logging = logging
        self._log_config = dict(log_config or {})

    @property
    def name(self) -> str:
        """Store name."""
        return str(self.supplier.name)

    @property
    def persistent(self) -> bool:
        """True for RocksDB-backed stores."""
        return bool(self.supplier.persistent)

    @property
    def logging_enabled(self) -> bool:
        """Whether a changelog topic backs the store (yes, unless disabled)."""
        return self._logging

    @property
    def log_config(self) -> dict[str, str]:
        """Extra changelog topic configs."""
        return dict(self._log_config)

    @property
    def caching_enabled(self) -> bool:
        """False: the join reads and writes the store on every record."""
        return False

    def with_logging_disabled(self) -> OuterStoreBuilder:
        """A copy without changelog."""
        return OuterStoreBuilder(self.supplier, self.key_serde, self.left_serde,
                                 self.right_serde, logging=False)

    def with_logging_enabled(self, config: dict[str, str] | None = None) -> OuterStoreBuilder:
        """A copy with a changelog, with these extra topic configs."""
        return OuterStoreBuilder(self.supplier, self.key_serde, self.left_serde,
                                 self.right_serde, logging=True, log_config=config)

    def with_default_serdes(self, key_default: Any, value_default: Any) -> OuterStoreBuilder:
        """A copy with missing serdes filled."""
        return OuterStoreBuilder(
            self.supplier,
            self.key_serde if self.key_serde is not None else key_default,
            self.left_serde if self.left_serde is not None else value_default,
            self.right_serde if self.right_serde is not None else value_default,
            logging=self._logging, log_config=self._log_config,
        )

    def build(self) -> Any:
        """A fresh typed KV store."""
        builder = Stores.key_value_store_builder(
            self.supplier, JoinSideKeySerde(self.key_serde),
            LeftOrRightSerde(self.left_serde, self.right_serde))
        builder = (builder.with_logging_enabled(self._log_config) if self._logging
                   else builder.with_logging_disabled())
        return builder.build()


if TYPE_CHECKING:

    def _is_store_builder(builder: OuterStoreBuilder) -> StoreBuilder:
        return builder
