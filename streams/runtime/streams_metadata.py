"""Who runs what: the group's placement as Kafka Streams' metadata types.

Every stream thread computes the group's whole placement at each rebalance
(:mod:`streams.runtime.assignor`), so every instance can answer for any key which instance
owns it and which hold standbys (``query_metadata_for_key``), without asking anyone. Only
instances that set ``application.server`` appear, as in Kafka Streams: the others cannot be
reached for queries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from streams.engine.task import TaskId
from streams.errors import StreamsError
from streams.runtime.murmur2 import murmur2_partition
from streams.runtime.placement import Placement

TopicPartition = tuple[str, int]


@dataclass(frozen=True, order=True)
class HostInfo:
    """An instance's ``application.server``: where its queries are served."""

    host: str
    port: int

    @classmethod
    def parse(cls, server: str) -> HostInfo:
        """``host:port`` (IPv6 hosts in brackets, ``[::1]:8080``) as a HostInfo."""
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise StreamsError(f"application.server must be host:port, got {server!r}")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class StreamsMetadata:
    """One instance of the application: where it is, its stores and partitions, active and
    standby (Kafka Streams' ``StreamsMetadata``)."""

    host_info: HostInfo
    process_id: str
    state_store_names: frozenset[str] = frozenset()
    topic_partitions: frozenset[TopicPartition] = frozenset()
    standby_state_store_names: frozenset[str] = frozenset()
    standby_topic_partitions: frozenset[TopicPartition] = frozenset()


@dataclass(frozen=True)
class KeyQueryMetadata:
    """Where a key of a store lives: the active instance, the standbys, the partition."""

    active_host: HostInfo | None
    standby_hosts: frozenset[HostInfo] = frozenset()
    partition: int = -1
    NOT_AVAILABLE: ClassVar[KeyQueryMetadata]


KeyQueryMetadata.NOT_AVAILABLE = KeyQueryMetadata(None, frozenset(), -1)


@dataclass(frozen=True)
class TaskMetadata:
    """A task a thread runs or keeps a standby of."""

    task_id: str
    topic_partitions: frozenset[TopicPartition]


@dataclass(frozen=True)
class ThreadMetadata:
    """One local stream thread and its tasks (Kafka Streams' ``ThreadMetadata``)."""

    thread_name: str
    thread_state: str
    active_tasks: frozenset[TaskMetadata] = frozenset()
    standby_tasks: frozenset[TaskMetadata] = frozenset()


@dataclass
class GroupView:
    """The group's placement as one thread computed it, with what metadata needs."""

    placement: Placement
    #: process id -> application.server of that instance (None: not set)
    servers: Mapping[str, str | None]
    task_partitions: Mapping[TaskId, Sequence[TopicPartition]]
    #: sub-topology id -> the state stores its tasks hold
    stores_of: Mapping[int, Sequence[str]]
    _hosts: dict[str, HostInfo] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for process, server in self.servers.items():
            if server:
                self._hosts[process] = HostInfo.parse(server)

    def all_clients(self) -> list[StreamsMetadata]:
        """Every instance with an ``application.server``, sorted by host."""
        active: dict[str, set[TaskId]] = {}
        standby: dict[str, set[TaskId]] = {}
        for t, key in self.placement.active.items():
            active.setdefault(key.process, set()).add(t)
        for t, keys in self.placement.standby.items():
            for key in keys:
                standby.setdefault(key.process, set()).add(t)
        out = []
        for process, host in self._hosts.items():
            mine, spare = active.get(process, set()), standby.get(process, set())
            out.append(StreamsMetadata(
                host, process,
                frozenset(s for t in mine for s in self.stores_of.get(t.subtopology, ())),
                frozenset(tp for t in mine for tp in self.task_partitions.get(t, ())),
                frozenset(s for t in spare for s in self.stores_of.get(t.subtopology, ())),
                frozenset(tp for t in spare for tp in self.task_partitions.get(t, ()))))
        return sorted(out, key=lambda m: m.host_info)

    def for_store(self, store: str) -> list[StreamsMetadata]:
        """The instances holding ``store``, active or standby."""
        return [m for m in self.all_clients()
                if store in m.state_store_names or store in m.standby_state_store_names]

    def subtopology_of(self, store: str) -> int:
        """The sub-topology whose tasks hold ``store``."""
        for sub, stores in self.stores_of.items():
            if store in stores:
                return sub
        raise StreamsError(f"no sub-topology holds a state store named {store!r} (global "
                           "stores are on every instance)")

    def source_topic(self, store: str) -> str:
        """An input topic of the sub-topology holding ``store`` (what a key serializer is
        told it serializes for, as in Kafka Streams), or the store's name if none is known."""
        sub = self.subtopology_of(store)
        for task, tps in self.task_partitions.items():
            if task.subtopology == sub and tps:
                return tps[0][0]
        return store

    def for_key(self, store: str, key_bytes: bytes | None, partition: int | None = None
                ) -> KeyQueryMetadata:
        """Where the key serialized as ``key_bytes`` of ``store`` lives (the default
        partitioner's choice unless ``partition`` is given)."""
        sub = self.subtopology_of(store)
        count = sum(1 for t in self.task_partitions if t.subtopology == sub)
        if count == 0:
            return KeyQueryMetadata.NOT_AVAILABLE
        if partition is None:
            if key_bytes is None:
                raise StreamsError(f"a null key has no partition in store {store!r}")
            partition = murmur2_partition(key_bytes, count)
        task = TaskId(sub, partition)
        owner = self.placement.active.get(task)
        active = self._hosts.get(owner.process) if owner is not None else None
        standbys = frozenset(self._hosts[k.process] for k in self.placement.standby.get(task, [])
                             if k.process in self._hosts)
        if active is None and not standbys:
            return KeyQueryMetadata.NOT_AVAILABLE
        return KeyQueryMetadata(active, standbys, partition)


def serialize_key(key: Any, key_serde: Any, topic: str) -> bytes | None:
    """A key as the producer that wrote it serialized it (bytes are taken as they are)."""
    if isinstance(key, bytes | bytearray):
        return bytes(key)
    if key_serde is None:
        raise StreamsError("query_metadata_for_key needs key_serde for a key that is not bytes")
    out: bytes | None = key_serde.serialize(topic, key)
    return out
