"""Windowed grouped streams: ``grouped.windowed_by(...)`` then count, reduce or aggregate.

The result is a KTable keyed by :class:`~streams.processor.window_types.Windowed` keys; its
``to_stream()`` writes them with :class:`~streams.serdes.TimeWindowedSerde` /
:class:`~streams.serdes.SessionWindowedSerde` keys unless a Produced serde says otherwise.
Time-window aggregations forward through the record cache (one update per window per commit);
session and sliding windows forward every update (their stores are not cached yet).

The windowed streams make no KTable themselves: the grouped stream they come from aggregates
(``KGroupedStream._aggregate``) and the table applies the emit strategy, so this module does
not import :mod:`streams.dsl.grouped` or :mod:`streams.dsl.ktable` (which import it), except
for type annotations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams.dsl.functions import require_arity, takes_key
from streams.dsl.params import Materialized
from streams.dsl.processors.sliding import SlidingWindowAggregateProcessor
from streams.dsl.processors.window_aggregate import (
    SessionWindowAggregateProcessor,
    TimeWindowAggregateProcessor,
)
from streams.dsl.suppress import windowed_result, with_emit_strategy
from streams.dsl.unknown_serde import UNKNOWN_SERDE
from streams.dsl.window_specs import SessionWindows, SlidingWindows, TimeWindows
from streams.errors import TopologyError
from streams.serdes import Long
from streams.serdes.windowed_keys import SessionWindowedSerde, TimeWindowedSerde
from streams.state.timestamped import TimestampedWindowStoreBuilder
from streams.state.window_store_builders import (
    in_memory_session_store,
    in_memory_window_store,
    persistent_session_store,
    persistent_window_store,
    session_store_builder,
)

if TYPE_CHECKING:
    from streams.dsl.grouped import KGroupedStream
    from streams.dsl.ktable import KTable


def _retention(store: str, materialized: Materialized, minimum: int) -> int:
    if materialized.retention_ms is None:
        return minimum
    if materialized.retention_ms < minimum:
        raise TopologyError(
            f"store {store!r}: retention {materialized.retention_ms} ms is shorter than window "
            f"size plus grace ({minimum} ms); results would be lost before their window closes"
        )
    return materialized.retention_ms


def _window_store(grouped: KGroupedStream, name: str, m: Materialized, retention: int,
                  size: int, ks: Any, vs: Any, caching: bool) -> Any:
    """The timestamped window store builder of a time or sliding windowed aggregation."""
    supplier: Any
    if grouped._builder.store_type(m) == "in_memory":
        supplier = in_memory_window_store(name, retention, size)
    else:
        supplier = persistent_window_store(name, retention, size)
    return TimestampedWindowStoreBuilder(supplier, ks, vs, logging=m.logging,
                                         log_config=m.log_config, caching=caching)


class _FixedSizeWindowAggregations:
    """count/reduce/aggregate shared by time and sliding windows (``_run`` differs)."""

    _grouped: KGroupedStream

    def _run(self, prefix: str, store_prefix: str, materialized: Materialized | None,
             name: str | None, vs: Any, initializer: Callable[[], Any] | None,
             aggregator: Callable[..., Any], with_key: bool) -> KTable:
        raise NotImplementedError

    def emit_strategy(self, strategy: Any) -> Any:
        """A copy whose aggregations emit per ``strategy`` (KIP-825):
        ``EmitStrategy.on_window_update()`` (default, every update) or
        ``EmitStrategy.on_window_close()`` (only each window's final result, once stream time
        reaches its end + grace; implemented with a final-results suppression buffer)."""
        return with_emit_strategy(self, strategy)

    def count(self, materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """Records per key and window."""
        m = materialized or Materialized()
        vs = m.value_serde if m.value_serde is not None else Long()
        return self._run("KSTREAM-AGGREGATE-", "KSTREAM-AGGREGATE-STATE-STORE-", m, name, vs,
                         lambda: 0, lambda v, agg: agg + 1, False)

    def reduce(self, reducer: Callable[[Any, Any], Any], materialized: Materialized | None = None,
               name: str | None = None) -> KTable:
        """``reducer(aggregate, value)`` per key and window."""
        require_arity(reducer, 2, "reduce", "reducer(aggregate, value)")
        return self._run("KSTREAM-REDUCE-", "KSTREAM-REDUCE-STATE-STORE-", materialized, name,
                         self._grouped.value_serde, None, reducer, False)

    def aggregate(self, initializer: Callable[[], Any], aggregator: Callable[..., Any],
                  materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """``aggregator(key, value, agg)`` (or ``(value, agg)``) per key and window."""
        require_arity(initializer, 0, "aggregate", "initializer()")
        wk = takes_key(aggregator, 2, "aggregate")
        return self._run("KSTREAM-AGGREGATE-", "KSTREAM-AGGREGATE-STATE-STORE-", materialized,
                         name, UNKNOWN_SERDE, initializer, aggregator, wk)



class TimeWindowedKStream(_FixedSizeWindowAggregations):
    """A grouped stream cut into TimeWindows."""

    _emit_strategy: Any = None  # an EmitStrategy; see emit_strategy()

    def __init__(self, grouped: KGroupedStream, windows: TimeWindows) -> None:
        self._grouped = grouped
        self.windows = windows

    def _store(self, name: str, m: Materialized, ks: Any, vs: Any) -> Any:
        retention = _retention(name, m, self.windows.retention_ms)
        return _window_store(self._grouped, name, m, retention, self.windows.size_ms, ks, vs,
                             m.caching)

    def _key_serde(self, ks: Any) -> Any:
        return TimeWindowedSerde(ks, self.windows.size_ms)

    def _run(self, prefix: str, store_prefix: str, materialized: Materialized | None,
             name: str | None, vs: Any, initializer: Callable[[], Any] | None,
             aggregator: Callable[..., Any], with_key: bool) -> KTable:
        windows = self.windows
        table = self._grouped._aggregate(
            prefix, store_prefix, materialized, name, vs,
            lambda store, node: TimeWindowAggregateProcessor(store, node, windows, initializer,
                                                             aggregator, with_key),
            store_factory=self._store, table_key_serde=self._key_serde,
        )
        return windowed_result(table, self._emit_strategy, windows.grace_ms)

class SessionWindowedKStream:
    """A grouped stream cut into activity sessions."""

    _emit_strategy: Any = None  # an EmitStrategy; see emit_strategy()

    def __init__(self, grouped: KGroupedStream, windows: SessionWindows) -> None:
        self._grouped = grouped
        self.windows = windows

    def _store(self, name: str, m: Materialized, ks: Any, vs: Any) -> Any:
        retention = _retention(name, m, self.windows.retention_ms)
        supplier: Any
        if self._grouped._builder.store_type(m) == "in_memory":
            supplier = in_memory_session_store(name, retention)
        else:
            supplier = persistent_session_store(name, retention)
        builder = session_store_builder(supplier, ks, vs)
        return (builder.with_logging_enabled(m.log_config) if m.logging
                else builder.with_logging_disabled())

    @staticmethod
    def _key_serde(ks: Any) -> Any:
        return SessionWindowedSerde(ks)

    def _run(self, prefix: str, store_prefix: str, materialized: Materialized | None,
             name: str | None, vs: Any, initializer: Callable[[], Any],
             aggregator: Callable[..., Any], merger: Callable[..., Any], with_key: bool) -> KTable:
        windows = self.windows
        table = self._grouped._aggregate(
            prefix, store_prefix, materialized, name, vs,
            lambda store, node: SessionWindowAggregateProcessor(store, node, windows, initializer,
                                                                aggregator, merger, with_key),
            store_factory=self._store, table_key_serde=self._key_serde,
        )
        # suppress: a session may still grow until stream time passes end + gap + grace (Kafka
        # Streams' GraphGraceSearchUtil); emit-on-close emits sessions ending strictly before
        # stream time - gap - grace (KIP-825's KStreamSessionWindowAggregate), hence the + 1
        close_after = windows.grace_ms + windows.gap_ms
        return windowed_result(table, self._emit_strategy, close_after, close_after + 1)

    def emit_strategy(self, strategy: Any) -> SessionWindowedKStream:
        """A copy whose aggregations emit per ``strategy`` (KIP-825):
        ``EmitStrategy.on_window_update()`` (default) or ``EmitStrategy.on_window_close()``
        (only each session's final result, once stream time passes its end + gap + grace)."""
        return with_emit_strategy(self, strategy)

    def count(self, materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """Records per key and session."""
        m = materialized or Materialized()
        vs = m.value_serde if m.value_serde is not None else Long()
        return self._run("KSTREAM-AGGREGATE-", "KSTREAM-AGGREGATE-STATE-STORE-", m, name, vs,
                         lambda: 0, lambda v, agg: agg + 1, lambda a, b: a + b, False)

    def reduce(self, reducer: Callable[[Any, Any], Any], materialized: Materialized | None = None,
               name: str | None = None) -> KTable:
        """``reducer(aggregate, value)`` per key and session (merging uses it too)."""
        require_arity(reducer, 2, "reduce", "reducer(aggregate, value)")

        def add(value: Any, agg: Any) -> Any:
            return value if agg is None else reducer(agg, value)

        def merge(a: Any, b: Any) -> Any:
            return b if a is None else a if b is None else reducer(a, b)

        return self._run("KSTREAM-REDUCE-", "KSTREAM-REDUCE-STATE-STORE-", materialized, name,
                         self._grouped.value_serde, lambda: None, add, merge, False)

    def aggregate(self, initializer: Callable[[], Any], aggregator: Callable[..., Any],
                  merger: Callable[..., Any], materialized: Materialized | None = None,
                  name: str | None = None) -> KTable:
        """``aggregator(key, value, agg)`` per session; ``merger(key, agg1, agg2)`` combines
        sessions that a record bridges (both may drop the key argument)."""
        require_arity(initializer, 0, "aggregate", "initializer()")
        wk = takes_key(aggregator, 2, "aggregate")
        if takes_key(merger, 2, "aggregate merger") != wk:
            raise TopologyError("aggregate: aggregator and merger must both take the key or not")
        return self._run("KSTREAM-AGGREGATE-", "KSTREAM-AGGREGATE-STATE-STORE-", materialized,
                         name, UNKNOWN_SERDE, initializer, aggregator, merger, wk)


class SlidingWindowedKStream(_FixedSizeWindowAggregations):
    """A grouped stream cut into SlidingWindows (Kafka Streams' KIP-450).

    Windows are ``[start, start + time difference]``, both ends inclusive, and exist only
    where records are: see :mod:`streams.dsl.processors.sliding`. Result keys are
    ``Windowed(key, TimeWindow(start, start + time difference))`` and are written with
    ``TimeWindowedSerde(key_serde, time_difference)``, as Kafka Streams does.
    """

    _emit_strategy: Any = None  # an EmitStrategy; see emit_strategy()

    def __init__(self, grouped: KGroupedStream, windows: SlidingWindows) -> None:
        self._grouped = grouped
        self.windows = windows

    def _store(self, name: str, m: Materialized, ks: Any, vs: Any) -> Any:
        d, grace = self.windows.time_difference_ms, self.windows.grace_ms
        # As Kafka Streams: 2 * d + grace, because a record at t may need the window that
        # starts at t - 2d (the left window of an earlier record) to create that record's
        # right window, for as long as the record can still arrive.
        minimum = 2 * d + grace
        if m.retention_ms is not None and m.retention_ms < minimum:
            raise TopologyError(
                f"store {name!r}: retention {m.retention_ms} ms is shorter than 2 * time "
                f"difference plus grace ({minimum} ms), which sliding windows need"
            )
        retention = minimum if m.retention_ms is None else m.retention_ms
        # not cached: the sliding aggregation reads neighbouring windows on every record
        return _window_store(self._grouped, name, m, retention, d, ks, vs, False)

    def _key_serde(self, ks: Any) -> Any:
        return TimeWindowedSerde(ks, self.windows.time_difference_ms)

    def _run(self, prefix: str, store_prefix: str, materialized: Materialized | None,
             name: str | None, vs: Any, initializer: Callable[[], Any] | None,
             aggregator: Callable[..., Any], with_key: bool) -> KTable:
        windows = self.windows
        table = self._grouped._aggregate(
            prefix, store_prefix, materialized, name, vs,
            lambda store, node: SlidingWindowAggregateProcessor(store, node, windows, initializer,
                                                                aggregator, with_key),
            store_factory=self._store, table_key_serde=self._key_serde,
        )
        # suppress(until_window_closes) closes after the grace (Kafka Streams'
        # GraphGraceSearchUtil); emit-on-close emits windows ending strictly before stream
        # time - grace, since the processor still updates a window whose end equals it
        return windowed_result(table, self._emit_strategy, windows.grace_ms,
                               windows.grace_ms + 1)
