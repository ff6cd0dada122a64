"""Cogrouping (Kafka Streams' KIP-150): several grouped streams folded into one aggregate.

Example::

    clicks = builder.stream("clicks").group_by_key()
    buys = builder.stream("buys").group_by_key()
    totals = (clicks.cogroup(lambda k, v, agg: agg + 1)
              .cogroup(buys, lambda k, v, agg: agg + 100)
              .aggregate(lambda: 0))

Each input keeps its own aggregator; all of them update one store, so one key's aggregate
sees every input's records in the order they are processed (the inputs must be
co-partitioned, as for a join: streams repartitions those whose key changed). As in Kafka
Streams, each input gets an aggregating node ``COGROUPKSTREAM-AGGREGATE-…`` and a
``COGROUPKSTREAM-MERGE-…`` node makes their outputs one table. Windowed cogroups
(``windowed_by`` with ``TimeWindows``, ``SlidingWindows`` or ``SessionWindows``) work the
same way over a window or session store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams.dsl.functions import require_arity, takes_key
from streams.dsl.grouped import aggregation_table
from streams.dsl.ktable import KTable
from streams.dsl.params import Materialized
from streams.dsl.processors.aggregate import StreamAggregateProcessor
from streams.dsl.processors.stateless import PassThroughProcessor
from streams.dsl.unknown_serde import UNKNOWN_SERDE
from streams.dsl.window_specs import SessionWindows, SlidingWindows, TimeWindows
from streams.dsl.windowed_kstream import (
    SessionWindowedKStream,
    SlidingWindowedKStream,
    TimeWindowedKStream,
)
from streams.errors import TopologyError
from streams.processor.api import Processor

if TYPE_CHECKING:
    from streams.dsl.grouped import KGroupedStream

AGGREGATE = "COGROUPKSTREAM-AGGREGATE-"
STORE = "COGROUPKSTREAM-AGGREGATE-STATE-STORE-"
MERGE = "COGROUPKSTREAM-MERGE-"


class CogroupedKStream:
    """Grouped streams with one aggregator each, waiting for :meth:`aggregate`."""

    def __init__(self, first: KGroupedStream, aggregator: Callable[..., Any]) -> None:
        self._builder = first._builder
        self._inputs: list[tuple[KGroupedStream, Callable[..., Any], bool]] = []
        self._add(first, aggregator)

    def _add(self, grouped: KGroupedStream, aggregator: Callable[..., Any]) -> None:
        if any(g is grouped for g, _, _ in self._inputs):
            raise TopologyError("a grouped stream can be cogrouped only once")
        wk = takes_key(aggregator, 2, "cogroup")
        self._inputs.append((grouped, aggregator, wk))

    def cogroup(self, grouped: KGroupedStream, aggregator: Callable[..., Any]
                ) -> CogroupedKStream:
        """Add ``grouped`` with its ``aggregator(key, value, agg)`` (or ``(value, agg)``)."""
        self._add(grouped, aggregator)
        return self

    def aggregate(self, initializer: Callable[[], Any], materialized: Materialized | None = None,
                  name: str | None = None) -> KTable:
        """One table of every input folded per key, starting from ``initializer()``."""
        require_arity(initializer, 0, "aggregate", "initializer()")
        return self._aggregate(
            AGGREGATE, STORE, materialized, name, UNKNOWN_SERDE,
            lambda store, node: StreamAggregateProcessor(store, node, initializer, _per_input,
                                                         False))

    def windowed_by(self, windows: Any) -> Any:
        """Aggregate per window: ``TimeWindows``, ``SlidingWindows`` or ``SessionWindows``."""
        if isinstance(windows, TimeWindows):
            return TimeWindowedCogroupedKStream(TimeWindowedKStream(self, windows))  # type: ignore[arg-type]
        if isinstance(windows, SlidingWindows):
            return TimeWindowedCogroupedKStream(SlidingWindowedKStream(self, windows))  # type: ignore[arg-type]
        if isinstance(windows, SessionWindows):
            return SessionWindowedCogroupedKStream(SessionWindowedKStream(self, windows))  # type: ignore[arg-type]
        raise TopologyError(
            f"windowed_by needs TimeWindows, SessionWindows or SlidingWindows, got {windows!r}")

    def _aggregate(self, prefix: str, store_prefix: str, materialized: Materialized | None,
                   name: str | None, value_serde: Any, make: Callable[[str, str], Processor],
                   store_factory: Callable[[str, Materialized, Any, Any], Any] | None = None,
                   table_key_serde: Callable[[Any], Any] | None = None) -> KTable:
        """What :meth:`KGroupedStream._aggregate` does for one input, for all of them: one
        aggregating node per input (``make`` gives its shape; each gets its input's
        aggregator), one store, one merge node. The windowed classes call this too."""
        b = self._builder
        m = materialized or Materialized()
        # Kafka Streams' order: the store name, then each input's nodes, then the merge
        store = m.name or b.new_name(STORE)
        first = self._inputs[0][0]
        ks = m.key_serde if m.key_serde is not None else first.key_serde
        vs = m.value_serde if m.value_serde is not None else value_serde
        nodes = []
        for grouped, aggregator, wk in self._inputs:
            parent = grouped._source_for(store, ks)
            node = b.new_name(AGGREGATE)
            b.topology.add_processor(node, _supplier(make, store, node, aggregator, wk), parent)
            nodes.append(node)
        merge = b.name_or_new(name, MERGE)
        b.topology.add_processor(merge, PassThroughProcessor, *nodes)
        return aggregation_table(b, nodes, merge, store, m, ks, vs, store_factory,
                                 table_key_serde)


def _supplier(make: Callable[[str, str], Processor], store: str, node: str,
              aggregator: Callable[..., Any], with_key: bool) -> Callable[[], Processor]:
    """Makes ``node``'s processor: the cogroup's shape (``make``), folding with its own
    input's aggregator."""
    def supply() -> Processor:
        processor: Any = make(store, node)
        processor.aggregator = aggregator
        processor.with_key = with_key
        return processor
    return supply


class TimeWindowedCogroupedKStream:
    """A cogroup cut into time or sliding windows; :meth:`aggregate` makes the table."""

    def __init__(self, windowed: TimeWindowedKStream | SlidingWindowedKStream) -> None:
        self._windowed = windowed

    def aggregate(self, initializer: Callable[[], Any], materialized: Materialized | None = None,
                  name: str | None = None) -> KTable:
        """Every input folded per key and window, starting from ``initializer()``."""
        require_arity(initializer, 0, "aggregate", "initializer()")
        return self._windowed._run(AGGREGATE, STORE, materialized, name, UNKNOWN_SERDE,
                                   initializer, _per_input, False)


class SessionWindowedCogroupedKStream:
    """A cogroup cut into sessions; :meth:`aggregate` makes the table."""

    def __init__(self, windowed: SessionWindowedKStream) -> None:
        self._windowed = windowed

    def aggregate(self, initializer: Callable[[], Any], merger: Callable[..., Any],
                  materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """Every input folded per key and session; ``merger(key, agg1, agg2)`` (or
        ``(agg1, agg2)``) joins two sessions that a record brings together."""
        require_arity(initializer, 0, "aggregate", "initializer()")
        mk = takes_key(merger, 2, "merger")
        return self._windowed._run(AGGREGATE, STORE, materialized, name, UNKNOWN_SERDE,
                                   initializer, _per_input, _merger_for(merger, mk), True)


def _per_input(*args: Any) -> Any:
    """Stands for the aggregator until each input's own replaces it (never called)."""
    raise AssertionError("a cogrouped node kept the placeholder aggregator")


def _merger_for(merger: Callable[..., Any], with_key: bool) -> Callable[..., Any]:
    """The merger in the ``(key, agg1, agg2)`` form (the session node is built with keys)."""
    return merger if with_key else (lambda key, a, b: merger(a, b))
