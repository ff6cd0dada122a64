"""Suppliers and builders of window and session stores, in the style of Kafka Streams' ``Stores``.

The factory functions of this module are also :class:`~streams.state.stores.Stores`' static
methods (``Stores.persistent_window_store`` etc.)::

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

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar, runtime_checkable

from streams.errors import StateStoreError
from streams.serdes.base import Serde
from streams.state.changelogging_window import ChangeLoggingSessionStore, ChangeLoggingWindowStore
from streams.state.rocksdb import DEFAULT_MAX_PENDING_WRITES, RocksDBConfigSetter
from streams.state.segments import MAX_TIMESTAMP, default_segment_interval
from streams.state.session_bytes_store import (
    InMemorySessionStore,
    RocksDBSessionStore,
    SessionBytesStore,
)
from streams.state.store_builder_base import StoreBuilderBase, validate_store_name
from streams.state.typed_window import SessionStore, WindowStore
from streams.state.window_bytes_store import (
    InMemoryWindowStore,
    RocksDBWindowStore,
    WindowBytesStore,
)

if TYPE_CHECKING:
    from rocksdict import Options

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


def _check_ms(store: str, what: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StateStoreError(
            f"state store {store!r}: {what} must be an int of milliseconds, got {value!r}"
        )
    if value < 0:
        raise StateStoreError(f"state store {store!r}: {what} must not be negative, got {value}")
    return value


def _check_window_args(name: str, retention_ms: int, window_size_ms: int) -> None:
    _check_ms(name, "retention", retention_ms)
    _check_ms(name, "window size", window_size_ms)
    if window_size_ms > retention_ms:
        raise StateStoreError(
            f"window store {name!r}: the retention period ({retention_ms} ms) must be no "
            f"smaller than the window size ({window_size_ms} ms)"
        )


# -- suppliers -------------------------------------------------------------------------------


@runtime_checkable
class WindowBytesStoreSupplier(Protocol):
    """Makes fresh, un-initialized window bytes stores of one kind (one per task)."""

    @property
    def name(self) -> str: ...
    @property
    def persistent(self) -> bool: ...
    @property
    def metrics_scope(self) -> str: ...
    @property
    def retention_ms(self) -> int: ...
    @property
    def window_size_ms(self) -> int: ...
    @property
    def segment_interval_ms(self) -> int: ...
    @property
    def retain_duplicates(self) -> bool: ...

    def get(self) -> WindowBytesStore:
        """A new store (never a shared instance)."""
        ...


@runtime_checkable
class SessionBytesStoreSupplier(Protocol):
    """Makes fresh, un-initialized session bytes stores of one kind (one per task)."""

    @property
    def name(self) -> str: ...
    @property
    def persistent(self) -> bool: ...
    @property
    def metrics_scope(self) -> str: ...
    @property
    def retention_ms(self) -> int: ...
    @property
    def segment_interval_ms(self) -> int: ...

    def get(self) -> SessionBytesStore:
        """A new store (never a shared instance)."""
        ...


class _SupplierBase:
    """Name, retention and segment interval shared by the four suppliers."""

    _persistent = False
    _scope = "in-memory"

    def __init__(self, name: str, retention_ms: int, segment_interval_ms: int | None) -> None:
        self._name = validate_store_name(name)
        self._retention = _check_ms(name, "retention", retention_ms)
        if segment_interval_ms is None:
            segment_interval_ms = default_segment_interval(retention_ms)
        elif _check_ms(name, "segment interval", segment_interval_ms) < 1:
            raise StateStoreError(f"state store {name!r}: segment interval must be at least 1 ms")
        self._interval = segment_interval_ms

    @property
    def name(self) -> str:
        """Name of the stores it makes."""
        return self._name

    @property
    def persistent(self) -> bool:
        """Whether its stores keep data on disk."""
        return self._persistent

    @property
    def metrics_scope(self) -> str:
        """Short label of the store kind."""
        return self._scope

    @property
    def retention_ms(self) -> int:
        """How long its stores keep records, in stream time."""
        return self._retention

    @property
    def segment_interval_ms(self) -> int:
        """Time range of one segment of its stores."""
        return self._interval

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r}, retention_ms={self._retention})"


class _RocksDBOptions:
    """RocksDB knobs shared by the persistent suppliers."""

    def __init__(
        self,
        config_setter: RocksDBConfigSetter | None,
        options_factory: Callable[[], Options] | None,
        max_pending_writes: int,
        fsync_on_flush: bool,
    ) -> None:
        self.config_setter = config_setter
        self.options_factory = options_factory
        self.max_pending_writes = max_pending_writes
        self.fsync_on_flush = fsync_on_flush

    def kwargs(self) -> dict[str, Any]:
        return {
            "config_setter": self.config_setter,
            "options_factory": self.options_factory,
            "max_pending_writes": self.max_pending_writes,
            "fsync_on_flush": self.fsync_on_flush,
        }


class _WindowSupplierBase(_SupplierBase):
    """Window size and duplicates, shared by the two window store suppliers."""

    def __init__(
        self,
        name: str,
        retention_ms: int,
        window_size_ms: int,
        retain_duplicates: bool,
        segment_interval_ms: int | None,
    ) -> None:
        _check_window_args(name, retention_ms, window_size_ms)
        super().__init__(name, retention_ms, segment_interval_ms)
        self._window_size = window_size_ms
        self._retain_duplicates = bool(retain_duplicates)

    @property
    def window_size_ms(self) -> int:
        """Size of the windows stored."""
        return self._window_size

    @property
    def retain_duplicates(self) -> bool:
        """Whether every put is kept (stream-stream join stores)."""
        return self._retain_duplicates

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._name!r}, retention_ms={self._retention}, "
            f"window_size_ms={self._window_size}, retain_duplicates={self._retain_duplicates})"
        )


class InMemoryWindowBytesStoreSupplier(_WindowSupplierBase):
    """Supplies :class:`~streams.state.window_bytes_store.InMemoryWindowStore` instances."""

    _scope = "in-memory-window"

    def __init__(
        self,
        name: str,
        retention_ms: int,
        window_size_ms: int,
        retain_duplicates: bool = False,
        *,
        segment_interval_ms: int | None = None,
    ) -> None:
        """Supplier of in-memory window stores; see :func:`in_memory_window_store`."""
        super().__init__(name, retention_ms, window_size_ms, retain_duplicates, segment_interval_ms)

    def get(self) -> InMemoryWindowStore:
        """A new, closed in-memory window store."""
        return InMemoryWindowStore(
            self._name,
            self._retention,
            self._window_size,
            self._retain_duplicates,
            segment_interval_ms=self._interval,
        )


class RocksDBWindowBytesStoreSupplier(_WindowSupplierBase):
    """Supplies :class:`~streams.state.window_bytes_store.RocksDBWindowStore` instances."""

    _persistent = True
    _scope = "rocksdb-window"

    def __init__(
        self,
        name: str,
        retention_ms: int,
        window_size_ms: int,
        retain_duplicates: bool = False,
        *,
        segment_interval_ms: int | None = None,
        config_setter: RocksDBConfigSetter | None = None,
        options_factory: Callable[[], Options] | None = None,
        max_pending_writes: int = DEFAULT_MAX_PENDING_WRITES,
        fsync_on_flush: bool = True,
    ) -> None:
        """Supplier of RocksDB window stores; see :func:`persistent_window_store`."""
        super().__init__(name, retention_ms, window_size_ms, retain_duplicates, segment_interval_ms)
        self._rocksdb = _RocksDBOptions(
            config_setter, options_factory, max_pending_writes, fsync_on_flush
        )

    def get(self) -> RocksDBWindowStore:
        """A new, closed RocksDB window store."""
        return RocksDBWindowStore(
            self._name,
            self._retention,
            self._window_size,
            self._retain_duplicates,
            segment_interval_ms=self._interval,
            **self._rocksdb.kwargs(),
        )


class InMemorySessionBytesStoreSupplier(_SupplierBase):
    """Supplies :class:`~streams.state.session_bytes_store.InMemorySessionStore` instances."""

    _scope = "in-memory-session"

    def __init__(
        self, name: str, retention_ms: int, *, segment_interval_ms: int | None = None
    ) -> None:
        """Supplier of in-memory session stores; see :func:`in_memory_session_store`."""
        super().__init__(name, retention_ms, segment_interval_ms)

    def get(self) -> InMemorySessionStore:
        """A new, closed in-memory session store."""
        return InMemorySessionStore(self._name, self._retention, segment_interval_ms=self._interval)


class RocksDBSessionBytesStoreSupplier(_SupplierBase):
    """Supplies :class:`~streams.state.session_bytes_store.RocksDBSessionStore` instances."""

    _persistent = True
    _scope = "rocksdb-session"

    def __init__(
        self,
        name: str,
        retention_ms: int,
        *,
        segment_interval_ms: int | None = None,
        config_setter: RocksDBConfigSetter | None = None,
        options_factory: Callable[[], Options] | None = None,
        max_pending_writes: int = DEFAULT_MAX_PENDING_WRITES,
        fsync_on_flush: bool = True,
    ) -> None:
        """Supplier of RocksDB session stores; see :func:`persistent_session_store`."""
        super().__init__(name, retention_ms, segment_interval_ms)
        self._rocksdb = _RocksDBOptions(
            config_setter, options_factory, max_pending_writes, fsync_on_flush
        )

    def get(self) -> RocksDBSessionStore:
        """A new, closed RocksDB session store."""
        return RocksDBSessionStore(
            self._name,
            self._retention,
            segment_interval_ms=self._interval,
            **self._rocksdb.kwargs(),
        )


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
        """Request a record cache (no effect yet; refused for stores retaining duplicates)."""
        self._caching_enabled = not self._supplier.retain_duplicates
        return self

    def build(self) -> WindowStore[K, V]:
        """A fresh, un-initialized typed window store (call once per task)."""
        key_serde, value_serde = self._serdes()
        inner: WindowBytesStore = self._supplier.get()
        self._check_name(inner.name)
        if self._logging_enabled:
            inner = ChangeLoggingWindowStore(inner)
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

    def _suppliers(
        a: InMemoryWindowBytesStoreSupplier,
        b: RocksDBWindowBytesStoreSupplier,
        c: InMemorySessionBytesStoreSupplier,
        d: RocksDBSessionBytesStoreSupplier,
    ) -> tuple[
        WindowBytesStoreSupplier,
        WindowBytesStoreSupplier,
        SessionBytesStoreSupplier,
        SessionBytesStoreSupplier,
    ]:
        return a, b, c, d
