"""Time segments: the retention bookkeeping shared by window and session stores.

A windowed store keeps its records in *segments*, each holding the records whose *segment
timestamp* (a window's start, a session's end) falls in one interval of ``segment_interval_ms``:
segment ``i`` covers ``[i * interval, (i + 1) * interval - 1]``. Each segment is an ordered
bytes key-value store of its own, made by a segment backend (in memory or one RocksDB database
per segment: :mod:`streams.state.segment_backends`). Keys inside a segment are ordered
key-first (``[key][timestamp]...``), so fetching one key over a time range is a range scan in
each segment the time range touches.

Retention, as Kafka Streams does it:

* *observed stream time* is the largest segment timestamp ever put (or restored);
* a record is *expired* once its segment timestamp is ``<= stream time - retention``, i.e.
  older than ``min_live = stream time - retention + 1``. Puts of expired records are no-ops
  ("Skipping record for expired segment"), and reads never return them;
* a segment is dropped as soon as its whole range is expired. Dropping costs one ``close`` (in
  memory) or one directory removal (RocksDB): it never scans the segment, which is the point
  of segmenting rather than deleting expired keys one by one.

Segments are reopened from disk on ``init`` (persistent stores). Stream time is not persisted;
on reopen it is set to the start of the newest segment, a safe lower bound (a segment only
exists because a record with a timestamp in it was put, which raised stream time at least that
far), so reopening never expires more than the store had already expired.

The segment interval defaults to ``max(retention / 2, 60 000 ms)``, as in Kafka Streams, so a
store holds about three segments. It must not change for an existing persistent store (the
segment directories are named by start time); if it does, ``init`` raises
:class:`~streams.errors.StateStoreError` and the runtime rebuilds the store from its changelog.
"""

from __future__ import annotations

import logging
import os
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from streams.errors import InvalidStateStoreError, StateStoreError
from streams.state.api import StateStoreContext
from streams.state.memory import ClosedStoreMap
from streams.state.rocksdb import destroy_store_dir
from streams.state.segment_backends import RocksDBSegmentBackend, Segment, SegmentBackend

__all__ = [
    "MIN_SEGMENT_INTERVAL_MS",
    "RocksDBSegmentedStore",
    "SegmentedStore",
    "default_segment_interval",
    "range_upper_bound",
]

log = logging.getLogger(__name__)

#: Smallest default segment interval (Kafka Streams' 60 s floor).
MIN_SEGMENT_INTERVAL_MS = 60_000


def default_segment_interval(retention_ms: int) -> int:
    """Kafka Streams' default segment interval: ``max(retention_ms // 2, 60_000)``."""
    return max(retention_ms // 2, MIN_SEGMENT_INTERVAL_MS)


def range_upper_bound(key_to: bytes, max_suffix: bytes) -> bytes:
    """Smallest safe inclusive upper bound of the store keys of every key ``<= key_to``.

    Store keys are ``[key][suffix]`` with variable-length keys, so the store key of a *proper
    prefix* of ``key_to`` (say ``b"a"`` for ``key_to == b"a\\x00"``) can sort after
    ``key_to + max_suffix``. The bound is therefore the largest of ``key_to[:i] + max_suffix``
    over every prefix length ``i``. (Kafka Streams computes an approximation of the same bound
    in ``OrderedBytes.upperRange``.) Callers still filter each key, since the range may also
    contain store keys of longer keys.
    """
    return max(key_to[:i] + max_suffix for i in range(len(key_to) + 1))


def _closed_segments(store_name: str, state: str) -> dict[int, Segment]:
    """A segment map whose every access raises :class:`InvalidStateStoreError`."""
    return cast("dict[int, Segment]", ClosedStoreMap(store_name, state))


class SegmentedStore:
    """Base of the segmented window and session bytes stores: lifecycle and retention.

    Subclasses define the key layout, the reads and writes, and :meth:`_restore`. They find the
    segment of a timestamp in ``self._segments`` (by segment id: ``timestamp //
    self._interval``), advance stream time with :meth:`_advance`, and compare segment
    timestamps with ``self._min_live`` (the oldest live timestamp). While the store is closed
    ``self._segments`` is a :class:`~streams.state.memory.ClosedStoreMap`, so the dict access
    every operation does anyway raises :class:`InvalidStateStoreError`.
    """

    def __init__(
        self,
        name: str,
        retention_ms: int,
        segment_interval_ms: int | None,
        backend: SegmentBackend,
    ) -> None:
        """A closed store; ``segment_interval_ms=None`` means :func:`default_segment_interval`."""
        if not name or name in (".", "..") or "/" in name or os.sep in name:
            raise StateStoreError(
                f"invalid state store name {name!r}: it is used as a directory name"
            )
        if retention_ms < 0:
            raise StateStoreError(
                f"state store {name!r}: retention must not be negative, got {retention_ms} ms"
            )
        interval = (
            default_segment_interval(retention_ms)
            if segment_interval_ms is None
            else segment_interval_ms
        )
        if interval < 1:
            raise StateStoreError(
                f"state store {name!r}: segment interval must be at least 1 ms, got {interval}"
            )
        self._name = name
        self._retention = retention_ms
        self._interval = interval
        self._backend = backend
        self._segments: dict[int, Segment] = _closed_segments(name, "not initialized")
        # Live segment ids in ascending order (segments may be created out of order when an
        # out-of-order record lands in an older, still live, segment).
        self._ids: list[int] = []
        self._stream_time = -1
        # Oldest live timestamp: max(0, stream time - retention + 1). Never negative, so that
        # reads clamp negative lower bounds for free (store keys cannot encode them in order).
        self._min_live = 0
        self._expired = 0
        self._open = False

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The store's name."""
        return self._name

    @property
    def persistent(self) -> bool:
        """Whether segments are kept on local disk."""
        return self._backend.persistent

    @property
    def is_open(self) -> bool:
        """True between :meth:`init` and :meth:`close`."""
        return self._open

    @property
    def retention_ms(self) -> int:
        """How long records are kept, in stream time, after their segment timestamp."""
        return self._retention

    @property
    def segment_interval_ms(self) -> int:
        """Length of the time range of one segment."""
        return self._interval

    @property
    def observed_stream_time(self) -> int:
        """Largest segment timestamp put or restored so far (-1 before any)."""
        return self._stream_time

    @property
    def expired_record_count(self) -> int:
        """How many puts were skipped because their record had already expired."""
        return self._expired

    @property
    def segment_ids(self) -> list[int]:
        """Ids of the live segments, ascending (a copy; for tests and diagnostics)."""
        return list(self._ids)

    def init(self, context: StateStoreContext) -> None:
        """Open the store for ``context``'s task (reopening segments on disk) and register it."""
        if self._open:
            raise StateStoreError(f"state store {self._name!r} is already open")
        existing = self._backend.open(context, self._name, self._interval)
        self._segments = existing
        self._ids = sorted(existing)
        self._stream_time = -1
        self._min_live = 0
        self._open = True
        if existing:
            # A lower bound of the stream time the store had reached: see the module docstring.
            self._advance(self._ids[-1] * self._interval)
        try:
            context.register(self, self._restore)
        except BaseException:
            self.close()
            raise

    def flush(self) -> None:
        """Flush every segment (RocksDB: write each one's pending batch); closed: nothing."""
        if not self._open:
            return
        for segment in list(self._segments.values()):
            segment.flush()

    def close(self) -> None:
        """Close every segment (RocksDB: after writing pending batches); later access raises."""
        if not self._open:
            return
        segments = self._segments
        self._open = False
        self._segments = _closed_segments(self._name, "closed")
        self._ids = []
        try:
            for segment in segments.values():
                segment.close()
        finally:
            self._backend.close()

    def _restore(self, batch: list[tuple[bytes, bytes | None]]) -> None:
        raise NotImplementedError

    # -- bookkeeping for subclasses ------------------------------------------------------

    def _advance(self, timestamp: int) -> None:
        """Raise stream time to ``timestamp`` (which must exceed it) and drop expired segments."""
        self._stream_time = timestamp
        min_live = timestamp - self._retention + 1
        if min_live > self._min_live:
            self._min_live = min_live
            ids = self._ids
            first_live = min_live // self._interval
            if ids and ids[0] < first_live:
                self._drop_before(first_live)

    def _drop_before(self, first_live: int) -> None:
        ids = self._ids
        n = bisect_left(ids, first_live)
        dropped = ids[:n]
        # Replace rather than mutate the list so a concurrent reader's slice stays consistent.
        self._ids = ids[n:]
        segments = self._segments
        for segment_id in dropped:
            segment = segments.pop(segment_id)
            log.debug("state store %r: dropping expired segment %d", self._name, segment_id)
            self._backend.drop(segment)

    def _create(self, segment_id: int) -> Segment:
        segment = self._backend.create(segment_id)
        self._segments[segment_id] = segment
        ids = list(self._ids)
        insort(ids, segment_id)
        self._ids = ids
        return segment

    def _skip_expired(self, timestamp: int) -> None:
        """Count a put of an expired record (Kafka Streams' "Skipping record for expired segment")."""
        if timestamp < 0:
            raise StateStoreError(
                f"state store {self._name!r}: timestamps must not be negative, got {timestamp}"
            )
        self._expired += 1
        log.debug(
            "state store %r: skipping record for expired segment (timestamp %d, stream time %d, "
            "retention %d ms)",
            self._name,
            timestamp,
            self._stream_time,
            self._retention,
        )

    def _search(self, time_from: int, time_to: int, backward: bool) -> list[Segment]:
        """Live segments whose time range meets ``[time_from, time_to]``, in scan order."""
        if not self._open:
            self._raise_closed()
        ids = self._ids
        interval = self._interval
        lo = bisect_left(ids, time_from // interval)
        hi = bisect_right(ids, time_to // interval)
        get = self._segments.get
        found = [s for s in (get(i) for i in ids[lo:hi]) if s is not None]
        if backward:
            found.reverse()
        return found

    def _raise_closed(self) -> None:
        raise InvalidStateStoreError(
            f"state store {self._name!r} is not open; it may have been closed or migrated to "
            "another instance"
        )

    def _segment_dropped(self, segment: Segment) -> bool:
        """Whether a read of ``segment`` that raised :class:`InvalidStateStoreError` may go on.

        True if the segment was dropped (expired) while the store stays open: its iteration
        just ends there. False if the store itself was closed: the caller re-raises.
        """
        return self._open and not segment.is_open

    def _scan(
        self,
        segments: list[Segment],
        lower: bytes | None,
        upper: bytes | None,
        backward: bool,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Store keys in ``[lower, upper]`` of each segment in turn, each opened when reached."""
        for segment in segments:
            try:
                if backward:
                    items = segment.reverse_range(lower, upper)
                else:
                    items = segment.range(lower, upper)
                yield from items
            except InvalidStateStoreError:
                if not self._segment_dropped(segment):
                    raise


class RocksDBSegmentedStore(SegmentedStore):
    """What the RocksDB window and session stores add to :class:`SegmentedStore`: the store's
    directory, dropping unflushed writes, and deleting it all. Mixed in after the window or
    session base; the subclass sets ``self._rocksdb``, the backend it passes to that base."""

    _rocksdb: RocksDBSegmentBackend

    @property
    def path(self) -> Path | None:
        """The store's directory (holding one directory per segment), known after ``init``."""
        return self._rocksdb.path

    def discard_pending(self) -> None:
        """Drop writes not yet flushed, in every segment (a dirty close)."""
        if not self._open:
            return
        for segment in list(self._segments.values()):
            segment.discard_pending()  # type: ignore[attr-defined]

    def destroy(self) -> None:
        """Close the store if open and delete its directory (all its segments)."""
        self.close()
        if self._rocksdb.path is not None:
            destroy_store_dir(self._rocksdb.path)
