"""The processor behind ``KTable.suppress`` and its buffer store (Kafka Streams'
``KTableSuppressProcessorSupplier`` and ``InMemoryTimeOrderedKeyValueChangeBuffer``).

The buffer holds, per key, the latest update (a :class:`~streams.dsl.change.Change`) together
with its *buffer time*: the window end (final results) or the timestamp of the key's first
buffered update (time limit). A later update of a buffered key replaces its value but keeps its
place in time ("non-resetting", as in Kafka Streams). Records leave the buffer in order of
buffer time, ties by serialized key bytes.

Durability: every entry is written through to a key-value bytes store (in-memory or RocksDB, as
``default.dsl.store`` says), logged to ``<application.id>-<store>-changelog`` unless logging is
disabled. The in-memory time index is rebuilt by scanning that store when the store opens and
again after the runtime restored changelog records into it, so a buffer survives a restart (a
persistent store is read back from disk) and a move to another instance (the changelog is
replayed into the new store).

Entry layout (the changelog's value bytes): 8-byte buffer time, 8-byte timestamp of the latest
update, then the prior value, the latest update's old value and its new value (each a 4-byte
length, ``-1`` for None, and the bytes of the table's value serde), then the latest update's
headers (a 4-byte count, ``-1`` for None; each a length-prefixed UTF-8 name and a
length-prefixed value). All integers are big-endian.
"""

from __future__ import annotations

import copy
import heapq
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from streams.dsl.change import Change
from streams.dsl.getters import Get, GetterFactory
from streams.dsl.processors.stateless import _Base, drop_record
from streams.errors import InvalidStateStoreError, ProcessorError, StateStoreError, StreamsError
from streams.processor.api import ProcessorContext
from streams.processor.record import Record
from streams.state.api import (
    ChangelogWriter,
    KeyValueBytesStore,
    RestoreCallback,
    StateStore,
    StateStoreContext,
    StoreBuilder,
    changelog_topic,
)
from streams.state.changelogging import ChangeLoggingKeyValueStore
from streams.state.timestamped import SupplierStoreBuilder, ValueAndTimestamp

__all__ = [
    "BufferedEntry",
    "KTableSuppressProcessor",
    "SuppressionBuffer",
    "SuppressionBufferBuilder",
    "SuppressionBufferFullError",
    "decode_entry",
    "encode_entry",
    "suppressed_getter",
]

_TIMES = struct.Struct(">qq")
_INT = struct.Struct(">i")

#: Kafka Streams' RecordQueue.UNKNOWN: the timestamp of a value read through the suppressed
#: table's view when the key is buffered (only the value is known).
UNKNOWN_TIMESTAMP = -1


class SuppressionBufferFullError(ProcessorError):
    """A strict suppression buffer (``shut_down_when_full``) exceeded its limits.

    A :class:`~streams.errors.ProcessorError`, so no processing exception handler turns it
    into a skipped record: the task stops, as Kafka Streams shuts the application down.
    """


# --------------------------------------------------------------------------- entry encoding


class BufferedEntry(NamedTuple):
    """One decoded buffer entry (bytes as the table's serdes wrote them)."""

    buffer_time: int
    timestamp: int
    prior: bytes | None
    old: bytes | None
    new: bytes | None
    headers: list[tuple[str, bytes | None]] | None


def _put_part(out: list[bytes], data: bytes | None) -> None:
    if data is None:
        out.append(_INT.pack(-1))
    else:
        out.append(_INT.pack(len(data)))
        out.append(data)


def encode_entry(entry: BufferedEntry) -> bytes:
    """The stored (and logged) bytes of ``entry``; see the module docstring for the layout."""
    out = [_TIMES.pack(entry.buffer_time, entry.timestamp)]
    _put_part(out, entry.prior)
    _put_part(out, entry.old)
    _put_part(out, entry.new)
    if entry.headers is None:
        out.append(_INT.pack(-1))
    else:
        out.append(_INT.pack(len(entry.headers)))
        for name, value in entry.headers:
            _put_part(out, name.encode("utf-8"))
            if isinstance(value, str):
                value = value.encode("utf-8")
            _put_part(out, None if value is None else bytes(value))
    return b"".join(out)


def decode_entry(data: bytes) -> BufferedEntry:
    """Inverse of :func:`encode_entry`; StateStoreError on malformed bytes."""
    try:
        buffer_time, timestamp = _TIMES.unpack_from(data, 0)
        pos = _TIMES.size

        def part() -> bytes | None:
            nonlocal pos
            (n,) = _INT.unpack_from(data, pos)
            pos += 4
            if n < 0:
                return None
            if pos + n > len(data):
                raise ValueError("truncated")
            chunk = bytes(data[pos : pos + n])
            pos += n
            return chunk

        prior, old, new = part(), part(), part()
        (count,) = _INT.unpack_from(data, pos)
        pos += 4
        headers: list[tuple[str, bytes | None]] | None = None
        if count >= 0:
            headers = []
            for _ in range(count):
                name = part()
                headers.append(((name or b"").decode("utf-8"), part()))
        if pos != len(data):
            raise ValueError(f"{len(data) - pos} trailing bytes")
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise StateStoreError(f"malformed suppression buffer entry ({len(data)} bytes): {exc}") from exc
    return BufferedEntry(buffer_time, timestamp, prior, old, new, headers)


# --------------------------------------------------------------------------- the buffer store


class Eviction(NamedTuple):
    """A record leaving the buffer: key, ``Change(latest new, prior)``, the latest update's
    timestamp and headers."""

    key: Any
    value: Change
    timestamp: int
    headers: list[tuple[str, bytes | None]] | None


class _Slot:
    __slots__ = ("entry", "size")

    def __init__(self, entry: BufferedEntry, size: int) -> None:
        self.entry = entry
        self.size = size


class _RestoreHookContext:
    """The store context handed to the inner bytes store: the same as the buffer's, except that
    the restore callback it registers also tells the buffer to rebuild its time index."""

    def __init__(self, context: StateStoreContext, on_restore: Callable[[], None]) -> None:
        self._context = context
        self._on_restore = on_restore

    @property
    def application_id(self) -> str:
        return self._context.application_id

    @property
    def task_id(self) -> str:
        return self._context.task_id

    @property
    def state_dir(self) -> Path | None:
        return self._context.state_dir

    @property
    def changelog_writer(self) -> ChangelogWriter | None:
        return self._context.changelog_writer

    @property
    def timestamp(self) -> int:
        return self._context.timestamp

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def register(self, store: StateStore, restore: RestoreCallback) -> None:
        on_restore = self._on_restore

        def restore_and_reindex(batch: list[tuple[bytes, bytes | None]]) -> None:
            restore(batch)
            on_restore()

        self._context.register(store, restore_and_reindex)


class SuppressionBuffer:
    """A time-ordered buffer of the latest :class:`Change` per key, written through to a bytes
    store (see the module docstring). It is the state store the suppression node uses; tests
    may inspect it with :meth:`entries`.

    Sizes: an entry counts ``8 + len(serialized key) + len(encoded entry)`` bytes against
    ``BufferConfig.max_bytes`` (Kafka Streams counts its in-memory estimate instead, so byte
    limits are not interchangeable between the two).
    """

    def __init__(self, inner: KeyValueBytesStore, key_serde: Any, value_serde: Any) -> None:
        """Buffer over ``inner`` (nothing is opened until :meth:`init`)."""
        self._inner = inner
        self.key_serde = key_serde
        self.value_serde = value_serde
        self._topic = ""
        self._open = False
        self._stale = True
        self._slots: dict[bytes, _Slot] = {}
        self._heap: list[tuple[int, bytes]] = []
        self._bytes = 0

    # -- StateStore ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The store's name."""
        return self._inner.name

    @property
    def persistent(self) -> bool:
        """True when the bytes store behind the buffer keeps data on disk."""
        return self._inner.persistent

    @property
    def is_open(self) -> bool:
        """True between :meth:`init` and :meth:`close`."""
        return self._open and self._inner.is_open

    @property
    def inner(self) -> KeyValueBytesStore:
        """The bytes store holding the entries (changelogging layer, if logged)."""
        return self._inner

    def init(self, context: StateStoreContext) -> None:
        """Open the bytes store; the time index is (re)built from it on first use."""
        self._topic = changelog_topic(context.application_id, self._inner.name)
        self._inner.init(_RestoreHookContext(context, self._mark_stale))
        self._open = True
        self._stale = True

    def flush(self) -> None:
        """Flush the bytes store."""
        self._inner.flush()

    def close(self) -> None:
        """Close the bytes store and forget the index."""
        self._open = False
        self._slots = {}
        self._heap = []
        self._bytes = 0
        self._stale = True
        self._inner.close()

    # -- index -----------------------------------------------------------------------------
    def _mark_stale(self) -> None:
        self._stale = True

    def _check_open(self) -> None:
        if not self._open:
            raise InvalidStateStoreError(f"suppression buffer {self.name!r} is not open")
        if self._stale:
            self._reload()

    def _reload(self) -> None:
        slots: dict[bytes, _Slot] = {}
        heap: list[tuple[int, bytes]] = []
        total = 0
        for key, data in self._inner.all():
            entry = decode_entry(data)
            size = 8 + len(key) + len(data)
            slots[key] = _Slot(entry, size)
            heap.append((entry.buffer_time, key))
            total += size
        heapq.heapify(heap)
        self._slots, self._heap, self._bytes = slots, heap, total
        self._stale = False

    # -- buffer operations -------------------------------------------------------------------
    @property
    def num_records(self) -> int:
        """Keys in the buffer."""
        self._check_open()
        return len(self._slots)

    @property
    def buffer_size(self) -> int:
        """Bytes the entries count for (see the class docstring)."""
        self._check_open()
        return self._bytes

    @property
    def min_timestamp(self) -> float:
        """The smallest buffer time, or infinity when empty."""
        self._check_open()
        return self._heap[0][0] if self._heap else float("inf")

    def _key_bytes(self, key: Any) -> bytes:
        data = self.key_serde.serialize(self._topic, key)
        if data is None:
            raise StateStoreError(f"suppression buffer {self.name!r} cannot store a None key")
        return bytes(data)

    def _value_bytes(self, value: Any, headers: Any) -> bytes | None:
        if value is None:
            return None
        data = self.value_serde.serialize(self._topic, value, headers)
        return None if data is None else bytes(data)

    def _value(self, data: bytes | None, headers: Any) -> Any:
        return None if data is None else self.value_serde.deserialize(self._topic, data, headers)

    def put(self, buffer_time: int, key: Any, change: Change, timestamp: int,
            headers: Any = None) -> None:
        """Buffer ``change`` for ``key``. A key already buffered keeps its buffer time and its
        prior value (what downstream last saw); a new key's prior value is ``change.old``."""
        self._check_open()
        kb = self._key_bytes(key)
        hdrs = None if headers is None else [(str(k), v) for k, v in headers]
        old = self._value_bytes(change.old, hdrs)
        new = self._value_bytes(change.new, hdrs)
        slot = self._slots.get(kb)
        if slot is None:
            entry = BufferedEntry(buffer_time, timestamp, old, old, new, hdrs)
            heapq.heappush(self._heap, (buffer_time, kb))
        else:
            prev = slot.entry
            entry = BufferedEntry(prev.buffer_time, timestamp, prev.prior, old, new, hdrs)
            self._bytes -= slot.size
        data = encode_entry(entry)
        self._inner.put(kb, data)
        size = 8 + len(kb) + len(data)
        self._slots[kb] = _Slot(entry, size)
        self._bytes += size

    def evict_while(self, predicate: Callable[[], bool],
                    callback: Callable[[Eviction], None]) -> int:
        """While ``predicate()`` holds, pass the entry with the smallest buffer time to
        ``callback`` and then remove it; returns how many were evicted."""
        self._check_open()
        heap, slots = self._heap, self._slots
        evicted = 0
        while heap and predicate():
            _, kb = heap[0]
            slot = slots[kb]
            entry = slot.entry
            headers = entry.headers
            key = self.key_serde.deserialize(self._topic, kb)
            change = Change(self._value(entry.new, headers), self._value(entry.prior, headers))
            callback(Eviction(key, change, entry.timestamp, headers))
            heapq.heappop(heap)
            del slots[kb]
            self._bytes -= slot.size
            self._inner.delete(kb)
            evicted += 1
        return evicted

    def prior_value(self, key: Any) -> tuple[bool, Any]:
        """``(True, value downstream last saw)`` for a buffered key, else ``(False, None)``:
        what the suppressed table's value getter reads (Kafka Streams' priorValueForBuffered)."""
        self._check_open()
        slot = self._slots.get(self._key_bytes(key))
        if slot is None:
            return False, None
        return True, self._value(slot.entry.prior, None)

    def entries(self) -> Iterator[tuple[Any, BufferedEntry]]:
        """Every buffered ``(key, entry)`` in eviction order (keys deserialized, values bytes)."""
        self._check_open()
        for _, kb in sorted(self._heap):
            yield self.key_serde.deserialize(self._topic, kb), self._slots[kb].entry

    def approximate_num_entries(self) -> int:
        """Keys in the buffer."""
        return self.num_records

    def __repr__(self) -> str:
        return f"SuppressionBuffer(name={self.name!r})"


def _with_default(serde: Any, default: Any, defaults: tuple[Any, Any]) -> Any:
    if serde is None:
        return default
    fill = getattr(serde, "with_defaults", None)
    return fill(*defaults) if fill is not None else serde


class SuppressionBufferBuilder(SupplierStoreBuilder):
    """Builds :class:`SuppressionBuffer` stores (one per task) over a key-value bytes store
    supplier; implements :class:`~streams.state.api.StoreBuilder`."""

    store_type = "suppression_buffer"

    @property
    def log_config(self) -> dict[str, str]:
        """Extra configs of the changelog topic (a copy)."""
        return dict(self._log_config)

    def with_logging_disabled(self) -> SuppressionBufferBuilder:
        """A copy without changelog."""
        other = copy.copy(self)
        other._logging, other._log_config = False, {}
        return other

    def with_logging_enabled(self, config: dict[str, Any] | None = None) -> SuppressionBufferBuilder:
        """A copy logging to a changelog topic created with ``config``."""
        other = copy.copy(self)
        other._logging = True
        other._log_config = {str(k): str(v) for k, v in (config or {}).items()}
        return other

    def with_default_serdes(self, key_default: Any, value_default: Any) -> SuppressionBufferBuilder:
        """A copy whose missing serdes (or missing inner serdes) come from the config."""
        other = copy.copy(self)
        defaults = (key_default, value_default)
        other.key_serde = _with_default(self.key_serde, key_default, defaults)
        other.value_serde = _with_default(self.value_serde, value_default, defaults)
        return other

    def build(self) -> SuppressionBuffer:
        """A fresh, un-initialized buffer."""
        if self.key_serde is None or self.value_serde is None:
            which = "key" if self.key_serde is None else "value"
            raise StateStoreError(f"suppression buffer {self.name!r} has no {which} serde; set "
                                  f"'default.{which}.serde' in the config")
        inner: KeyValueBytesStore = self.supplier.get()
        if self._logging:
            inner = ChangeLoggingKeyValueStore(inner)
        return SuppressionBuffer(inner, self.key_serde, self.value_serde)

    def __repr__(self) -> str:
        return (f"SuppressionBufferBuilder(name={self.name!r}, supplier={self.supplier!r}, "
                f"logging_enabled={self._logging})")


# --------------------------------------------------------------------------- the processor


class KTableSuppressProcessor(_Base):
    """Buffers table updates and emits them when their time comes (Kafka Streams'
    ``KTableSuppressProcessor``).

    Stream time is the largest timestamp this node has seen. After buffering each update, every
    entry whose buffer time is ``<= stream time - suppress_duration_ms`` is emitted, oldest
    first; then, if the buffer is over ``record_limit``/``byte_limit``, the oldest entries are
    emitted early (``shut_down=False``) or :class:`SuppressionBufferFullError` is raised.
    ``window_end_time`` buffers by the windowed key's window end (final results) instead of by
    record timestamp; ``drop_tombstones`` drops emitted deletions (safe only for final results,
    where nothing was emitted for the key before).
    """

    def __init__(self, node: str, store_name: str, suppress_duration_ms: int,
                 window_end_time: bool, record_limit: int | None, byte_limit: int | None,
                 shut_down: bool, drop_tombstones: bool) -> None:
        self.node = node
        self.store_name = store_name
        self.duration = suppress_duration_ms
        self.window_end_time = window_end_time
        self.record_limit = record_limit
        self.byte_limit = byte_limit
        self.shut_down = shut_down
        self.drop_tombstones = drop_tombstones
        self.observed = -1

    def init(self, context: ProcessorContext) -> None:
        """Look up the buffer store."""
        super().init(context)
        self.buffer: SuppressionBuffer = context.get_state_store(self.store_name)

    def process(self, record: Record) -> None:
        """Buffer the update, then emit what is due."""
        key = record.key
        if key is None:
            drop_record(self.context, self.node, "a table update needs a key and it is None")
            return
        ts = record.timestamp
        if ts > self.observed:
            self.observed = ts
        if self.window_end_time:
            window = getattr(key, "window", None)
            if window is None:
                raise StreamsError(f"{self.node}: Suppressed.until_window_closes needs Windowed "
                                   f"keys, got {key!r}")
            buffer_time = window.end
        else:
            buffer_time = ts
        self.buffer.put(buffer_time, key, record.value, ts, record.headers)
        self._enforce()

    def _over_capacity(self) -> bool:
        buf = self.buffer
        return ((self.record_limit is not None and buf.num_records > self.record_limit)
                or (self.byte_limit is not None and buf.buffer_size > self.byte_limit))

    def _enforce(self) -> None:
        buf = self.buffer
        expiry = self.observed - self.duration
        buf.evict_while(lambda: buf.min_timestamp <= expiry, self._emit)
        if self._over_capacity():
            if not self.shut_down:
                buf.evict_while(self._over_capacity, self._emit)
                return
            raise SuppressionBufferFullError(
                f"{self.node} buffer exceeded its max capacity. Currently "
                f"[{buf.num_records}/{self._show(self.record_limit)}] records and "
                f"[{buf.buffer_size}/{self._show(self.byte_limit)}] bytes (suppression buffer "
                f"{self.store_name!r}, configured to shut down when full)"
            )

    @staticmethod
    def _show(limit: int | None) -> str:
        return "unbounded" if limit is None else str(limit)

    def _emit(self, eviction: Eviction) -> None:
        if eviction.value.new is None and self.drop_tombstones:
            return
        self.forward(Record(eviction.key, eviction.value, eviction.timestamp, eviction.headers))


def suppressed_getter(parent: GetterFactory, store: str) -> GetterFactory:
    """How joins read a suppressed table: a buffered key reads the value downstream last saw
    (with an unknown timestamp, -1), any other key reads through to the parent table."""
    stores, make_parent = parent

    def make(ctx: ProcessorContext) -> Get:
        get = make_parent(ctx)
        buffer: SuppressionBuffer = ctx.get_state_store(store)

        def view(key: Any) -> ValueAndTimestamp | None:
            buffered, prior = buffer.prior_value(key)
            if buffered:
                return ValueAndTimestamp.make(prior, UNKNOWN_TIMESTAMP)
            return get(key)

        return view

    return (store, *(s for s in stores if s != store)), make


if TYPE_CHECKING:

    def _is_store_builder(builder: SuppressionBufferBuilder) -> StoreBuilder:
        return builder
