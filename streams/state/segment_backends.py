"""Segment backends: where the time segments of a window or session store live.

Each segment is an ordered bytes key-value store of its own (see :class:`Segment`), created,
reopened and dropped by a :class:`SegmentBackend`:

* :class:`InMemorySegmentBackend`: an :class:`~streams.state.memory.InMemoryKeyValueStore` per
  segment; nothing survives a restart;
* :class:`RocksDBSegmentBackend`: a :class:`~streams.state.rocksdb.RocksDBKeyValueStore` per
  segment, in its own directory ``<task dir>/<store>/<store>.<segment start ms>`` (Kafka
  Streams' layout and naming), reopened from disk when the store opens.

Which records go to which segment, and when a segment expires, is decided by the store that
uses the backend (:mod:`streams.state.segmented_store`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from streams.errors import StateStoreError
from streams.state.api import ChangelogWriter, RestoreCallback, StateStoreContext
from streams.state.memory import InMemoryKeyValueStore
from streams.state.rocksdb import RocksDBKeyValueStore
from streams.state.rocksdb_options import (
    DEFAULT_MAX_PENDING_WRITES,
    RocksDBConfigSetter,
    default_rocksdb_options,
)

if TYPE_CHECKING:
    from rocksdict import Options

__all__ = [
    "InMemorySegmentBackend",
    "RocksDBSegmentBackend",
    "Segment",
    "SegmentBackend",
]


class Segment(Protocol):
    """One segment: an ordered bytes key-value store (a subset of ``KeyValueBytesStore``)."""

    @property
    def is_open(self) -> bool:
        """False once the segment was closed (or dropped)."""
        ...

    def get(self, key: bytes) -> bytes | None:
        """The value under ``key``, or None."""
        ...

    def put(self, key: bytes, value: bytes | None) -> None:
        """Store ``value`` under ``key`` (None deletes)."""
        ...

    def range(
        self, from_key: bytes | None, to_key: bytes | None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Entries with ``from_key <= key <= to_key``, ascending; None is unbounded."""
        ...

    def reverse_range(
        self, from_key: bytes | None, to_key: bytes | None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Entries with ``from_key <= key <= to_key``, descending; None is unbounded."""
        ...

    def all(self) -> Iterator[tuple[bytes, bytes]]:
        """Every entry, ascending."""
        ...

    def reverse_all(self) -> Iterator[tuple[bytes, bytes]]:
        """Every entry, descending."""
        ...

    def flush(self) -> None:
        """Write pending changes (RocksDB); nothing in memory."""
        ...

    def close(self) -> None:
        """Close the segment; later access raises."""
        ...


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

