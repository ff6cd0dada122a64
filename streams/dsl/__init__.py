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

__all__ = [
    "Branched",
    "BranchedKStream",
    "Consumed",
    "GlobalKTable",
    "Grouped",
    "KGroupedStream",
    "KGroupedTable",
    "KStream",
    "KTable",
    "Materialized",
    "Named",
    "Produced",
    "Repartitioned",
    "StreamsBuilder",
]
