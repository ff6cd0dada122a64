"""What a running instance answers about its state and the group's: interactive queries on
local stores, and the owner metadata of every store and key (Kafka Streams' names).

:class:`KafkaStreams` inherits these; they only read what its threads and their last
placement hold.
"""

from __future__ import annotations

from typing import Any

from streams.errors import StreamsError
from streams.runtime.global_thread import GlobalStreamThread
from streams.runtime.queries import composite_store
from streams.runtime.stream_thread import StreamThread
from streams.runtime.streams_metadata import (
    GroupView,
    KeyQueryMetadata,
    StreamsMetadata,
    TaskMetadata,
    ThreadMetadata,
    serialize_key,
)
from streams.topology.topology import Topology


class InteractiveQueries:
    """Queries and metadata of one instance; mixed into :class:`KafkaStreams`."""

    topology: Topology
    _threads: list[StreamThread]
    _global: GlobalStreamThread | None
    _group_view: GroupView | None

    def store(self, name: str, *, stale: bool = False) -> Any:
        """A read-only view of store ``name`` over the tasks this instance runs: a
        :class:`~streams.runtime.queries.CompositeReadOnlyKeyValueStore`, or for window and
        session stores a ``CompositeReadOnlyWindowStore`` / ``CompositeReadOnlySessionStore``
        (``get(key, window_start)``, ``fetch(key, from, to)``, ``fetch_all``, ...).

        ``stale=True`` (Kafka Streams' ``enableStaleStores()``) also reads the standby
        copies this instance keeps, which may lag behind their active task."""
        builder = self.topology.stores.get(name)
        if builder is None:
            raise StreamsError(f"no state store named {name!r} in the topology "
                               f"(stores: {', '.join(sorted(self.topology.stores)) or 'none'})")

        def current() -> list[Any]:
            found: list[Any] = []
            if self._global is not None and name in self._global.stores:
                return [self._global.stores[name]]
            for thread in list(self._threads):
                tm = thread.task_manager
                if tm is None:
                    continue
                tasks = list(tm.running.values())
                if stale:
                    tasks += list(tm.standbys.values())
                for task in tasks:
                    s = task.stores.get(name)
                    if s is not None and s.is_open:
                        found.append(s)
            return found

        return composite_store(name, builder, current)

    def _view(self) -> GroupView | None:
        return self._group_view if self._accepts_queries() else None

    def _accepts_queries(self) -> bool:
        raise NotImplementedError

    def metadata_for_all_streams_clients(self) -> list[StreamsMetadata]:
        """Every instance of the application that sets ``application.server``, with its
        stores and partitions, active and standby (empty before the first assignment)."""
        view = self._view()
        return view.all_clients() if view is not None else []

    def streams_metadata_for_store(self, store_name: str) -> list[StreamsMetadata]:
        """The instances holding ``store_name``, actively or as a standby."""
        view = self._view()
        return view.for_store(store_name) if view is not None else []

    def query_metadata_for_key(self, store_name: str, key: Any, key_serde: Any = None, *,
                               partition: int | None = None) -> KeyQueryMetadata:
        """Which instance owns ``key`` of ``store_name`` (and which hold standbys): the key
        is serialized with ``key_serde`` (bytes keys as they are) and partitioned as the
        default partitioner does, unless ``partition`` is given. ``NOT_AVAILABLE`` while
        rebalancing or without ``application.server``."""
        view = self._view()
        if view is None:
            return KeyQueryMetadata.NOT_AVAILABLE
        key_bytes = None if partition is not None else serialize_key(
            key, key_serde, view.source_topic(store_name))
        return view.for_key(store_name, key_bytes, partition)

    def metadata_for_local_threads(self) -> list[ThreadMetadata]:
        """Each local stream thread with its active and standby tasks."""
        out = []
        for thread in self._threads:
            tm = thread.task_manager
            tasks = dict(tm.tasks) if tm is not None else {}
            spare = dict(tm.standbys) if tm is not None else {}
            active = frozenset(TaskMetadata(str(t), frozenset(task.source_partitions()))
                               for t, task in tasks.items())
            standby = frozenset(TaskMetadata(str(t), frozenset(task.source_partitions()))
                                for t, task in spare.items())
            out.append(ThreadMetadata(thread.name, thread.thread_state.value, active, standby))
        return out

    def local_tasks(self) -> dict[str, list[str]]:
        """Task ids per stream thread, running ones only."""
        out: dict[str, list[str]] = {}
        for thread in self._threads:
            tm = thread.task_manager
            out[thread.name] = sorted(str(t) for t in tm.running) if tm else []
        return out

    @property
    def threads(self) -> list[StreamThread]:
        """The stream threads (for metrics and tests)."""
        return list(self._threads)

    def standby_updated_records(self) -> int:
        """Records applied to this instance's standby stores so far (not restoration)."""
        total = 0
        for thread in self._threads:
            tm = thread.task_manager
            if tm is not None and tm.standby_updater is not None:
                total += sum(tm.standby_updater.updated_records.values())
        return total

    def restored_records(self) -> int:
        """Records restored from changelogs by this instance so far (active tasks only:
        standby updates are counted by :meth:`standby_updated_records`)."""
        total = 0
        for thread in self._threads:
            if thread.restorer is not None:
                total += sum(thread.restorer.restored_records.values())
        return total
