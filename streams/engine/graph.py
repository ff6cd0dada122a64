"""A task's node graph: the sub-topology's sources, processors and sinks, instantiated and wired.

:func:`build_graph` turns a :class:`~streams.topology.nodes.SubTopology` into plain callables:
each source has the list of its children's ``process`` functions, each processor a
:class:`~streams.engine.context.NodeContext` whose ``forward`` calls its children, each sink a
:class:`Sink` that serializes and hands the record to the collector. A record then flows
depth-first by plain calls, with no per-record lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.config import StreamsConfig
from streams.engine.collector import RecordCollector
from streams.engine.context import NodeContext, TaskContext
from streams.errors import StreamsError
from streams.processor.api import Processor
from streams.processor.record import Record
from streams.processor.timestamps import resolve_extractor
from streams.topology.nodes import ProcessorNode, SinkNode, SourceNode, SubTopology
from streams.topology.topology import Topology


def default_serdes(config: StreamsConfig) -> tuple[Any, Any]:
    """The configured default key and value serdes (``Bytes`` where none is set)."""
    from streams.serdes import Bytes

    key = config.get("default.key.serde") or Bytes()
    value = config.get("default.value.serde") or Bytes()
    return key, value


def resolve_serde(serde: Any, default: Any, defaults: tuple[Any, Any]) -> Any:
    """A node's serde: its own, with any wrapped inner serde filled from the config defaults,
    or the config default when it has none."""
    if serde is None:
        return default
    with_defaults = getattr(serde, "with_defaults", None)
    return with_defaults(*defaults) if with_defaults is not None else serde


class Source:
    """A source node of one task: its deserializers, timestamp extractor and children."""

    __slots__ = ("children", "extractor", "key_de", "name", "topics", "value_de")

    def __init__(self, name: str, topics: list[str], key_de: Any, value_de: Any,
                 extractor: Any) -> None:
        self.name = name
        self.topics = topics
        self.key_de = key_de
        self.value_de = value_de
        #: None: the record's own timestamp (the common, fast case)
        self.extractor = extractor
        self.children: list[Callable[[Record], None]] = []


class Sink:
    """Serializes and sends; one per sink node per task."""

    __slots__ = ("_collector", "_extractor", "_key_ser", "_partitioner", "_resolve", "_send",
                 "_topic", "_value_ser", "name", "process")

    def __init__(
        self, node: SinkNode, topic: str | None, key_serde: Any, value_serde: Any,
        collector: RecordCollector, resolve: Callable[[str], str],
    ) -> None:
        self.name = node.name
        self._topic = topic
        self._extractor = node.topic_extractor
        self._partitioner = node.partitioner
        self._key_ser = key_serde.serialize
        self._value_ser = value_serde.serialize
        self._collector = collector
        self._resolve = resolve
        self._send = collector.send
        #: what the parent node calls per record
        self.process: Callable[[Record], None] = (
            self._process_fixed if topic is not None and self._partitioner is None
            else self._process_any)

    def _process_fixed(self, record: Record) -> None:
        # the common sink: one topic, default partitioning
        topic: str = self._topic  # type: ignore[assignment]
        headers = record.headers
        self._send(topic, self._key_ser(topic, record.key, headers),
                   self._value_ser(topic, record.value, headers), headers, record.timestamp, None)

    def _process_any(self, record: Record) -> None:
        topic = self._topic
        if topic is None:
            assert self._extractor is not None
            chosen = self._extractor(record.key, record.value, record)
            if not chosen:
                raise StreamsError(f"sink {self.name!r}: topic extractor returned {chosen!r}")
            topic = self._resolve(chosen)
        headers = record.headers
        key = self._key_ser(topic, record.key, headers)
        value = self._value_ser(topic, record.value, headers)
        partition = None
        if self._partitioner is not None:
            count = self._collector.partitions_for(topic)
            if count is not None:
                partition = self._partitioner(topic, record.key, record.value, count)
        self._collector.send(topic, key, value, headers, record.timestamp, partition)


class Graph:
    """A task's instantiated nodes."""

    def __init__(self) -> None:
        #: Kafka topic name -> the source reading it
        self.sources: dict[str, Source] = {}
        #: (node name, processor, its context), in topology order
        self.processors: list[tuple[str, Processor, NodeContext]] = []
        #: id(processor or sink) -> node name: finds the failing node of an exception
        self.owner_of: dict[int, str] = {}


def build_graph(topology: Topology, subtopology: SubTopology, config: StreamsConfig,
                ctx: TaskContext, collector: RecordCollector,
                resolve: Callable[[str], str]) -> Graph:
    """Instantiate ``subtopology``'s nodes for one task and wire them; see the module
    docstring. Processor suppliers are called here, so each task has its own processors."""
    graph = Graph()
    defaults = default_serdes(config)
    key_default, value_default = defaults
    default_extractor = resolve_extractor(config.get("default.timestamp.extractor"))
    callables: dict[str, Callable[[Record], None]] = {}
    contexts: dict[str, NodeContext] = {}
    for name in subtopology.nodes:
        node = topology.nodes[name]
        if isinstance(node, SourceNode):
            extractor = (resolve_extractor(node.timestamp_extractor)
                         if node.timestamp_extractor is not None else default_extractor)
            src = Source(name, [resolve(t) for t in node.topics],
                         resolve_serde(node.key_serde, key_default, defaults).deserialize,
                         resolve_serde(node.value_serde, value_default, defaults).deserialize,
                         extractor)
            for t in src.topics:
                graph.sources[t] = src
        elif isinstance(node, ProcessorNode):
            processor = node.supplier()
            if not hasattr(processor, "process"):
                raise StreamsError(
                    f"processor node {name!r}: supplier returned {processor!r}, which has no "
                    "process(record) method"
                )
            node_ctx = NodeContext(ctx, name, list(node.stores))
            contexts[name] = node_ctx
            graph.processors.append((name, processor, node_ctx))
            graph.owner_of[id(processor)] = name
            callables[name] = processor.process
        else:
            sink = Sink(node, resolve(node.topic) if node.topic is not None else None,
                        resolve_serde(node.key_serde, key_default, defaults),
                        resolve_serde(node.value_serde, value_default, defaults),
                        collector, resolve)
            graph.owner_of[id(sink)] = name
            callables[name] = sink.process
    for name in subtopology.nodes:
        node = topology.nodes[name]
        if isinstance(node, SourceNode):
            graph.sources[resolve(node.topics[0])].children = [
                callables[c] for c in node.children]
        elif isinstance(node, ProcessorNode):
            contexts[name]._wire([(c, callables[c]) for c in node.children])
    return graph
