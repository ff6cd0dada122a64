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

          Sub-topology: 1
            ...
    """

    def __init__(self, topology: Topology) -> None:
        self._topology = topology

    @property
    def subtopologies(self) -> list[SubTopology]:
        """The sub-topologies (global ones included, flagged ``is_global``)."""
        return self._topology.subtopologies()

    def _sizes(self) -> dict[str, int]:
        """Kafka Streams' node "size": 1 + the sizes of the node's children (paths counted)."""
        nodes = self._topology.nodes
        sizes: dict[str, int] = {}
        # parents are always added before their children, so reversed insertion order visits
        # every child before its parents
        for name in reversed(nodes):
            sizes[name] = 1 + sum(sizes[c] for c in nodes[name].children)
        return sizes

    @staticmethod
    def _ordered(names: list[str] | tuple[str, ...], sizes: dict[str, int]) -> list[str]:
        # Kafka Streams' NodeComparator: larger sub-tree first, then by name
        return sorted(names, key=lambda n: (-sizes[n], n))

    def _node_text(self, name: str, sizes: dict[str, int]) -> str:
        node = self._topology.nodes[name]

        def names(items: list[str]) -> str:
            return ", ".join(self._ordered(items, sizes)) or "none"

        if isinstance(node, SourceNode):
            return f"Source: {name} (topics: [{', '.join(node.topics)}])\n      --> {names(node.children)}"
        if isinstance(node, ProcessorNode):
            return (f"Processor: {name} (stores: [{', '.join(node.stores)}])\n"
                    f"      --> {names(node.children)}\n      <-- {names(node.parents)}")
        assert isinstance(node, SinkNode)
        if node.topic is not None:
            return f"Sink: {name} (topic: {node.topic})\n      <-- {names(node.parents)}"
        extractor = node.topic_extractor
        label = getattr(extractor, "__name__", None) or type(extractor).__name__
        return f"Sink: {name} (extractor class: {label})\n      <-- {names(node.parents)}"

    def __str__(self) -> str:
        """Kafka Streams' layout, character for character: nodes of a sub-topology ordered by
        sub-tree size then name, the first sub-topology indented by three spaces and the
        others by two (Kafka's own quirk)."""
        sizes = self._sizes()
        out = ["Topologies:\n "]
        for sub in self.subtopologies:
            out.append("  ")
            ordered = self._ordered(sub.nodes, sizes)
            if sub.is_global:
                out.append(f"Sub-topology: {sub.id} for global store (will not generate tasks)\n")
                out.extend(f"    {self._node_text(n, sizes)}\n" for n in ordered)
            else:
                out.append(f"Sub-topology: {sub.id}\n")
                out.extend(f"    {self._node_text(n, sizes)}\n" for n in ordered)
                out.append("\n")
        return "".join(out)

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
