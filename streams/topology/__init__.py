"""Topologies: processor graphs, their sub-topologies and descriptions."""

from streams.topology.description import TopologyDescription
from streams.topology.nodes import InternalTopic, ProcessorNode, SinkNode, SourceNode, SubTopology
from streams.topology.topology import Topology

__all__ = [
    "InternalTopic",
    "ProcessorNode",
    "SinkNode",
    "SourceNode",
    "SubTopology",
    "Topology",
    "TopologyDescription",
]
