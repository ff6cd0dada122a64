"""Interactive queries on the local instance: a read-only view over the tasks it owns."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Any

from streams.errors import InvalidStateStoreError
from streams.state.timestamped import TimestampedKeyValueStoreBuilder


class CompositeReadOnlyKeyValueStore:
    """Reads store ``name`` across every task this instance runs right now.

    A key lives in exactly one task, so ``get`` asks each until one answers; scans merge the
    tasks' ordered iterators. DSL (timestamped) stores show bare values.
    """

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
        return v.value if (self._timestamped and v is not None) else v

    def get(self, key: Any) -> Any:
        """The value of ``key`` in whichever local task holds it, or None."""
        for store in self._current():
            v = store.get(key)
            if v is not None:
                return self._value(v)
        return None

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


def is_timestamped(builder: Any) -> bool:
    """True for DSL stores holding ValueAndTimestamp values."""
    return isinstance(builder, TimestampedKeyValueStoreBuilder)
