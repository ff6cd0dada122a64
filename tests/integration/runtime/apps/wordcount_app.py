"""Word count, as run by the worker-process tests (``streams run wordcount_app:topology``).

Topic names come from the environment, since every test creates its own topics:
``WORDCOUNT_INPUT`` (lines, String values) and ``WORDCOUNT_OUTPUT`` (word -> Long count).
In-process tests call :func:`build_topology` directly.
"""

from __future__ import annotations

import os

from streams import Consumed, Grouped, Materialized, Produced, StreamsBuilder, serdes
from streams.topology.topology import Topology

#: The worker tests override these with ``--set``; a short commit interval keeps them fast.
CONFIG = {"commit.interval.ms": 500}


def build_topology(input_topic: str, output_topic: str, store: str = "counts",
                   store_type: str | None = None) -> Topology:
    """lines -> words -> group by word (repartition) -> count (store ``store``) -> output."""
    builder = StreamsBuilder()
    (
        builder.stream(input_topic, Consumed(key_serde=serdes.String(), value_serde=serdes.String()))
        .flat_map_values(lambda line: line.split())
        .group_by(lambda word: word, Grouped(key_serde=serdes.String(), value_serde=serdes.String()))
        .count(Materialized(name=store, store_type=store_type))
        .to_stream()
        .to(output_topic, Produced(key_serde=serdes.String(), value_serde=serdes.Long()))
    )
    return builder.build()


def topology() -> Topology:
    """The worker entry point: topics from ``WORDCOUNT_INPUT`` / ``WORDCOUNT_OUTPUT``."""
    return build_topology(os.environ["WORDCOUNT_INPUT"], os.environ["WORDCOUNT_OUTPUT"])
