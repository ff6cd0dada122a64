"""The record cache as a layer of key-value stores: :class:`CachingKeyValueStore`, stacked by
the key-value store builders between the typed layer and the change-logging layer. See
:mod:`streams.state.cache` for the cache itself."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Any

from streams.state.api import DerivedKeyValueWrites
from streams.state.cache import ENTRY_OVERHEAD, _CachingStore

__all__ = ["CachingKeyValueStore"]


class CachingKeyValueStore(_CachingStore, DerivedKeyValueWrites):
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
        """See :meth:`_CachingStore.init`; without a cache, every call goes straight to the
        store below."""
        super().init(context)
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
