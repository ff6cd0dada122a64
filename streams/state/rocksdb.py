"""Persistent key-value store on RocksDB (through ``rocksdict``), with writes batched per commit.

Write path: ``put``/``delete`` only record the change in a small dict of pending writes (the
overlay). ``flush()`` — called by the runtime at every commit — turns the overlay into one
``rocksdict.WriteBatch`` and writes it atomically. Keeping a dict rather than appending to a
``WriteBatch`` directly means a hot key updated a thousand times between commits costs one
RocksDB write, not a thousand, and gives point reads an O(1) way to see pending writes.

Read path: ``get`` consults the overlay first (a pending delete is a ``None`` entry), then the
database. Scans (``range``, ``all``, ``prefix_scan``, ...) first write the overlay to RocksDB and
then iterate a RocksDB iterator, which reads from an implicit snapshot taken when it is created:
the iterator is unaffected by later writes, so the store may be modified while iterating. We
chose "flush before scan" over merging the overlay into every scan because the flush is paid
once per batch of writes, in C, whereas a merge would be paid in Python on every scan. Writing
before the commit is harmless: the checkpoint that declares the store's data valid is only
written after the commit, and a task that crashes between the two is restored from its
changelog as usual (under exactly-once it is wiped and rebuilt).

The overlay is also written when it reaches ``max_pending_writes`` entries, bounding memory
between commits.

Threads: the stream thread that initialized the store is its only writer. Interactive queries
from other threads never write the overlay; their scans merge a copy of it with a RocksDB
iterator instead.

On disk the store lives at ``<task state dir>/<store name>/`` (``<state.dir>/<application.id>/
<task id>/<store name>/``). The database is opened in ``rocksdict`` raw mode, so keys and values
are the bytes given to the store, ordered by unsigned byte comparison, readable by any RocksDB
tool. Its default options and the config-setter hook are in :mod:`streams.state.rocksdb_options`;
the bounded scan iterator and the overlay merge in :mod:`streams.state.rocksdb_scans`.
"""

from __future__ import annotations

import os
import shutil
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rocksdict import Options, Rdict, WriteBatch

from streams.errors import InvalidStateStoreError, StateStoreError
from streams.state.api import DerivedKeyValueWrites, StateStoreContext
from streams.state.memory import ClosedStoreMap, prefix_upper_bound
from streams.state.rocksdb_options import (
    DEFAULT_MAX_PENDING_WRITES,
    RocksDBConfigSetter,
    default_rocksdb_options,
    opened_in_raw_mode,
)
from streams.state.rocksdb_scans import (
    NO_LIMIT,
    STOP_ABOVE,
    STOP_AT_OR_ABOVE,
    STOP_BELOW,
    DbIterator,
    merge_overlay,
    overlay_in_range,
)

if TYPE_CHECKING:
    from streams.state.api import KeyValueBytesStore

__all__ = ["RocksDBKeyValueStore", "destroy_store_dir"]

_MISSING: Any = object()


def destroy_store_dir(path: Path | str) -> None:
    """Delete a store's directory and everything in it (no error if it does not exist).

    Used to wipe a missing, corrupt or unclean store before rebuilding it from its changelog.
    The store must be closed (RocksDB holds a lock on the directory while open).
    """
    if os.path.lexists(path):
        shutil.rmtree(path)


class RocksDBKeyValueStore(DerivedKeyValueWrites):
    """A persistent :class:`~streams.state.api.KeyValueBytesStore` on RocksDB.

    ``options`` replaces :func:`default_rocksdb_options` and must be created with
    ``Options(raw_mode=True)`` (checked at open); ``config_setter`` adjusts the options (default
    or given) before opening. ``fsync_on_flush`` syncs the write-ahead log at each ``flush`` that
    wrote something, so that data is on disk before the runtime writes the checkpoint that
    vouches for it; turn it off to trade crash-of-the-machine safety for commit latency.

    Example::

        store = RocksDBKeyValueStore("counts")
        store.init(context)            # opens <task state dir>/counts/
        store.put(b"a", b"1")          # pending
        store.get(b"a")                # b"1" (read from the overlay)
        store.flush()                  # one WriteBatch to RocksDB
    """

    def __init__(
        self,
        name: str,
        options: Options | None = None,
        *,
        config_setter: RocksDBConfigSetter | None = None,
        max_pending_writes: int = DEFAULT_MAX_PENDING_WRITES,
        fsync_on_flush: bool = True,
    ) -> None:
        """Create a closed store; :meth:`init` opens it under the task's state directory."""
        if not name or name in (".", "..") or "/" in name or os.sep in name:
            raise StateStoreError(
                f"invalid state store name {name!r}: it is used as a directory name"
            )
        if max_pending_writes < 1:
            raise StateStoreError("max_pending_writes must be at least 1")
        self._name = name
        self._options = options
        self._config_setter = config_setter
        self._max_pending = max_pending_writes
        self._fsync = fsync_on_flush
        self._db: Rdict | None = None
        self._db_get: Callable[[bytes], bytes | None] | None = None
        self._pending: dict[bytes, bytes | None] = ClosedStoreMap(name, "not initialized")
        self._unsynced = False
        self._path: Path | None = None
        self._owner = 0
        self._iterators: weakref.WeakSet[DbIterator] = weakref.WeakSet()
        self._iterators_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The store's name (also its directory name)."""
        return self._name

    @property
    def persistent(self) -> bool:
        """Always True: data is kept on local disk."""
        return True

    @property
    def is_open(self) -> bool:
        """True between :meth:`init` and :meth:`close`."""
        return self._db is not None

    @property
    def path(self) -> Path | None:
        """The store's directory, known once :meth:`init` has run."""
        return self._path

    def init(self, context: StateStoreContext) -> None:
        """Open (creating if needed) ``<state_dir>/<name>/`` and register for restoration.

        Raises :class:`StateStoreError` naming the store and the path if the database cannot be
        opened (corrupt files, lock held by another process, wrong format); the runtime then
        wipes the directory and restores from the changelog.
        """
        if self._db is not None:
            raise StateStoreError(f"state store {self._name!r} is already open")
        if context.state_dir is None:
            raise StateStoreError(
                f"persistent state store {self._name!r} needs a state directory, but task "
                f"{context.task_id} has none"
            )
        path = Path(context.state_dir) / self._name
        self._path = path
        db = self._open_db(path)
        self._db = db
        self._db_get = db.get
        self._pending = {}
        self._unsynced = False
        self._owner = threading.get_ident()
        try:
            context.register(self, self._restore)
        except BaseException:
            self.close()
            raise

    def _open_db(self, path: Path) -> Rdict:
        options = self._options if self._options is not None else default_rocksdb_options()
        if self._config_setter is not None:
            self._config_setter(self._name, options)
        try:
            path.mkdir(parents=True, exist_ok=True)
            db = Rdict(str(path), options)
        except (
            Exception
        ) as exc:  # rocksdict raises a bare Exception ("Corruption: ...", "IO error: ...")
            raise StateStoreError(
                f"could not open RocksDB state store {self._name!r} at {path}: {exc}"
            ) from exc
        if not opened_in_raw_mode(path):
            db.close()
            raise StateStoreError(
                f"RocksDB state store {self._name!r} at {path} was opened without raw mode; "
                "options must be created with Options(raw_mode=True)"
            )
        return db

    def flush(self) -> None:
        """Write pending changes to RocksDB as one batch (and sync the WAL, if enabled)."""
        self._write_pending()
        if self._unsynced and self._fsync and self._db is not None:
            self._db.flush_wal(True)
        self._unsynced = False

    def close(self) -> None:
        """Flush pending writes, end open iterators and close the database."""
        db = self._db
        if db is None:
            return
        try:
            self.flush()
        finally:
            with self._iterators_lock:
                iterators = list(self._iterators)
                self._iterators = weakref.WeakSet()
            for it in iterators:
                it.close_for_store()
            self._db = None
            self._db_get = None
            self._pending = ClosedStoreMap(self._name, "closed")
            db.close()

    def discard_pending(self) -> None:
        """Drop writes not yet flushed (a dirty close: keep only what the last commit wrote)."""
        if self._db is not None:
            self._pending = {}

    def destroy(self) -> None:
        """Close the store if open and delete its directory (its whole local state)."""
        self.close()
        if self._path is not None:
            destroy_store_dir(self._path)

    def _restore(self, batch: list[tuple[bytes, bytes | None]]) -> None:
        # Restored records go straight to RocksDB in one batch; anything pending goes first so
        # the changelog's later values win.
        self._write_pending()
        wb = WriteBatch(raw_mode=True)
        for key, value in batch:
            if value is None:
                wb.delete(key)
            else:
                wb.put(key, value)
        self._require_db().write(wb)
        self._unsynced = True

    def _write_pending(self) -> None:
        pending = self._pending
        if not pending:
            return
        wb = WriteBatch(raw_mode=True)
        put, delete = wb.put, wb.delete
        for key, value in pending.items():
            if value is None:
                delete(key)
            else:
                put(key, value)
        self._require_db().write(wb)
        # Replace only after the write, so a concurrent reader always finds each change in the
        # overlay or in the database.
        self._pending = {}
        self._unsynced = True

    def _require_db(self) -> Rdict:
        db = self._db
        if db is None:
            raise InvalidStateStoreError(
                f"state store {self._name!r} is not open; it may have been closed or migrated"
            )
        return db

    # -- point operations ------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        """The value under ``key`` (a pending write wins over the database), or None."""
        value = self._pending.get(key, _MISSING)
        if value is _MISSING:
            return self._db_get(key)  # type: ignore[misc]  # set whenever _pending is a dict
        return value

    def put(self, key: bytes, value: bytes | None) -> None:
        """Record ``value`` under ``key`` (``None`` deletes); written at the next flush."""
        pending = self._pending
        pending[key] = value
        if len(pending) >= self._max_pending:
            self._write_pending()

    def delete(self, key: bytes) -> bytes | None:
        """Remove ``key``; return its old value (None if it had none)."""
        old = self.get(key)
        if old is not None:  # no tombstone for a key that is not there
            self.put(key, None)
        return old

    def approximate_num_entries(self) -> int:
        """RocksDB's estimate of the number of keys plus the pending writes.

        Only an estimate: RocksDB counts each delete against two entries until compaction, so
        after many deletes it under-counts (down to 0), and pending writes to existing keys
        over-count.
        """
        estimate = self._require_db().property_int_value("rocksdb.estimate-num-keys") or 0
        return int(estimate) + len(self._pending)

    # -- scans -----------------------------------------------------------------------------

    def range(self, from_key: bytes | None, to_key: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """Entries with ``from_key <= key <= to_key`` in ascending order; None is unbounded."""
        if from_key is not None and to_key is not None and from_key > to_key:
            return iter(())
        return self._scan(
            False,
            from_key,
            STOP_ABOVE if to_key is not None else NO_LIMIT,
            to_key,
            from_key,
            to_key,
        )

    def reverse_range(
        self, from_key: bytes | None, to_key: bytes | None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Entries with ``from_key <= key <= to_key`` in descending order; None is unbounded."""
        if from_key is not None and to_key is not None and from_key > to_key:
            return iter(())
        return self._scan(
            True,
            to_key,
            STOP_BELOW if from_key is not None else NO_LIMIT,
            from_key,
            from_key,
            to_key,
        )

    def all(self) -> Iterator[tuple[bytes, bytes]]:
        """Every entry in ascending key order."""
        return self._scan(False, None, NO_LIMIT, None, None, None)

    def reverse_all(self) -> Iterator[tuple[bytes, bytes]]:
        """Every entry in descending key order."""
        return self._scan(True, None, NO_LIMIT, None, None, None)

    def prefix_scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Entries whose key starts with ``prefix``, in ascending order."""
        upper = prefix_upper_bound(prefix)
        return self._scan(
            False,
            prefix or None,
            STOP_AT_OR_ABOVE if upper is not None else NO_LIMIT,
            upper,
            prefix or None,
            upper,
            upper_inclusive=False,
        )

    def _scan(
        self,
        backwards: bool,
        seek: bytes | None,
        mode: int,
        limit: bytes | None,
        lower: bytes | None,
        upper: bytes | None,
        *,
        upper_inclusive: bool = True,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Open a RocksDB iterator now (fixing its snapshot) and bound it.

        ``seek``/``mode``/``limit`` drive the RocksDB iterator; ``lower``/``upper`` describe the
        same range for filtering the overlay when it has to be merged (non-owner threads).
        """
        db = self._require_db()
        owner = threading.get_ident() == self._owner
        overlay: list[tuple[bytes, bytes | None]] = []
        if owner:
            self._write_pending()
        else:
            overlay = overlay_in_range(dict(self._pending), lower, upper, upper_inclusive)
            overlay.sort(reverse=backwards)
        items = (
            db.items(backwards=backwards)
            if seek is None
            else db.items(backwards=backwards, from_key=seek)
        )
        it = DbIterator(items, mode, limit, self._name)
        with self._iterators_lock:
            self._iterators.add(it)
        if overlay:
            return merge_overlay(it, overlay, backwards)
        return it

    def __repr__(self) -> str:
        return f"RocksDBKeyValueStore(name={self._name!r}, path={str(self._path)!r})"


if TYPE_CHECKING:

    def _conforms(store: RocksDBKeyValueStore) -> KeyValueBytesStore:
        return store
