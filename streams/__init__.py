"""streams: Kafka Streams-style stream processing for Python.

Example::

    from streams import StreamsBuilder, Consumed, Produced, serdes

    builder = StreamsBuilder()
    builder.stream("in", Consumed(value_serde=serdes.String())).map_values(str.upper).to("out")
    topology = builder.build()
"""

from streams import serdes
from streams.config import StreamsConfig
from streams.dsl import (
    Branched,
    Consumed,
    GlobalKTable,
    Grouped,
    KGroupedStream,
    KGroupedTable,
    KStream,
    KTable,
    Materialized,
    Named,
    Produced,
    Repartitioned,
    StreamsBuilder,
)
from streams.errors import (
    ConfigError,
    ProcessorError,
    SerializationError,
    StateStoreError,
    StreamsError,
    TopologyError,
)
from streams.processor import (
    STREAM_TIME,
    WALL_CLOCK_TIME,
    Processor,
    ProcessorContext,
    PunctuationType,
    Record,
)
from streams.topology import Topology

__version__ = "0.1.0"

__all__ = [
    "STREAM_TIME",
    "WALL_CLOCK_TIME",
    "Branched",
    "ConfigError",
    "Consumed",
    "GlobalKTable",
    "Grouped",
    "KGroupedStream",
    "KGroupedTable",
    "KStream",
    "KTable",
    "Materialized",
    "Named",
    "Processor",
    "ProcessorContext",
    "ProcessorError",
    "Produced",
    "PunctuationType",
    "Record",
    "Repartitioned",
    "SerializationError",
    "StateStoreError",
    "StreamsBuilder",
    "StreamsConfig",
    "StreamsError",
    "Topology",
    "TopologyError",
    "serdes",
]
