"""The fluent DSL: StreamsBuilder, KStream, KTable, grouped streams and tables.

The modules import each other in one direction, each only those before it:

1. ``unknown_serde``, ``params``, ``functions``, ``change``, ``getters``, ``window_specs``:
   small pieces importing nothing else of the DSL;
2. ``processors.*``: the processors behind the operations;
3. ``suppress``, ``fk_join``, ``stream_join``, ``windowed_kstream``: wiring that works on the
   streams and tables it is given and makes none itself;
4. ``ktable`` (KTable, KGroupedTable, GlobalKTable), ``grouped`` (KGroupedStream), ``kstream``
   (KStream, BranchedKStream) and ``builder`` (StreamsBuilder), in that order.

A KTable's ``to_stream`` makes its KStream through ``StreamsBuilder.stream_of_node``, since
``ktable`` comes before ``kstream``. Modules earlier in the list name later classes in type
annotations only (``if TYPE_CHECKING:`` imports).
"""

from streams.dsl.builder import StreamsBuilder
from streams.dsl.cogrouped import CogroupedKStream
from streams.dsl.grouped import KGroupedStream
from streams.dsl.kstream import BranchedKStream, KStream
from streams.dsl.ktable import GlobalKTable, KGroupedTable, KTable
from streams.dsl.params import (
    Branched,
    Consumed,
    Grouped,
    Joined,
    Materialized,
    Named,
    Produced,
    Repartitioned,
    StreamJoined,
    TableJoined,
)
from streams.dsl.suppress import BufferConfig, EmitStrategy, Suppressed
from streams.dsl.window_specs import JoinWindows, SessionWindows, SlidingWindows, TimeWindows

__all__ = [
    "Branched",
    "BranchedKStream",
    "BufferConfig",
    "CogroupedKStream",
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
    "Materialized",
    "Named",
    "Produced",
    "Repartitioned",
    "SessionWindows",
    "SlidingWindows",
    "StreamJoined",
    "StreamsBuilder",
    "Suppressed",
    "TableJoined",
    "TimeWindows",
]
