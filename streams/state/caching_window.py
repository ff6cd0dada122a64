"""The record cache as a layer of window stores: :class:`CachingWindowStore`, stacked by the
window store builders between the typed layer and the change-logging layer. See
:mod:`streams.state.cache` for the cache itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from streams.state.cache import ENTRY_OVERHEAD, ThreadCache, _CachingStore

__all__ = ["CachingWindowStore"]


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
