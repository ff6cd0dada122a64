"""Session stores over bytes: one aggregate per (key, session window), kept for a retention period.

What session-windowed aggregations store, with Kafka Streams' ``SessionStore`` semantics:

* ``put(key, start, end, value)`` writes one session's aggregate; ``None`` (or ``remove``)
  deletes it. Merging sessions is the caller's job: it finds the overlapping sessions, removes
  them and puts the merged one.
* ``find_sessions(key, earliest_session_end, latest_session_start)`` returns the sessions of
  ``key`` with ``end >= earliest_session_end`` and ``start <= latest_session_start`` — the
  sessions a new record at ``t`` may merge with are ``find_sessions(key, t - gap, t + gap)``.
  Results are ordered by session end, then start (``backward_*``: the reverse).
* ``fetch(key)`` returns all of ``key``'s sessions; ``*_range`` variants span a key range.
* Retention: see :mod:`streams.state.segmented_store`; a session's segment timestamp is its **end**.
  Puts of sessions that ended ``retention`` or more before the observed stream time (the
  largest session end put) are skipped, reads never return them, and whole segments are
  dropped as stream time advances.

Store key layout (Kafka Streams' ``SessionKeySchema``, also the changelog key)::

    [key bytes][session end: 8-byte big-endian signed][session start: 8-byte big-endian signed]

Within a segment the sessions of one key are contiguous and ordered by end then start, so a
lookup by key is a range scan per segment. Multi-key reads come segment by segment, then by key
bytes, end and start. Session times must satisfy ``0 <= start <= end``.

Two implementations share this code and differ only in their segments:
:class:`InMemorySessionStore` and :class:`RocksDBSessionStore`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from streams.errors import InvalidStateStoreError, StateStoreError
from streams.processor.window_types import MAX_TIMESTAMP
from streams.state.api import StateStore
from streams.state.rocksdb_options import DEFAULT_MAX_PENDING_WRITES, RocksDBConfigSetter
from streams.state.segment_backends import InMemorySegmentBackend, RocksDBSegmentBackend, Segment
from streams.state.segmented_store import RocksDBSegmentedStore, SegmentedStore, range_upper_bound

if TYPE_CHECKING:
    from rocksdict import Options

__all__ = [
    "SESSION_KEY_SUFFIX_SIZE",
    "InMemorySessionStore",
    "RocksDBSessionStore",
    "SegmentedSessionStore",
    "SessionBytesStore",
    "session_store_key",
    "split_session_store_key",
]

#: Bytes after the key in a session store key: 8-byte end + 8-byte start.
SESSION_KEY_SUFFIX_SIZE = 16

_TS = struct.Struct(">q")
_END_START = struct.Struct(">qq")


def session_store_key(key: bytes, start: int, end: int) -> bytes:
    """``[key][8-byte big-endian end][8-byte big-endian start]``."""
    return key + _END_START.pack(end, start)


def split_session_store_key(store_key: bytes) -> tuple[bytes, int, int]:
    """``(key, start, end)`` of a session store (or changelog) key."""
    n = len(store_key) - SESSION_KEY_SUFFIX_SIZE
    if n < 0:
        raise StateStoreError(
            f"session store key has {len(store_key)} bytes, fewer than the "
            f"{SESSION_KEY_SUFFIX_SIZE}-byte end and start suffix"
        )
    end, start = _END_START.unpack_from(store_key, n)
    return store_key[:n], start, end


class SessionBytesStore(StateStore, Protocol):
    """A session store over bytes (see the module docstring for the semantics).

    Time bounds are inclusive. Key bounds of range reads are inclusive; ``None`` is unbounded.
    """

    @property
    def retention_ms(self) -> int: ...

    def put(self, key: bytes, start: int, end: int, value: bytes | None) -> bytes | None:
        """Write one session; return its store key (= changelog key), or None if the session
        had expired and nothing was written."""
        ...

    def remove(self, key: bytes, start: int, end: int) -> bytes | None:
        """Delete one session (``put`` of ``None``); same return value as :meth:`put`."""
        ...

    def fetch_session(self, key: bytes, start: int, end: int) -> bytes | None:
        """The aggregate of exactly that session, or None."""
        ...

    def find_sessions(
        self, key: bytes, earliest_session_end: int, latest_session_start: int
    ) -> Iterator[tuple[int, int, bytes]]:
        """``(start, end, value)`` of ``key``'s sessions with ``end >= earliest_session_end``
        and ``start <= latest_session_start``, by end then start."""
        ...

    def backward_find_sessions(
        self, key: bytes, earliest_session_end: int, latest_session_start: int
    ) -> Iterator[tuple[int, int, bytes]]: ...

    def find_sessions_range(
        self,
        key_from: bytes | None,
        key_to: bytes | None,
        earliest_session_end: int,
        latest_session_start: int,
    ) -> Iterator[tuple[bytes, int, int, bytes]]:
        """``(key, start, end, value)`` of the matching sessions of keys in the range."""
        ...

    def backward_find_sessions_range(
        self,
        key_from: bytes | None,
        key_to: bytes | None,
        earliest_session_end: int,
        latest_session_start: int,
    ) -> Iterator[tuple[bytes, int, int, bytes]]: ...

    def fetch(self, key: bytes) -> Iterator[tuple[int, int, bytes]]: ...
    def backward_fetch(self, key: bytes) -> Iterator[tuple[int, int, bytes]]: ...
    def fetch_range(
        self, key_from: bytes | None, key_to: bytes | None
    ) -> Iterator[tuple[bytes, int, int, bytes]]: ...
    def backward_fetch_range(
        self, key_from: bytes | None, key_to: bytes | None
    ) -> Iterator[tuple[bytes, int, int, bytes]]: ...
    def all(self) -> Iterator[tuple[bytes, int, int, bytes]]: ...
    def backward_all(self) -> Iterator[tuple[bytes, int, int, bytes]]: ...


class SegmentedSessionStore(SegmentedStore):
    """A :class:`SessionBytesStore` over time segments (by session end) from ``backend``.

    Use :class:`InMemorySessionStore` or :class:`RocksDBSessionStore`.
    """

    # -- writes ----------------------------------------------------------------------------

    def put(self, key: bytes, start: int, end: int, value: bytes | None) -> bytes | None:
        """Write ``value`` as the aggregate of ``key``'s session ``[start, end]``; None deletes.

        Returns the store key (the changelog key), or None if the session had expired.
        """
        interval = self._interval
        # The dict access raises InvalidStateStoreError while the store is closed.
        segment = self._segments.get(end // interval)
        if not 0 <= start <= end:
            raise StateStoreError(
                f"session store {self._name!r}: a session needs 0 <= start <= end, got "
                f"start={start}, end={end}"
            )
        if end > self._stream_time:
            self._advance(end)
        if end < self._min_live:
            self._skip_expired(end)
            return None
        store_key = key + _END_START.pack(end, start)
        if segment is None:
            if value is None:
                return store_key  # nothing to delete; the tombstone is still logged
            segment = self._create(end // interval)
        segment.put(store_key, value)
        return store_key

    def remove(self, key: bytes, start: int, end: int) -> bytes | None:
        """Delete ``key``'s session ``[start, end]`` (``put`` of None)."""
        return self.put(key, start, end, None)

    def _restore(self, batch: list[tuple[bytes, bytes | None]]) -> None:
        """Apply changelog records (store keys as written by :meth:`put`) to the segments."""
        if not batch:
            return
        suffix = SESSION_KEY_SUFFIX_SIZE
        unpack = _TS.unpack_from
        ends: list[int] = []
        for store_key, _ in batch:
            n = len(store_key) - suffix
            if n < 0:
                raise StateStoreError(
                    f"session store {self._name!r}: changelog key of {len(store_key)} bytes is "
                    f"shorter than the {suffix}-byte session suffix"
                )
            ends.append(unpack(store_key, n)[0])
        # Advance stream time over the whole batch first, so that records the batch itself
        # expires are never written (as Kafka Streams does).
        newest = max(ends)
        if newest > self._stream_time:
            self._advance(newest)
        segments, interval, min_live = self._segments, self._interval, self._min_live
        for (store_key, value), end in zip(batch, ends):
            if end < min_live:
                continue
            segment = segments.get(end // interval)
            if segment is None:
                if value is None:
                    continue
                segment = self._create(end // interval)
            segment.put(store_key, value)

    # -- reads -----------------------------------------------------------------------------

    def fetch_session(self, key: bytes, start: int, end: int) -> bytes | None:
        """The aggregate of ``key``'s session ``[start, end]``, or None."""
        segment = self._segments.get(end // self._interval)
        if segment is None or end < self._min_live:
            return None
        return segment.get(key + _END_START.pack(end, start))

    def find_sessions(
        self, key: bytes, earliest_session_end: int, latest_session_start: int
    ) -> Iterator[tuple[int, int, bytes]]:
        """``(start, end, value)`` of ``key``'s sessions with ``end >= earliest_session_end``
        and ``start <= latest_session_start``, ascending by end then start."""
        return self._find(key, earliest_session_end, latest_session_start, False)

    def backward_find_sessions(
        self, key: bytes, earliest_session_end: int, latest_session_start: int
    ) -> Iterator[tuple[int, int, bytes]]:
        """Like :meth:`find_sessions`, in descending order."""
        return self._find(key, earliest_session_end, latest_session_start, True)

    def fetch(self, key: bytes) -> Iterator[tuple[int, int, bytes]]:
        """Every live session of ``key``: ``find_sessions(key, 0, MAX)``."""
        return self._find(key, 0, MAX_TIMESTAMP, False)

    def backward_fetch(self, key: bytes) -> Iterator[tuple[int, int, bytes]]:
        """Every live session of ``key``, in descending order."""
        return self._find(key, 0, MAX_TIMESTAMP, True)

    def _find(
        self, key: bytes, earliest_end: int, latest_start: int, backward: bool
    ) -> Iterator[tuple[int, int, bytes]]:
        lo = earliest_end if earliest_end > self._min_live else self._min_live
        hi_start = latest_start if latest_start < MAX_TIMESTAMP else MAX_TIMESTAMP
        # A session starting before latest_start may end at any time: search every segment
        # from the one holding the earliest end onwards.
        segments = self._search(lo, MAX_TIMESTAMP, backward)  # raises now if closed
        if hi_start < 0 or not segments:
            return iter(())
        return self._find_items(
            segments,
            key + _END_START.pack(lo, 0),
            key + _END_START.pack(MAX_TIMESTAMP, hi_start),
            len(key),
            hi_start,
            backward,
        )

    def _find_items(
        self,
        segments: list[Segment],
        lower: bytes,
        upper: bytes,
        key_len: int,
        latest_start: int,
        backward: bool,
    ) -> Iterator[tuple[int, int, bytes]]:
        # Store keys in [lower, upper] all start with the key; only those of exactly
        # key_len + 16 bytes are this key's (longer keys extending it may be in range too).
        size = key_len + SESSION_KEY_SUFFIX_SIZE
        unpack = _END_START.unpack_from
        for segment in segments:
            try:
                items = (
                    segment.reverse_range(lower, upper) if backward else segment.range(lower, upper)
                )
                for store_key, value in items:
                    if len(store_key) == size:
                        end, start = unpack(store_key, key_len)
                        if start <= latest_start:
                            yield start, end, value
            except InvalidStateStoreError:
                if not self._segment_dropped(segment):
                    raise

    def find_sessions_range(
        self,
        key_from: bytes | None,
        key_to: bytes | None,
        earliest_session_end: int,
        latest_session_start: int,
    ) -> Iterator[tuple[bytes, int, int, bytes]]:
        """``(key, start, end, value)`` of sessions of ``key_from <= key <= key_to`` (None:
        unbounded) with ``end >= earliest_session_end`` and ``start <= latest_session_start``;
        segment by segment, then by key, end and start."""
        return self._find_range(key_from, key_to, earliest_session_end, latest_session_start, False)

    def backward_find_sessions_range(
        self,
        key_from: bytes | None,
        key_to: bytes | None,
        earliest_session_end: int,
        latest_session_start: int,
    ) -> Iterator[tuple[bytes, int, int, bytes]]:
        """Like :meth:`find_sessions_range`, in exactly the reverse order."""
        return self._find_range(key_from, key_to, earliest_session_end, latest_session_start, True)

    def fetch_range(
        self, key_from: bytes | None, key_to: bytes | None
    ) -> Iterator[tuple[bytes, int, int, bytes]]:
        """Every live session of the keys in the range."""
        return self._find_range(key_from, key_to, 0, MAX_TIMESTAMP, False)

    def backward_fetch_range(
        self, key_from: bytes | None, key_to: bytes | None
    ) -> Iterator[tuple[bytes, int, int, bytes]]:
        """Every live session of the keys in the range, in reverse order."""
        return self._find_range(key_from, key_to, 0, MAX_TIMESTAMP, True)

    def all(self) -> Iterator[tuple[bytes, int, int, bytes]]:
        """Every live ``(key, start, end, value)``."""
        return self._find_range(None, None, 0, MAX_TIMESTAMP, False)

    def backward_all(self) -> Iterator[tuple[bytes, int, int, bytes]]:
        """Every live ``(key, start, end, value)``, in reverse order."""
        return self._find_range(None, None, 0, MAX_TIMESTAMP, True)

    def _find_range(
        self,
        key_from: bytes | None,
        key_to: bytes | None,
        earliest_end: int,
        latest_start: int,
        backward: bool,
    ) -> Iterator[tuple[bytes, int, int, bytes]]:
        lo = earliest_end if earliest_end > self._min_live else self._min_live
        hi_start = latest_start if latest_start < MAX_TIMESTAMP else MAX_TIMESTAMP
        segments = self._search(lo, MAX_TIMESTAMP, backward)
        if (
            hi_start < 0
            or not segments
            or (key_from is not None and key_to is not None and key_from > key_to)
        ):
            return iter(())
        upper = (
            None
            if key_to is None
            else range_upper_bound(key_to, _END_START.pack(MAX_TIMESTAMP, hi_start))
        )
        return self._range_items(
            self._scan(segments, key_from, upper, backward), key_from, key_to, lo, hi_start
        )

    @staticmethod
    def _range_items(
        items: Iterator[tuple[bytes, bytes]],
        key_from: bytes | None,
        key_to: bytes | None,
        earliest_end: int,
        latest_start: int,
    ) -> Iterator[tuple[bytes, int, int, bytes]]:
        unpack = _END_START.unpack_from
        suffix = SESSION_KEY_SUFFIX_SIZE
        for store_key, value in items:
            n = len(store_key) - suffix
            end, start = unpack(store_key, n)
            if end < earliest_end or start > latest_start:
                continue
            key = store_key[:n]
            if (key_from is not None and key < key_from) or (key_to is not None and key > key_to):
                continue
            yield key, start, end, value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, retention_ms={self._retention})"


class InMemorySessionStore(SegmentedSessionStore):
    """A session store held in memory: per segment, a dict plus a sorted index of store keys.

    Not persistent: after a restart its contents come back from the changelog.

    Example::

        store = InMemorySessionStore("sessions", retention_ms=3_600_000)
        store.init(context)
        store.put(b"alice", 1_000, 5_000, b"2")
        list(store.find_sessions(b"alice", 4_000, 9_000))  # [(1000, 5000, b"2")]
    """

    def __init__(
        self, name: str, retention_ms: int, *, segment_interval_ms: int | None = None
    ) -> None:
        """A closed store keeping sessions for ``retention_ms`` of stream time after their end.

        ``segment_interval_ms`` defaults to ``max(retention_ms // 2, 60_000)``.
        """
        super().__init__(name, retention_ms, segment_interval_ms, InMemorySegmentBackend())


class RocksDBSessionStore(SegmentedSessionStore, RocksDBSegmentedStore):
    """A persistent session store: one RocksDB database per segment (by session end).

    Same directory layout, write batching and options as
    :class:`~streams.state.window_bytes_store.RocksDBWindowStore`.
    """

    def __init__(
        self,
        name: str,
        retention_ms: int,
        *,
        segment_interval_ms: int | None = None,
        options_factory: Callable[[], Options] | None = None,
        config_setter: RocksDBConfigSetter | None = None,
        max_pending_writes: int = DEFAULT_MAX_PENDING_WRITES,
        fsync_on_flush: bool = True,
    ) -> None:
        """A closed store; :meth:`init` opens (or reopens) its segments under the task dir."""
        self._rocksdb = RocksDBSegmentBackend(
            options_factory=options_factory,
            config_setter=config_setter,
            max_pending_writes=max_pending_writes,
            fsync_on_flush=fsync_on_flush,
        )
        super().__init__(name, retention_ms, segment_interval_ms, self._rocksdb)


if TYPE_CHECKING:

    def _in_memory_conforms(store: InMemorySessionStore) -> SessionBytesStore:
        return store

    def _rocksdb_conforms(store: RocksDBSessionStore) -> SessionBytesStore:
        return store
