"""The fluent DSL: StreamsBuilder, KStream, KTable, grouped streams and tables."""

from streams.dsl.builder import StreamsBuilder
from streams.dsl.grouped import KGroupedStream, KGroupedTable
from streams.dsl.kstream import BranchedKStream, KStream
from streams.dsl.ktable import GlobalKTable, KTable
from streams.dsl.params import (
    Branched,
    Consumed,
    Grouped,
    Materialized,
    Named,
    Produced,
    Repartitioned,
)
from streams.dsl.suppress import BufferConfig, EmitStrategy, Suppressed
from streams.dsl.window_specs import JoinWindows, SessionWindows, SlidingWindows, TimeWindows

__all__ = [
    "Branched",
    "BranchedKStream",
    "BufferConfig",
    "Consumed",
    "EmitStrategy",
    "GlobalKTable",
    "Grouped",
    "JoinWindows",
    "KGroupedStream",
    "KGroupedTable",
    "KStream",
    "KTable",
    "Materialized",
    "Named",
    "Produced",
    "Repartitioned",
    "SessionWindows",
    "SlidingWindows",
    "StreamsBuilder",
    "Suppressed",
    "TimeWindows",
]
