"""The Topology: a graph of source, processor and sink nodes plus the stores they use.

Built by :class:`streams.StreamsBuilder`, or by hand with the Processor API::

    topology = Topology()
    topology.add_source("src", ["in"])
    topology.add_processor("upper", Upper, "src")
    topology.add_sink("out", "out-topic", "upper")
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from streams.errors import TopologyError
from streams.processor.api import ProcessorSupplier
from streams.state.api import StoreBuilder, changelog_topic
from streams.topology.nodes import (
    InternalTopic,
    Node,
    ProcessorNode,
    SinkNode,
    SourceNode,
    StreamPartitioner,
    SubTopology,
    TopicNameExtractor,
)


@dataclass(frozen=True)
class SerdeRequirement:
    """A serde the DSL could not infer, which must come from ``default.key/value.serde``."""

    node: str
    which: str  # "key" or "value"
    reason: str


class Topology:
    """A processing graph: nodes, stores, internal topics and co-partitioning rules."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._stores: dict[str, StoreBuilder] = {}
        self._global_stores: set[str] = set()
        self._store_users: dict[str, list[str]] = {}
        self._internal_topics: dict[str, InternalTopic] = {}
        self._copartition_groups: list[frozenset[str]] = []
        self._source_table_stores: dict[str, str] = {}  # store -> source topic feeding it
        self._serde_requirements: list[SerdeRequirement] = []
        self._subtopologies: list[SubTopology] | None = None

    # ----------------------------------------------------------------- building
    def _check_new_name(self, name: str) -> None:
        if not name:
            raise TopologyError("a node name must not be empty")
        if name in self._nodes:
            raise TopologyError(f"node name {name!r} is used twice; node names must be unique")
        self._subtopologies = None

    def _parent(self, name: str, parent: str) -> Node:
        node = self._nodes.get(parent)
        if node is None:
            raise TopologyError(f"node {name!r} names parent {parent!r}, which does not exist")
        if isinstance(node, SinkNode):
            raise TopologyError(f"node {name!r} cannot have sink {parent!r} as its parent")
        return node

    def add_source(
        self,
        name: str,
        topics: str | Iterable[str],
        *,
        key_serde: Any = None,
        value_serde: Any = None,
        timestamp_extractor: Any = None,
        offset_reset: str | None = None,
    ) -> Topology:
        """Add a source node reading ``topics``."""
        self._check_new_name(name)
        topic_list = [topics] if isinstance(topics, str) else list(topics)
        if not topic_list:
            raise TopologyError(f"source {name!r} needs at least one topic")
        for topic in topic_list:
            if not topic or not isinstance(topic, str):
                raise TopologyError(f"source {name!r} has an empty topic name")
            for other in self._nodes.values():
                if isinstance(other, SourceNode) and topic in other.topics:
                    raise TopologyError(
                        f"topic {topic!r} is read by both {other.name!r} and {name!r}; "
                        "read it once and share the stream"
                    )
        if offset_reset not in (None, "earliest", "latest"):
            raise TopologyError(
                f"source {name!r}: offset_reset must be 'earliest' or 'latest', not {offset_reset!r}"
            )
        self._nodes[name] = SourceNode(
            name, topic_list, key_serde, value_serde, timestamp_extractor, offset_reset
        )
        return self

    def add_processor(self, name: str, supplier: ProcessorSupplier, *parents: str) -> Topology:
        """Add a processor node; ``supplier()`` makes one Processor per task."""
        self._check_new_name(name)
        if not parents:
            raise TopologyError(f"processor {name!r} needs at least one parent node")
        if not callable(supplier):
            raise TopologyError(f"processor {name!r}: supplier must be callable (a class or factory)")
        for parent in parents:
            self._parent(name, parent).children.append(name)
        self._nodes[name] = ProcessorNode(name, supplier, list(parents))
        return self

    def add_sink(
        self,
        name: str,
        topic: str | TopicNameExtractor,
        *parents: str,
        key_serde: Any = None,
        value_serde: Any = None,
        partitioner: StreamPartitioner | None = None,
    ) -> Topology:
        """Add a sink node writing to ``topic`` (or to the topic a function picks per record)."""
        self._check_new_name(name)
        if not parents:
            raise TopologyError(f"sink {name!r} needs at least one parent node")
        extractor = None
        if callable(topic):
            extractor, topic_name = topic, None
        else:
            if not topic or not isinstance(topic, str):
                raise TopologyError(f"sink {name!r} has an empty topic name")
            topic_name = topic
        for parent in parents:
            self._parent(name, parent).children.append(name)
        self._nodes[name] = SinkNode(
            name, topic_name, list(parents), key_serde, value_serde, partitioner, extractor
        )
        return self

    def add_state_store(self, store_builder: StoreBuilder, *processor_names: str) -> Topology:
        """Add a store and connect it to the named processors."""
        name = store_builder.name
        if not name:
            raise TopologyError("a state store needs a non-empty name")
        if name in self._stores:
            raise TopologyError(
                f"state store {name!r} is added twice; give each store its own name"
            )
        self._stores[name] = store_builder
        self._store_users[name] = []
        self._subtopologies = None
        self.connect_processor_and_state_stores_many(processor_names, [name])
        return self

    def connect_processor_and_state_stores(self, processor_name: str, *store_names: str) -> Topology:
        """Give processor ``processor_name`` access to already-added stores."""
        return self.connect_processor_and_state_stores_many([processor_name], store_names)

    def connect_processor_and_state_stores_many(
        self, processor_names: Iterable[str], store_names: Iterable[str]
    ) -> Topology:
        """Connect every processor in ``processor_names`` to every store in ``store_names``."""
        for store in store_names:
            if store not in self._stores:
                known = ", ".join(sorted(self._stores)) or "none"
                raise TopologyError(
                    f"processor(s) {list(processor_names)} ask for state store {store!r}, which was "
                    f"not added to the topology (stores: {known}); add it with "
                    "builder.add_state_store(...) first"
                )
            for pname in processor_names:
                node = self._nodes.get(pname)
                if not isinstance(node, ProcessorNode):
                    raise TopologyError(
                        f"state store {store!r} can only be connected to a processor node, "
                        f"not {pname!r}"
                    )
                if store not in node.stores:
                    node.stores.append(store)
                    self._store_users[store].append(pname)
        self._subtopologies = None
        return self

    def add_global_store(
        self,
        store_builder: StoreBuilder,
        source_name: str,
        topic: str,
        processor_name: str,
        supplier: ProcessorSupplier,
        *,
        key_serde: Any = None,
        value_serde: Any = None,
    ) -> Topology:
        """Add a global store, fed from all partitions of ``topic`` by ``supplier``'s processor."""
        if store_builder.logging_enabled:
            # the global topic itself is the changelog
            store_builder = store_builder.with_logging_disabled()
        self.add_source(source_name, [topic], key_serde=key_serde, value_serde=value_serde)
        self.add_processor(processor_name, supplier, source_name)
        self.add_state_store(store_builder, processor_name)
        self._global_stores.add(store_builder.name)
        self._source_table_stores[store_builder.name] = topic
        return self

    # ------------------------------------------------- DSL hooks (public, but rarely hand-used)
    def add_internal_topic(self, name: str, kind: str = "repartition", partitions: int | None = None) -> None:
        """Declare ``name`` (unprefixed) as an internal topic, ``<application.id>-<name>`` on Kafka."""
        if name in self._internal_topics:
            raise TopologyError(
                f"repartition topic {name!r} is declared twice; give the operations distinct names"
            )
        self._internal_topics[name] = InternalTopic(name, kind, partitions)

    def copartition(self, topics: Iterable[str]) -> None:
        """Require ``topics`` to be co-partitioned (same partition count), as joins do."""
        self._copartition_groups.append(frozenset(topics))

    def mark_source_table_store(self, store: str, topic: str) -> None:
        """Record that ``store`` materializes ``topic`` (a KTable source)."""
        self._source_table_stores[store] = topic

    def require_serde(self, node: str, which: str, reason: str) -> None:
        """Record that ``node`` needs a default key/value serde from the config."""
        self._serde_requirements.append(SerdeRequirement(node, which, reason))

    # ---------------------------------------------------------------- queries
    @property
    def nodes(self) -> dict[str, Node]:
        """All nodes by name, in the order they were added."""
        return self._nodes

    @property
    def stores(self) -> dict[str, StoreBuilder]:
        """All store builders by name."""
        return self._stores

    @property
    def global_stores(self) -> frozenset[str]:
        """Names of the global stores."""
        return frozenset(self._global_stores)

    @property
    def internal_topics(self) -> dict[str, InternalTopic]:
        """Internal (repartition) topics by unprefixed name."""
        return self._internal_topics

    @property
    def declared_copartition_groups(self) -> list[frozenset[str]]:
        """Groups of topics that joins (or :meth:`copartition`) declared must have equal
        partition counts (unprefixed names)."""
        return list(dict.fromkeys(self._copartition_groups))

    @property
    def copartition_groups(self) -> list[frozenset[str]]:
        """The declared groups plus every sub-topology's inputs: what the ``range``
        assignor needs to have equal partition counts (unprefixed names)."""
        groups = list(self._copartition_groups)
        for sub in self.subtopologies():
            if not sub.is_global and len(sub.source_topics) > 1:
                groups.append(frozenset(sub.source_topics))
        return groups

    @property
    def serde_requirements(self) -> list[SerdeRequirement]:
        """Serdes that must come from the config defaults."""
        return list(self._serde_requirements)

    def source_table_topic(self, store: str) -> str | None:
        """The topic a source-table (or global) store materializes, if any."""
        return self._source_table_stores.get(store)

    def resolve_topic(self, name: str, application_id: str) -> str:
        """The Kafka topic name: internal topics get the ``<application.id>-`` prefix."""
        if name in self._internal_topics:
            return f"{application_id}-{name}"
        return name

    @staticmethod
    def changelog_topic(application_id: str, store: str) -> str:
        """``<application.id>-<store>-changelog``."""
        return changelog_topic(application_id, store)

    def subtopologies(self) -> list[SubTopology]:
        """Connected components of the graph, numbered in the order their first node was added.

        Nodes sharing a store belong to one sub-topology; repartition topics split them.
        """
        if self._subtopologies is not None:
            return self._subtopologies
        order = {name: i for i, name in enumerate(self._nodes)}
        parent: dict[str, str] = {name: name for name in self._nodes}

        def find(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        def union(a: str, b: str) -> None:
            ra, rb = find(a), find(b)
            if ra != rb:
                if order[ra] < order[rb]:
                    parent[rb] = ra
                else:
                    parent[ra] = rb

        for node in self._nodes.values():
            if isinstance(node, ProcessorNode | SinkNode):
                for p in node.parents:
                    union(node.name, p)
        for users in self._store_users.values():
            for a, b in itertools.pairwise(users):
                union(a, b)

        groups: dict[str, list[str]] = {}
        for name in self._nodes:
            groups.setdefault(find(name), []).append(name)
        ordered = sorted(groups.values(), key=lambda names: order[names[0]])
        result = []
        for i, names in enumerate(ordered):
            sources: list[str] = []
            sinks: list[str] = []
            stores: list[str] = []
            for n in names:
                node = self._nodes[n]
                if isinstance(node, SourceNode):
                    sources.extend(node.topics)
                elif isinstance(node, SinkNode):
                    if node.topic is not None:
                        sinks.append(node.topic)
                else:
                    stores.extend(s for s in node.stores if s not in stores)
            is_global = bool(stores) and all(s in self._global_stores for s in stores)
            result.append(
                SubTopology(i, tuple(names), tuple(sources), tuple(sinks), tuple(stores), is_global)
            )
        self._subtopologies = result
        return result

    def validate(self, config: Any = None) -> None:
        """Check what can only be checked as a whole; ``config`` supplies default serdes.

        Raises :class:`TopologyError` saying what to change.
        """
        if not self._nodes:
            raise TopologyError(
                "the topology is empty: add a source with builder.stream(...) or "
                "topology.add_source(...)"
            )
        for store, users in self._store_users.items():
            if not users and store not in self._global_stores:
                raise TopologyError(
                    f"state store {store!r} is not connected to any processor; pass its name in "
                    "stores=[...] of the processor that uses it"
                )
        if config is not None:
            for req in self._serde_requirements:
                key = f"default.{req.which}.serde"
                if config.get(key) is None:
                    raise TopologyError(
                        f"{req.node} needs a {req.which} serde: {req.reason}. Pass one explicitly "
                        f"(e.g. Grouped({req.which}_serde=...), Materialized({req.which}_serde=...) "
                        f"or Produced({req.which}_serde=...)) or set {key!r} in the config"
                    )

    def describe(self) -> Any:
        """A :class:`~streams.topology.description.TopologyDescription`; print it to read it."""
        from streams.topology.description import TopologyDescription

        return TopologyDescription(self)

    def __repr__(self) -> str:
        return f"Topology(nodes={len(self._nodes)}, stores={len(self._stores)})"
