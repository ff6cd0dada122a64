"""Suppliers and the builder of versioned key-value stores (:mod:`streams.state.versioned`).

``Stores.persistent_versioned_key_value_store(name, history_retention_ms)`` (Kafka Streams'
``Stores.persistentVersionedKeyValueStore``) and ``Stores.in_memory_versioned_key_value_store``
(ours: Kafka Streams has no in-memory one) make a :class:`VersionedBytesStoreSupplier`;
``Stores.versioned_key_value_store_builder`` builds typed stores from it, and
``Materialized.as_(supplier)`` makes a DSL table versioned.
"""

from __future__ import annotations

from typing import Any, TypeVar

from streams.errors import StateStoreError
from streams.state.api import KeyValueBytesStore
from streams.state.changelogging import ChangeLoggingKeyValueStore
from streams.state.store_builder_base import StoreBuilderBase
from streams.state.versioned import VersionedKeyValueStore

__all__ = ["VersionedBytesStoreSupplier", "VersionedKeyValueStoreBuilder", "is_versioned"]

K = TypeVar("K")
V = TypeVar("V")


class VersionedBytesStoreSupplier:
    """Supplies the bytes stores under versioned stores called ``name``, with how long
    (in stream time) old versions stay readable.

    ``segment_interval_ms`` is accepted for Kafka Streams' sake and checked; this store keeps a
    key's history together rather than in time segments, so it does not use it.
    """

    def __init__(self, name: str, history_retention_ms: int, inner: Any,
                 segment_interval_ms: int | None = None) -> None:
        """Versioned stores over the bytes stores ``inner`` supplies."""
        if history_retention_ms < 0:
            raise StateStoreError(f"versioned store {name!r}: history_retention_ms must not be "
                                  f"negative, got {history_retention_ms}")
        if segment_interval_ms is not None and segment_interval_ms <= 0:
            raise StateStoreError(f"versioned store {name!r}: segment_interval_ms must be "
                                  f"positive, got {segment_interval_ms}")
        self._inner = inner
        self.history_retention_ms = history_retention_ms
        self.segment_interval_ms = segment_interval_ms

    @property
    def name(self) -> str:
        """Store name."""
        return str(self._inner.name)

    @property
    def persistent(self) -> bool:
        """True for RocksDB-backed stores."""
        return bool(self._inner.persistent)

    @property
    def metrics_scope(self) -> str:
        """Metrics scope of the stores (Kafka Streams' name for its versioned store)."""
        return "rocksdb-versioned" if self.persistent else "in-memory-versioned"

    def get(self) -> KeyValueBytesStore:
        """A fresh bytes store to keep the histories in."""
        store: KeyValueBytesStore = self._inner.get()
        return store

    def __repr__(self) -> str:
        return (f"VersionedBytesStoreSupplier(name={self.name!r}, "
                f"history_retention_ms={self.history_retention_ms}, inner={self._inner!r})")


class VersionedKeyValueStoreBuilder(StoreBuilderBase[K, V, VersionedBytesStoreSupplier]):
    """Builds :class:`~streams.state.versioned.VersionedKeyValueStore` s:
    ``VersionedKeyValueStore -> [ChangeLogging] -> supplier's bytes store``. Logging is on by
    default; caching is not supported (as in Kafka Streams: a cache would hide versions)."""

    store_type = "versioned_key_value"
    _kind = "versioned key-value"
    _factory = "Stores.versioned_key_value_store_builder"
    _repr_name = "VersionedKeyValueStoreBuilder"

    @property
    def history_retention_ms(self) -> int:
        """How long, in stream time, old versions stay readable."""
        return self._supplier.history_retention_ms

    def with_caching_enabled(self) -> VersionedKeyValueStoreBuilder[K, V]:
        """Refused: versioned stores are not cached."""
        raise StateStoreError(f"versioned store {self.name!r} does not support caching")

    def build(self) -> VersionedKeyValueStore[K, V]:
        """A fresh, un-initialized versioned store (call once per task)."""
        key_serde, value_serde = self._serdes()
        inner = self._supplier.get()
        self._check_name(inner.name)
        if self._logging_enabled:
            inner = ChangeLoggingKeyValueStore(inner)
        return VersionedKeyValueStore(inner, key_serde, value_serde,
                                      self._supplier.history_retention_ms)


def is_versioned(supplier: Any) -> bool:
    """True for a supplier of versioned stores (a ``Materialized`` making a versioned table)."""
    return isinstance(supplier, VersionedBytesStoreSupplier)
