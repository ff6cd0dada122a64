"""In-memory key-value store: a dict for point operations plus a lazily maintained sorted key index.

The workload a stream processor puts on a store is mostly point ``get``/``put`` per record with
occasional range scans, so point operations must cost a dict operation and nothing more, while
scans may pay for ordering. Hence:

* the sorted index is built on the first scan only: a store that is never scanned never pays
  for ordering;
* afterwards, new and deleted keys are only noted in two sets (``_added``/``_removed``, a set
  operation each) and folded into the index at the next scan, so keys that come and go between
  scans cost nothing, and when the changes are many the index is simply rebuilt by one sort;
* the index is a list of sorted chunks of about a thousand keys (the layout of
  ``sortedcontainers.SortedList``), so folding in a key costs a bisect and a short ``memmove``
  rather than an ``O(n)`` shift or re-sort of the whole key list. A scan therefore costs
  ``O(log n + changes since the last scan + keys returned)``.

Iterators snapshot the keys in range when they are created and read each value as they reach
it, so the store may be modified while an iterator is open (as in Kafka Streams: keys deleted
after the snapshot are skipped, updated values are seen).

Threads: a store is written only by the stream thread that initialized it. Interactive queries
may read from other threads; their scans never touch the shared index and instead sort a copy
of the keys (``list(dict)`` is atomic under the GIL), which costs ``O(n log n)`` but is safe.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from streams.errors import InvalidStateStoreError, StateStoreError
from streams.state.api import DerivedKeyValueWrites, StateStoreContext

if TYPE_CHECKING:
    from streams.state.api import KeyValueBytesStore

__all__ = ["InMemoryKeyValueStore", "prefix_upper_bound"]


class ClosedStoreMap(dict[bytes, Any]):
    """Stand-in for a store's dict while the store is closed or not yet initialized.

    Every access raises :class:`InvalidStateStoreError`. Swapping this in on ``close`` lets the
    hot paths skip an explicit "is open" check on every call: the dict operation they do anyway
    is what fails.
    """

    def __init__(self, store_name: str, state: str) -> None:
        super().__init__()
        self._message = (
            f"state store {store_name!r} is {state}; it may have been closed or migrated to "
            "another instance"
        )

    def _fail(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise InvalidStateStoreError(self._message)

    get = _fail
    pop = _fail
    setdefault = _fail
    items = _fail
    keys = _fail
    values = _fail
    __getitem__ = _fail
    __setitem__ = _fail
    __delitem__ = _fail
    __contains__ = _fail
    __iter__ = _fail
    __len__ = _fail

    def __bool__(self) -> bool:
        # Truthiness is used to ask "any pending writes?" on paths such as close(); a closed
        # store has none, and answering keeps those paths from raising.
        return False


def prefix_upper_bound(prefix: bytes) -> bytes | None:
    """Smallest key greater than every key that starts with ``prefix``, or None if none exists.

    Trailing ``0xff`` bytes cannot be incremented, so they are dropped first: the bound for
    ``b"a\\xff"`` is ``b"b"``, and for ``b"\\xff"`` (or empty) there is no bound.
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes((stripped[-1] + 1,))


#: Target chunk size of the sorted index; a chunk is split when it doubles.
INDEX_CHUNK_SIZE = 1000


class _SortedKeys:
    """Sorted set of byte keys as a list of sorted chunks, indexed by each chunk's last key.

    Insertion and removal touch one chunk (bisect + ``memmove`` of at most two thousand
    pointers); slicing a key range copies only the keys in range.
    """

    __slots__ = ("_chunk", "_lists", "_maxes")

    def __init__(self, sorted_keys: list[bytes], chunk: int = INDEX_CHUNK_SIZE) -> None:
        self._chunk = chunk
        self._lists = [sorted_keys[i : i + chunk] for i in range(0, len(sorted_keys), chunk)]
        self._maxes = [lst[-1] for lst in self._lists]

    def __len__(self) -> int:
        return sum(len(lst) for lst in self._lists)

    def add(self, key: bytes) -> None:
        """Insert ``key`` (which must not be present)."""
        lists, maxes = self._lists, self._maxes
        if not maxes:
            lists.append([key])
            maxes.append(key)
            return
        i = bisect_left(maxes, key)
        if i == len(maxes):
            i -= 1
            lst = lists[i]
            lst.append(key)
            maxes[i] = key
        else:
            lst = lists[i]
            insort(lst, key)
        if len(lst) > 2 * self._chunk:
            tail = lst[self._chunk :]
            del lst[self._chunk :]
            lists.insert(i + 1, tail)
            maxes[i] = lst[-1]
            maxes.insert(i + 1, tail[-1])

    def remove(self, key: bytes) -> None:
        """Remove ``key`` (which must be present)."""
        lists, maxes = self._lists, self._maxes
        i = bisect_left(maxes, key)
        lst = lists[i]
        j = bisect_left(lst, key)
        del lst[j]
        if not lst:
            del lists[i]
            del maxes[i]
        elif j == len(lst):
            maxes[i] = lst[-1]

    def slice(self, lower: bytes | None, upper: bytes | None, upper_inclusive: bool) -> list[bytes]:
        """A new list of the keys in ``[lower, upper]`` (or ``[lower, upper)``); None: unbounded."""
        lists, maxes = self._lists, self._maxes
        if not maxes:
            return []
        if lower is None:
            first, start = 0, 0
        else:
            first = bisect_left(maxes, lower)
            if first == len(maxes):
                return []
            start = bisect_left(lists[first], lower)
        if upper is None:
            last, stop = len(lists) - 1, len(lists[-1])
        else:
            last = bisect_left(maxes, upper)
            if last == len(maxes):
                last, stop = len(lists) - 1, len(lists[-1])
            elif upper_inclusive:
                stop = bisect_right(lists[last], upper)
            else:
                stop = bisect_left(lists[last], upper)
        if last < first:
            return []
        if first == last:
            return lists[first][start:stop]
        out = lists[first][start:]
        for lst in lists[first + 1 : last]:
            out.extend(lst)
        out.extend(lists[last][:stop])
        return out


class InMemoryKeyValueStore(DerivedKeyValueWrites):
    """A :class:`~streams.state.api.KeyValueBytesStore` held in a Python dict.

    Keys iterate in unsigned byte order (Python's ``bytes`` ordering). ``put(key, None)``
    deletes. Not persistent: after a restart its contents come back from the changelog.

    Example::

        store = InMemoryKeyValueStore("counts")
        store.init(context)
        store.put(b"a", b"1")
        list(store.range(b"a", None))  # [(b"a", b"1")]
    """

    def __init__(self, name: str) -> None:
        """Create a closed store named ``name``; :meth:`init` opens it."""
        if not name:
            raise StateStoreError("a state store needs a non-empty name")
        self._name = name
        self._map: dict[bytes, bytes] = ClosedStoreMap(name, "not initialized")
        # The sorted index; None until the first scan so point-only workloads never pay for it.
        # Invariant: keys(_map) == keys(_index) - _removed + _added, with _added disjoint from
        # the index and _removed a subset of it.
        self._index: _SortedKeys | None = None
        self._added: set[bytes] = set()
        self._removed: set[bytes] = set()
        self._open = False
        self._owner = 0

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The store's name."""
        return self._name

    @property
    def persistent(self) -> bool:
        """Always False: the data lives only in this process."""
        return False

    @property
    def is_open(self) -> bool:
        """True between :meth:`init` and :meth:`close`."""
        return self._open

    def init(self, context: StateStoreContext) -> None:
        """Open the store (empty) and register its restore callback with ``context``."""
        if self._open:
            raise StateStoreError(f"state store {self._name!r} is already open")
        self._map = {}
        self._index = None
        self._added = set()
        self._removed = set()
        self._owner = threading.get_ident()
        self._open = True
        context.register(self, self._restore)

    def flush(self) -> None:
        """Nothing to do: writes are applied immediately."""

    def close(self) -> None:
        """Drop the contents; further access raises :class:`InvalidStateStoreError`."""
        self._map = ClosedStoreMap(self._name, "closed")
        self._index = None
        self._added = set()
        self._removed = set()
        self._open = False

    def _restore(self, batch: list[tuple[bytes, bytes | None]]) -> None:
        put, delete = self.put, self._remove
        for key, value in batch:
            if value is None:
                delete(key)
            else:
                put(key, value)

    # -- point operations ------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None."""
        return self._map.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        """Store ``value`` under ``key``; ``None`` deletes the key."""
        if value is None:
            self._remove(key)
            return
        m = self._map
        if self._index is not None and key not in m:
            # A key deleted since the last scan is still in the index: just forget the removal.
            removed = self._removed
            if key in removed:
                removed.discard(key)
            else:
                self._added.add(key)
        m[key] = value

    def delete(self, key: bytes) -> bytes | None:
        """Remove ``key``; return its old value (None if it had none)."""
        return self._remove(key)

    def _remove(self, key: bytes) -> bytes | None:
        old = self._map.pop(key, None)
        if old is not None and self._index is not None:
            added = self._added
            if key in added:
                added.discard(key)
            else:
                self._removed.add(key)
        return old

    def approximate_num_entries(self) -> int:
        """Exact number of keys (an in-memory store can count cheaply)."""
        return len(self._map)

    # -- scans -----------------------------------------------------------------------------

    def range(self, from_key: bytes | None, to_key: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """Entries with ``from_key <= key <= to_key`` in ascending order; None is unbounded."""
        return self._iterate(self._snapshot(from_key, to_key, inclusive_to=True))

    def reverse_range(
        self, from_key: bytes | None, to_key: bytes | None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Entries with ``from_key <= key <= to_key`` in descending order; None is unbounded."""
        keys = self._snapshot(from_key, to_key, inclusive_to=True)
        keys.reverse()
        return self._iterate(keys)

    def all(self) -> Iterator[tuple[bytes, bytes]]:
        """Every entry in ascending key order."""
        return self._iterate(self._snapshot(None, None, inclusive_to=True))

    def reverse_all(self) -> Iterator[tuple[bytes, bytes]]:
        """Every entry in descending key order."""
        keys = self._snapshot(None, None, inclusive_to=True)
        keys.reverse()
        return self._iterate(keys)

    def prefix_scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Entries whose key starts with ``prefix``, in ascending order."""
        return self._iterate(self._snapshot(prefix, prefix_upper_bound(prefix), inclusive_to=False))

    def _snapshot(
        self, from_key: bytes | None, to_key: bytes | None, *, inclusive_to: bool
    ) -> list[bytes]:
        """A private copy of the keys in range, taken now."""
        if from_key is not None and to_key is not None and from_key > to_key:
            return []
        if threading.get_ident() == self._owner:
            return self._current_index().slice(from_key, to_key, inclusive_to)
        keys = list(self._map)  # atomic copy: never touch the owner's index from here
        keys.sort()
        lo = 0 if from_key is None else bisect_left(keys, from_key)
        if to_key is None:
            hi = len(keys)
        elif inclusive_to:
            hi = bisect_right(keys, to_key, lo)
        else:
            hi = bisect_left(keys, to_key, lo)
        return keys[lo:hi]

    def _current_index(self) -> _SortedKeys:
        """Fold the changes since the last scan into the index and return it (owner only)."""
        index = self._index
        added, removed = self._added, self._removed
        # Rebuilding from a full sort beats folding key by key once the changes are a sizeable
        # fraction of the store.
        if index is None or (len(added) + len(removed)) * 8 > len(self._map):
            index = _SortedKeys(sorted(self._map), INDEX_CHUNK_SIZE)
            self._index = index
        else:
            for key in removed:
                index.remove(key)
            for key in sorted(added):
                index.add(key)
        if added:
            self._added = set()
        if removed:
            self._removed = set()
        return index

    def _iterate(self, keys: list[bytes]) -> Iterator[tuple[bytes, bytes]]:
        # Values are read as the iterator reaches them (keys deleted meanwhile are skipped).
        # self._map is re-read per item, not kept in a local, so that closing the store
        # mid-iteration makes the iterator raise instead of serving values of a closed store.
        for key in keys:
            value = self._map.get(key)
            if value is not None:
                yield key, value

    def __repr__(self) -> str:
        return f"InMemoryKeyValueStore(name={self._name!r}, open={self._open})"


if TYPE_CHECKING:

    def _conforms(store: InMemoryKeyValueStore) -> KeyValueBytesStore:
        return store
