"""Per-task store management: build the task's stores, give them their context, route their
changelog writes, and flush/close them. Restoration from changelogs is driven by the runtime
through :attr:`TaskStateManager.registered`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams.errors import StateStoreError
from streams.state.api import RestoreCallback, StoreBuilder
from streams.state.cache import ThreadCache
from streams.state.caching_key_value import CachingKeyValueStore
from streams.state.caching_window import CachingWindowStore

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from streams.engine.collector import RecordCollector
    from streams.engine.context import TaskContext


class TaskChangelogWriter:
    """Sends a store's changes to ``<application.id>-<store>-changelog``, partition = task's."""

    __slots__ = ("_partition", "_send", "_topics")

    def __init__(self, collector: RecordCollector, topics: dict[str, str], partition: int) -> None:
        self._send = collector.send
        self._topics = topics
        self._partition = partition

    def log_change(self, store_name: str, key: bytes, value: bytes | None, timestamp: int) -> None:
        """Append one change to the store's changelog partition."""
        self._send(self._topics[store_name], key, value, None, timestamp, self._partition)


class _StoreContext:
    """The StateStoreContext given to one store of one task."""

    def __init__(self, manager: TaskStateManager, logging_enabled: bool) -> None:
        self._manager = manager
        self._logging = logging_enabled

    @property
    def application_id(self) -> str:
        """The application id (names the changelog topic)."""
        return self._manager.shared.application_id

    @property
    def task_id(self) -> str:
        """The owning task, e.g. ``1_3``."""
        return self._manager.shared.task_id

    @property
    def state_dir(self) -> Path | None:
        """The task's state directory (None: the store keeps nothing on disk)."""
        return self._manager.task_dir()

    @property
    def changelog_writer(self) -> Any:
        """Where a logged store sends its changes; None when logging is off."""
        return self._manager.changelog_writer if self._logging else None

    @property
    def timestamp(self) -> int:
        """The timestamp of the record in flight (for changelog records)."""
        return self._manager.shared.timestamp

    @property
    def app_config(self) -> Any:
        """The application's configuration."""
        return self._manager.shared.app_config

    @property
    def cache(self) -> ThreadCache | None:
        """The thread's record cache, for a caching layer (None: no caching)."""
        return self._manager._cache

    @property
    def record_context(self) -> Any:
        """The task's record context (what record is in flight), for a caching layer."""
        return self._manager.shared

    def register(self, store: Any, restore: RestoreCallback) -> None:
        """Register ``store``'s restore callback for its changelog."""
        self._manager.registered[store.name] = (store, restore)


class TaskStateManager:
    """Owns the stores of one task."""

    def __init__(
        self,
        shared: TaskContext,
        builders: dict[str, StoreBuilder],
        changelog_topics: dict[str, str],
        partition: int,
        collector: RecordCollector,
        default_serdes: Callable[[], tuple[Any, Any]],
        cache: ThreadCache | None = None,
    ) -> None:
        self.shared = shared
        self.builders = builders
        self.changelog_topics = changelog_topics
        self.partition = partition
        self.changelog_writer = TaskChangelogWriter(collector, changelog_topics, partition)
        self.stores: dict[str, Any] = {}
        #: store name -> (bytes store, restore callback), filled as stores register
        self.registered: dict[str, tuple[Any, RestoreCallback]] = {}
        self._default_serdes = default_serdes
        self._cache = cache if cache is not None and cache.max_bytes > 0 else None
        #: the stores' record cache layers, in topology order (upstream first)
        self.caching: list[CachingKeyValueStore | CachingWindowStore] = []

    def task_dir(self) -> Path | None:
        """``<state.dir>/<application.id>/<task id>``, created on first use."""
        root = self.shared.state_dir
        if root is None:
            return None
        root.mkdir(parents=True, exist_ok=True)
        return root

    def init_stores(self) -> None:
        """Build and open every store of the task."""
        key_default, value_default = self._default_serdes()
        for name, builder in self.builders.items():
            builder = builder.with_default_serdes(key_default, value_default)
            store = builder.build()
            ctx = _StoreContext(self, builder.logging_enabled)
            try:
                store.init(ctx)
            except StateStoreError:
                raise
            except Exception as exc:
                raise StateStoreError(
                    f"state store {name!r} of task {self.shared.task_id} failed to open: {exc}"
                ) from exc
            # the caching layers the builder stacked, flushed before each commit
            layer: Any = store
            while layer is not None:
                if isinstance(layer, (CachingKeyValueStore, CachingWindowStore)) \
                        and layer.caching:
                    self.caching.append(layer)
                layer = getattr(layer, "inner", None)
            self.stores[name] = store

    def flush_caches(self) -> None:
        """Write every cached update to its store (forwarding it downstream) until no cache
        holds any: a flushed update may land in a cache further down the topology."""
        caching = self.caching
        for _ in range(len(caching) + 1):
            if not [c for c in caching if c.flush_cache()]:
                return
        raise StateStoreError(f"task {self.shared.task_id}: record caches still hold updates "
                              f"after {len(caching) + 1} flushes (a cycle between stores?)")

    def discard_caches(self) -> None:
        """Drop cached updates not yet written (a dirty close)."""
        for c in self.caching:
            c.discard()

    def discard_pending(self) -> None:
        """Drop every write not yet flushed, cached or batched in a store (a dirty close), so
        local state matches the last commit where the store can; errors are logged."""
        self.discard_caches()
        for bytes_store, _ in self.registered.values():
            discard = getattr(bytes_store, "discard_pending", None)
            if discard is not None:
                try:
                    discard()
                except Exception as exc:
                    log.warning("discarding pending writes of %s failed: %s",
                                getattr(bytes_store, "name", "?"), exc)

    def flush(self) -> None:
        """Flush the record caches, then every store (RocksDB: write the pending batch)."""
        if self.caching:
            self.flush_caches()
        for store in self.stores.values():
            store.flush()

    def close(self) -> None:
        """Close every store, even if one fails; re-raise the first failure."""
        first: BaseException | None = None
        for store in self.stores.values():
            try:
                store.close()
            except BaseException as exc:
                first = first or exc
        if first is not None:
            raise first
