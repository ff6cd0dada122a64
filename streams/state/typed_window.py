"""The typed layer of window and session stores: keys and values through serdes, windows as
:class:`~streams.processor.window_types.Windowed` keys.

Layers, outermost first (the changelogging layer is in
:mod:`streams.state.changelogging_window`)::

    WindowStore[K, V] / SessionStore[K, V]    typed: serdes; what processors and queries see
      ChangeLoggingWindowStore / ...Session   sends each change to <application.id>-<store>-changelog
        InMemory/RocksDB Window/Session store bytes, segmented by time

The serde topic is the changelog topic, as in Kafka Streams.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from streams.errors import StateStoreError
from streams.processor.window_types import SessionWindow, Windowed, time_window_for_size
from streams.serdes.base import Serde
from streams.state.session_bytes_store import SessionBytesStore
from streams.state.typed import _TypedBase
from streams.state.window_bytes_store import WindowBytesStore

if TYPE_CHECKING:
    from streams.state.api import StateStore

__all__ = ["SessionStore", "WindowStore"]

K = TypeVar("K")
V = TypeVar("V")


class WindowStore(_TypedBase[K, V, WindowBytesStore]):
    """A window store of ``K`` to ``V`` over a bytes window store, using the given serdes.

    Reads return ``(window start, value)`` for one key, and ``(Windowed(key, TimeWindow(start,
    start + window_size)), value)`` across keys. The bytes store raises
    :class:`~streams.errors.InvalidStateStoreError` while closed, so no check is made here.

    Example::

        store = WindowStore(InMemoryWindowStore("w", 3_600_000, 60_000), String(), Long())
        store.init(context)
        store.put("alice", 3, 120_000)
        list(store.fetch("alice", 0, 600_000))   # [(120000, 3)]
        list(store.fetch_all(0, 600_000))        # [(Windowed("alice", TimeWindow(120000, 180000)), 3)]
    """

    __slots__ = ("_fetch", "_get", "_put", "_size")

    def __init__(self, inner: WindowBytesStore, key_serde: Serde[K], value_serde: Serde[V]) -> None:
        """Wrap ``inner``; nothing is opened until :meth:`init`."""
        super().__init__(inner, key_serde, value_serde)
        self._size = inner.window_size_ms
        self._put = inner.put
        self._get = inner.get
        self._fetch = inner.fetch

    @property
    def window_size_ms(self) -> int:
        """Size of the windows (window end = start + size)."""
        return self._size

    @property
    def retention_ms(self) -> int:
        """How long windows are kept after their start, in stream time."""
        return self._inner.retention_ms

    @property
    def retain_duplicates(self) -> bool:
        """Whether every put is kept, even for the same key and window."""
        return self._inner.retain_duplicates

    # -- writes and point reads ------------------------------------------------------------

    def put(self, key: K, value: V | None, window_start_timestamp: int) -> None:
        """Store ``value`` for ``key``'s window starting at ``window_start_timestamp``.

        ``None`` deletes the window (ignored when duplicates are retained). A window that has
        already expired is not written.
        """
        t = self._topic
        data = self._kse(t, key)
        if data is None:
            raise StateStoreError(f"state store {self._inner.name!r} does not accept None keys")
        self._put(data, self._vse(t, value), window_start_timestamp)

    def get(self, key: K, window_start_timestamp: int) -> V | None:
        """The value of ``key``'s window starting at ``window_start_timestamp``, or None.

        Kafka Streams' ``fetch(key, time)``.
        """
        t = self._topic
        data = self._kse(t, key)
        if data is None:
            return None
        return self._vde(t, self._get(data, window_start_timestamp))

    def set_flush_listener(
            self, listener: Callable[[K, int, V | None, V | None], None]) -> bool:
        """With a record cache below: call ``listener(key, window_start, new, old)`` for every
        cached update when it is flushed, and return True. Without one: False."""
        register = getattr(self._inner, "set_flush_listener", None)
        if register is None:
            return False

        def flushed(key: bytes, start: int, new: bytes | None, old: bytes | None) -> None:
            t, vde = self._topic, self._vde
            listener(self._kde(t, key), start,  # type: ignore[arg-type]
                     None if new is None else vde(t, new), None if old is None else vde(t, old))

        return bool(register(flushed))

    # -- reads -----------------------------------------------------------------------------

    def fetch(self, key: K, time_from: int, time_to: int) -> Iterator[tuple[int, V]]:
        """``(window start, value)`` of ``key``'s windows starting in ``[time_from, time_to]``."""
        data = self._key_bytes(key)
        return self._values(self._fetch(data, time_from, time_to))

    def backward_fetch(self, key: K, time_from: int, time_to: int) -> Iterator[tuple[int, V]]:
        """Like :meth:`fetch`, latest window first."""
        data = self._key_bytes(key)
        return self._values(self._inner.backward_fetch(data, time_from, time_to))

    def fetch_range(
        self, key_from: K | None, key_to: K | None, time_from: int, time_to: int
    ) -> Iterator[tuple[Windowed[K], V]]:
        """Windows of the keys in ``[key_from, key_to]`` (by serialized bytes; None: unbounded)
        starting in ``[time_from, time_to]``."""
        return self._windowed(
            self._inner.fetch_range(self._bound(key_from), self._bound(key_to), time_from, time_to)
        )

    def backward_fetch_range(
        self, key_from: K | None, key_to: K | None, time_from: int, time_to: int
    ) -> Iterator[tuple[Windowed[K], V]]:
        """Like :meth:`fetch_range`, in reverse order."""
        return self._windowed(
            self._inner.backward_fetch_range(
                self._bound(key_from), self._bound(key_to), time_from, time_to
            )
        )

    def fetch_all(self, time_from: int, time_to: int) -> Iterator[tuple[Windowed[K], V]]:
        """Every window starting in ``[time_from, time_to]``."""
        return self._windowed(self._inner.fetch_all(time_from, time_to))

    def backward_fetch_all(self, time_from: int, time_to: int) -> Iterator[tuple[Windowed[K], V]]:
        """Like :meth:`fetch_all`, in reverse order."""
        return self._windowed(self._inner.backward_fetch_all(time_from, time_to))

    def all(self) -> Iterator[tuple[Windowed[K], V]]:
        """Every live window."""
        return self._windowed(self._inner.all())

    def backward_all(self) -> Iterator[tuple[Windowed[K], V]]:
        """Every live window, in reverse order."""
        return self._windowed(self._inner.backward_all())

    def _values(self, items: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, V]]:
        t, vde = self._topic, self._vde
        for timestamp, value in items:
            yield timestamp, vde(t, value)  # type: ignore[misc]  # non-None bytes -> value

    def _windowed(
        self, items: Iterator[tuple[bytes, int, bytes]]
    ) -> Iterator[tuple[Windowed[K], V]]:
        t, kde, vde, size = self._topic, self._kde, self._vde, self._size
        for key, start, value in items:
            yield (
                Windowed(kde(t, key), time_window_for_size(start, size)),  # type: ignore[arg-type]
                vde(t, value),  # type: ignore[misc]
            )

    def __repr__(self) -> str:
        return (
            f"WindowStore(name={self.name!r}, key_serde={self.key_serde!r}, "
            f"value_serde={self.value_serde!r})"
        )


class SessionStore(_TypedBase[K, V, SessionBytesStore]):
    """A session store of ``K`` to ``V`` over a bytes session store, using the given serdes.

    Sessions are addressed as ``Windowed(key, SessionWindow(start, end))``; reads return
    ``(Windowed, value)`` pairs. Merging is the caller's job::

        merged_start, merged_end, agg = t, t, initial
        for session, value in store.find_sessions(key, t - gap, t + gap):
            store.remove(session)
            merged_start = min(merged_start, session.window.start)
            merged_end = max(merged_end, session.window.end)
            agg = merge(agg, value)
        store.put(Windowed(key, SessionWindow(merged_start, merged_end)), add(agg, value))
    """

    __slots__ = ("_find", "_put")

    def __init__(
        self, inner: SessionBytesStore, key_serde: Serde[K], value_serde: Serde[V]
    ) -> None:
        """Wrap ``inner``; nothing is opened until :meth:`init`."""
        super().__init__(inner, key_serde, value_serde)
        self._put = inner.put
        self._find = inner.find_sessions

    @property
    def retention_ms(self) -> int:
        """How long sessions are kept after their end, in stream time."""
        return self._inner.retention_ms

    # -- writes and point reads ------------------------------------------------------------

    def put(self, session_key: Windowed[K], aggregate: V | None) -> None:
        """Store ``aggregate`` for the session ``session_key``; ``None`` removes it."""
        t = self._topic
        data = self._kse(t, session_key.key)
        if data is None:
            raise StateStoreError(f"state store {self._inner.name!r} does not accept None keys")
        window = session_key.window
        self._put(data, window.start, window.end, self._vse(t, aggregate))

    def remove(self, session_key: Windowed[K]) -> None:
        """Remove the session ``session_key``."""
        window = session_key.window
        self._put(
            self._key_bytes(session_key.key), window.start, window.end, None
        )

    def fetch_session(self, key: K, session_start: int, session_end: int) -> V | None:
        """The aggregate of ``key``'s session ``[session_start, session_end]``, or None."""
        t = self._topic
        data = self._kse(t, key)
        if data is None:
            return None
        return self._vde(t, self._inner.fetch_session(data, session_start, session_end))

    # -- reads -----------------------------------------------------------------------------

    def find_sessions(
        self, key: K, earliest_session_end_time: int, latest_session_start_time: int
    ) -> Iterator[tuple[Windowed[K], V]]:
        """``key``'s sessions with ``end >= earliest_session_end_time`` and ``start <=
        latest_session_start_time``, by end then start."""
        data = self._key_bytes(key)
        return self._sessions(
            key, self._find(data, earliest_session_end_time, latest_session_start_time)
        )

    def backward_find_sessions(
        self, key: K, earliest_session_end_time: int, latest_session_start_time: int
    ) -> Iterator[tuple[Windowed[K], V]]:
        """Like :meth:`find_sessions`, latest first."""
        data = self._key_bytes(key)
        return self._sessions(
            key,
            self._inner.backward_find_sessions(
                data, earliest_session_end_time, latest_session_start_time
            ),
        )

    def find_sessions_range(
        self,
        key_from: K | None,
        key_to: K | None,
        earliest_session_end_time: int,
        latest_session_start_time: int,
    ) -> Iterator[tuple[Windowed[K], V]]:
        """Matching sessions of the keys in ``[key_from, key_to]`` (None: unbounded)."""
        return self._keyed(
            self._inner.find_sessions_range(
                self._bound(key_from),
                self._bound(key_to),
                earliest_session_end_time,
                latest_session_start_time,
            )
        )

    def backward_find_sessions_range(
        self,
        key_from: K | None,
        key_to: K | None,
        earliest_session_end_time: int,
        latest_session_start_time: int,
    ) -> Iterator[tuple[Windowed[K], V]]:
        """Like :meth:`find_sessions_range`, in reverse order."""
        return self._keyed(
            self._inner.backward_find_sessions_range(
                self._bound(key_from),
                self._bound(key_to),
                earliest_session_end_time,
                latest_session_start_time,
            )
        )

    def fetch(self, key: K) -> Iterator[tuple[Windowed[K], V]]:
        """Every live session of ``key``."""
        return self._sessions(key, self._inner.fetch(self._key_bytes(key)))

    def backward_fetch(self, key: K) -> Iterator[tuple[Windowed[K], V]]:
        """Every live session of ``key``, latest first."""
        return self._sessions(
            key, self._inner.backward_fetch(self._key_bytes(key))
        )

    def fetch_range(self, key_from: K | None, key_to: K | None) -> Iterator[tuple[Windowed[K], V]]:
        """Every live session of the keys in ``[key_from, key_to]``."""
        return self._keyed(self._inner.fetch_range(self._bound(key_from), self._bound(key_to)))

    def backward_fetch_range(
        self, key_from: K | None, key_to: K | None
    ) -> Iterator[tuple[Windowed[K], V]]:
        """Like :meth:`fetch_range`, in reverse order."""
        return self._keyed(
            self._inner.backward_fetch_range(self._bound(key_from), self._bound(key_to))
        )

    def all(self) -> Iterator[tuple[Windowed[K], V]]:
        """Every live session."""
        return self._keyed(self._inner.all())

    def backward_all(self) -> Iterator[tuple[Windowed[K], V]]:
        """Every live session, in reverse order."""
        return self._keyed(self._inner.backward_all())

    def _sessions(
        self, key: K, items: Iterator[tuple[int, int, bytes]]
    ) -> Iterator[tuple[Windowed[K], V]]:
        # One key: reuse the caller's key object rather than deserializing it per session.
        t, vde = self._topic, self._vde
        for start, end, value in items:
            yield Windowed(key, SessionWindow(start, end)), vde(t, value)  # type: ignore[misc]

    def _keyed(
        self, items: Iterator[tuple[bytes, int, int, bytes]]
    ) -> Iterator[tuple[Windowed[K], V]]:
        t, kde, vde = self._topic, self._kde, self._vde
        for key, start, end, value in items:
            yield (
                Windowed(kde(t, key), SessionWindow(start, end)),  # type: ignore[arg-type]
                vde(t, value),  # type: ignore[misc]
            )

    def __repr__(self) -> str:
        return (
            f"SessionStore(name={self.name!r}, key_serde={self.key_serde!r}, "
            f"value_serde={self.value_serde!r})"
        )


if TYPE_CHECKING:

    def _window_is_state_store(store: WindowStore[Any, Any]) -> StateStore:
        return store

    def _session_is_state_store(store: SessionStore[Any, Any]) -> StateStore:
        return store
