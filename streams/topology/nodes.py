"""Node definitions: what a topology is made of, before any task instantiates it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streams.processor.api import ProcessorSupplier

#: Chooses the output topic per record: ``(key, value, record) -> topic``.
TopicNameExtractor = Callable[[Any, Any, Any], str]

#: Chooses the partition: ``(topic, key, value, num_partitions) -> partition or None``.
StreamPartitioner = Callable[[str, Any, Any, int], "int | None"]


@dataclass
class SourceNode:
    """Reads one or more topics and deserializes their records."""

    name: str
    topics: list[str]
    key_serde: Any = None
    value_serde: Any = None
    timestamp_extractor: Any = None
    offset_reset: str | None = None
    children: list[str] = field(default_factory=list)

    kind = "Source"


@dataclass
class ProcessorNode:
    """Runs a :class:`~streams.processor.Processor` made fresh for each task."""

    name: str
    supplier: ProcessorSupplier
    parents: list[str]
    stores: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)

    kind = "Processor"


@dataclass
class SinkNode:
    """Serializes records and writes them to a topic (fixed, or chosen per record)."""

    name: str
    topic: str | None
    parents: list[str]
    key_serde: Any = None
    value_serde: Any = None
    partitioner: StreamPartitioner | None = None
    topic_extractor: TopicNameExtractor | None = None

    kind = "Sink"

    @property
    def children(self) -> list[str]:
        """Sinks have no children."""
        return []


Node = SourceNode | ProcessorNode | SinkNode


@dataclass
class InternalTopic:
    """A topic the application owns: ``<application.id>-<name>``.

    ``kind`` is ``"repartition"``; changelog topics are derived from stores instead.
    ``partitions`` is None when it follows the upstream sub-topology's partition count.
    ``partitions_from`` (unprefixed topic names), when set, makes it copy the partition count
    of those topics instead: a foreign-key join's subscription and response topics follow the
    side that *reads* them (the topics they must be co-partitioned with), not their writer.
    """

    name: str
    kind: str = "repartition"
    partitions: int | None = None
    config: dict[str, str] = field(default_factory=dict)
    partitions_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubTopology:
    """A connected piece of the topology; one task runs it per input partition."""

    id: int
    nodes: tuple[str, ...]
    source_topics: tuple[str, ...]
    sink_topics: tuple[str, ...]
    stores: tuple[str, ...]
    is_global: bool = False
