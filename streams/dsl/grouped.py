"""Grouped streams and tables: the step before an aggregation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams.dsl.builder import UNKNOWN
from streams.dsl.functions import require_arity, takes_key
from streams.dsl.params import Materialized
from streams.dsl.processors.aggregate import (
    StreamAggregateProcessor,
    StreamReduceProcessor,
    TableAggregateProcessor,
    TableReduceProcessor,
)
from streams.processor.api import Processor

if TYPE_CHECKING:
    from streams.dsl.builder import StreamsBuilder
    from streams.dsl.kstream import KStream
    from streams.dsl.ktable import KTable


def _long_serde() -> Any:
    from streams.serdes import Long

    return Long()


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
        from streams.dsl.kstream import KStream
        from streams.dsl.ktable import KTable

        b = self._builder
        m = materialized or Materialized()
        store = m.name or b.new_name(store_prefix)
        ks = m.key_serde if m.key_serde is not None else self.key_serde
        vs = m.value_serde if m.value_serde is not None else value_serde
        node = b.name_or_new(name, prefix)
        parent = self._stream
        if self._repartition_required:
            if self._name is not None and self._repartition_source is not None:
                # Kafka Streams reuses a user-named repartition topic (and still uses 3 indexes)
                for prefix_ in ("KSTREAM-SINK-", "KSTREAM-FILTER-", "KSTREAM-SOURCE-"):
                    b.new_name(prefix_)
                src = self._repartition_source
            else:
                base = self._name or store
                src = parent._repartition_through(base, ks, self.value_serde, filter_null_keys=True)
                if self._name is not None:
                    self._repartition_source = src
            parent = KStream(b, src, ks, self.value_serde, False)
        b.topology.add_processor(node, lambda: make(store, node), parent.node)
        if ks is UNKNOWN:
            b.topology.require_serde(node, "key", f"its store {store!r} is keyed by a computed key")
        if vs is UNKNOWN:
            b.topology.require_serde(node, "value", f"its store {store!r} holds computed values")
        if store_factory is None:
            b.topology.add_state_store(b.timestamped_store(store, m, ks, vs), node)
            return KTable(b, node, ks, vs, store_name=store)
        plain = lambda s: None if s is UNKNOWN else s  # noqa: E731
        b.topology.add_state_store(store_factory(store, m, plain(ks), plain(vs)), node)
        out_ks = table_key_serde(plain(ks)) if table_key_serde is not None else ks
        # windowed tables are queried through their window/session store, not by plain key
        table = KTable(b, node, out_ks, vs, store_name=None)
        table.window_store_name = store
        return table

    def count(self, materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """Count records per key (records with a None key or value are skipped and logged)."""
        m = materialized or Materialized()
        vs = m.value_serde if m.value_serde is not None else _long_serde()
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
            "KSTREAM-AGGREGATE-", "KSTREAM-AGGREGATE-STATE-STORE-", materialized, name, UNKNOWN,
            lambda store, node: StreamAggregateProcessor(store, node, initializer, aggregator, wk),
        )

    def windowed_by(self, windows: Any) -> Any:
        """Aggregate per window: ``TimeWindows`` (tumbling, hopping), ``SessionWindows`` or
        ``SlidingWindows``.

        Example::

            grouped.windowed_by(TimeWindows.of_size_with_no_grace(60_000)).count()
        """
        from streams.dsl.window_specs import SessionWindows, SlidingWindows, TimeWindows
        from streams.dsl.windowed_kstream import (
            SessionWindowedKStream,
            SlidingWindowedKStream,
            TimeWindowedKStream,
        )
        from streams.errors import TopologyError

        if isinstance(windows, TimeWindows):
            return TimeWindowedKStream(self, windows)
        if isinstance(windows, SessionWindows):
            return SessionWindowedKStream(self, windows)
        if isinstance(windows, SlidingWindows):
            return SlidingWindowedKStream(self, windows)
        raise TopologyError(
            f"windowed_by needs TimeWindows, SessionWindows or SlidingWindows, got {windows!r}")


class KGroupedTable:
    """A re-grouped table: aggregations take an adder and a subtractor, so that an update
    retracts the old value from its group before adding the new one.

    The repartition topic is created by each aggregation, as in Kafka Streams:
    ``<Grouped name or store name>-repartition``.
    """

    def __init__(self, builder: StreamsBuilder, select_node: str, key_serde: Any, value_serde: Any,
                 name: str | None = None) -> None:
        self._builder = builder
        self._select = select_node
        self.key_serde = key_serde
        self.value_serde = value_serde
        self._name = name
        self._repartition_source: str | None = None

    def _repartition(self, store: str, name: str | None) -> str:
        """Sink -> ``<grouped name or store>-repartition`` -> source; returns the source node."""
        from streams.dsl.change import ChangeSerde

        b = self._builder
        topo = b.topology
        sink = b.name_or_new(f"{name}-sink" if name else None, "KSTREAM-SINK-")
        source = b.name_or_new(f"{name}-source" if name else None, "KSTREAM-SOURCE-")
        if self._name is not None and self._repartition_source is not None:
            return self._repartition_source
        topic = f"{self._name or store}-repartition"
        ks, vs = self.key_serde, self.value_serde
        if ks is UNKNOWN:
            topo.require_serde(sink, "key", f"it writes to repartition topic {topic!r} after group_by")
        if vs is UNKNOWN:
            topo.require_serde(sink, "value", f"it writes to repartition topic {topic!r} after group_by")
        kser = None if ks is UNKNOWN else ks
        vser = ChangeSerde(None if vs is UNKNOWN else vs)
        topo.add_internal_topic(topic, "repartition")
        topo.add_sink(sink, topic, self._select, key_serde=kser, value_serde=vser)
        # as in Kafka Streams, internal topics are always read from the beginning
        topo.add_source(source, [topic], key_serde=kser, value_serde=vser, offset_reset="earliest")
        self._repartition_source = source
        return source

    def _aggregate(self, prefix: str, store_prefix: str, materialized: Materialized | None,
                   name: str | None, value_serde: Any,
                   make: Callable[[str, str], Processor]) -> KTable:
        from streams.dsl.ktable import KTable

        b = self._builder
        m = materialized or Materialized()
        store = m.name or b.new_name(store_prefix)
        ks = m.key_serde if m.key_serde is not None else self.key_serde
        vs = m.value_serde if m.value_serde is not None else value_serde
        source = self._repartition(store, name)
        node = b.name_or_new(name, prefix)
        b.topology.add_processor(node, lambda: make(store, node), source)
        if ks is UNKNOWN:
            b.topology.require_serde(node, "key", f"its store {store!r} is keyed by a computed key")
        if vs is UNKNOWN:
            b.topology.require_serde(node, "value", f"its store {store!r} holds computed values")
        b.topology.add_state_store(b.timestamped_store(store, m, ks, vs), node)
        return KTable(b, node, ks, vs, store_name=store)

    def count(self, materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """Number of table rows per group (goes down when rows leave the group)."""
        m = materialized or Materialized()
        vs = m.value_serde if m.value_serde is not None else _long_serde()
        return self._aggregate(
            "KTABLE-AGGREGATE-", "KTABLE-AGGREGATE-STATE-STORE-", m, name, vs,
            lambda store, node: TableAggregateProcessor(
                store, node, lambda: 0, lambda v, agg: agg + 1, lambda v, agg: agg - 1, False),
        )

    def reduce(self, adder: Callable[[Any, Any], Any], subtractor: Callable[[Any, Any], Any],
               materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """``adder(agg, new_value)`` and ``subtractor(agg, old_value)`` per group."""
        require_arity(adder, 2, "reduce", "adder(aggregate, value)")
        require_arity(subtractor, 2, "reduce", "subtractor(aggregate, value)")
        return self._aggregate(
            # Kafka Streams names a KGroupedTable reduce store KTABLE-AGGREGATE-STATE-STORE-...
            "KTABLE-REDUCE-", "KTABLE-AGGREGATE-STATE-STORE-", materialized, name, self.value_serde,
            lambda store, node: TableReduceProcessor(store, node, adder, subtractor),
        )

    def aggregate(self, initializer: Callable[[], Any], adder: Callable[..., Any],
                  subtractor: Callable[..., Any], materialized: Materialized | None = None,
                  name: str | None = None) -> KTable:
        """``adder(key, value, agg)``/``subtractor(key, value, agg)`` (or without the key)."""
        require_arity(initializer, 0, "aggregate", "initializer()")
        wk = takes_key(adder, 2, "aggregate")
        if takes_key(subtractor, 2, "aggregate") != wk:
            from streams.errors import TopologyError

            raise TopologyError("aggregate: adder and subtractor must take the same arguments")
        return self._aggregate(
            "KTABLE-AGGREGATE-", "KTABLE-AGGREGATE-STATE-STORE-", materialized, name, UNKNOWN,
            lambda store, node: TableAggregateProcessor(store, node, initializer, adder,
                                                        subtractor, wk),
        )
