"""Where newly assigned input partitions start reading, where that matters to streams.

Sources with their own ``auto.offset.reset`` (``Consumed(offset_reset=...)``) get it applied
here, since librdkafka has one policy per consumer. Inputs of multi-input tasks are assigned at
explicit offsets (the committed one, or the reset policy's) so that their fetched lag is known
before their first record arrives (``max.task.idle.ms``).
"""

from __future__ import annotations

from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition

from streams.topology.nodes import SourceNode
from streams.topology.topology import Topology


def reset_overrides(topology: Topology, app_id: str) -> dict[str, str]:
    """Topic -> the reset policy its source node sets (only sources that set one)."""
    out = {}
    for node in topology.nodes.values():
        if isinstance(node, SourceNode) and node.offset_reset:
            for t in node.topics:
                out[topology.resolve_topic(t, app_id)] = node.offset_reset
    return out


def needs_start_offsets(partitions: list[TopicPartition], overrides: dict[str, str],
                        multi_input_topics: set[str]) -> bool:
    """False when librdkafka's own start (committed offset, else its reset policy) will do."""
    return bool(overrides) or any(tp.topic in multi_input_topics for tp in partitions)


def start_offsets(committed: list[TopicPartition], overrides: dict[str, str],
                  multi_input_topics: set[str], default_reset: str,
                  watermarks: Callable[[str, int], tuple[int, int]]
                  ) -> tuple[list[TopicPartition], dict[tuple[str, int], int]]:
    """The partitions to assign, with start offsets set where needed (``committed`` holds
    each one's committed offset, negative for none), and the explicit starts of
    multi-input tasks' partitions (whose fetched lag the thread then tracks)."""
    starts: dict[tuple[str, int], int] = {}
    for tp in committed:
        reset = overrides.get(tp.topic)
        if tp.topic in multi_input_topics:
            low, high = watermarks(tp.topic, tp.partition)
            if tp.offset < low or tp.offset > high:  # none committed, or out of range
                tp.offset = low if (reset or default_reset) == "earliest" else high
            starts[(tp.topic, tp.partition)] = tp.offset
        elif reset and tp.offset < 0:
            tp.offset = OFFSET_BEGINNING if reset == "earliest" else OFFSET_END
    return list(committed), starts
