"""The ``Stores`` factory: store suppliers and builders, with Kafka Streams' names in Python style.

A *supplier* makes fresh bytes stores of one kind (in-memory or RocksDB); a *builder* adds serdes
and the layers around it and is what a topology holds, building one store per task::

    builder = Stores.key_value_store_builder(
        Stores.persistent_key_value_store("counts"), String(), Long()
    ).with_logging_enabled({"min.insync.replicas": "2"})
    store = builder.build()   # KeyValueStore -> ChangeLoggingKeyValueStore -> RocksDBKeyValueStore
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from streams.serdes.base import Serde
from streams.state import window_store_builders as _windowed
from streams.state.api import KeyValueBytesStore
from streams.state.caching_key_value import CachingKeyValueStore
from streams.state.changelogging import ChangeLoggingKeyValueStore
from streams.state.memory import InMemoryKeyValueStore
from streams.state.rocksdb import RocksDBKeyValueStore
from streams.state.rocksdb_options import DEFAULT_MAX_PENDING_WRITES, RocksDBConfigSetter
from streams.state.store_builder_base import StoreBuilderBase, validate_store_name
from streams.state.typed import KeyValueStore
from streams.state.versioned_builder import (
    VersionedBytesStoreSupplier,
    VersionedKeyValueStoreBuilder,
)
from streams.state.window_store_builders import SessionStoreBuilder, WindowStoreBuilder
from streams.state.window_store_suppliers import (
    InMemorySessionBytesStoreSupplier,
    InMemoryWindowBytesStoreSupplier,
    RocksDBSessionBytesStoreSupplier,
    RocksDBWindowBytesStoreSupplier,
    SessionBytesStoreSupplier,
    WindowBytesStoreSupplier,
)

if TYPE_CHECKING:
    from rocksdict import Options

    from streams.state.api import StoreBuilder
    from streams.state.timestamped import (
        TimestampedKeyValueStoreBuilder,
        TimestampedWindowStoreBuilder,
    )

__all__ = [
    "InMemoryKeyValueBytesStoreSupplier",
    "KeyValueBytesStoreSupplier",
    "KeyValueStoreBuilder",
    "RocksDBKeyValueBytesStoreSupplier",
    "Stores",
    "validate_store_name",
]

K = TypeVar("K")
V = TypeVar("V")


@runtime_checkable
class KeyValueBytesStoreSupplier(Protocol):
    """Makes fresh, un-initialized bytes stores of one kind (one per task)."""

    @property
    def name(self) -> str:
        """Name of the stores it makes."""
        ...

    @property
    def persistent(self) -> bool:
        """Whether its stores keep data on disk."""
        ...

    @property
    def metrics_scope(self) -> str:
        """Short label of the store kind (``"in-memory"``, ``"rocksdb"``)."""
        ...

    def get(self) -> KeyValueBytesStore:
        """A new store (never a shared instance)."""
        ...


class InMemoryKeyValueBytesStoreSupplier:
    """Supplies :class:`~streams.state.memory.InMemoryKeyValueStore` instances."""

    def __init__(self, name: str) -> None:
        """Supplier of in-memory stores called ``name``."""
        self._name = validate_store_name(name)

    @property
    def name(self) -> str:
        """Name of the stores it makes."""
        return self._name

    @property
    def persistent(self) -> bool:
        """False: in-memory stores are rebuilt from the changelog after a restart."""
        return False

    @property
    def metrics_scope(self) -> str:
        """``"in-memory"``."""
        return "in-memory"

    def get(self) -> InMemoryKeyValueStore:
        """A new, empty in-memory store."""
        return InMemoryKeyValueStore(self._name)

    def __repr__(self) -> str:
        return f"InMemoryKeyValueBytesStoreSupplier({self._name!r})"


class RocksDBKeyValueBytesStoreSupplier:
    """Supplies :class:`~streams.state.rocksdb.RocksDBKeyValueStore` instances.

    ``config_setter(store_name, options)`` adjusts each store's default options before it opens;
    ``options_factory()`` replaces the defaults entirely (each store needs its own ``Options``,
    created with ``raw_mode=True``).
    """

    def __init__(
        self,
        name: str,
        *,
        config_setter: RocksDBConfigSetter | None = None,
        options_factory: Callable[[], Options] | None = None,
        max_pending_writes: int = DEFAULT_MAX_PENDING_WRITES,
        fsync_on_flush: bool = True,
    ) -> None:
        """Supplier of RocksDB stores called ``name``; see the class docstring for the options."""
        self._name = validate_store_name(name)
        self._config_setter = config_setter
        self._options_factory = options_factory
        self._max_pending = max_pending_writes
        self._fsync = fsync_on_flush

    @property
    def name(self) -> str:
        """Name of the stores it makes."""
        return self._name

    @property
    def persistent(self) -> bool:
        """True: RocksDB stores keep data on local disk."""
        return True

    @property
    def metrics_scope(self) -> str:
        """``"rocksdb"``."""
        return "rocksdb"

    def get(self) -> RocksDBKeyValueStore:
        """A new, closed RocksDB store."""
        options = self._options_factory() if self._options_factory is not None else None
        return RocksDBKeyValueStore(
            self._name,
            options,
            config_setter=self._config_setter,
            max_pending_writes=self._max_pending,
            fsync_on_flush=self._fsync,
        )

    def __repr__(self) -> str:
        return f"RocksDBKeyValueBytesStoreSupplier({self._name!r})"


class KeyValueStoreBuilder(StoreBuilderBase[K, V, KeyValueBytesStoreSupplier]):
    """Builds typed key-value stores: ``KeyValueStore -> [Caching] -> [ChangeLogging] ->
    supplier's store``, the one place these layers are stacked (Kafka Streams' order).

    Implements :class:`~streams.state.api.StoreBuilder`. The ``with_*`` methods change this
    builder and return it, for chaining (as in Kafka Streams). Logging is enabled by default.

    Caching (``with_caching_enabled``): the record cache sits below the typed layer, so writes
    reach the changelogging layer (and the changelog) when the task commits or the thread's
    cache is full.

    Serdes may be None while the topology is being described; the topology fills them from the
    ``default.key.serde`` / ``default.value.serde`` config through :meth:`with_default_serdes`.
    """

    #: Kind of store this builder makes.
    store_type = "key_value"

    def build(self) -> KeyValueStore[K, V]:
        """A fresh, un-initialized typed store (call once per task)."""
        key_serde, value_serde = self._serdes()
        inner: KeyValueBytesStore = self._supplier.get()
        self._check_name(inner.name)
        if self._logging_enabled:
            inner = ChangeLoggingKeyValueStore(inner)
        if self._caching_enabled:
            inner = CachingKeyValueStore(inner)
        return KeyValueStore(inner, key_serde, value_serde)


class Stores:
    """Factory of store suppliers and builders (Kafka Streams' ``Stores``).

    Key-value, window and session stores, in memory or on RocksDB. The window and session
    factories are those of :mod:`streams.state.window_store_builders`, which has the details.

    Example::

        Stores.key_value_store_builder(Stores.in_memory_key_value_store("seen"), String(), Bytes())
        Stores.window_store_builder(
            Stores.persistent_window_store("clicks", retention_ms=3_600_000, window_size_ms=60_000),
            String(), Long(),
        )
    """

    @staticmethod
    def in_memory_key_value_store(name: str) -> InMemoryKeyValueBytesStoreSupplier:
        """Supplier of in-memory key-value stores called ``name``."""
        return InMemoryKeyValueBytesStoreSupplier(name)

    @staticmethod
    def persistent_key_value_store(
        name: str,
        *,
        config_setter: RocksDBConfigSetter | None = None,
        max_pending_writes: int = DEFAULT_MAX_PENDING_WRITES,
        fsync_on_flush: bool = True,
    ) -> RocksDBKeyValueBytesStoreSupplier:
        """Supplier of RocksDB key-value stores called ``name``.

        ``config_setter(store_name, options)`` may tune the RocksDB options of each store.
        """
        return RocksDBKeyValueBytesStoreSupplier(
            name,
            config_setter=config_setter,
            max_pending_writes=max_pending_writes,
            fsync_on_flush=fsync_on_flush,
        )

    @staticmethod
    def key_value_store_builder(
        supplier: KeyValueBytesStoreSupplier,
        key_serde: Serde[K] | None = None,
        value_serde: Serde[V] | None = None,
    ) -> KeyValueStoreBuilder[K, V]:
        """Builder of typed key-value stores over ``supplier`` (logging enabled by default)."""
        return KeyValueStoreBuilder(supplier, key_serde, value_serde)

    @staticmethod
    def timestamped_key_value_store_builder(
        supplier: KeyValueBytesStoreSupplier, key_serde: Serde[K] | None = None,
        value_serde: Serde[V] | None = None,
    ) -> TimestampedKeyValueStoreBuilder:
        """Builder of key-value stores holding ``ValueAndTimestamp`` values, as the DSL's
        tables do (Kafka Streams' ``Stores.timestampedKeyValueStoreBuilder``); logging on,
        caching off unless ``with_caching_enabled()``."""
        from streams.state.timestamped import TimestampedKeyValueStoreBuilder  # imports Stores

        return TimestampedKeyValueStoreBuilder(supplier, key_serde, value_serde)

    # -- versioned key-value stores (KIP-889) ----------------------------------------------

    @staticmethod
    def persistent_versioned_key_value_store(
        name: str, history_retention_ms: int, segment_interval_ms: int | None = None,
    ) -> VersionedBytesStoreSupplier:
        """Supplier of RocksDB versioned key-value stores called ``name`` (Kafka Streams'
        ``Stores.persistentVersionedKeyValueStore``): every version of a key stays readable
        with ``get(key, as_of)`` for ``history_retention_ms`` of stream time. Give it to
        ``Materialized.as_`` for a versioned KTable."""
        return VersionedBytesStoreSupplier(
            name, history_retention_ms, Stores.persistent_key_value_store(name),
            segment_interval_ms)

    @staticmethod
    def in_memory_versioned_key_value_store(
        name: str, history_retention_ms: int,
    ) -> VersionedBytesStoreSupplier:
        """Supplier of in-memory versioned key-value stores called ``name`` (not in Kafka
        Streams, which only has the persistent one); same semantics."""
        return VersionedBytesStoreSupplier(
            name, history_retention_ms, Stores.in_memory_key_value_store(name))

    @staticmethod
    def versioned_key_value_store_builder(
        supplier: VersionedBytesStoreSupplier, key_serde: Serde[K] | None = None,
        value_serde: Serde[V] | None = None,
    ) -> VersionedKeyValueStoreBuilder[K, V]:
        """Builder of typed versioned key-value stores over ``supplier`` (Kafka Streams'
        ``Stores.versionedKeyValueStoreBuilder``); logging on, caching not supported."""
        return VersionedKeyValueStoreBuilder(supplier, key_serde, value_serde)

    # -- window and session stores ---------------------------------------------------------

    @staticmethod
    def in_memory_window_store(
        name: str, retention_ms: int, window_size_ms: int, retain_duplicates: bool = False
    ) -> InMemoryWindowBytesStoreSupplier:
        """Supplier of in-memory window stores (Kafka Streams' ``Stores.inMemoryWindowStore``).

        Windows of ``window_size_ms`` are kept for ``retention_ms`` of stream time after their
        start (``window_size_ms <= retention_ms``); ``retain_duplicates`` keeps every put (what
        stream-stream joins need). See
        :func:`~streams.state.window_store_builders.in_memory_window_store`.
        """
        return _windowed.in_memory_window_store(
            name, retention_ms, window_size_ms, retain_duplicates
        )

    @staticmethod
    def persistent_window_store(
        name: str,
        retention_ms: int,
        window_size_ms: int,
        retain_duplicates: bool = False,
        *,
        segment_interval_ms: int | None = None,
        config_setter: RocksDBConfigSetter | None = None,
        max_pending_writes: int = DEFAULT_MAX_PENDING_WRITES,
        fsync_on_flush: bool = True,
    ) -> RocksDBWindowBytesStoreSupplier:
        """Supplier of RocksDB window stores (Kafka Streams' ``Stores.persistentWindowStore``).

        As :meth:`in_memory_window_store`, on disk; see
        :func:`~streams.state.window_store_builders.persistent_window_store`.
        """
        return _windowed.persistent_window_store(
            name,
            retention_ms,
            window_size_ms,
            retain_duplicates,
            segment_interval_ms=segment_interval_ms,
            config_setter=config_setter,
            max_pending_writes=max_pending_writes,
            fsync_on_flush=fsync_on_flush,
        )

    @staticmethod
    def in_memory_session_store(name: str, retention_ms: int) -> InMemorySessionBytesStoreSupplier:
        """Supplier of in-memory session stores (Kafka Streams' ``Stores.inMemorySessionStore``).

        Sessions are kept for ``retention_ms`` of stream time after their end.
        """
        return _windowed.in_memory_session_store(name, retention_ms)

    @staticmethod
    def persistent_session_store(
        name: str,
        retention_ms: int,
        *,
        segment_interval_ms: int | None = None,
        config_setter: RocksDBConfigSetter | None = None,
        max_pending_writes: int = DEFAULT_MAX_PENDING_WRITES,
        fsync_on_flush: bool = True,
    ) -> RocksDBSessionBytesStoreSupplier:
        """Supplier of RocksDB session stores (Kafka Streams' ``Stores.persistentSessionStore``)."""
        return _windowed.persistent_session_store(
            name,
            retention_ms,
            segment_interval_ms=segment_interval_ms,
            config_setter=config_setter,
            max_pending_writes=max_pending_writes,
            fsync_on_flush=fsync_on_flush,
        )

    @staticmethod
    def window_store_builder(
        supplier: WindowBytesStoreSupplier,
        key_serde: Serde[K] | None = None,
        value_serde: Serde[V] | None = None,
    ) -> WindowStoreBuilder[K, V]:
        """Builder of typed window stores over ``supplier`` (logging enabled by default)."""
        return _windowed.window_store_builder(supplier, key_serde, value_serde)

    @staticmethod
    def timestamped_window_store_builder(
        supplier: WindowBytesStoreSupplier, key_serde: Serde[K] | None = None,
        value_serde: Serde[V] | None = None,
    ) -> TimestampedWindowStoreBuilder:
        """Builder of window stores holding ``ValueAndTimestamp`` values, as windowed DSL
        aggregations do (Kafka Streams' ``Stores.timestampedWindowStoreBuilder``)."""
        from streams.state.timestamped import TimestampedWindowStoreBuilder  # imports Stores

        return TimestampedWindowStoreBuilder(supplier, key_serde, value_serde)

    @staticmethod
    def session_store_builder(
        supplier: SessionBytesStoreSupplier,
        key_serde: Serde[K] | None = None,
        value_serde: Serde[V] | None = None,
    ) -> SessionStoreBuilder[K, V]:
        """Builder of typed session stores over ``supplier`` (logging enabled by default)."""
        return _windowed.session_store_builder(supplier, key_serde, value_serde)


if TYPE_CHECKING:

    def _is_store_builder(builder: KeyValueStoreBuilder[Any, Any]) -> StoreBuilder:
        return builder

    def _in_memory_is_supplier(s: InMemoryKeyValueBytesStoreSupplier) -> KeyValueBytesStoreSupplier:
        return s

    def _rocksdb_is_supplier(s: RocksDBKeyValueBytesStoreSupplier) -> KeyValueBytesStoreSupplier:
        return s
