"""Suppliers and builders of window and session stores, in the style of Kafka Streams' ``Stores``.

The builders are defined here, the suppliers in :mod:`streams.state.window_store_suppliers`
(re-exported here, with the factory functions that make both). The factory functions are also
:class:`~streams.state.stores.Stores`' static methods (``Stores.persistent_window_store``
etc.)::

    builder = Stores.window_store_builder(
        Stores.persistent_window_store("clicks", retention_ms=86_400_000, window_size_ms=60_000),
        String(), Long(),
    )
    store = builder.build()  # WindowStore -> ChangeLoggingWindowStore -> RocksDBWindowStore

Changelog topics of windowed stores are ``cleanup.policy=compact,delete`` with ``retention.ms``
= store retention + one day (Kafka Streams' ``windowstore.changelog.additional.retention.ms``
default), so the broker deletes what the store has long expired while compaction keeps the
latest value of each live window. Both appear in the builders' ``log_config``; extra topic
configs given to ``with_logging_enabled`` are added, but ``retention.ms`` is always computed
from the store's retention (as in Kafka Streams).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self, TypeVar

from streams.processor.window_types import MAX_TIMESTAMP
from streams.serdes.base import Serde
from streams.state.caching_window import CachingWindowStore
from streams.state.changelogging_window import ChangeLoggingSessionStore, ChangeLoggingWindowStore
from streams.state.rocksdb_options import DEFAULT_MAX_PENDING_WRITES, RocksDBConfigSetter
from streams.state.session_bytes_store import SessionBytesStore
from streams.state.store_builder_base import StoreBuilderBase
from streams.state.typed_window import SessionStore, WindowStore
from streams.state.window_bytes_store import WindowBytesStore
from streams.state.window_store_suppliers import (
    InMemorySessionBytesStoreSupplier,
    InMemoryWindowBytesStoreSupplier,
    RocksDBSessionBytesStoreSupplier,
    RocksDBWindowBytesStoreSupplier,
    SessionBytesStoreSupplier,
    WindowBytesStoreSupplier,
)

if TYPE_CHECKING:
    from streams.state.api import StoreBuilder

__all__ = [
    "DEFAULT_CHANGELOG_ADDITIONAL_RETENTION_MS",
    "InMemorySessionBytesStoreSupplier",
    "InMemoryWindowBytesStoreSupplier",
    "RocksDBSessionBytesStoreSupplier",
    "RocksDBWindowBytesStoreSupplier",
    "SessionBytesStoreSupplier",
    "SessionStoreBuilder",
    "WindowBytesStoreSupplier",
    "WindowStoreBuilder",
    "in_memory_session_store",
    "in_memory_window_store",
    "persistent_session_store",
    "persistent_window_store",
    "session_store_builder",
    "window_store_builder",
    "windowed_changelog_config",
]

K = TypeVar("K")
V = TypeVar("V")

#: Kept in the changelog beyond the store's retention (Kafka Streams'
#: ``windowstore.changelog.additional.retention.ms`` default: one day).
DEFAULT_CHANGELOG_ADDITIONAL_RETENTION_MS = 24 * 60 * 60 * 1000


def windowed_changelog_config(
    retention_ms: int,
    extra: dict[str, str] | None = None,
    additional_retention_ms: int = DEFAULT_CHANGELOG_ADDITIONAL_RETENTION_MS,
) -> dict[str, str]:
    """Topic configs of a windowed store's changelog.

    ``cleanup.policy=compact,delete``, then ``extra`` (which may override it), then
    ``retention.ms`` = ``retention_ms + additional_retention_ms`` (capped at ``Long.MAX``),
    which always wins, as in Kafka Streams' ``WindowedChangelogTopicConfig``.
    """
    config = {"cleanup.policy": "compact,delete"}
    if extra:
        config.update(extra)
    config["retention.ms"] = str(min(retention_ms + additional_retention_ms, MAX_TIMESTAMP))
    return config


# -- builders --------------------------------------------------------------------------------


WS = TypeVar("WS", WindowBytesStoreSupplier, SessionBytesStoreSupplier)


class _WindowedBuilderBase(StoreBuilderBase[K, V, WS]):
    """What window and session store builders add to the shared builder: retention and the
    windowed changelog topic configs."""

    @property
    def retention_ms(self) -> int:
        """Retention of the built stores."""
        return self._supplier.retention_ms

    @property
    def log_config(self) -> dict[str, str]:
        """Topic configs of the changelog: ``compact,delete`` and ``retention.ms`` (a copy).

        See :func:`windowed_changelog_config`.
        """
        return windowed_changelog_config(self._supplier.retention_ms, self._log_config)


class WindowStoreBuilder(_WindowedBuilderBase[K, V, WindowBytesStoreSupplier]):
    """Builds typed window stores: ``WindowStore -> [ChangeLoggingWindowStore] -> supplier's``.

    Implements :class:`~streams.state.api.StoreBuilder` (``store_type = "window"``). As in
    Kafka Streams, caching stays disabled for stores that retain duplicates.
    """

    #: Kind of store this builder makes.
    store_type = "window"
    _kind = "window"
    _factory = "window_store_builder"
    _repr_name = "WindowStoreBuilder"

    @property
    def window_size_ms(self) -> int:
        """Size of the windows of the built stores."""
        return self._supplier.window_size_ms

    @property
    def retain_duplicates(self) -> bool:
        """Whether the built stores keep every put (stream-stream join stores)."""
        return self._supplier.retain_duplicates

    def with_caching_enabled(self) -> Self:
        """Put a record cache below the typed layer (refused for stores retaining
        duplicates, as in Kafka Streams)."""
        self._caching_enabled = not self._supplier.retain_duplicates
        return self

    def build(self) -> WindowStore[K, V]:
        """A fresh, un-initialized typed window store (call once per task):
        ``WindowStore -> [CachingWindowStore] -> [ChangeLoggingWindowStore] -> supplier's``."""
        key_serde, value_serde = self._serdes()
        inner: WindowBytesStore = self._supplier.get()
        self._check_name(inner.name)
        if self._logging_enabled:
            inner = ChangeLoggingWindowStore(inner)
        if self._caching_enabled:
            inner = CachingWindowStore(inner)
        return WindowStore(inner, key_serde, value_serde)


class SessionStoreBuilder(_WindowedBuilderBase[K, V, SessionBytesStoreSupplier]):
    """Builds typed session stores: ``SessionStore -> [ChangeLoggingSessionStore] -> supplier's``.

    Implements :class:`~streams.state.api.StoreBuilder` (``store_type = "session"``).
    """

    #: Kind of store this builder makes.
    store_type = "session"
    _kind = "session"
    _factory = "session_store_builder"
    _repr_name = "SessionStoreBuilder"

    def build(self) -> SessionStore[K, V]:
        """A fresh, un-initialized typed session store (call once per task)."""
        key_serde, value_serde = self._serdes()
        inner: SessionBytesStore = self._supplier.get()
        self._check_name(inner.name)
        if self._logging_enabled:
            inner = ChangeLoggingSessionStore(inner)
        return SessionStore(inner, key_serde, value_serde)


# -- factory functions (also Stores.*) ---------------------------------------------------------


def in_memory_window_store(
    name: str, retention_ms: int, window_size_ms: int, retain_duplicates: bool = False
) -> InMemoryWindowBytesStoreSupplier:
    """Supplier of in-memory window stores (Kafka Streams' ``Stores.inMemoryWindowStore``).

    Windows of ``window_size_ms`` are kept for ``retention_ms`` of stream time after their
    start (``window_size_ms <= retention_ms``). ``retain_duplicates`` keeps every put, even for
    the same key and window start (what stream-stream joins need); ``None`` puts are then
    ignored.
    """
    return InMemoryWindowBytesStoreSupplier(name, retention_ms, window_size_ms, retain_duplicates)


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

    As :func:`in_memory_window_store`, on disk; ``segment_interval_ms`` defaults to
    ``max(retention_ms // 2, 60_000)`` and ``config_setter(store_name, options)`` may tune the
    RocksDB options (shared by the store's segments).
    """
    return RocksDBWindowBytesStoreSupplier(
        name,
        retention_ms,
        window_size_ms,
        retain_duplicates,
        segment_interval_ms=segment_interval_ms,
        config_setter=config_setter,
        max_pending_writes=max_pending_writes,
        fsync_on_flush=fsync_on_flush,
    )


def in_memory_session_store(name: str, retention_ms: int) -> InMemorySessionBytesStoreSupplier:
    """Supplier of in-memory session stores (Kafka Streams' ``Stores.inMemorySessionStore``).

    Sessions are kept for ``retention_ms`` of stream time after their end.
    """
    return InMemorySessionBytesStoreSupplier(name, retention_ms)


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
    return RocksDBSessionBytesStoreSupplier(
        name,
        retention_ms,
        segment_interval_ms=segment_interval_ms,
        config_setter=config_setter,
        max_pending_writes=max_pending_writes,
        fsync_on_flush=fsync_on_flush,
    )


def window_store_builder(
    supplier: WindowBytesStoreSupplier,
    key_serde: Serde[K] | None = None,
    value_serde: Serde[V] | None = None,
) -> WindowStoreBuilder[K, V]:
    """Builder of typed window stores over ``supplier`` (logging enabled by default)."""
    return WindowStoreBuilder(supplier, key_serde, value_serde)


def session_store_builder(
    supplier: SessionBytesStoreSupplier,
    key_serde: Serde[K] | None = None,
    value_serde: Serde[V] | None = None,
) -> SessionStoreBuilder[K, V]:
    """Builder of typed session stores over ``supplier`` (logging enabled by default)."""
    return SessionStoreBuilder(supplier, key_serde, value_serde)


if TYPE_CHECKING:

    def _window_builder_is_store_builder(builder: WindowStoreBuilder[Any, Any]) -> StoreBuilder:
        return builder

    def _session_builder_is_store_builder(builder: SessionStoreBuilder[Any, Any]) -> StoreBuilder:
        return builder
