"""Bounded, closable scans over a RocksDB store, and the merge of its pending writes into them.

A ``rocksdict`` iterator cannot be bounded by ``ReadOptions`` on a raw-mode database (its bounds
are encoded in the non-raw key format), so :class:`DbIterator` checks an end condition per
item. A thread other than the store's writer does not write the pending writes before a scan;
it merges them into the scan with :func:`overlay_in_range` and :func:`merge_overlay` instead
(see :mod:`streams.state.rocksdb`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from streams.errors import InvalidStateStoreError

__all__ = [
    "NO_LIMIT",
    "STOP_ABOVE",
    "STOP_AT_OR_ABOVE",
    "STOP_BELOW",
    "DbIterator",
    "merge_overlay",
    "overlay_in_range",
]

#: No end condition: the scan runs to the end of the database.
NO_LIMIT = 0
#: Ascending scan: stop at the first key > limit.
STOP_ABOVE = 1
#: Descending scan: stop at the first key < limit.
STOP_BELOW = 2
#: Ascending prefix scan: stop at the first key >= limit.
STOP_AT_OR_ABOVE = 3


class DbIterator:
    """Iterator over a RocksDB scan with an end condition, closable by the store.

    A live ``rocksdict`` iterator keeps its database open (and its LOCK held) even after
    ``Rdict.close()``; the store therefore tracks its iterators and drops them on close, after
    which they raise :class:`InvalidStateStoreError`.
    """

    __slots__ = ("__weakref__", "_items", "_limit", "_mode", "_store_closed", "_store_name")

    def __init__(
        self, items: Iterator[Any], mode: int, limit: bytes | None, store_name: str
    ) -> None:
        self._items: Iterator[Any] | None = items
        self._mode = mode
        self._limit = limit
        self._store_name = store_name
        self._store_closed = False

    def __iter__(self) -> DbIterator:
        return self

    def __next__(self) -> tuple[bytes, bytes]:
        items = self._items
        if items is None:
            if self._store_closed:
                raise InvalidStateStoreError(
                    f"state store {self._store_name!r} was closed while an iterator was open"
                )
            raise StopIteration
        try:
            key, value = next(items)
        except StopIteration:
            self._items = None
            raise
        mode = self._mode
        if mode:
            limit: bytes = self._limit  # type: ignore[assignment]
            if (
                (mode == STOP_ABOVE and key > limit)
                or (mode == STOP_BELOW and key < limit)
                or (mode == STOP_AT_OR_ABOVE and key >= limit)
            ):
                self._items = None
                raise StopIteration
        return key, value

    def close(self) -> None:
        """Release the underlying RocksDB iterator."""
        self._items = None

    def close_for_store(self) -> None:
        """End the scan because its store closed: a later ``next`` raises
        :class:`InvalidStateStoreError` unless the scan had already finished."""
        self._store_closed = self._items is not None
        self._items = None


def overlay_in_range(
    overlay: dict[bytes, bytes | None],
    lower: bytes | None,
    upper: bytes | None,
    upper_inclusive: bool,
) -> list[tuple[bytes, bytes | None]]:
    """The pending writes with ``lower <= key <= upper`` (``< upper`` unless
    ``upper_inclusive``; None is unbounded), in no particular order (None = deleted)."""
    return [
        (k, v)
        for k, v in overlay.items()
        if (lower is None or k >= lower)
        and (upper is None or (k <= upper if upper_inclusive else k < upper))
    ]


def merge_overlay(
    db_items: Iterator[tuple[bytes, bytes]],
    overlay: list[tuple[bytes, bytes | None]],
    backwards: bool,
) -> Iterator[tuple[bytes, bytes]]:
    """Merge a sorted overlay (None = deleted) into a sorted database scan; the overlay wins."""
    i, n = 0, len(overlay)
    for key, value in db_items:
        while i < n:
            okey, ovalue = overlay[i]
            if (okey > key) if backwards else (okey < key):
                i += 1
                if ovalue is not None:
                    yield okey, ovalue
                continue
            break
        if i < n and overlay[i][0] == key:
            ovalue = overlay[i][1]
            i += 1
            if ovalue is not None:
                yield key, ovalue
            continue
        yield key, value
    for okey, ovalue in overlay[i:]:
        if ovalue is not None:
            yield okey, ovalue

