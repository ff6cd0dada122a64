"""State stores: key-value stores in memory or on RocksDB, their layers, and checkpoints.

Layering (outermost first)::

    KeyValueStore[K, V]              typed: serdes; what processors and queries see
      CachingKeyValueStore           the record cache, bytes (when caching is enabled)
        ChangeLoggingKeyValueStore   sends each change to <application.id>-<store>-changelog
          InMemoryKeyValueStore      bytes, dict + lazily sorted keys
          | RocksDBKeyValueStore     bytes, RocksDB with writes batched per commit

The store builders stack the layers; nothing else does.

Build stores through :class:`Stores`::

    builder = Stores.key_value_store_builder(Stores.persistent_key_value_store("counts"),
                                             String(), Long())
"""

from streams.processor.window_types import SessionWindow, TimeWindow, Windowed
from streams.state.api import (
    ChangelogWriter,
    KeyValueBytesStore,
    ReadOnlyKeyValueStore,
    RestoreCallback,
    StateStore,
    StateStoreContext,
    StoreBuilder,
    changelog_topic,
)
from streams.state.changelogging import ChangeLoggingKeyValueStore
from streams.state.checkpoint import CHECKPOINT_FILE_NAME, OffsetCheckpoint
from streams.state.memory import InMemoryKeyValueStore
from streams.state.rocksdb import RocksDBKeyValueStore, destroy_store_dir
from streams.state.rocksdb_options import default_rocksdb_options
from streams.state.stores import (
    InMemoryKeyValueBytesStoreSupplier,
    KeyValueBytesStoreSupplier,
    KeyValueStoreBuilder,
    RocksDBKeyValueBytesStoreSupplier,
    Stores,
    validate_store_name,
)
from streams.state.typed import KeyValueStore, ReadOnlyKeyValueStoreView
from streams.state.typed_window import SessionStore, WindowStore
from streams.state.versioned import VersionedKeyValueStore, VersionedRecord
from streams.state.versioned_builder import (
    VersionedBytesStoreSupplier,
    VersionedKeyValueStoreBuilder,
)

__all__ = [
    "CHECKPOINT_FILE_NAME",
    "ChangeLoggingKeyValueStore",
    "ChangelogWriter",
    "InMemoryKeyValueBytesStoreSupplier",
    "InMemoryKeyValueStore",
    "KeyValueBytesStore",
    "KeyValueBytesStoreSupplier",
    "KeyValueStore",
    "KeyValueStoreBuilder",
    "OffsetCheckpoint",
    "ReadOnlyKeyValueStore",
    "ReadOnlyKeyValueStoreView",
    "RestoreCallback",
    "RocksDBKeyValueBytesStoreSupplier",
    "RocksDBKeyValueStore",
    "SessionStore",
    "SessionWindow",
    "StateStore",
    "StateStoreContext",
    "StoreBuilder",
    "Stores",
    "TimeWindow",
    "VersionedBytesStoreSupplier",
    "VersionedKeyValueStore",
    "VersionedKeyValueStoreBuilder",
    "VersionedRecord",
    "WindowStore",
    "Windowed",
    "changelog_topic",
    "default_rocksdb_options",
    "destroy_store_dir",
    "validate_store_name",
]
