"""Window stores over bytes: records keyed by (key, window start), kept for a retention period.

What windowed aggregations and stream-stream joins store, with Kafka Streams' semantics:

* ``put(key, value, window_start)`` writes the value of one window; ``None`` deletes it. With
  ``retain_duplicates`` (join stores) every put is kept, even for the same key and window
  start, each under its own sequence number, and ``None`` is ignored.
* ``fetch(key, time_from, time_to)`` returns the windows of one key whose start is in the
  (inclusive) range, in start order; ``fetch_range`` / ``fetch_all`` / ``all`` span keys;
  ``backward_*`` return the same items in reverse order.
* Retention: see :mod:`streams.state.segmented_store`. Puts of windows that started ``retention`` or
  more before the observed stream time are skipped, reads never return them, and whole
  segments are dropped as stream time advances.

Store key layout (Kafka Streams' ``WindowKeySchema``, also the changelog key)::

    [key bytes][window start: 8-byte big-endian signed][seqnum: 4-byte big-endian]

The seqnum is 0 unless the store retains duplicates. Keys are compared as unsigned bytes, so
within a segment the records of one key are contiguous and ordered by window start: a fetch
by key and time range is a range scan per segment, not a full scan. Ranges over several keys
scan the key range and filter by time, as in Kafka Streams. Results of multi-key reads come
segment by segment, by key bytes then window start within a segment (the order of Kafka
Streams' RocksDB window store); single-key reads are in window-start order.

Window starts must not be negative (as in Kafka Streams, where a window's start is ``>= 0``).

Two implementations share all of this code and differ only in their segments:
:class:`InMemoryWindowStore` and :class:`RocksDBWindowStore` (write batching per segment as in
:mod:`streams.state.rocksdb`: written at ``flush``, readable before).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from streams.errors import InvalidStateStoreError, StateStoreError
from streams.processor.window_types import MAX_TIMESTAMP
from streams.state.api import StateStore
from streams.state.rocksdb_options import DEFAULT_MAX_PENDING_WRITES, RocksDBConfigSetter
from streams.state.segment_backends import (
    InMemorySegmentBackend,
    RocksDBSegmentBackend,
    Segment,
    SegmentBackend,
)
from streams.state.segmented_store import (
    RocksDBSegmentedStore,
    SegmentedStore,
    range_upper_bound,
)

if TYPE_CHECKING:
    from rocksdict import Options

__all__ = [
    "WINDOW_KEY_SUFFIX_SIZE",
    "InMemoryWindowStore",
    "RocksDBWindowStore",
    "SegmentedWindowStore",
    "WindowBytesStore",
    "split_window_store_key",
    "window_store_key",
]

#: Bytes after the key in a window store key: 8-byte timestamp + 4-byte seqnum.
WINDOW_KEY_SUFFIX_SIZE = 12

_TS = struct.Struct(">q")
_TS_SEQ = struct.Struct(">qI")
_MAX_SEQ = b"\xff\xff\xff\xff"
_SEQ_MASK = 0x7FFFFFFF  # Kafka Streams' seqnum wraps within the non-negative ints


def window_store_key(key: bytes, window_start: int, seqnum: int = 0) -> bytes:
    """``[key][8-byte big-endian window start][4-byte big-endian seqnum]``."""
    return key + _TS_SEQ.pack(window_start, seqnum)


def split_window_store_key(store_key: bytes) -> tuple[bytes, int, int]:
    """``(key, window start, seqnum)`` of a window store (or changelog) key."""
    n = len(store_key) - WINDOW_KEY_SUFFIX_SIZE
    if n < 0:
        raise StateStoreError(
            f"window store key has {len(store_key)} bytes, fewer than the "
            f"{WINDOW_KEY_SUFFIX_SIZE}-byte timestamp and seqnum suffix"
        )
    start, seqnum = _TS_SEQ.unpack_from(store_key, n)
    return store_key[:n], start, seqnum


class WindowBytesStore(StateStore, Protocol):
    """A window store over bytes (see the module docstring for the semantics).

    Time bounds are inclusive; a time range with ``time_from > time_to`` is empty. Key bounds
    of range reads are inclusive and ``None`` means unbounded.
    """

    @property
    def retention_ms(self) -> int: ...
    @property
    def window_size_ms(self) -> int: ...
    @property
    def retain_duplicates(self) -> bool: ...

    def put(self, key: bytes, value: bytes | None, window_start: int) -> bytes | None:
        """Write one window; return its store key (= changelog key), or None if nothing was
        written (an expired window, or a ``None`` value in a store retaining duplicates)."""
        ...

    def get(self, key: bytes, window_start: int) -> bytes | None:
        """The value of ``key``'s window starting at ``window_start`` (Kafka Streams'
        ``fetch(key, time)``); with duplicates, the first one put."""
        ...

    def fetch(self, key: bytes, time_from: int, time_to: int) -> Iterator[tuple[int, bytes]]:
        """``(window start, value)`` of ``key``'s windows starting in the range, ascending."""
        ...

    def backward_fetch(
        self, key: bytes, time_from: int, time_to: int
    ) -> Iterator[tuple[int, bytes]]: ...

    def fetch_range(
        self, key_from: bytes | None, key_to: bytes | None, time_from: int, time_to: int
    ) -> Iterator[tuple[bytes, int, bytes]]:
        """``(key, window start, value)`` of the windows of keys in the key range."""
        ...

    def backward_fetch_range(
        self, key_from: bytes | None, key_to: bytes | None, time_from: int, time_to: int
    ) -> Iterator[tuple[bytes, int, bytes]]: ...

    def fetch_all(self, time_from: int, time_to: int) -> Iterator[tuple[bytes, int, bytes]]: ...
    def backward_fetch_all(
        self, time_from: int, time_to: int
    ) -> Iterator[tuple[bytes, int, bytes]]: ...
    def all(self) -> Iterator[tuple[bytes, int, bytes]]: ...
    def backward_all(self) -> Iterator[tuple[bytes, int, bytes]]: ...


class SegmentedWindowStore(SegmentedStore):
    """A :class:`WindowBytesStore` over time segments; the segments come from ``backend``.

    Use :class:`InMemoryWindowStore` or :class:`RocksDBWindowStore`.
    """

    def __init__(
        self,
        name: str,
        retention_ms: int,
        window_size_ms: int,
        retain_duplicates: bool,
        segment_interval_ms: int | None,
        backend: SegmentBackend,
    ) -> None:
        """A closed store; see :class:`InMemoryWindowStore` for the arguments."""
        super().__init__(name, retention_ms, segment_interval_ms, backend)
        if window_size_ms < 0:
            raise StateStoreError(
                f"window store {name!r}: window size must not be negative, got {window_size_ms}"
            )
        self._window_size = window_size_ms
        self._retain_duplicates = bool(retain_duplicates)
        self._seqnum = 0

    @property
    def window_size_ms(self) -> int:
        """Size of the windows stored (used to compute window ends for typed reads)."""
        return self._window_size

    @property
    def retain_duplicates(self) -> bool:
        """Whether every put is kept, even for the same key and window start."""
        return self._retain_duplicates

    # -- writes ----------------------------------------------------------------------------

    def put(self, key: bytes, value: bytes | None, window_start: int) -> bytes | None:
        """Write ``value`` for ``key``'s window starting at ``window_start``; ``None`` deletes.

        Returns the store key written (the changelog key), or None when nothing was written:
        the window had already expired, or the store retains duplicates and ``value`` is None.
        """
        interval = self._interval
        # The dict access raises InvalidStateStoreError while the store is closed.
        segment = self._segments.get(window_start // interval)
        if window_start > self._stream_time:
            self._advance(window_start)
        if window_start < self._min_live:
            self._skip_expired(window_start)
            return None
        if self._retain_duplicates:
            if value is None:
                return None  # a delete cannot name one of several duplicates: a no-op, as in KS
            self._seqnum = seqnum = (self._seqnum + 1) & _SEQ_MASK
            store_key = key + _TS_SEQ.pack(window_start, seqnum)
        else:
            store_key = key + _TS_SEQ.pack(window_start, 0)
        if segment is None:
            if value is None:
                return store_key  # nothing to delete; the tombstone is still logged
            segment = self._create(window_start // interval)
        segment.put(store_key, value)
        return store_key

    def _restore(self, batch: list[tuple[bytes, bytes | None]]) -> None:
        """Apply changelog records (store keys as written by :meth:`put`) to the segments."""
        if not batch:
            return
        suffix = WINDOW_KEY_SUFFIX_SIZE
        unpack = _TS_SEQ.unpack_from
        parsed: list[tuple[int, int]] = []
        newest = -1
        for store_key, _ in batch:
            n = len(store_key) - suffix
            if n < 0:
                raise StateStoreError(
                    f"window store {self._name!r}: changelog key of {len(store_key)} bytes is "
                    f"shorter than the {suffix}-byte window suffix"
                )
            ts_seq = unpack(store_key, n)
            parsed.append(ts_seq)
            if ts_seq[0] > newest:
                newest = ts_seq[0]
        # Advance stream time over the whole batch first (as Kafka Streams does), so records
        # that the batch itself expires are never written.
        if newest > self._stream_time:
            self._advance(newest)
        segments, interval, min_live = self._segments, self._interval, self._min_live
        max_seq = self._seqnum
        for (store_key, value), (timestamp, seqnum) in zip(batch, parsed):
            if timestamp < min_live:
                continue
            segment = segments.get(timestamp // interval)
            if segment is None:
                if value is None:
                    continue
                segment = self._create(timestamp // interval)
            segment.put(store_key, value)
            if seqnum > max_seq:
                max_seq = seqnum
        # New duplicates must not reuse a restored seqnum (which would overwrite a record).
        self._seqnum = max_seq

    # -- point read ------------------------------------------------------------------------

    def get(self, key: bytes, window_start: int) -> bytes | None:
        """The value of ``key``'s window starting at ``window_start``, or None.

        In a store retaining duplicates: the first duplicate put (lowest seqnum).
        """
        segment = self._segments.get(window_start // self._interval)
        if segment is None or window_start < self._min_live:
            return None
        if not self._retain_duplicates:
            return segment.get(key + _TS_SEQ.pack(window_start, 0))
        prefix = key + _TS.pack(window_start)
        for _, value in segment.range(prefix + b"\x00\x00\x00\x00", prefix + _MAX_SEQ):
            return value
        return None

    # -- single-key fetch ------------------------------------------------------------------

    def fetch(self, key: bytes, time_from: int, time_to: int) -> Iterator[tuple[int, bytes]]:
        """``(window start, value)`` of ``key``'s windows with ``time_from <= start <= time_to``.

        Ascending by window start (then by insertion, for duplicates).
        """
        return self._fetch(key, time_from, time_to, False)

    def backward_fetch(
        self, key: bytes, time_from: int, time_to: int
    ) -> Iterator[tuple[int, bytes]]:
        """Like :meth:`fetch`, in descending order."""
        return self._fetch(key, time_from, time_to, True)

    def _fetch(
        self, key: bytes, time_from: int, time_to: int, backward: bool
    ) -> Iterator[tuple[int, bytes]]:
        lo = time_from if time_from > self._min_live else self._min_live
        hi = time_to if time_to < MAX_TIMESTAMP else MAX_TIMESTAMP
        segments = self._search(lo, hi, backward)  # raises now if the store is closed
        if hi < lo or not segments:
            return iter(())
        return self._fetch_items(
            segments,
            key + _TS_SEQ.pack(lo, 0),
            key + _TS.pack(hi) + _MAX_SEQ,
            len(key),
            backward,
        )

    def _fetch_items(
        self, segments: list[Segment], lower: bytes, upper: bytes, key_len: int, backward: bool
    ) -> Iterator[tuple[int, bytes]]:
        # Every store key in [lower, upper] starts with the key (both bounds do), but keys that
        # extend it (b"ab" when fetching b"a") may fall in the range too: only store keys of
        # exactly key_len + 12 bytes are this key's.
        size = key_len + WINDOW_KEY_SUFFIX_SIZE
        unpack = _TS.unpack_from
        for segment in segments:
            try:
                items = (
                    segment.reverse_range(lower, upper) if backward else segment.range(lower, upper)
                )
                for store_key, value in items:
                    if len(store_key) == size:
                        yield unpack(store_key, key_len)[0], value
            except InvalidStateStoreError:
                if not self._segment_dropped(segment):
                    raise

    # -- multi-key reads -------------------------------------------------------------------

    def fetch_range(
        self, key_from: bytes | None, key_to: bytes | None, time_from: int, time_to: int
    ) -> Iterator[tuple[bytes, int, bytes]]:
        """``(key, window start, value)`` for ``key_from <= key <= key_to`` (None: unbounded)
        and ``time_from <= start <= time_to``; segment by segment, then by key and start."""
        return self._fetch_range(key_from, key_to, time_from, time_to, False)

    def backward_fetch_range(
        self, key_from: bytes | None, key_to: bytes | None, time_from: int, time_to: int
    ) -> Iterator[tuple[bytes, int, bytes]]:
        """Like :meth:`fetch_range`, in exactly the reverse order."""
        return self._fetch_range(key_from, key_to, time_from, time_to, True)

    def fetch_all(self, time_from: int, time_to: int) -> Iterator[tuple[bytes, int, bytes]]:
        """Every ``(key, window start, value)`` with ``time_from <= start <= time_to``."""
        return self._fetch_range(None, None, time_from, time_to, False)

    def backward_fetch_all(
        self, time_from: int, time_to: int
    ) -> Iterator[tuple[bytes, int, bytes]]:
        """Like :meth:`fetch_all`, in reverse order."""
        return self._fetch_range(None, None, time_from, time_to, True)

    def all(self) -> Iterator[tuple[bytes, int, bytes]]:
        """Every live ``(key, window start, value)``."""
        return self._fetch_range(None, None, 0, MAX_TIMESTAMP, False)

    def backward_all(self) -> Iterator[tuple[bytes, int, bytes]]:
        """Every live ``(key, window start, value)``, in reverse order."""
        return self._fetch_range(None, None, 0, MAX_TIMESTAMP, True)

    def _fetch_range(
        self,
        key_from: bytes | None,
        key_to: bytes | None,
        time_from: int,
        time_to: int,
        backward: bool,
    ) -> Iterator[tuple[bytes, int, bytes]]:
        lo = time_from if time_from > self._min_live else self._min_live
        hi = time_to if time_to < MAX_TIMESTAMP else MAX_TIMESTAMP
        segments = self._search(lo, hi, backward)
        if (
            hi < lo
            or not segments
            or (key_from is not None and key_to is not None and key_from > key_to)
        ):
            return iter(())
        # Any store key of a key >= key_from is >= key_from itself; the upper bound must also
        # cover the store keys of prefixes of key_to (see range_upper_bound).
        upper = None if key_to is None else range_upper_bound(key_to, _TS.pack(hi) + _MAX_SEQ)
        return self._range_items(
            self._scan(segments, key_from, upper, backward), key_from, key_to, lo, hi
        )

    @staticmethod
    def _range_items(
        items: Iterator[tuple[bytes, bytes]],
        key_from: bytes | None,
        key_to: bytes | None,
        lo: int,
        hi: int,
    ) -> Iterator[tuple[bytes, int, bytes]]:
        unpack = _TS.unpack_from
        suffix = WINDOW_KEY_SUFFIX_SIZE
        for store_key, value in items:
            n = len(store_key) - suffix
            timestamp = unpack(store_key, n)[0]
            if timestamp < lo or timestamp > hi:
                continue
            key = store_key[:n]
            if (key_from is not None and key < key_from) or (key_to is not None and key > key_to):
                continue
            yield key, timestamp, value

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self._name!r}, retention_ms={self._retention}, "
            f"window_size_ms={self._window_size}, retain_duplicates={self._retain_duplicates})"
        )


class InMemoryWindowStore(SegmentedWindowStore):
    """A window store held in memory: per segment, a dict plus a sorted index of store keys.

    Not persistent: after a restart its contents come back from the changelog.

    Example::

        store = InMemoryWindowStore("clicks", retention_ms=3_600_000, window_size_ms=60_000)
        store.init(context)
        store.put(b"alice", b"3", 120_000)
        list(store.fetch(b"alice", 0, 600_000))  # [(120000, b"3")]
    """

    def __init__(
        self,
        name: str,
        retention_ms: int,
        window_size_ms: int,
        retain_duplicates: bool = False,
        *,
        segment_interval_ms: int | None = None,
    ) -> None:
        """A closed store: windows of ``window_size_ms`` kept for ``retention_ms`` of stream time.

        ``segment_interval_ms`` defaults to ``max(retention_ms // 2, 60_000)``.
        """
        super().__init__(
            name,
            retention_ms,
            window_size_ms,
            retain_duplicates,
            segment_interval_ms,
            InMemorySegmentBackend(),
        )


class RocksDBWindowStore(SegmentedWindowStore, RocksDBSegmentedStore):
    """A persistent window store: one RocksDB database per segment.

    Segments live in ``<task state dir>/<store>/<store>.<segment start ms>/``. Each segment
    batches writes until :meth:`flush` (the runtime's commit), and reads see pending writes, as
    :class:`~streams.state.rocksdb.RocksDBKeyValueStore` does. ``options_factory``,
    ``config_setter``, ``max_pending_writes`` and ``fsync_on_flush`` are as for that store
    (the options are made once per store and shared by its segments).
    """

    def __init__(
        self,
        name: str,
        retention_ms: int,
        window_size_ms: int,
        retain_duplicates: bool = False,
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
        super().__init__(
            name,
            retention_ms,
            window_size_ms,
            retain_duplicates,
            segment_interval_ms,
            self._rocksdb,
        )


if TYPE_CHECKING:

    def _in_memory_conforms(store: InMemoryWindowStore) -> WindowBytesStore:
        return store

    def _rocksdb_conforms(store: RocksDBWindowStore) -> WindowBytesStore:
        return store
