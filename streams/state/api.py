"""Store protocols: what every state store implements, and what a store is given at init.

Layering (outermost first), as in Kafka Streams::

    KeyValueStore[K, V]          typed view: serdes, what processors and queries see
      ChangeLoggingKeyValueStore  sends each write to the changelog (bytes)
        InMemory/RocksDB store    bytes in, bytes out, ordered by unsigned key bytes

Stores never touch a Kafka client: changelog writes go through :class:`ChangelogWriter`, which
the runtime (or ``TopologyTestDriver``) provides through :class:`StateStoreContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

K = TypeVar("K")
V = TypeVar("V")
# Values only come out of a read-only store, so its value type is covariant (a store of bool
# may be read where a store of int is expected); mypy requires it for the protocol.
V_co = TypeVar("V_co", covariant=True)

#: Applies a batch of changelog records (key bytes, value bytes or None for a delete) to a store.
RestoreCallback = Callable[[list[tuple[bytes, bytes | None]]], None]


def changelog_topic(application_id: str, store_name: str) -> str:
    """Name of a store's changelog topic: ``<application.id>-<store>-changelog``.

    Typed stores also use it as the serde topic, as Kafka Streams does, so that schema-aware
    serdes (Avro subjects) register the store's schemas under the changelog's name.
    """
    return f"{application_id}-{store_name}-changelog"


class ChangelogWriter(Protocol):
    """Where a logging store sends its changes; provided by the runtime, never by the store."""

    def log_change(
        self, store_name: str, key: bytes, value: bytes | None, timestamp: int
    ) -> None:
        """Append one change of ``store_name`` to its changelog topic (partition = task's)."""
        ...


class StateStoreContext(Protocol):
    """What a store learns when its task initializes it."""

    @property
    def application_id(self) -> str:
        """The ``application.id`` of the app that owns the store."""
        ...

    @property
    def task_id(self) -> str:
        """Task id such as ``"1_3"`` (sub-topology 1, partition 3)."""
        ...

    @property
    def state_dir(self) -> Path | None:
        """The task's directory for persistent stores (``<state.dir>/<app id>/<task id>``)."""
        ...

    @property
    def changelog_writer(self) -> ChangelogWriter | None:
        """Sink for changelog records, or None when nothing collects them."""
        ...

    @property
    def timestamp(self) -> int:
        """Timestamp of the record being processed (used to timestamp changelog records)."""
        ...

    def register(self, store: StateStore, restore: RestoreCallback) -> None:
        """Register ``store`` so the runtime can restore it from its changelog."""
        ...


class StateStore(Protocol):
    """The lifecycle every store shares."""

    @property
    def name(self) -> str:
        """The store's name, unique within a topology."""
        ...

    @property
    def persistent(self) -> bool:
        """True when the store keeps its data on local disk (RocksDB)."""
        ...

    @property
    def is_open(self) -> bool:
        """True between ``init`` and ``close``."""
        ...

    def init(self, context: StateStoreContext) -> None:
        """Open the store for one task and register it for restoration."""
        ...

    def flush(self) -> None:
        """Make buffered writes durable (RocksDB: write the pending batch)."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...


class KeyValueBytesStore(StateStore, Protocol):
    """A key-value store over bytes, iterated in unsigned lexicographic key order (as RocksDB).

    Ranges are inclusive at both ends; ``None`` for a bound means unbounded.
    """

    def get(self, key: bytes) -> bytes | None: ...
    def put(self, key: bytes, value: bytes | None) -> None: ...
    def put_if_absent(self, key: bytes, value: bytes | None) -> bytes | None: ...
    def put_all(self, entries: Iterable[tuple[bytes, bytes | None]]) -> None: ...
    def delete(self, key: bytes) -> bytes | None: ...
    def range(self, from_key: bytes | None, to_key: bytes | None) -> Iterator[tuple[bytes, bytes]]: ...
    def reverse_range(
        self, from_key: bytes | None, to_key: bytes | None
    ) -> Iterator[tuple[bytes, bytes]]: ...
    def all(self) -> Iterator[tuple[bytes, bytes]]: ...
    def reverse_all(self) -> Iterator[tuple[bytes, bytes]]: ...
    def prefix_scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]: ...
    def approximate_num_entries(self) -> int: ...


class DerivedKeyValueWrites:
    """``put_if_absent`` and ``put_all`` of a bytes key-value store, in terms of its own
    ``get`` and ``put`` (for stores with nothing faster to offer)."""

    if TYPE_CHECKING:  # provided by the store itself
        def get(self, key: bytes) -> bytes | None: ...
        def put(self, key: bytes, value: bytes | None) -> None: ...

    def put_if_absent(self, key: bytes, value: bytes | None) -> bytes | None:
        """Store ``value`` only if ``key`` has no value; return the value that was there."""
        old = self.get(key)
        if old is None:
            self.put(key, value)
        return old

    def put_all(self, entries: Iterable[tuple[bytes, bytes | None]]) -> None:
        """``put`` each (key, value) pair in order."""
        put = self.put
        for key, value in entries:
            put(key, value)


class ReadOnlyKeyValueStore(Protocol, Generic[K, V_co]):
    """Typed read access: what interactive queries see."""

    def get(self, key: K) -> V_co | None: ...
    def range(self, from_key: K | None, to_key: K | None) -> Iterator[tuple[K, V_co]]: ...
    def reverse_range(self, from_key: K | None, to_key: K | None) -> Iterator[tuple[K, V_co]]: ...
    def all(self) -> Iterator[tuple[K, V_co]]: ...
    def reverse_all(self) -> Iterator[tuple[K, V_co]]: ...
    def prefix_scan(self, prefix: Any, prefix_serde: Any = None) -> Iterator[tuple[K, V_co]]: ...
    def approximate_num_entries(self) -> int: ...


class StoreBuilder(Protocol):
    """Describes a store to build once per task: what a topology holds for each store, by name.

    Every builder of the code base implements it: ``KeyValueStoreBuilder``
    (:mod:`streams.state.stores`), ``WindowStoreBuilder`` and ``SessionStoreBuilder``
    (:mod:`streams.state.window_store_builders`), ``TimestampedKeyValueStoreBuilder`` and
    ``TimestampedWindowStoreBuilder`` (:mod:`streams.state.timestamped`), and the DSL's
    ``SuppressionBufferBuilder`` and ``OuterStoreBuilder``. A custom builder given to
    ``Topology.add_state_store`` must implement it too.
    """

    @property
    def name(self) -> str:
        """Name of the stores built, unique within a topology."""
        ...

    @property
    def store_type(self) -> str:
        """Kind of store built (``"key_value"``, ``"window"``, ``"session"``,
        ``"timestamped_key_value"``, ``"timestamped_window"``, ``"suppression_buffer"``);
        interactive queries pick their read-only view by it."""
        ...

    @property
    def persistent(self) -> bool:
        """Whether the built stores keep data on local disk."""
        ...

    @property
    def logging_enabled(self) -> bool:
        """Whether the built stores send their changes to a changelog topic."""
        ...

    @property
    def log_config(self) -> dict[str, str]:
        """Extra topic configs for the changelog topic."""
        ...

    @property
    def caching_enabled(self) -> bool:
        """Whether a task puts the record cache in front of the built stores."""
        ...

    def with_logging_disabled(self) -> StoreBuilder:
        """A builder like this one whose stores have no changelog (global stores: their topic
        is the changelog); may be this builder, changed."""
        ...

    def with_default_serdes(self, key_serde: Any, value_serde: Any, /) -> StoreBuilder:
        """A copy whose missing serdes are the given ones (the config's defaults)."""
        ...

    def build(self) -> Any:
        """Build a fresh, un-initialized, typed store (one per task)."""
        ...
