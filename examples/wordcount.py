"""Word count: the "hello world" of stream processing.

Reads lines of text from ``lines`` (string values, keys ignored), splits them into lower-case
words, counts each word and writes every updated count to ``word-counts`` (string key = the
word, long value = its count so far).

The topology has two sub-topologies: ``group_by`` changes the key, so the words travel through
the repartition topic ``<application.id>-counts-repartition`` before they are counted, as in
Kafka Streams. Print it with::

    python -m examples.wordcount

Run it against a broker with::

    streams run examples.wordcount:app

Importing this module has no side effects: ``app`` is the function that builds the topology.
"""

from __future__ import annotations

import re
from typing import Any

from streams import Consumed, Grouped, Materialized, Produced, StreamsBuilder, Topology, serdes

INPUT_TOPIC = "lines"
OUTPUT_TOPIC = "word-counts"
STORE_NAME = "counts"

#: Configuration the runner starts from (``--set``/config files/environment override it).
CONFIG: dict[str, Any] = {
    "application.id": "wordcount",
    "bootstrap.servers": "localhost:9092",
}

_WORD = re.compile(r"\w+")


def split_words(line: str) -> list[str]:
    """The lower-case words of ``line`` (punctuation is not part of a word)."""
    return _WORD.findall(line.lower())


def build_topology() -> Topology:
    """lines -> words -> group by word -> count -> word-counts."""
    builder = StreamsBuilder()
    (
        builder.stream(INPUT_TOPIC, Consumed(key_serde=serdes.String(), value_serde=serdes.String()))
        .flat_map_values(split_words)
        .group_by(lambda _key, word: word, Grouped(key_serde=serdes.String(),
                                                  value_serde=serdes.String()))
        .count(Materialized(name=STORE_NAME))
        .to_stream()
        .to(OUTPUT_TOPIC, Produced(key_serde=serdes.String(), value_serde=serdes.Long()))
    )
    return builder.build()


#: What ``streams run examples.wordcount:app`` runs (a function returning the Topology).
app = build_topology


if __name__ == "__main__":
    print(build_topology().describe())
