"""The record cache (``statestore.cache.max.bytes``): Kafka Streams' ThreadCache and
CachingKeyValueStore.

A caching layer sits between a store's typed layer and its change-logging layer (the store
builder stacks it there, as Kafka Streams does). It keeps recent writes in memory and hands
them to the layer below (and so to the changelog) only when the task commits or when the thread's cache is full. Until then, further
updates of the same key replace the cached one, so a hot key costs one store write, one
changelog record and one downstream record per commit instead of one per update. Processors
that own such a store (the DSL's aggregations and source tables) forward from the cache's
flush listener instead of on every update, with the context (timestamp, headers, offset) of
the update that is flushed.

One :class:`ThreadCache` is shared by all caching stores of a stream thread's tasks; its budget
is ``statestore.cache.max.bytes`` divided by ``num.stream.threads``. When a write takes the
thread over budget, the least recently used entries of the store being written are flushed and
dropped until it fits.

Like Kafka Streams' cache it holds serialized bytes: the typed layer above deserializes a fresh
value on every read, so a processor that changes a value it read in place changes nothing until
it puts it back; the flush listener gets bytes, which the typed layer deserializes.
"""

from __future__ import annotations

import heapq
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

log = logging.getLogger(__name__)

#: bytes an entry costs besides its key and value: Kafka Streams counts the record context
#: (timestamp, offset, partition, topic) the same way
ENTRY_OVERHEAD = 64


class ThreadCache:
    """The cache budget of one stream thread, shared by its tasks' caching stores."""

    __slots__ = ("evictions", "flushes", "max_bytes", "size")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        #: bytes held by all caching stores of the thread
        self.size = 0
        #: entries flushed because the cache was full, and by commits (for tests and benchmarks)
        self.evictions = 0
        self.flushes = 0


class _Entry:
    __slots__ = ("dirty", "headers", "offset", "partition", "raw", "size", "timestamp", "topic")

    def __init__(self, raw: bytes | None, size: int) -> None:
        self.raw = raw
        self.size = size
        self.dirty = False
        self.timestamp = -1
        self.headers: Any = None
        self.topic: str | None = None
        self.partition: int | None = None
        self.offset: int | None = None


class _CachingStore:
    """What the key-value and window caching stores share: entries in LRU order, dirty keys
    in last-update order, the thread's budget, and flushing with the record context restored.

    A cache key is the store key's bytes (key-value) or ``(key bytes, window start)``
    (windows); subclasses say how one is written below and handed to the listener.
    """

    #: keep flushed entries for reads (a window store may expire them, so it does not)
    _keep_clean = True

    def __init__(self, store: Any, cache: ThreadCache | None = None,
                 record_context: Any = None) -> None:
        self._store = store
        self._cache: Any = cache
        self._ctx: Any = record_context
        self._entries: OrderedDict[Any, _Entry] = OrderedDict()
        # dirty keys, oldest update first: the order they are flushed (and forwarded) in
        self._dirty: dict[Any, None] = {}
        self._listener: Callable[..., None] | None = None
        self._flushing = False

    # -- the typed store's face ------------------------------------------------------------
    @property
    def name(self) -> str:
        """The store's name."""
        return str(self._store.name)

    @property
    def persistent(self) -> bool:
        """True when the store below keeps data on disk."""
        return bool(self._store.persistent)

    @property
    def is_open(self) -> bool:
        """True while the store below is open."""
        return bool(self._store.is_open)

    @property
    def inner(self) -> Any:
        """The typed store below the cache."""
        return self._store

    @property
    def key_serde(self) -> Any:
        """Serde of the keys."""
        return self._store.key_serde

    @property
    def value_serde(self) -> Any:
        """Serde of the values."""
        return self._store.value_serde

    @property
    def serde_topic(self) -> str:
        """The topic passed to the serdes (the changelog topic)."""
        return str(self._store.serde_topic)

    @property
    def cached_entries(self) -> int:
        """Entries held in the cache (dirty or not)."""
        return len(self._entries)

    @property
    def dirty_entries(self) -> int:
        """Entries written since the last flush."""
        return len(self._dirty)

    def set_flush_listener(self, listener: Callable[..., None]) -> bool:
        """Call ``listener`` for every dirty entry when it is flushed; returns True (the store
        caches, so the caller should forward from the listener, not on every write)."""
        self._listener = listener
        return True

    # -- writes ------------------------------------------------------------------------------
    def _cache_put(self, ckey: Any, raw: bytes | None, size: int) -> None:
        entries = self._entries
        cache = self._cache
        entry = entries.get(ckey)
        if entry is None:
            entry = entries[ckey] = _Entry(raw, size)
            cache.size += size
        else:
            entries.move_to_end(ckey)
            cache.size += size - entry.size
            entry.raw, entry.size = raw, size
        ctx = self._ctx
        entry.timestamp = ctx.timestamp
        entry.headers = ctx.headers
        entry.topic = ctx.topic
        entry.partition = ctx.partition
        entry.offset = ctx.offset
        dirty = self._dirty
        if entry.dirty:
            del dirty[ckey]  # re-added at the end: flushed in the order of last update
        entry.dirty = True
        dirty[ckey] = None
        if cache.size > cache.max_bytes:
            self._evict()

    def _cached(self, ckey: Any) -> _Entry | None:
        entry = self._entries.get(ckey)
        if entry is not None:
            self._entries.move_to_end(ckey)
        return entry

    # -- flushing ----------------------------------------------------------------------------
    def _evict(self) -> None:
        entries, cache = self._entries, self._cache
        while cache.size > cache.max_bytes and entries:
            ckey, entry = entries.popitem(last=False)
            cache.size -= entry.size
            if entry.dirty:
                del self._dirty[ckey]
                entry.dirty = False
                cache.evictions += 1
                self._write([(ckey, entry)])

    def flush_cache(self) -> bool:
        """Hand every dirty entry to the store below (and the listener); True if there were
        any. Entries stay cached, clean, for reads."""
        if not self._dirty or self._flushing:
            return False
        entries = self._entries
        batch = [(ckey, entries[ckey]) for ckey in self._dirty]
        self._dirty.clear()
        for _, entry in batch:
            entry.dirty = False
        if not self._keep_clean:
            for ckey, entry in batch:
                del entries[ckey]
                self._cache.size -= entry.size
        self._cache.flushes += 1
        self._write(batch)
        return True

    def _write(self, batch: list[tuple[Any, _Entry]]) -> None:
        listener = self._listener
        ctx = self._ctx
        saved = (ctx.topic, ctx.partition, ctx.offset, ctx.timestamp, ctx.headers)
        self._flushing = True
        try:
            for ckey, entry in batch:
                ctx.topic, ctx.partition, ctx.offset = entry.topic, entry.partition, entry.offset
                ctx.timestamp, ctx.headers = entry.timestamp, entry.headers
                raw = entry.raw
                if listener is None:
                    self._write_below(ckey, raw)
                    continue
                old_raw = self._read_below(ckey)
                self._write_below(ckey, raw)
                if raw is None and old_raw is None:
                    continue  # deleting what was never there: nothing to tell downstream
                self._notify(listener, ckey, raw, old_raw)
        finally:
            self._flushing = False
            ctx.topic, ctx.partition, ctx.offset, ctx.timestamp, ctx.headers = saved

    def _read_below(self, ckey: Any) -> bytes | None:
        raise NotImplementedError

    def _write_below(self, ckey: Any, raw: bytes | None) -> None:
        raise NotImplementedError

    def _notify(self, listener: Callable[..., None], ckey: Any, raw: bytes | None,
                old_raw: bytes | None) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Flush the cache, then the store below."""
        self.flush_cache()
        self._store.flush()

    def discard(self) -> None:
        """Drop every cached entry without writing it (a dirty close: the task's state goes back
        to its last commit)."""
        if self._cache is None:
            return
        if self._dirty:
            log.debug("store %s: discarding %d uncommitted cached writes", self.name,
                      len(self._dirty))
        self._cache.size -= sum(e.size for e in self._entries.values())
        self._entries.clear()
        self._dirty.clear()

    def init(self, context: Any) -> None:
        """The store below is initialized before it is wrapped; nothing to do."""

    def close(self) -> None:
        """Write what is still dirty to the store below (without forwarding), then close it."""
        if self._dirty:
            listener, self._listener = self._listener, None
            try:
                self.flush_cache()
            finally:
                self._listener = listener
        if self._cache is not None:
            self._cache.size -= sum(e.size for e in self._entries.values())
        self._entries.clear()
        self._store.close()


class CachingKeyValueStore(_CachingStore):
    """The record cache as a layer of a key-value store: below the typed store, above the
    change-logging layer (or the bytes store); keys and values are bytes.

    The store builder stacks it (``with_caching_enabled``); the thread's cache and the task's
    record context come from the store context at :meth:`init`, as Kafka Streams' caching
    store takes ``context.cache()``. Without a cache in the context (global stores) the layer
    passes every call straight through. Reads see the cache first; scans merge the cache into
    the store's order. ``record_context`` is the task's context (``topic``, ``partition``,
    ``offset``, ``timestamp``, ``headers``): an entry remembers the one it was written in, and
    it is restored around each flushed entry so downstream processors and the changelog see
    the update's own. The flush listener is called as ``listener(key, new, old)`` with bytes;
    the typed store above deserializes them.
    """

    def init(self, context: Any) -> None:
        """Open the store below; take the thread's cache and the record context from
        ``context`` (no cache: pass every call through)."""
        self._store.init(context)
        if self._cache is None:
            self._cache = getattr(context, "cache", None)
            self._ctx = getattr(context, "record_context", None)
        if self._cache is None:
            store = self._store
            self.get = store.get  # type: ignore[method-assign]
            self.put = store.put  # type: ignore[method-assign]
            self.put_if_absent = store.put_if_absent  # type: ignore[method-assign]
            self.put_all = store.put_all  # type: ignore[method-assign]
            self.delete = store.delete  # type: ignore[method-assign]
            self.range = store.range  # type: ignore[method-assign]
            self.reverse_range = store.reverse_range  # type: ignore[method-assign]
            self.all = store.all  # type: ignore[method-assign]
            self.reverse_all = store.reverse_all  # type: ignore[method-assign]
            self.prefix_scan = store.prefix_scan  # type: ignore[method-assign]

    @property
    def caching(self) -> bool:
        """True once initialized with a cache (False: a pass-through layer)."""
        return self._cache is not None

    def set_flush_listener(self, listener: Callable[..., None]) -> bool:
        """Call ``listener(key, new, old)`` (bytes) for every dirty entry when it is flushed;
        True when the layer caches (the caller then forwards from the listener)."""
        if self._cache is None:
            return False
        self._listener = listener
        return True

    # -- reads -------------------------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        """The value under ``key``: the cached one, else the store's."""
        entry = self._cached(key)
        if entry is not None:
            return entry.raw
        result: bytes | None = self._store.get(key)
        return result

    def approximate_num_entries(self) -> int:
        """The store's count; entries only in the cache are not counted until flushed."""
        return int(self._store.approximate_num_entries())

    # -- writes ------------------------------------------------------------------------------
    def put(self, key: bytes, value: bytes | None) -> None:
        """Cache ``value`` under ``key`` (None deletes) until the next flush."""
        self._cache_put(key, value, len(key) + (len(value) if value is not None else 0)
                        + ENTRY_OVERHEAD)

    def put_if_absent(self, key: bytes, value: bytes | None) -> bytes | None:
        """Store ``value`` only if ``key`` has no value; return the value that was there."""
        old = self.get(key)
        if old is None:
            self.put(key, value)
        return old

    def put_all(self, entries: Iterable[tuple[bytes, bytes | None]]) -> None:
        """``put`` every (key, value) pair, in order."""
        for key, value in entries:
            self.put(key, value)

    def delete(self, key: bytes) -> bytes | None:
        """Delete ``key``; return its old value."""
        old = self.get(key)
        self.put(key, None)
        return old

    def _read_below(self, ckey: Any) -> bytes | None:
        result: bytes | None = self._store.get(ckey)
        return result

    def _write_below(self, ckey: Any, raw: bytes | None) -> None:
        self._store.put(ckey, raw)

    def _notify(self, listener: Callable[..., None], ckey: Any, raw: bytes | None,
                old_raw: bytes | None) -> None:
        listener(ckey, raw, old_raw)

    # -- scans -------------------------------------------------------------------------------
    def _merged(self, items: Iterator[tuple[bytes, bytes]], low: bytes | None,
                high: bytes | None, reverse: bool,
                prefix: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """The store's ``items`` with the cache's dirty entries in the range laid over them."""
        cached = []
        for data, entry in list(self._entries.items()):
            if not entry.dirty:  # a clean entry holds what the store holds
                continue
            if low is not None and data < low:
                continue
            if high is not None and data > high:
                continue
            if prefix is not None and not data.startswith(prefix):
                continue
            cached.append((data, entry.raw))
        if not cached:
            yield from items
            return
        cached.sort(key=lambda c: c[0], reverse=reverse)
        overridden = {c[0] for c in cached}
        from_store = ((k, v) for k, v in items if k not in overridden)
        # a cached deletion hides the store's entry
        from_cache = ((k, v) for k, v in cached if v is not None)
        yield from heapq.merge(from_cache, from_store, key=lambda c: c[0],
                               reverse=reverse)

    def range(self, from_key: bytes | None, to_key: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """Entries with ``from_key <= key <= to_key``, ascending; None is unbounded."""
        return self._merged(self._store.range(from_key, to_key), from_key, to_key, False)

    def reverse_range(self, from_key: bytes | None,
                      to_key: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """Entries with ``from_key <= key <= to_key``, descending; None is unbounded."""
        return self._merged(self._store.reverse_range(from_key, to_key), from_key, to_key, True)

    def all(self) -> Iterator[tuple[bytes, bytes]]:
        """Every entry, ascending by key."""
        return self._merged(self._store.all(), None, None, False)

    def reverse_all(self) -> Iterator[tuple[bytes, bytes]]:
        """Every entry, descending by key."""
        return self._merged(self._store.reverse_all(), None, None, True)

    def prefix_scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Entries whose key starts with ``prefix``."""
        return self._merged(self._store.prefix_scan(prefix), None, None, False, prefix)

    def __repr__(self) -> str:
        return f"CachingKeyValueStore({self._store!r})"


class CachingWindowStore(_CachingStore):
    """The record cache as a layer of a window store (Kafka Streams' CachingWindowStore):
    below the typed window store, above the change-logging layer or the bytes store; keys and
    values are bytes. See :class:`CachingKeyValueStore`.

    Cache keys are ``(key bytes, window start)``. Reads and scans see the cache first; scans
    keep the store's order (one key: by window start; several keys: segment by segment, then
    key bytes, then start). The flush listener is called as ``listener(key, window_start, new,
    old)`` with bytes. Without a cache in the context every call goes straight through.
    """

    _keep_clean = False

    def __init__(self, store: Any, cache: ThreadCache | None = None,
                 record_context: Any = None) -> None:
        super().__init__(store, cache, record_context)
        interval = getattr(store, "segment_interval_ms", None)
        # stores without segments order several keys by key bytes, then start
        self._interval: int = interval if isinstance(interval, int) and interval > 0 else 1 << 62

    def init(self, context: Any) -> None:
        """Open the store below; take the thread's cache and the record context from
        ``context`` (no cache: pass every call through)."""
        self._store.init(context)
        if self._cache is None:
            self._cache = getattr(context, "cache", None)
            self._ctx = getattr(context, "record_context", None)

    @property
    def caching(self) -> bool:
        """True once initialized with a cache (False: a pass-through layer)."""
        return self._cache is not None

    def set_flush_listener(self, listener: Callable[..., None]) -> bool:
        """Call ``listener(key, window_start, new, old)`` (bytes) for every dirty entry when
        it is flushed; True when the layer caches."""
        if self._cache is None:
            return False
        self._listener = listener
        return True

    @property
    def window_size_ms(self) -> int:
        """Size of the windows."""
        return int(self._store.window_size_ms)

    @property
    def retention_ms(self) -> int:
        """How long windows are kept after their start, in stream time."""
        return int(self._store.retention_ms)

    @property
    def retain_duplicates(self) -> bool:
        """Always False: stores that keep duplicates are not cached."""
        return False

    # -- point operations --------------------------------------------------------------------
    def put(self, key: bytes, value: bytes | None, window_start: int) -> None:
        """Cache ``value`` for ``key``'s window (None deletes it) until the next flush."""
        if self._cache is None:
            self._store.put(key, value, window_start)
            return
        self._cache_put((key, window_start), value,
                        len(key) + 8 + (len(value) if value is not None else 0) + ENTRY_OVERHEAD)

    def get(self, key: bytes, window_start: int) -> bytes | None:
        """The value of ``key``'s window starting at ``window_start``, or None."""
        entry = self._cached((key, window_start))
        if entry is not None:
            return entry.raw
        result: bytes | None = self._store.get(key, window_start)
        return result

    def _read_below(self, ckey: Any) -> bytes | None:
        result: bytes | None = self._store.get(ckey[0], ckey[1])
        return result

    def _write_below(self, ckey: Any, raw: bytes | None) -> None:
        self._store.put(ckey[0], raw, ckey[1])

    def _notify(self, listener: Callable[..., None], ckey: Any, raw: bytes | None,
                old_raw: bytes | None) -> None:
        listener(ckey[0], ckey[1], raw, old_raw)

    # -- scans -------------------------------------------------------------------------------
    def _one_key(self, data: bytes, items: Iterable[tuple[int, bytes]], time_from: int,
                 time_to: int, reverse: bool) -> Iterator[tuple[int, bytes]]:
        cached = {start: entry.raw for (key, start), entry in list(self._entries.items())
                  if entry.dirty and key == data and time_from <= start <= time_to}
        if not cached:
            yield from items
            return
        merged = {start: raw for start, raw in items if start not in cached}
        merged.update(cached)
        for start in sorted(merged, reverse=reverse):
            raw = merged[start]
            if raw is not None:
                yield start, raw

    def _many_keys(self, items: Iterable[tuple[bytes, int, bytes]], low: bytes | None,
                   high: bytes | None, time_from: int | None, time_to: int | None,
                   reverse: bool) -> Iterator[tuple[bytes, int, bytes]]:
        cached = {}
        for (key, start), entry in list(self._entries.items()):
            if entry.dirty and ((low is None or key >= low) and (high is None or key <= high)
                    and (time_from is None or start >= time_from)
                    and (time_to is None or start <= time_to)):
                cached[(key, start)] = entry.raw
        if not cached:
            yield from items
            return
        interval = self._interval
        merged = {(key, start): raw for key, start, raw in items if (key, start) not in cached}
        merged.update(cached)
        for key, start in sorted(merged, key=lambda c: (c[1] // interval, c[0], c[1]),
                                 reverse=reverse):
            raw = merged[(key, start)]
            if raw is not None:
                yield key, start, raw

    def fetch(self, key: bytes, time_from: int, time_to: int) -> Iterator[tuple[int, bytes]]:
        """``(window start, value)`` of ``key``'s windows starting in ``[time_from, time_to]``."""
        return self._one_key(key, self._store.fetch(key, time_from, time_to), time_from,
                             time_to, False)

    def backward_fetch(self, key: bytes, time_from: int,
                       time_to: int) -> Iterator[tuple[int, bytes]]:
        """Like :meth:`fetch`, latest window first."""
        return self._one_key(key, self._store.backward_fetch(key, time_from, time_to),
                             time_from, time_to, True)

    def fetch_range(self, key_from: bytes | None, key_to: bytes | None, time_from: int,
                    time_to: int) -> Iterator[tuple[bytes, int, bytes]]:
        """Windows of the keys in ``[key_from, key_to]`` starting in ``[time_from, time_to]``."""
        return self._many_keys(self._store.fetch_range(key_from, key_to, time_from, time_to),
                               key_from, key_to, time_from, time_to, False)

    def backward_fetch_range(self, key_from: bytes | None, key_to: bytes | None,
                             time_from: int, time_to: int) -> Iterator[tuple[bytes, int, bytes]]:
        """Like :meth:`fetch_range`, in reverse order."""
        return self._many_keys(
            self._store.backward_fetch_range(key_from, key_to, time_from, time_to),
            key_from, key_to, time_from, time_to, True)

    def fetch_all(self, time_from: int, time_to: int) -> Iterator[tuple[bytes, int, bytes]]:
        """Every window starting in ``[time_from, time_to]``."""
        return self._many_keys(self._store.fetch_all(time_from, time_to), None, None,
                               time_from, time_to, False)

    def backward_fetch_all(self, time_from: int,
                           time_to: int) -> Iterator[tuple[bytes, int, bytes]]:
        """Like :meth:`fetch_all`, in reverse order."""
        return self._many_keys(self._store.backward_fetch_all(time_from, time_to), None, None,
                               time_from, time_to, True)

    def all(self) -> Iterator[tuple[bytes, int, bytes]]:
        """Every live window."""
        return self._many_keys(self._store.all(), None, None, None, None, False)

    def backward_all(self) -> Iterator[tuple[bytes, int, bytes]]:
        """Every live window, in reverse order."""
        return self._many_keys(self._store.backward_all(), None, None, None, None, True)

    def __repr__(self) -> str:
        return f"CachingWindowStore({self._store!r})"
