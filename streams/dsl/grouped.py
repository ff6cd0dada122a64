"""KGroupedStream: a stream grouped by key, the step before an aggregation.

(The re-grouped table, KGroupedTable, is in :mod:`streams.dsl.ktable`, next to the KTable
that makes it and that its aggregations make.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams.dsl.functions import require_arity, takes_key
from streams.dsl.ktable import KTable
from streams.dsl.params import Materialized
from streams.dsl.processors.aggregate import StreamAggregateProcessor, StreamReduceProcessor
from streams.dsl.unknown_serde import UNKNOWN_SERDE, known_serde
from streams.dsl.window_specs import SessionWindows, SlidingWindows, TimeWindows
from streams.dsl.windowed_kstream import (
    SessionWindowedKStream,
    SlidingWindowedKStream,
    TimeWindowedKStream,
)
from streams.errors import TopologyError
from streams.processor.api import Processor
from streams.serdes import Long

if TYPE_CHECKING:
    from streams.dsl.builder import StreamsBuilder
    from streams.dsl.cogrouped import CogroupedKStream
    from streams.dsl.kstream import KStream


def aggregation_table(b: StreamsBuilder, nodes: list[str], table_node: str, store: str,
                      m: Materialized, ks: Any, vs: Any,
                      store_factory: Callable[[str, Materialized, Any, Any], Any] | None,
                      table_key_serde: Callable[[Any], Any] | None) -> KTable:
    """The store of an aggregation's ``nodes`` (one, or one per cogrouped input) and the
    KTable read from ``table_node``: a key-value store, or with ``store_factory`` a window or
    session store whose table has ``table_key_serde(ks)`` keys."""
    if ks is UNKNOWN_SERDE:
        b.topology.require_serde(nodes[0], "key", f"its store {store!r} is keyed by a computed "
                                 "key")
    if vs is UNKNOWN_SERDE:
        b.topology.require_serde(nodes[0], "value", f"its store {store!r} holds computed values")
    if store_factory is None:
        b.topology.add_state_store(b.timestamped_store(store, m, ks, vs), *nodes)
        return KTable(b, table_node, ks, vs, store_name=store)
    b.topology.add_state_store(store_factory(store, m, known_serde(ks), known_serde(vs)), *nodes)
    out_ks = table_key_serde(known_serde(ks)) if table_key_serde is not None else ks
    # windowed tables are queried through their window/session store, not by plain key
    table = KTable(b, table_node, out_ks, vs, store_name=None)
    table.window_store_name = store
    return table


class KGroupedStream:
    """A stream grouped by key; ``count``, ``reduce`` and ``aggregate`` make a KTable."""

    def __init__(self, builder: StreamsBuilder, stream: KStream, key_serde: Any, value_serde: Any,
                 name: str | None, repartition_required: bool) -> None:
        self._builder = builder
        self._stream = stream
        self.key_serde = key_serde
        self.value_serde = value_serde
        self._name = name
        self._repartition_required = repartition_required
        self._repartition_source: str | None = None  # reused when the Grouped has a name

    def _aggregate(self, prefix: str, store_prefix: str, materialized: Materialized | None,
                   name: str | None, value_serde: Any,
                   make: Callable[[str, str], Processor],
                   store_factory: Callable[[str, Materialized, Any, Any], Any] | None = None,
                   table_key_serde: Callable[[Any], Any] | None = None) -> KTable:
        """Repartition if needed, add the aggregating node and its store; ``store_factory``
        and ``table_key_serde`` let windowed aggregations use window/session stores and
        ``Windowed`` keys."""
        b = self._builder
        m = materialized or Materialized()
        store = m.name or b.new_name(store_prefix)
        ks = m.key_serde if m.key_serde is not None else self.key_serde
        vs = m.value_serde if m.value_serde is not None else value_serde
        node = b.name_or_new(name, prefix)
        parent = self._source_for(store, ks)
        b.topology.add_processor(node, lambda: make(store, node), parent)
        return aggregation_table(b, [node], node, store, m, ks, vs, store_factory,
                                 table_key_serde)

    def _source_for(self, store: str, key_serde: Any) -> str:
        """The node an aggregation of this stream hangs from: the stream itself, or the source
        of a repartition topic (named after the ``Grouped`` name, else after ``store``) when
        the key changed."""
        if not self._repartition_required:
            return self._stream.node
        b = self._builder
        if self._name is not None and self._repartition_source is not None:
            # Kafka Streams reuses a user-named repartition topic (and still uses 3 indexes)
            for prefix_ in ("KSTREAM-SINK-", "KSTREAM-FILTER-", "KSTREAM-SOURCE-"):
                b.new_name(prefix_)
            return self._repartition_source
        src = self._stream._repartition_through(self._name or store, key_serde,
                                                self.value_serde, filter_null_keys=True)
        if self._name is not None:
            self._repartition_source = src
        return src

    def cogroup(self, aggregator: Callable[..., Any]) -> CogroupedKStream:
        """Start a cogroup (KIP-150): this stream folded with ``aggregator(key, value, agg)``
        (or ``(value, agg)``); add more grouped streams with ``.cogroup(grouped, aggregator)``
        and finish with ``.aggregate(initializer)`` (see :mod:`streams.dsl.cogrouped`)."""
        from streams.dsl.cogrouped import CogroupedKStream

        return CogroupedKStream(self, aggregator)

    def count(self, materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """Count records per key (records with a None key or value are skipped and logged)."""
        m = materialized or Materialized()
        vs = m.value_serde if m.value_serde is not None else Long()
        return self._aggregate(
            "KSTREAM-AGGREGATE-", "KSTREAM-AGGREGATE-STATE-STORE-", m, name, vs,
            lambda store, node: StreamAggregateProcessor(store, node, lambda: 0,
                                                         lambda v, agg: agg + 1, False),
        )

    def reduce(self, reducer: Callable[[Any, Any], Any], materialized: Materialized | None = None,
               name: str | None = None) -> KTable:
        """Combine values per key: ``reducer(aggregate, value)``."""
        require_arity(reducer, 2, "reduce", "reducer(aggregate, value)")
        return self._aggregate(
            "KSTREAM-REDUCE-", "KSTREAM-REDUCE-STATE-STORE-", materialized, name, self.value_serde,
            lambda store, node: StreamReduceProcessor(store, node, reducer),
        )

    def aggregate(self, initializer: Callable[[], Any], aggregator: Callable[..., Any],
                  materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """Fold values per key: ``aggregator(key, value, agg)`` or ``aggregator(value, agg)``,
        starting from ``initializer()``."""
        require_arity(initializer, 0, "aggregate", "initializer()")
        wk = takes_key(aggregator, 2, "aggregate")
        return self._aggregate(
            "KSTREAM-AGGREGATE-", "KSTREAM-AGGREGATE-STATE-STORE-", materialized, name,
            UNKNOWN_SERDE,
            lambda store, node: StreamAggregateProcessor(store, node, initializer, aggregator, wk),
        )

    def windowed_by(self, windows: Any) -> Any:
        """Aggregate per window: ``TimeWindows`` (tumbling, hopping), ``SessionWindows`` or
        ``SlidingWindows``.

        Example::

            grouped.windowed_by(TimeWindows.of_size_with_no_grace(60_000)).count()
        """
        if isinstance(windows, TimeWindows):
            return TimeWindowedKStream(self, windows)
        if isinstance(windows, SessionWindows):
            return SessionWindowedKStream(self, windows)
        if isinstance(windows, SlidingWindows):
            return SlidingWindowedKStream(self, windows)
        raise TopologyError(
            f"windowed_by needs TimeWindows, SessionWindows or SlidingWindows, got {windows!r}")
