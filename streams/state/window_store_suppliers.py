"""Suppliers of window and session bytes stores: they make one fresh in-memory or RocksDB store
per task (what :mod:`streams.state.window_store_builders` and ``Stores.*_window_store`` /
``Stores.*_session_store`` return).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from streams.errors import StateStoreError
from streams.state.rocksdb_options import DEFAULT_MAX_PENDING_WRITES, RocksDBConfigSetter
from streams.state.segmented_store import default_segment_interval
from streams.state.session_bytes_store import (
    InMemorySessionStore,
    RocksDBSessionStore,
    SessionBytesStore,
)
from streams.state.store_builder_base import validate_store_name
from streams.state.window_bytes_store import (
    InMemoryWindowStore,
    RocksDBWindowStore,
    WindowBytesStore,
)

if TYPE_CHECKING:
    from rocksdict import Options

__all__ = [
    "InMemorySessionBytesStoreSupplier",
    "InMemoryWindowBytesStoreSupplier",
    "RocksDBSessionBytesStoreSupplier",
    "RocksDBWindowBytesStoreSupplier",
    "SessionBytesStoreSupplier",
    "WindowBytesStoreSupplier",
]


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


if TYPE_CHECKING:

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
