"""A wrapping store's stream time, kept under a reserved key of its inner bytes store.

The versioned store and the stream-table join's grace buffer both need the largest timestamp
they were given to survive a restart and a move to another instance. It is written to the
inner store (so to its changelog) when the store flushes, i.e. before every commit, and
read back at first use after the store was opened or restored into.
"""

from __future__ import annotations

import struct

from streams.state.api import KeyValueBytesStore, StateStoreContext
from streams.state.changelogging import ChangeLoggingKeyValueStore
from streams.state.restore_hook import RestoreHookContext

__all__ = ["NO_TIME", "PersistedStreamTime"]

#: no timestamp seen yet
NO_TIME = -(2**63)
_TIME = struct.Struct(">q")


class PersistedStreamTime:
    """The stream time of the store wrapping ``inner``, under ``key`` in it."""

    __slots__ = ("_dirty", "_inner", "_key", "_stale", "_time")

    def __init__(self, inner: KeyValueBytesStore, key: bytes) -> None:
        self._inner = inner
        self._key = key
        self._time = NO_TIME
        self._dirty = False
        self._stale = True

    def open(self, context: StateStoreContext) -> None:
        """Open ``inner`` for ``context``'s task, hearing of every batch restored into it."""
        self._inner.init(RestoreHookContext(context, self._mark_stale))
        self._stale = True

    def _mark_stale(self) -> None:
        self._stale = True

    @property
    def value(self) -> int:
        """The largest timestamp seen (restored with the store), or :data:`NO_TIME`."""
        if self._stale:
            data = self._inner.get(self._key)
            restored = _TIME.unpack(data)[0] if data else NO_TIME
            self._time = max(self._time, restored) if self._dirty else restored
            self._stale = False
        return self._time

    def advance(self, timestamp: int) -> int:
        """Take ``timestamp`` into account; return the stream time."""
        current = self.value
        if timestamp > current:
            self._time = current = timestamp
            self._dirty = True
        return current

    def flush(self) -> None:
        """Write the stream time if it moved (logged, with the store's other writes)."""
        if self._dirty:
            self._inner.put(self._key, _TIME.pack(self._time))
            self._dirty = False

    def close(self) -> None:
        """Write the stream time if it moved to local state only: a changelog write may no
        longer be possible when a store closes."""
        if self._dirty and self._inner.is_open:
            local = self._inner.inner if isinstance(self._inner, ChangeLoggingKeyValueStore) \
                else self._inner
            local.put(self._key, _TIME.pack(self._time))
            self._dirty = False
