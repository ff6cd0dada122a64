"""Changelogging layer: every write to a bytes store is also sent to the store's changelog.

The store is written first and logged second, as in Kafka Streams: if the write fails nothing
is logged, and a logged change is always one the local store already holds. Changes go to
``context.changelog_writer`` (provided by the runtime or ``TopologyTestDriver``), timestamped
with the record being processed; this module never touches a Kafka client. Restoration does
not pass through here — the inner store registers its own restore callback — so replaying the
changelog never writes it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from streams.state.api import KeyValueBytesStore, StateStore, StateStoreContext

__all__ = ["ChangeLoggingKeyValueStore"]


S = TypeVar("S", bound=StateStore)


class _ChangeLoggingBase(Generic[S]):
    """Lifecycle and change logging shared by the key-value, window and session logging layers."""

    __slots__ = ("_context", "_inner", "_name")

    def __init__(self, inner: S) -> None:
        """Wrap ``inner`` (an in-memory or RocksDB bytes store)."""
        self._inner = inner
        self._name = inner.name
        self._context: StateStoreContext | None = None

    @property
    def name(self) -> str:
        """The wrapped store's name (which names the changelog topic)."""
        return self._name

    @property
    def persistent(self) -> bool:
        """Whether the wrapped store is persistent."""
        return self._inner.persistent

    @property
    def is_open(self) -> bool:
        """Whether the wrapped store is open."""
        return self._inner.is_open

    @property
    def inner(self) -> S:
        """The wrapped bytes store."""
        return self._inner

    def init(self, context: StateStoreContext) -> None:
        """Open the wrapped store; keep ``context`` to reach its changelog writer and timestamp."""
        self._inner.init(context)
        self._context = context

    def flush(self) -> None:
        """Flush the wrapped store."""
        self._inner.flush()

    def close(self) -> None:
        """Close the wrapped store."""
        self._inner.close()

    def _log(self, key: bytes, value: bytes | None) -> None:
        # The writer is looked up per change rather than cached at init, so the runtime may
        # attach (or replace) its collector after the stores were opened.
        context = self._context
        if context is not None:
            writer = context.changelog_writer
            if writer is not None:
                writer.log_change(self._name, key, value, context.timestamp)


class ChangeLoggingKeyValueStore(_ChangeLoggingBase[KeyValueBytesStore]):
    """A :class:`~streams.state.api.KeyValueBytesStore` that logs each change of ``inner``.

    ``put``, ``put_all``, ``delete`` and ``put_if_absent`` (only when it writes) call
    ``context.changelog_writer.log_change(store_name, key, value_or_None, context.timestamp)``
    after writing ``inner``. Nothing is logged when the context has no writer.
    """

    __slots__ = ()

    def get(self, key: bytes) -> bytes | None:
        """The wrapped store's value for ``key``."""
        return self._inner.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        """Write ``value`` (None deletes) and log it."""
        self._inner.put(key, value)
        # _log inlined: this is the per-record path of every logged aggregation.
        context = self._context
        if context is not None:
            writer = context.changelog_writer
            if writer is not None:
                writer.log_change(self._name, key, value, context.timestamp)

    def put_if_absent(self, key: bytes, value: bytes | None) -> bytes | None:
        """Write and log ``value`` only if ``key`` is absent; return the existing value."""
        old = self._inner.put_if_absent(key, value)
        if old is None:
            self._log(key, value)
        return old

    def put_all(self, entries: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Write all entries, then log each."""
        batch = entries if isinstance(entries, list) else list(entries)
        self._inner.put_all(batch)
        log = self._log
        for key, value in batch:
            log(key, value)

    def delete(self, key: bytes) -> bytes | None:
        """Delete ``key``, log a tombstone and return the old value."""
        old = self._inner.delete(key)
        self._log(key, None)
        return old

    def range(self, from_key: bytes | None, to_key: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """The wrapped store's ascending range."""
        return self._inner.range(from_key, to_key)

    def reverse_range(
        self, from_key: bytes | None, to_key: bytes | None
    ) -> Iterator[tuple[bytes, bytes]]:
        """The wrapped store's descending range."""
        return self._inner.reverse_range(from_key, to_key)

    def all(self) -> Iterator[tuple[bytes, bytes]]:
        """All entries of the wrapped store, ascending."""
        return self._inner.all()

    def reverse_all(self) -> Iterator[tuple[bytes, bytes]]:
        """All entries of the wrapped store, descending."""
        return self._inner.reverse_all()

    def prefix_scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """The wrapped store's prefix scan."""
        return self._inner.prefix_scan(prefix)

    def approximate_num_entries(self) -> int:
        """The wrapped store's (approximate) number of keys."""
        return self._inner.approximate_num_entries()

    def __repr__(self) -> str:
        return f"ChangeLoggingKeyValueStore({self._inner!r})"


if TYPE_CHECKING:

    def _conforms(store: ChangeLoggingKeyValueStore) -> KeyValueBytesStore:
        return store
