"""The changelogging layer of window and session stores: each change of the bytes store is also
sent to the store's changelog topic (``<application.id>-<store>-changelog``).

Layers, outermost first (the typed layer is in :mod:`streams.state.typed_window`)::

    WindowStore[K, V] / SessionStore[K, V]    typed: serdes; what processors and queries see
      ChangeLoggingWindowStore / ...Session   sends each change to <application.id>-<store>-changelog
        InMemory/RocksDB Window/Session store bytes, segmented by time

The changelog key is the bytes store's key, in Kafka Streams' layouts (window:
``[key][8-byte start][4-byte seqnum]``; session: ``[key][8-byte end][8-byte start]``), so the
changelog can be read by the restore callbacks, which the bytes stores register themselves and
which parse the same layouts: restoring never writes the changelog again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from streams.state.changelogging import _ChangeLoggingBase
from streams.state.session_bytes_store import SessionBytesStore
from streams.state.window_bytes_store import WindowBytesStore

__all__ = ["ChangeLoggingSessionStore", "ChangeLoggingWindowStore"]


class ChangeLoggingWindowStore(_ChangeLoggingBase[WindowBytesStore]):
    """A :class:`~streams.state.window_bytes_store.WindowBytesStore` that logs each change of ``inner``.

    Each ``put`` that writes (or deletes) calls ``context.changelog_writer.log_change(store,
    store_key, value_or_None, context.timestamp)`` after writing ``inner``, where ``store_key``
    is ``[key][8-byte window start][4-byte seqnum]`` as returned by the inner store. Puts the
    inner store skips (expired windows; ``None`` with duplicates retained) are not logged.
    """

    __slots__ = ("_put",)

    def __init__(self, inner: WindowBytesStore) -> None:
        """Wrap ``inner`` (an in-memory or RocksDB window store)."""
        super().__init__(inner)
        self._put = inner.put

    @property
    def retention_ms(self) -> int:
        """The wrapped store's retention."""
        return self._inner.retention_ms

    @property
    def window_size_ms(self) -> int:
        """The wrapped store's window size."""
        return self._inner.window_size_ms

    @property
    def retain_duplicates(self) -> bool:
        """Whether the wrapped store retains duplicates."""
        return self._inner.retain_duplicates

    @property
    def segment_interval_ms(self) -> int | None:
        """The wrapped store's segment width (None if it has no segments)."""
        return getattr(self._inner, "segment_interval_ms", None)

    def put(self, key: bytes, value: bytes | None, window_start: int) -> bytes | None:
        """Write through to the wrapped store, then log the change it made (if any)."""
        store_key = self._put(key, value, window_start)
        if store_key is not None:
            # The writer is looked up per change so the runtime may attach it after init.
            context = self._context
            if context is not None:
                writer = context.changelog_writer
                if writer is not None:
                    writer.log_change(self._name, store_key, value, context.timestamp)
        return store_key

    def get(self, key: bytes, window_start: int) -> bytes | None:
        """The wrapped store's ``get``."""
        return self._inner.get(key, window_start)

    def fetch(self, key: bytes, time_from: int, time_to: int) -> Iterator[tuple[int, bytes]]:
        """The wrapped store's ``fetch``."""
        return self._inner.fetch(key, time_from, time_to)

    def backward_fetch(
        self, key: bytes, time_from: int, time_to: int
    ) -> Iterator[tuple[int, bytes]]:
        """The wrapped store's ``backward_fetch``."""
        return self._inner.backward_fetch(key, time_from, time_to)

    def fetch_range(
        self, key_from: bytes | None, key_to: bytes | None, time_from: int, time_to: int
    ) -> Iterator[tuple[bytes, int, bytes]]:
        """The wrapped store's ``fetch_range``."""
        return self._inner.fetch_range(key_from, key_to, time_from, time_to)

    def backward_fetch_range(
        self, key_from: bytes | None, key_to: bytes | None, time_from: int, time_to: int
    ) -> Iterator[tuple[bytes, int, bytes]]:
        """The wrapped store's ``backward_fetch_range``."""
        return self._inner.backward_fetch_range(key_from, key_to, time_from, time_to)

    def fetch_all(self, time_from: int, time_to: int) -> Iterator[tuple[bytes, int, bytes]]:
        """The wrapped store's ``fetch_all``."""
        return self._inner.fetch_all(time_from, time_to)

    def backward_fetch_all(
        self, time_from: int, time_to: int
    ) -> Iterator[tuple[bytes, int, bytes]]:
        """The wrapped store's ``backward_fetch_all``."""
        return self._inner.backward_fetch_all(time_from, time_to)

    def all(self) -> Iterator[tuple[bytes, int, bytes]]:
        """The wrapped store's ``all``."""
        return self._inner.all()

    def backward_all(self) -> Iterator[tuple[bytes, int, bytes]]:
        """The wrapped store's ``backward_all``."""
        return self._inner.backward_all()

    def __repr__(self) -> str:
        return f"ChangeLoggingWindowStore({self._inner!r})"


class ChangeLoggingSessionStore(_ChangeLoggingBase[SessionBytesStore]):
    """A :class:`~streams.state.session_bytes_store.SessionBytesStore` that logs each change of ``inner``.

    ``put`` and ``remove`` log ``[key][8-byte end][8-byte start]`` (the inner store's key) with
    the value or ``None``, timestamped with ``context.timestamp``, after writing ``inner``.
    Puts of expired sessions, which the inner store skips, are not logged.
    """

    __slots__ = ("_put",)

    def __init__(self, inner: SessionBytesStore) -> None:
        """Wrap ``inner`` (an in-memory or RocksDB session store)."""
        super().__init__(inner)
        self._put = inner.put

    @property
    def retention_ms(self) -> int:
        """The wrapped store's retention."""
        return self._inner.retention_ms

    def put(self, key: bytes, start: int, end: int, value: bytes | None) -> bytes | None:
        """Write through to the wrapped store, then log the change it made (if any)."""
        store_key = self._put(key, start, end, value)
        if store_key is not None:
            context = self._context
            if context is not None:
                writer = context.changelog_writer
                if writer is not None:
                    writer.log_change(self._name, store_key, value, context.timestamp)
        return store_key

    def remove(self, key: bytes, start: int, end: int) -> bytes | None:
        """Delete the session in the wrapped store and log a tombstone."""
        return self.put(key, start, end, None)

    def fetch_session(self, key: bytes, start: int, end: int) -> bytes | None:
        """The wrapped store's ``fetch_session``."""
        return self._inner.fetch_session(key, start, end)

    def find_sessions(
        self, key: bytes, earliest_session_end: int, latest_session_start: int
    ) -> Iterator[tuple[int, int, bytes]]:
        """The wrapped store's ``find_sessions``."""
        return self._inner.find_sessions(key, earliest_session_end, latest_session_start)

    def backward_find_sessions(
        self, key: bytes, earliest_session_end: int, latest_session_start: int
    ) -> Iterator[tuple[int, int, bytes]]:
        """The wrapped store's ``backward_find_sessions``."""
        return self._inner.backward_find_sessions(key, earliest_session_end, latest_session_start)

    def find_sessions_range(
        self,
        key_from: bytes | None,
        key_to: bytes | None,
        earliest_session_end: int,
        latest_session_start: int,
    ) -> Iterator[tuple[bytes, int, int, bytes]]:
        """The wrapped store's ``find_sessions_range``."""
        return self._inner.find_sessions_range(
            key_from, key_to, earliest_session_end, latest_session_start
        )

    def backward_find_sessions_range(
        self,
        key_from: bytes | None,
        key_to: bytes | None,
        earliest_session_end: int,
        latest_session_start: int,
    ) -> Iterator[tuple[bytes, int, int, bytes]]:
        """The wrapped store's ``backward_find_sessions_range``."""
        return self._inner.backward_find_sessions_range(
            key_from, key_to, earliest_session_end, latest_session_start
        )

    def fetch(self, key: bytes) -> Iterator[tuple[int, int, bytes]]:
        """The wrapped store's ``fetch``."""
        return self._inner.fetch(key)

    def backward_fetch(self, key: bytes) -> Iterator[tuple[int, int, bytes]]:
        """The wrapped store's ``backward_fetch``."""
        return self._inner.backward_fetch(key)

    def fetch_range(
        self, key_from: bytes | None, key_to: bytes | None
    ) -> Iterator[tuple[bytes, int, int, bytes]]:
        """The wrapped store's ``fetch_range``."""
        return self._inner.fetch_range(key_from, key_to)

    def backward_fetch_range(
        self, key_from: bytes | None, key_to: bytes | None
    ) -> Iterator[tuple[bytes, int, int, bytes]]:
        """The wrapped store's ``backward_fetch_range``."""
        return self._inner.backward_fetch_range(key_from, key_to)

    def all(self) -> Iterator[tuple[bytes, int, int, bytes]]:
        """The wrapped store's ``all``."""
        return self._inner.all()

    def backward_all(self) -> Iterator[tuple[bytes, int, int, bytes]]:
        """The wrapped store's ``backward_all``."""
        return self._inner.backward_all()

    def __repr__(self) -> str:
        return f"ChangeLoggingSessionStore({self._inner!r})"


if TYPE_CHECKING:

    def _window_logging_conforms(store: ChangeLoggingWindowStore) -> WindowBytesStore:
        return store

    def _session_logging_conforms(store: ChangeLoggingSessionStore) -> SessionBytesStore:
        return store
