"""KTable (a changelog stream seen as a table) and GlobalKTable."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams.dsl.builder import UNKNOWN
from streams.dsl.functions import require_arity, takes_key
from streams.dsl.params import Grouped, Materialized
from streams.dsl.processors.aggregate import (
    TableFilterProcessor,
    TableMapValuesProcessor,
    TableRepartitionMapProcessor,
    TableToStreamProcessor,
)

if TYPE_CHECKING:
    from streams.dsl.builder import StreamsBuilder
    from streams.dsl.grouped import KGroupedTable
    from streams.dsl.kstream import KStream


class KTable:
    """The latest value per key. Updates flow downstream as (new, old) pairs; a None value
    deletes the key. ``store_name`` names the store holding it, when materialized."""

    def __init__(self, builder: StreamsBuilder, node: str, key_serde: Any, value_serde: Any,
                 store_name: str | None = None) -> None:
        self._builder = builder
        self.node = node
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.store_name = store_name

    def _store_name(self, prefix: str, materialized: Materialized | None) -> str | None:
        """The store's name; Kafka Streams generates it (``KTABLE-FILTER-STATE-STORE-<n>``)
        before the node's name."""
        if materialized is None:
            return None
        return materialized.name or self._builder.new_name(f"{prefix}STATE-STORE-")

    def _materialize(self, node: str, store: str | None, materialized: Materialized | None,
                     vs: Any) -> str | None:
        if materialized is None or store is None:
            return None
        b = self._builder
        ks = materialized.key_serde if materialized.key_serde is not None else self.key_serde
        if materialized.value_serde is not None:
            vs = materialized.value_serde
        if ks is UNKNOWN:
            b.topology.require_serde(node, "key", f"it materializes store {store!r}")
        if vs is UNKNOWN:
            b.topology.require_serde(node, "value", f"it materializes store {store!r}")
        b.topology.add_state_store(b.timestamped_store(store, materialized, ks, vs))
        return store

    def _derive(self, prefix: str, name: str | None, materialized: Materialized | None,
                value_serde: Any, make: Callable[[str, str | None], Any]) -> KTable:
        b = self._builder
        store_name = self._store_name(prefix, materialized)
        node = b.name_or_new(name, prefix)
        store = self._materialize(node, store_name, materialized, value_serde)
        b.topology.add_processor(node, lambda: make(node, store), self.node)
        if store is not None:
            b.topology.connect_processor_and_state_stores(node, store)
            if materialized is not None and materialized.value_serde is not None:
                value_serde = materialized.value_serde
        return KTable(b, node, self.key_serde, value_serde, store_name=store)

    def filter(self, predicate: Callable[..., Any], materialized: Materialized | None = None,
               name: str | None = None) -> KTable:
        """Rows failing ``predicate`` become deletions downstream."""
        wk = takes_key(predicate, 1, "KTable.filter")
        return self._derive("KTABLE-FILTER-", name, materialized, self.value_serde,
                            lambda n, s: TableFilterProcessor(predicate, wk, False, s))

    def filter_not(self, predicate: Callable[..., Any], materialized: Materialized | None = None,
                   name: str | None = None) -> KTable:
        """Rows matching ``predicate`` become deletions downstream."""
        wk = takes_key(predicate, 1, "KTable.filter_not")
        return self._derive("KTABLE-FILTER-", name, materialized, self.value_serde,
                            lambda n, s: TableFilterProcessor(predicate, wk, True, s))

    def map_values(self, mapper: Callable[..., Any], materialized: Materialized | None = None,
                   name: str | None = None) -> KTable:
        """A table of ``mapper(value)`` (or ``mapper(key, value)``) per key."""
        wk = takes_key(mapper, 1, "KTable.map_values")
        return self._derive("KTABLE-MAPVALUES-", name, materialized, UNKNOWN,
                            lambda n, s: TableMapValuesProcessor(mapper, wk, s))

    def to_stream(self, key_mapper: Callable[[Any, Any], Any] | None = None,
                  name: str | None = None) -> KStream:
        """The table's updates as a stream (deletions as None values)."""
        from streams.dsl.kstream import KStream

        if key_mapper is not None:
            require_arity(key_mapper, 2, "to_stream", "key_mapper(key, value)")
        b = self._builder
        node = b.name_or_new(name, "KTABLE-TOSTREAM-")
        b.topology.add_processor(node, lambda: TableToStreamProcessor(key_mapper), self.node)
        ks = self.key_serde if key_mapper is None else UNKNOWN
        return KStream(b, node, ks, self.value_serde, key_mapper is not None)

    def group_by(self, selector: Callable[[Any, Any], tuple[Any, Any]],
                 grouped: Grouped | None = None) -> KGroupedTable:
        """Re-group rows: ``selector(key, value) -> (group_key, value)``; always repartitions."""
        from streams.dsl.grouped import KGroupedTable

        require_arity(selector, 2, "KTable.group_by", "selector(key, value) -> (key, value)")
        g = grouped or Grouped()
        b = self._builder
        # Kafka Streams: "<grouped name>-select" (no index used) or KTABLE-SELECT-<n>
        node = f"{g.name}-select" if g.name else b.new_name("KTABLE-SELECT-")
        b.topology.add_processor(node, lambda: TableRepartitionMapProcessor(selector, node), self.node)
        ks = g.key_serde if g.key_serde is not None else UNKNOWN
        vs = g.value_serde if g.value_serde is not None else UNKNOWN
        return KGroupedTable(b, node, ks, vs, g.name)

    def __repr__(self) -> str:
        return f"KTable(node={self.node!r}, store={self.store_name!r})"


class GlobalKTable:
    """A table replicated in full to every instance; used in stream-global table joins."""

    def __init__(self, builder: StreamsBuilder, store_name: str, key_serde: Any, value_serde: Any) -> None:
        self._builder = builder
        self.store_name = store_name
        self.key_serde = key_serde
        self.value_serde = value_serde

    def __repr__(self) -> str:
        return f"GlobalKTable(store={self.store_name!r})"
