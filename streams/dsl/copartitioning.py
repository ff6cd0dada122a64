"""Which topics a join needs co-partitioned, declared on the topology as the join is built.

A join (stream-stream, stream-table, table-table) meets records of both sides by key inside
one task, so the topics feeding both sides must have equal partition counts (Kafka Streams'
co-partition groups). Start-up checks the declared groups
(:func:`streams.runtime.internal_topics.plan_topics`); other sub-topologies with several
inputs (a merge) may read topics of different partition counts, as in Kafka Streams.
"""

from __future__ import annotations

from streams.topology.nodes import ProcessorNode, SourceNode
from streams.topology.topology import Topology


def upstream_topics(topology: Topology, node: str) -> tuple[str, ...]:
    """The topics of the source nodes that feed ``node`` (following parents), in order."""
    seen: set[str] = set()
    topics: list[str] = []
    stack = [node]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        n = topology.nodes[name]
        if isinstance(n, SourceNode):
            topics.extend(t for t in n.topics if t not in topics)
        elif isinstance(n, ProcessorNode):
            stack.extend(n.parents)
    return tuple(topics)


def declare_join_inputs(topology: Topology, left: str, right: str) -> None:
    """Require the topics feeding nodes ``left`` and ``right`` to be co-partitioned."""
    topics = {*upstream_topics(topology, left), *upstream_topics(topology, right)}
    if len(topics) > 1:
        topology.copartition(sorted(topics))
