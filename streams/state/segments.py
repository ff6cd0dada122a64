"""Time segments: the storage and retention bookkeeping shared by window and session stores.

A windowed store keeps its records in *segments*, each holding the records whose *segment
timestamp* (a window's start, a session's end) falls in one interval of ``segment_interval_ms``:
segment ``i`` covers ``[i * interval, (i + 1) * interval - 1]``. Each segment is an ordered
bytes key-value store of its own — an :class:`~streams.state.memory.InMemoryKeyValueStore`, or a
:class:`~streams.state.rocksdb.RocksDBKeyValueStore` in its own directory
``<task dir>/<store>/<store>.<segment start ms>`` (Kafka Streams' layout and naming). Keys inside
a segment are ordered key-first (``[key][timestamp]...``), so fetching one key over a time range
is a range scan in each segment the time range touches.

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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from streams.errors import InvalidStateStoreError, StateStoreError
from streams.processor.window_types import MAX_TIMESTAMP
from streams.state.api import ChangelogWriter, RestoreCallback, StateStoreContext
from streams.state.memory import ClosedStoreMap, InMemoryKeyValueStore
from streams.state.rocksdb import RocksDBKeyValueStore, destroy_store_dir
from streams.state.rocksdb_options import (
    DEFAULT_MAX_PENDING_WRITES,
    RocksDBConfigSetter,
    default_rocksdb_options,
)

if TYPE_CHECKING:
    from rocksdict import Options

__all__ = [
    "MAX_TIMESTAMP",
    "MIN_SEGMENT_INTERVAL_MS",
    "InMemorySegmentBackend",
    "RocksDBSegmentBackend",
    "RocksDBSegmentedStore",
    "Segment",
    "SegmentBackend",
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


class Segment(Protocol):
    """One segment: an ordered bytes key-value store (a subset of ``KeyValueBytesStore``)."""

    @property
    def is_open(self) -> bool: ...
    def get(self, key: bytes) -> bytes | None: ...
    def put(self, key: bytes, value: bytes | None) -> None: ...
    def range(
        self, from_key: bytes | None, to_key: bytes | None
    ) -> Iterator[tuple[bytes, bytes]]: ...
    def reverse_range(
        self, from_key: bytes | None, to_key: bytes | None
    ) -> Iterator[tuple[bytes, bytes]]: ...
    def all(self) -> Iterator[tuple[bytes, bytes]]: ...
    def reverse_all(self) -> Iterator[tuple[bytes, bytes]]: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class SegmentBackend(Protocol):
    """Creates, reopens and drops the segments of one store (in memory or on RocksDB)."""

    @property
    def persistent(self) -> bool:
        """Whether segments survive a restart."""
        ...

    def open(
        self, context: StateStoreContext, store_name: str, segment_interval_ms: int
    ) -> dict[int, Segment]:
        """Prepare for a task; return the segments that already exist, by segment id."""
        ...

    def create(self, segment_id: int) -> Segment:
        """A new, open, empty segment."""
        ...

    def drop(self, segment: Segment) -> None:
        """Close ``segment`` and delete its data, without scanning it."""
        ...

    def close(self) -> None:
        """Release what :meth:`open` acquired (segments are already closed)."""
        ...


class _SegmentContext:
    """The context segments are initialized with: same task and directory, no changelog.

    Segments are never registered for restoration themselves: their parent store is, and it
    routes each restored record to its segment.
    """

    __slots__ = ("application_id", "state_dir", "task_id")

    changelog_writer: ChangelogWriter | None = None
    timestamp: int = 0

    def __init__(self, application_id: str, task_id: str, state_dir: Path | None) -> None:
        self.application_id = application_id
        self.task_id = task_id
        self.state_dir = state_dir

    def register(self, store: object, restore: RestoreCallback) -> None:
        """Ignored (see the class docstring)."""


class InMemorySegmentBackend:
    """Segments held in memory: one :class:`InMemoryKeyValueStore` (dict + sorted index) each."""

    __slots__ = ("_context", "_interval", "_name")

    def __init__(self) -> None:
        """A backend with no segments until :meth:`open`."""
        self._name = ""
        self._interval = 1
        self._context = _SegmentContext("", "", None)

    @property
    def persistent(self) -> bool:
        """False: segments are rebuilt from the changelog after a restart."""
        return False

    def open(
        self, context: StateStoreContext, store_name: str, segment_interval_ms: int
    ) -> dict[int, Segment]:
        """Nothing survives in memory: no existing segments."""
        self._name = store_name
        self._interval = segment_interval_ms
        self._context = _SegmentContext(context.application_id, context.task_id, None)
        return {}

    def create(self, segment_id: int) -> Segment:
        """A new in-memory segment named ``<store>.<segment start ms>``."""
        segment = InMemoryKeyValueStore(f"{self._name}.{segment_id * self._interval}")
        segment.init(self._context)
        return segment

    def drop(self, segment: Segment) -> None:
        """Closing an in-memory segment releases its dict and index at once."""
        segment.close()

    def close(self) -> None:
        """Nothing to release."""


class RocksDBSegmentBackend:
    """Segments on RocksDB: one database per segment, ``<task dir>/<store>/<store>.<start ms>``.

    All segments of a store share one ``rocksdict.Options`` (and so one block cache), made by
    ``options_factory`` or :func:`~streams.state.rocksdb_options.default_rocksdb_options` and adjusted
    once by ``config_setter(store_name, options)``. Each segment batches its writes until
    ``flush`` like any :class:`~streams.state.rocksdb.RocksDBKeyValueStore`, and reads see
    pending writes (point reads through the pending dict; scans write the batch first).
    Dropping a segment discards its pending writes and deletes its directory.
    """

    __slots__ = (
        "_config_setter",
        "_context",
        "_fsync",
        "_interval",
        "_max_pending",
        "_name",
        "_options",
        "_options_factory",
        "_path",
    )

    def __init__(
        self,
        *,
        options_factory: Callable[[], Options] | None = None,
        config_setter: RocksDBConfigSetter | None = None,
        max_pending_writes: int = DEFAULT_MAX_PENDING_WRITES,
        fsync_on_flush: bool = True,
    ) -> None:
        """A backend that opens nothing until :meth:`open`; options as in the class docstring."""
        if max_pending_writes < 1:
            raise StateStoreError("max_pending_writes must be at least 1")
        self._options_factory = options_factory
        self._config_setter = config_setter
        self._max_pending = max_pending_writes
        self._fsync = fsync_on_flush
        self._options: Options | None = None
        self._name = ""
        self._interval = 1
        self._path: Path | None = None
        self._context = _SegmentContext("", "", None)

    @property
    def persistent(self) -> bool:
        """True: segments live on local disk."""
        return True

    @property
    def path(self) -> Path | None:
        """The store's directory (parent of the segment directories), known after :meth:`open`."""
        return self._path

    def open(
        self, context: StateStoreContext, store_name: str, segment_interval_ms: int
    ) -> dict[int, Segment]:
        """Create ``<state_dir>/<store>/`` if needed and open the segments found in it.

        Entries that are not segment directories of this store are ignored. A segment whose
        start is not a multiple of the segment interval means the interval changed since the
        store was written: :class:`StateStoreError` (the runtime then rebuilds the store).
        """
        if context.state_dir is None:
            raise StateStoreError(
                f"persistent state store {store_name!r} needs a state directory, but task "
                f"{context.task_id} has none"
            )
        path = Path(context.state_dir) / store_name
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateStoreError(
                f"could not create the directory of state store {store_name!r} at {path}: {exc}"
            ) from exc
        self._name = store_name
        self._interval = segment_interval_ms
        self._path = path
        self._context = _SegmentContext(context.application_id, context.task_id, path)
        options = (
            self._options_factory()
            if self._options_factory is not None
            else default_rocksdb_options()
        )
        if self._config_setter is not None:
            self._config_setter(store_name, options)
        self._options = options

        prefix = store_name + "."
        starts: list[int] = []
        with os.scandir(path) as entries:
            for entry in entries:
                suffix = entry.name[len(prefix) :]
                if entry.name.startswith(prefix) and suffix.isdigit() and entry.is_dir():
                    starts.append(int(suffix))
        existing: dict[int, Segment] = {}
        try:
            for start in sorted(starts):
                if start % segment_interval_ms:
                    raise StateStoreError(
                        f"state store {store_name!r} at {path} has a segment starting at {start} "
                        f"ms, not a multiple of its segment interval {segment_interval_ms} ms: the "
                        "interval changed since the store was written; delete the store "
                        "directory so that it is rebuilt from its changelog"
                    )
                existing[start // segment_interval_ms] = self.create(start // segment_interval_ms)
        except BaseException:
            for segment in existing.values():
                segment.close()
            raise
        return existing

    def create(self, segment_id: int) -> Segment:
        """Open (creating) the segment database ``<store>.<segment start ms>``."""
        segment = RocksDBKeyValueStore(
            f"{self._name}.{segment_id * self._interval}",
            self._options,
            max_pending_writes=self._max_pending,
            fsync_on_flush=self._fsync,
        )
        segment.init(self._context)
        return segment

    def drop(self, segment: Segment) -> None:
        """Discard the segment's pending writes, close it and delete its directory."""
        assert isinstance(segment, RocksDBKeyValueStore)
        segment.discard_pending()
        segment.destroy()

    def close(self) -> None:
        """Forget the shared options (segments are already closed)."""
        self._options = None


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
