"""Human-readable and Mermaid renderings of a topology, in the spirit of Kafka Streams'
TopologyDescription."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.topology.nodes import ProcessorNode, SinkNode, SourceNode, SubTopology

if TYPE_CHECKING:
    from streams.topology.topology import Topology


class TopologyDescription:
    """What ``topology.describe()`` returns: ``str()`` gives Kafka Streams' text layout.

    Example output::

        Topologies:
           Sub-topology: 0
            Source: KSTREAM-SOURCE-0000000000 (topics: [lines])
              --> KSTREAM-FLATMAPVALUES-0000000001
            ...
    """

    def __init__(self, topology: Topology) -> None:
        self._topology = topology

    @property
    def subtopologies(self) -> list[SubTopology]:
        """The sub-topologies (global ones included, flagged ``is_global``)."""
        return self._topology.subtopologies()

    def _node_lines(self, name: str) -> list[str]:
        node = self._topology.nodes[name]
        lines: list[str] = []
        if isinstance(node, SourceNode):
            lines.append(f"    Source: {name} (topics: [{', '.join(node.topics)}])")
        elif isinstance(node, ProcessorNode):
            lines.append(f"    Processor: {name} (stores: [{', '.join(node.stores)}])")
        else:
            assert isinstance(node, SinkNode)
            if node.topic is not None:
                lines.append(f"    Sink: {name} (topic: {node.topic})")
            else:
                extractor = getattr(node.topic_extractor, "__name__", type(node.topic_extractor).__name__)
                lines.append(f"    Sink: {name} (extractor: {extractor})")
        if not isinstance(node, SinkNode):
            lines.append(f"      --> {', '.join(node.children) or 'none'}")
        if not isinstance(node, SourceNode):
            lines.append(f"      <-- {', '.join(node.parents)}")
        return lines

    def __str__(self) -> str:
        out = ["Topologies:"]
        for sub in self.subtopologies:
            suffix = " for global store (will not generate tasks)" if sub.is_global else ""
            out.append(f"   Sub-topology: {sub.id}{suffix}")
            for name in sub.nodes:
                out.extend(self._node_lines(name))
            out.append("")
        return "\n".join(out)

    __repr__ = __str__

    def to_mermaid(self) -> str:
        """A Mermaid ``flowchart`` of the same graph: one subgraph per sub-topology, topics as
        stadium shapes, stores as cylinders."""
        ids: dict[str, str] = {}

        def nid(kind: str, name: str) -> str:
            key = f"{kind}:{name}"
            if key not in ids:
                ids[key] = f"{kind[0]}{len(ids)}"
            return ids[key]

        lines = ["flowchart TD"]
        topics: set[str] = set()
        for sub in self.subtopologies:
            title = f"Sub-topology {sub.id}" + (" (global)" if sub.is_global else "")
            lines.append(f'  subgraph sub{sub.id}["{title}"]')
            for name in sub.nodes:
                lines.append(f'    {nid("node", name)}["{name}"]')
            lines.append("  end")
            for name in sub.nodes:
                node = self._topology.nodes[name]
                me = nid("node", name)
                if isinstance(node, SourceNode):
                    for t in node.topics:
                        topics.add(t)
                        lines.append(f"  {nid('topic', t)} --> {me}")
                elif isinstance(node, SinkNode) and node.topic is not None:
                    topics.add(node.topic)
                    lines.append(f"  {me} --> {nid('topic', node.topic)}")
                for child in node.children:
                    lines.append(f"  {me} --> {nid('node', child)}")
                if isinstance(node, ProcessorNode):
                    for store in node.stores:
                        lines.append(f"  {me} -.- {nid('store', store)}")
        for t in sorted(topics):
            lines.append(f'  {nid("topic", t)}(["{t}"])')
        for store in self._topology.stores:
            lines.append(f'  {nid("store", store)}[("{store}")]')
        return "\n".join(lines)
