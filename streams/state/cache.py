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

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: bytes an entry costs besides its key and value: Kafka Streams counts the record context
#: (timestamp, offset, partition, topic) the same way
ENTRY_OVERHEAD = 64


class ThreadCache:
    """The cache budget of one stream thread, shared by its tasks' caching stores."""

    __slots__ = ("evictions", "flushes", "hits", "max_bytes", "misses", "size")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        #: bytes held by all caching stores of the thread
        self.size = 0
        #: entries flushed because the cache was full, and by commits (for tests and benchmarks)
        self.evictions = 0
        self.flushes = 0
        #: look-ups the cache answered, and those it passed to the store (the hit ratio)
        self.hits = 0
        self.misses = 0


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
        cache = self._cache
        if entry is not None:
            self._entries.move_to_end(ckey)
            if cache is not None:
                cache.hits += 1
        elif cache is not None:
            cache.misses += 1
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
        """Open the store below; take the thread's cache and the record context from
        ``context`` unless given at construction (no cache: the layer passes calls through)."""
        self._store.init(context)
        if self._cache is None:
            self._cache = getattr(context, "cache", None)
            self._ctx = getattr(context, "record_context", None)

    @property
    def caching(self) -> bool:
        """True once initialized with a cache (False: a pass-through layer)."""
        return self._cache is not None

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
