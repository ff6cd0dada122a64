"""Interactive queries on the local instance: a read-only view over the tasks it owns."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Any

from streams.errors import InvalidStateStoreError
from streams.state.api import StoreBuilder
from streams.state.timestamped import TimestampedKeyValueStoreBuilder, TimestampedWindowStoreBuilder


class _Composite:
    """A store of this instance's running tasks, found afresh at every call."""

    def __init__(self, name: str, stores: Callable[[], list[Any]], timestamped: bool) -> None:
        self.name = name
        self._stores = stores
        self._timestamped = timestamped

    def _current(self) -> list[Any]:
        stores = self._stores()
        if not stores:
            raise InvalidStateStoreError(
                f"state store {self.name!r} is not available on this instance right now (no "
                "running task owns it: the app may be rebalancing or restoring); retry later"
            )
        return stores

    def _value(self, v: Any) -> Any:
        """DSL (timestamped) stores show bare values."""
        return v.value if (self._timestamped and v is not None) else v

    def _first(self, method: str, *args: Any) -> Any:
        """The first non-None answer: a key lives in one task."""
        for store in self._current():
            v = getattr(store, method)(*args)
            if v is not None:
                return self._value(v)
        return None

    def _chain(self, method: str, *args: Any) -> Iterator[tuple[Any, Any]]:
        """Every task's answer, one task after the other (as Kafka Streams' composite stores:
        there is no order across tasks)."""
        stores = self._current()
        value = self._value
        for store in stores:
            for k, v in getattr(store, method)(*args):
                yield k, value(v)


class CompositeReadOnlyKeyValueStore(_Composite):
    """Reads store ``name`` across every task this instance runs right now.

    A key lives in exactly one task, so ``get`` asks each until one answers; scans merge the
    tasks' ordered iterators. DSL (timestamped) stores show bare values.
    """

    def get(self, key: Any) -> Any:
        """The value of ``key`` in whichever local task holds it, or None."""
        return self._first("get", key)

    def _scan(self, method: str, *args: Any, reverse: bool = False) -> Iterator[tuple[Any, Any]]:
        stores = self._current()
        value = self._value
        if len(stores) == 1:
            return ((k, value(v)) for k, v in getattr(stores[0], method)(*args))

        def keyed(store: Any) -> Iterator[tuple[bytes, Any, Any]]:
            # tasks iterate in serialized-key order; merge on the same bytes
            ser, topic = store.key_serde.serialize, store.serde_topic
            for k, v in getattr(store, method)(*args):
                yield ser(topic, k), k, v

        merged = heapq.merge(*(keyed(s) for s in stores), key=lambda t: t[0], reverse=reverse)
        return ((k, value(v)) for _, k, v in merged)

    def all(self) -> Iterator[tuple[Any, Any]]:
        """Every entry, in key-byte order."""
        return self._scan("all")

    def reverse_all(self) -> Iterator[tuple[Any, Any]]:
        """Every entry, descending."""
        return self._scan("reverse_all", reverse=True)

    def range(self, from_key: Any, to_key: Any) -> Iterator[tuple[Any, Any]]:
        """Entries between the keys (inclusive)."""
        return self._scan("range", from_key, to_key)

    def reverse_range(self, from_key: Any, to_key: Any) -> Iterator[tuple[Any, Any]]:
        """Entries between the keys, descending."""
        return self._scan("reverse_range", from_key, to_key, reverse=True)

    def prefix_scan(self, prefix: Any, prefix_serde: Any = None) -> Iterator[tuple[Any, Any]]:
        """Entries whose serialized key starts with the serialized prefix."""
        return self._scan("prefix_scan", prefix, prefix_serde)

    def approximate_num_entries(self) -> int:
        """Sum over local tasks."""
        return sum(int(s.approximate_num_entries()) for s in self._current())

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return self.all()


class CompositeReadOnlyWindowStore(_Composite):
    """Reads window store ``name`` across the tasks this instance runs (Kafka Streams'
    ReadOnlyWindowStore). DSL stores show bare values, not ValueAndTimestamp.

    Example::

        counts = app.store("page-view-counts")
        counts.get("alice", 60_000)                    # the count of alice's window at 60 s
        list(counts.fetch("alice", 0, 300_000))        # [(window start, count), ...]
        list(counts.fetch_all(0, 300_000))             # [(Windowed(key, window), count), ...]
    """

    def get(self, key: Any, window_start: int) -> Any:
        """The value of ``key``'s window starting at ``window_start``, or None."""
        return self._first("get", key, window_start)

    def fetch(self, key: Any, time_from: int, time_to: int) -> Iterator[tuple[int, Any]]:
        """``(window start, value)`` of ``key``'s windows starting in the range."""
        return self._chain("fetch", key, time_from, time_to)

    def backward_fetch(self, key: Any, time_from: int, time_to: int) -> Iterator[tuple[int, Any]]:
        """Like :meth:`fetch`, latest window first."""
        return self._chain("backward_fetch", key, time_from, time_to)

    def fetch_range(self, key_from: Any, key_to: Any, time_from: int,
                    time_to: int) -> Iterator[tuple[Any, Any]]:
        """``(Windowed, value)`` of the keys in the range (None: unbounded), windows starting
        in the time range."""
        return self._chain("fetch_range", key_from, key_to, time_from, time_to)

    def backward_fetch_range(self, key_from: Any, key_to: Any, time_from: int,
                             time_to: int) -> Iterator[tuple[Any, Any]]:
        """Like :meth:`fetch_range`, each task's windows in reverse order."""
        return self._chain("backward_fetch_range", key_from, key_to, time_from, time_to)

    def fetch_all(self, time_from: int, time_to: int) -> Iterator[tuple[Any, Any]]:
        """Every window starting in the time range."""
        return self._chain("fetch_all", time_from, time_to)

    def backward_fetch_all(self, time_from: int, time_to: int) -> Iterator[tuple[Any, Any]]:
        """Like :meth:`fetch_all`, each task's windows in reverse order."""
        return self._chain("backward_fetch_all", time_from, time_to)

    def all(self) -> Iterator[tuple[Any, Any]]:
        """Every live window."""
        return self._chain("all")

    def backward_all(self) -> Iterator[tuple[Any, Any]]:
        """Every live window, each task's in reverse order."""
        return self._chain("backward_all")

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return self.all()


class CompositeReadOnlySessionStore(_Composite):
    """Reads session store ``name`` across the tasks this instance runs (Kafka Streams'
    ReadOnlySessionStore); sessions are ``Windowed(key, SessionWindow(start, end))``."""

    def fetch_session(self, key: Any, session_start: int, session_end: int) -> Any:
        """The aggregate of ``key``'s session ``[session_start, session_end]``, or None."""
        return self._first("fetch_session", key, session_start, session_end)

    def fetch(self, key: Any) -> Iterator[tuple[Any, Any]]:
        """Every session of ``key``."""
        return self._chain("fetch", key)

    def backward_fetch(self, key: Any) -> Iterator[tuple[Any, Any]]:
        """Every session of ``key``, latest first."""
        return self._chain("backward_fetch", key)

    def find_sessions(self, key: Any, earliest_session_end: int,
                      latest_session_start: int) -> Iterator[tuple[Any, Any]]:
        """``key``'s sessions ending at or after ``earliest_session_end`` and starting at or
        before ``latest_session_start``."""
        return self._chain("find_sessions", key, earliest_session_end, latest_session_start)

    def fetch_range(self, key_from: Any, key_to: Any) -> Iterator[tuple[Any, Any]]:
        """Sessions of the keys in the range (None: unbounded)."""
        return self._chain("fetch_range", key_from, key_to)

    def all(self) -> Iterator[tuple[Any, Any]]:
        """Every live session."""
        return self._chain("all")

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return self.all()


class CompositeReadOnlyVersionedStore(_Composite):
    """Reads versioned store ``name`` across this instance's running tasks (Kafka Streams
    answers these with IQv2's ``VersionedKeyQuery`` and ``MultiVersionedKeyQuery``)."""

    def get(self, key: Any, as_of_timestamp: int | None = None) -> Any:
        """The latest version of ``key`` (a ``VersionedRecord``), or the one valid at
        ``as_of_timestamp``; None if this instance holds none."""
        if as_of_timestamp is None:
            return self._first("get", key)
        return self._first("get", key, as_of_timestamp)

    def versions(self, key: Any) -> list[Any]:
        """Every retained version of ``key``, newest first (tombstones as None values)."""
        for store in self._current():
            found = list(store.versions(key))
            if found:
                return found
        return []


def is_timestamped(builder: StoreBuilder) -> bool:
    """True for DSL stores holding ValueAndTimestamp values."""
    return isinstance(builder, TimestampedKeyValueStoreBuilder)


def composite_store(name: str, builder: StoreBuilder, stores: Callable[[], list[Any]]) -> Any:
    """The read-only view for ``builder``'s kind of store."""
    kind = builder.store_type
    if kind in ("window", "timestamped_window"):
        return CompositeReadOnlyWindowStore(
            name, stores, isinstance(builder, TimestampedWindowStoreBuilder))
    if kind == "session":
        return CompositeReadOnlySessionStore(name, stores, False)
    if kind == "versioned_key_value":
        return CompositeReadOnlyVersionedStore(name, stores, False)
    return CompositeReadOnlyKeyValueStore(name, stores, is_timestamped(builder))
