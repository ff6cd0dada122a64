"""The ``Stores`` factory: store suppliers and builders, with Kafka Streams' names in Python style.

A *supplier* makes fresh bytes stores of one kind (in-memory or RocksDB); a *builder* adds serdes
and the layers around it and is what a topology holds, building one store per task::

    builder = Stores.key_value_store_builder(
        Stores.persistent_key_value_store("counts"), String(), Long()
    ).with_logging_enabled({"min.insync.replicas": "2"})
    store = builder.build()   # KeyValueStore -> ChangeLoggingKeyValueStore -> RocksDBKeyValueStore
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar, runtime_checkable

from streams.errors import StateStoreError
from streams.serdes.base import Serde
from streams.state.api import KeyValueBytesStore
from streams.state.changelogging import ChangeLoggingKeyValueStore
from streams.state.memory import InMemoryKeyValueStore
from streams.state.rocksdb import (
    DEFAULT_MAX_PENDING_WRITES,
    RocksDBConfigSetter,
    RocksDBKeyValueStore,
)
from streams.state.typed import KeyValueStore

if TYPE_CHECKING:
    from rocksdict import Options

    from streams.state.api import StoreBuilder

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

# Store names become part of the changelog topic name and a directory name, so they are held
# to Kafka's topic-name alphabet.
_LEGAL_NAME = re.compile(r"[a-zA-Z0-9._-]+")
_MAX_NAME_LENGTH = 200


def validate_store_name(name: str) -> str:
    """Return ``name`` if it is a legal store name, else raise :class:`StateStoreError`.

    Legal: 1-200 characters from ``[a-zA-Z0-9._-]``, not ``.`` or ``..`` (the name is used in
    the changelog topic ``<application.id>-<name>-changelog`` and as a directory name).
    """
    if (
        not isinstance(name, str)
        or not _LEGAL_NAME.fullmatch(name)
        or name in (".", "..")
        or len(name) > _MAX_NAME_LENGTH
    ):
        raise StateStoreError(
            f"invalid state store name {name!r}: use 1-{_MAX_NAME_LENGTH} characters from "
            "[a-zA-Z0-9._-] (it becomes part of the changelog topic name and a directory name)"
        )
    return name


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


class _Supplier(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def persistent(self) -> bool: ...


S = TypeVar("S", bound=_Supplier)


class _StoreBuilderBase(Generic[K, V, S]):
    """What the key-value, window and session store builders share: the ``StoreBuilder`` shape.

    The ``with_*`` methods change the builder and return it, for chaining (as in Kafka
    Streams); :meth:`with_default_serdes` returns a copy. Logging is enabled by default.
    Caching is off by default; when enabled, a task puts the record cache
    (``streams.state.cache``) in front of key-value stores; window and session stores ignore it.
    """

    #: Kind of store named in error messages, the factory that makes this builder, and the
    #: class name shown by ``repr``.
    _kind = "state"
    _factory = "Stores.key_value_store_builder"
    _repr_name = "KeyValueStoreBuilder"

    def __init__(self, supplier: S, key_serde: Serde[K] | None, value_serde: Serde[V] | None) -> None:
        """Builder over ``supplier`` with the given serdes (None: filled in later)."""
        self._supplier = supplier
        self._key_serde = key_serde
        self._value_serde = value_serde
        self._logging_enabled = True
        self._log_config: dict[str, str] = {}
        self._caching_enabled = False

    @property
    def name(self) -> str:
        """Name of the stores built."""
        return self._supplier.name

    @property
    def supplier(self) -> S:
        """The supplier of the innermost bytes stores."""
        return self._supplier

    @property
    def persistent(self) -> bool:
        """Whether the built stores keep data on disk."""
        return self._supplier.persistent

    @property
    def key_serde(self) -> Serde[K] | None:
        """Key serde, or None if the default is still to be applied."""
        return self._key_serde

    @property
    def value_serde(self) -> Serde[V] | None:
        """Value serde, or None if the default is still to be applied."""
        return self._value_serde

    @property
    def logging_enabled(self) -> bool:
        """Whether built stores send their changes to a changelog topic."""
        return self._logging_enabled

    @property
    def log_config(self) -> dict[str, str]:
        """Extra topic configs for the changelog topic (a copy)."""
        return dict(self._log_config)

    @property
    def caching_enabled(self) -> bool:
        """Whether a task puts the record cache in front of the built stores."""
        return self._caching_enabled

    def with_logging_enabled(self, config: dict[str, Any] | None = None) -> Self:
        """Log changes to ``<application.id>-<name>-changelog``, with extra topic ``config``."""
        self._logging_enabled = True
        self._log_config = {str(k): str(v) for k, v in (config or {}).items()}
        return self

    def with_logging_disabled(self) -> Self:
        """Do not log changes: the store is not fault tolerant (it starts empty on a new host)."""
        self._logging_enabled = False
        self._log_config = {}
        return self

    def with_caching_enabled(self) -> Self:
        """Put the record cache in front of the built stores (key-value stores only)."""
        self._caching_enabled = True
        return self

    def with_caching_disabled(self) -> Self:
        """Do not cache."""
        self._caching_enabled = False
        return self

    def with_default_serdes(
        self, key_serde: Serde[Any] | None, value_serde: Serde[Any] | None
    ) -> Self:
        """A copy of this builder whose missing (None) serdes are replaced by the given ones."""
        other = copy.copy(self)
        other._log_config = dict(self._log_config)
        if other._key_serde is None:
            other._key_serde = key_serde
        if other._value_serde is None:
            other._value_serde = value_serde
        return other

    def _serdes(self) -> tuple[Serde[K], Serde[V]]:
        if self._key_serde is None or self._value_serde is None:
            missing = "key" if self._key_serde is None else "value"
            raise StateStoreError(
                f"{self._kind} store {self.name!r} has no {missing} serde: pass one to "
                f"{self._factory}(...) or configure the default serdes"
            )
        return self._key_serde, self._value_serde

    def _check_name(self, store_name: str) -> None:
        if store_name != self.name:
            raise StateStoreError(
                f"supplier for state store {self.name!r} returned a store named {store_name!r}"
            )

    def __repr__(self) -> str:
        return (
            f"{self._repr_name}(name={self.name!r}, supplier={self._supplier!r}, "
            f"logging_enabled={self._logging_enabled}, caching_enabled={self._caching_enabled})"
        )


class KeyValueStoreBuilder(_StoreBuilderBase[K, V, KeyValueBytesStoreSupplier]):
    """Builds typed key-value stores: ``KeyValueStore -> [ChangeLogging] -> supplier's store``.

    Implements :class:`~streams.state.api.StoreBuilder`. The ``with_*`` methods change this
    builder and return it, for chaining (as in Kafka Streams). Logging is enabled by default.

    Caching (``with_caching_enabled``): the task puts the record cache in front of the store,
    so writes reach it (and the changelog) when the task commits or the cache is full.

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
        return KeyValueStore(inner, key_serde, value_serde)


class Stores:
    """Factory of store suppliers and builders (Kafka Streams' ``Stores``).

    Example::

        Stores.key_value_store_builder(Stores.in_memory_key_value_store("seen"), String(), Bytes())
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


if TYPE_CHECKING:

    def _is_store_builder(builder: KeyValueStoreBuilder[Any, Any]) -> StoreBuilder:
        return builder

    def _in_memory_is_supplier(s: InMemoryKeyValueBytesStoreSupplier) -> KeyValueBytesStoreSupplier:
        return s

    def _rocksdb_is_supplier(s: RocksDBKeyValueBytesStoreSupplier) -> KeyValueBytesStoreSupplier:
        return s


def _attach_windowed_factories() -> None:
    # window/session factories live in window_stores.py (which imports this module); attach them
    # here so users find every store under Stores, as in Kafka Streams
    from streams.state import window_store_builders as ws

    Stores.in_memory_window_store = staticmethod(ws.in_memory_window_store)  # type: ignore[attr-defined]
    Stores.persistent_window_store = staticmethod(ws.persistent_window_store)  # type: ignore[attr-defined]
    Stores.in_memory_session_store = staticmethod(ws.in_memory_session_store)  # type: ignore[attr-defined]
    Stores.persistent_session_store = staticmethod(ws.persistent_session_store)  # type: ignore[attr-defined]
    Stores.window_store_builder = staticmethod(ws.window_store_builder)  # type: ignore[attr-defined]
    Stores.session_store_builder = staticmethod(ws.session_store_builder)  # type: ignore[attr-defined]
