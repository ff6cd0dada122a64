"""The buffer of a stream-table join with a grace period (KIP-923), and its store builder.

``stream.join(versioned_table, joiner, Joined.with_grace_period(ms))`` holds each stream record
until stream time has passed its timestamp by the grace period, then joins it with the table's
value *as of* the record's timestamp; records held together come out in timestamp order, so a
table update that arrives a little after the stream record it belongs to still meets it.

As Kafka Streams' ``RocksDBTimeOrderedKeyValueBuffer``: the buffer's stream time is the largest
timestamp it was given; a record older than that minus the grace is not buffered (the join
takes it at once); records leave when their timestamp is at most stream time minus the grace,
in the order of the store key ``timestamp (8 bytes) + serialized key + sequence number (4
bytes)``, so ties of timestamp come out by key bytes, then arrival.

Durability: entries live in a key-value bytes store (in-memory or RocksDB, as
``default.dsl.store`` says) logged to ``<application.id>-<store>-changelog``; the stream time
is kept under a reserved key written at flush. The value of an entry is the record's value
bytes and headers (msgpack).
"""

from __future__ import annotations

import copy
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import msgspec

from streams.dsl.unknown_serde import known_serde
from streams.errors import StateStoreError, TopologyError
from streams.processor.record import Record
from streams.state.api import KeyValueBytesStore, StateStoreContext, StoreBuilder, changelog_topic
from streams.state.changelogging import ChangeLoggingKeyValueStore
from streams.state.stores import Stores
from streams.state.stream_time import PersistedStreamTime
from streams.state.timestamped import SupplierStoreBuilder

__all__ = ["JoinBuffer", "JoinBufferBuilder", "add_join_buffer"]

_TS = struct.Struct(">q")
_SEQ = struct.Struct(">i")
# sorts after every entry key (their first byte is a non-negative timestamp's, < 0x80)
_META_KEY = b"\xff"
_encode = msgspec.msgpack.encode
_decode = msgspec.msgpack.decode


class JoinBuffer:
    """One task's buffer of stream records waiting out a join's grace period."""

    def __init__(self, inner: KeyValueBytesStore, key_serde: Any, value_serde: Any,
                 grace_ms: int) -> None:
        self._inner = inner
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.grace_ms = grace_ms
        self._topic = ""
        self._seq = 0
        self._stream_time = PersistedStreamTime(inner, _META_KEY)

    @property
    def name(self) -> str:
        """The store's name (``<join name>-Buffer``)."""
        return self._inner.name

    @property
    def persistent(self) -> bool:
        """True when the entries are kept in RocksDB."""
        return self._inner.persistent

    @property
    def is_open(self) -> bool:
        """True between ``init`` and ``close``."""
        return self._inner.is_open

    @property
    def inner(self) -> KeyValueBytesStore:
        """The bytes store holding the entries."""
        return self._inner

    def init(self, context: StateStoreContext) -> None:
        """Open the entries' store; the stream time is read back at first use (after any
        restoration)."""
        self._topic = changelog_topic(context.application_id, self._inner.name)
        self._stream_time.open(context)

    def flush(self) -> None:
        """Write the stream time if it moved; flush the entries' store."""
        self._stream_time.flush()
        self._inner.flush()

    def close(self) -> None:
        """Keep the stream time locally; close the entries' store."""
        self._stream_time.close()
        self._inner.close()

    @property
    def stream_time(self) -> int:
        """The largest timestamp buffered so far."""
        return self._stream_time.value

    def put(self, record: Record) -> bool:
        """Buffer ``record``; False (nothing buffered) if it is older than stream time minus
        the grace period, so the join must take it at once."""
        ts = record.timestamp
        if self._stream_time.value - self.grace_ms > ts:
            return False
        self._stream_time.advance(ts)
        key = self.key_serde.serialize(self._topic, record.key, record.headers)
        if key is None:
            raise StateStoreError(f"join buffer {self.name!r}: the key serde wrote None for "
                                  f"key {record.key!r}")
        value = self.value_serde.serialize(self._topic, record.value, record.headers)
        self._seq = (self._seq + 1) & 0x7FFFFFFF
        headers = [list(h) for h in record.headers] if record.headers else None
        self._inner.put(_TS.pack(ts) + key + _SEQ.pack(self._seq), _encode((value, headers)))
        return True

    def evict(self) -> Iterator[Record]:
        """Remove and yield, in order, every record whose timestamp is at most stream time
        minus the grace period."""
        horizon = self.stream_time - self.grace_ms
        due: list[tuple[bytes, bytes]] = []
        for store_key, data in self._inner.all():
            if store_key == _META_KEY or _TS.unpack_from(store_key)[0] > horizon:
                break
            due.append((store_key, data))
        for store_key, data in due:  # removing while a RocksDB iterator is open is not safe
            self._inner.delete(store_key)
            ts = _TS.unpack_from(store_key)[0]
            key = self.key_serde.deserialize(self._topic, store_key[8:-4])
            value_bytes, headers = _decode(data)
            hdrs = [(k, v) for k, v in headers] if headers else None
            value = self.value_serde.deserialize(self._topic, value_bytes, hdrs)
            yield Record(key, value, ts, hdrs)

    def approximate_num_entries(self) -> int:
        """Records waiting (approximately: the store's count)."""
        return self._inner.approximate_num_entries()

    def __repr__(self) -> str:
        return f"JoinBuffer(name={self.name!r}, grace_ms={self.grace_ms})"


class JoinBufferBuilder(SupplierStoreBuilder):
    """Builds :class:`JoinBuffer` stores (one per task); implements
    :class:`~streams.state.api.StoreBuilder`."""

    store_type = "stream_table_join_buffer"

    def __init__(self, supplier: Any, key_serde: Any, value_serde: Any, grace_ms: int) -> None:
        """Buffers over ``supplier``'s bytes stores, logged by default."""
        super().__init__(supplier, key_serde, value_serde)
        self.grace_ms = grace_ms

    @property
    def log_config(self) -> dict[str, str]:
        """Extra configs of the changelog topic (a copy)."""
        return dict(self._log_config)

    def with_logging_disabled(self) -> JoinBufferBuilder:
        """A copy without changelog."""
        other = copy.copy(self)
        other._logging, other._log_config = False, {}
        return other

    def with_default_serdes(self, key_default: Any, value_default: Any) -> JoinBufferBuilder:
        """A copy whose missing serdes come from the config."""
        other = copy.copy(self)
        if other.key_serde is None:
            other.key_serde = key_default
        if other.value_serde is None:
            other.value_serde = value_default
        return other

    def build(self) -> JoinBuffer:
        """A fresh, un-initialized buffer."""
        if self.key_serde is None or self.value_serde is None:
            which = "key" if self.key_serde is None else "value"
            raise StateStoreError(f"join buffer {self.name!r} has no {which} serde; give it in "
                                  f"Joined or set 'default.{which}.serde' in the config")
        inner: KeyValueBytesStore = self.supplier.get()
        if self._logging:
            inner = ChangeLoggingKeyValueStore(inner)
        return JoinBuffer(inner, self.key_serde, self.value_serde, self.grace_ms)

    def __repr__(self) -> str:
        return (f"JoinBufferBuilder(name={self.name!r}, grace_ms={self.grace_ms}, "
                f"logging_enabled={self._logging})")


def add_join_buffer(builder: StreamsBuilder, op: str, node: str, versioned_table: bool,
                    grace_ms: int, key_serde: Any, value_serde: Any) -> str:
    """Add the grace buffer of join ``node`` (``<node>-Buffer``, Kafka Streams' name) to the
    topology; return its name. The table must be versioned, as Kafka Streams requires."""
    if not versioned_table:
        raise TopologyError(f"{op} with a grace period ({grace_ms} ms): the table must be "
                            "versioned (Materialized.as_(Stores.persistent_versioned_key_value"
                            "_store(...))), as in Kafka Streams")
    name = f"{node}-Buffer"
    supplier: Any = (Stores.in_memory_key_value_store(name)
                     if builder.store_type(None) == "in_memory"
                     else Stores.persistent_key_value_store(name))
    ks, vs = known_serde(key_serde), known_serde(value_serde)
    builder.topology.add_state_store(JoinBufferBuilder(supplier, ks, vs, grace_ms))
    if ks is None:
        builder.topology.require_serde(node, "key", f"its join buffer {name!r} stores its keys")
    if vs is None:
        builder.topology.require_serde(node, "value", f"its join buffer {name!r} stores its values")
    return name


if TYPE_CHECKING:
    from streams.dsl.builder import StreamsBuilder

    def _is_store_builder(builder: JoinBufferBuilder) -> StoreBuilder:
        return builder
