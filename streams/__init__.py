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
    BufferConfig,
    Consumed,
    EmitStrategy,
    GlobalKTable,
    Grouped,
    Joined,
    JoinWindows,
    KGroupedStream,
    KGroupedTable,
    KStream,
    KTable,
    Materialized,
    Named,
    Produced,
    Repartitioned,
    SessionWindows,
    SlidingWindows,
    StreamJoined,
    StreamsBuilder,
    Suppressed,
    TableJoined,
    TimeWindows,
)
from streams.errors import (
    ConfigError,
    ProcessorError,
    ProductionError,
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
from streams.runtime.kafka_streams import KafkaStreams, State
from streams.topology import Topology

__version__ = "0.1.0"

__all__ = [
    "STREAM_TIME",
    "WALL_CLOCK_TIME",
    "Branched",
    "BufferConfig",
    "ConfigError",
    "Consumed",
    "EmitStrategy",
    "GlobalKTable",
    "Grouped",
    "JoinWindows",
    "Joined",
    "KGroupedStream",
    "KGroupedTable",
    "KStream",
    "KTable",
    "KafkaStreams",
    "Materialized",
    "Named",
    "Processor",
    "ProcessorContext",
    "ProcessorError",
    "Produced",
    "ProductionError",
    "PunctuationType",
    "Record",
    "Repartitioned",
    "SerializationError",
    "SessionWindows",
    "SlidingWindows",
    "State",
    "StateStoreError",
    "StreamJoined",
    "StreamsBuilder",
    "StreamsConfig",
    "StreamsError",
    "Suppressed",
    "TableJoined",
    "TimeWindows",
    "Topology",
    "TopologyError",
    "serdes",
]
