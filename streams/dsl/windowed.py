"""Windowed grouped streams: ``grouped.windowed_by(...)`` then count, reduce or aggregate.

The result is a KTable keyed by :class:`~streams.state.windowed.Windowed` keys; its
``to_stream()`` writes them with :class:`~streams.serdes.TimeWindowedSerde` /
:class:`~streams.serdes.SessionWindowedSerde` keys unless a Produced serde says otherwise.
Updates are emitted for every record (as Kafka Streams with caching off).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams.dsl.builder import UNKNOWN
from streams.dsl.functions import require_arity, takes_key
from streams.dsl.params import Materialized
from streams.dsl.processors.windowed import (
    SessionWindowAggregateProcessor,
    TimeWindowAggregateProcessor,
)
from streams.dsl.windows import SessionWindows, TimeWindows
from streams.errors import TopologyError

if TYPE_CHECKING:
    from streams.dsl.grouped import KGroupedStream
    from streams.dsl.ktable import KTable


def _long() -> Any:
    from streams.serdes import Long

    return Long()


def _retention(store: str, materialized: Materialized, minimum: int) -> int:
    if materialized.retention_ms is None:
        return minimum
    if materialized.retention_ms < minimum:
        raise TopologyError(
            f"store {store!r}: retention {materialized.retention_ms} ms is shorter than window "
            f"size plus grace ({minimum} ms); results would be lost before their window closes"
        )
    return materialized.retention_ms


class TimeWindowedKStream:
    """A grouped stream cut into TimeWindows."""

    def __init__(self, grouped: KGroupedStream, windows: TimeWindows) -> None:
        self._grouped = grouped
        self.windows = windows

    def _store(self, name: str, m: Materialized, ks: Any, vs: Any) -> Any:
        from streams.state.timestamped import TimestampedWindowStoreBuilder
        from streams.state.window_stores import in_memory_window_store, persistent_window_store

        retention = _retention(name, m, self.windows.retention_ms)
        size = self.windows.size_ms
        supplier: Any
        if self._grouped._builder.store_type(m) == "in_memory":
            supplier = in_memory_window_store(name, retention, size)
        else:
            supplier = persistent_window_store(name, retention, size)
        return TimestampedWindowStoreBuilder(supplier, ks, vs, logging=m.logging,
                                             log_config=m.log_config)

    def _key_serde(self, ks: Any) -> Any:
        from streams.serdes.windowed import TimeWindowedSerde

        return TimeWindowedSerde(ks, self.windows.size_ms)

    def _run(self, prefix: str, store_prefix: str, materialized: Materialized | None,
             name: str | None, vs: Any, initializer: Callable[[], Any] | None,
             aggregator: Callable[..., Any], with_key: bool) -> KTable:
        windows = self.windows
        return self._grouped._aggregate(
            prefix, store_prefix, materialized, name, vs,
            lambda store, node: TimeWindowAggregateProcessor(store, node, windows, initializer,
                                                             aggregator, with_key),
            store_factory=self._store, table_key_serde=self._key_serde,
        )

    def count(self, materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """Records per key and window."""
        m = materialized or Materialized()
        vs = m.value_serde if m.value_serde is not None else _long()
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
                         name, UNKNOWN, initializer, aggregator, wk)


class SessionWindowedKStream:
    """A grouped stream cut into activity sessions."""

    def __init__(self, grouped: KGroupedStream, windows: SessionWindows) -> None:
        self._grouped = grouped
        self.windows = windows

    def _store(self, name: str, m: Materialized, ks: Any, vs: Any) -> Any:
        from streams.state.window_stores import (
            in_memory_session_store,
            persistent_session_store,
            session_store_builder,
        )

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
        from streams.serdes.windowed import SessionWindowedSerde

        return SessionWindowedSerde(ks)

    def _run(self, prefix: str, store_prefix: str, materialized: Materialized | None,
             name: str | None, vs: Any, initializer: Callable[[], Any],
             aggregator: Callable[..., Any], merger: Callable[..., Any], with_key: bool) -> KTable:
        windows = self.windows
        return self._grouped._aggregate(
            prefix, store_prefix, materialized, name, vs,
            lambda store, node: SessionWindowAggregateProcessor(store, node, windows, initializer,
                                                                aggregator, merger, with_key),
            store_factory=self._store, table_key_serde=self._key_serde,
        )

    def count(self, materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """Records per key and session."""
        m = materialized or Materialized()
        vs = m.value_serde if m.value_serde is not None else _long()
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
                         name, UNKNOWN, initializer, aggregator, merger, wk)
