"""Word count, as run by the worker-process tests (``streams run wordcount_app:topology``).

Topic names come from the environment, since every test creates its own topics:
``WORDCOUNT_INPUT`` (lines, String values) and ``WORDCOUNT_OUTPUT`` (word -> Long count).
In-process tests call :func:`build_topology` directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from streams import Consumed, Grouped, Materialized, Produced, StreamsBuilder, serdes
from streams.topology.topology import Topology

#: The worker tests override these with ``--set``; a short commit interval keeps them fast.
CONFIG = {"commit.interval.ms": 500}


def _poisoned_split(pill: str) -> Callable[[str], list[str]]:
    """A splitter that raises on lines holding the word ``pill``: a processing poison pill."""
    def split(line: str) -> list[str]:
        words = line.split()
        if pill in words:
            raise ValueError(f"poison pill in line {line[:40]!r}")
        return words
    return split


def build_topology(input_topic: str, output_topic: str, store: str = "counts",
                   store_type: str | None = None, poison_word: str | None = None) -> Topology:
    """lines -> words -> group by word (repartition) -> count (store ``store``) -> output.

    With ``poison_word``, a line holding that word makes the splitter raise."""
    builder = StreamsBuilder()
    split = _poisoned_split(poison_word) if poison_word else str.split
    (
        builder.stream(input_topic, Consumed(key_serde=serdes.String(), value_serde=serdes.String()))
        .flat_map_values(split)
        .group_by(lambda word: word, Grouped(key_serde=serdes.String(), value_serde=serdes.String()))
        .count(Materialized(name=store, store_type=store_type))
        .to_stream()
        .to(output_topic, Produced(key_serde=serdes.String(), value_serde=serdes.Long()))
    )
    return builder.build()


def topology() -> Topology:
    """The worker entry point: topics from ``WORDCOUNT_INPUT`` / ``WORDCOUNT_OUTPUT``, the
    processing poison pill (if any) from ``WORDCOUNT_POISON_WORD``."""
    return build_topology(os.environ["WORDCOUNT_INPUT"], os.environ["WORDCOUNT_OUTPUT"],
                          poison_word=os.environ.get("WORDCOUNT_POISON_WORD"))
