"""The suppression buffer store behind ``KTable.suppress`` (Kafka Streams'
``InMemoryTimeOrderedKeyValueChangeBuffer``) and its store builder.

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
replayed into the new store). The entries' bytes are described in
:mod:`streams.dsl.processors.suppression_buffer_entry`.
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from streams.dsl.change import Change
from streams.dsl.processors.suppression_buffer_entry import (
    BufferedEntry,
    decode_entry,
    encode_entry,
)
from streams.errors import InvalidStateStoreError, StateStoreError
from streams.state.api import (
    KeyValueBytesStore,
    StateStoreContext,
    StoreBuilder,
    changelog_topic,
)
from streams.state.changelogging import ChangeLoggingKeyValueStore
from streams.state.restore_hook import RestoreHookContext
from streams.state.timestamped import SupplierStoreBuilder

__all__ = ["Eviction", "SuppressionBuffer", "SuppressionBufferBuilder"]


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
        self._inner.init(RestoreHookContext(context, self._mark_stale))
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


if TYPE_CHECKING:

    def _is_store_builder(builder: SuppressionBufferBuilder) -> StoreBuilder:
        return builder
