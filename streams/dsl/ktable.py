"""KTable (a changelog stream seen as a table), its re-grouped form KGroupedTable, and
GlobalKTable.

This module comes before :mod:`streams.dsl.kstream` in the DSL's import order (see
:mod:`streams.dsl`), so ``KTable.to_stream`` makes its KStream through
:meth:`StreamsBuilder.stream_of_node <streams.dsl.builder.StreamsBuilder.stream_of_node>`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams.dsl.change import ChangeSerde
from streams.dsl.copartitioning import declare_join_inputs
from streams.dsl.fk_join import foreign_key_join
from streams.dsl.functions import require_arity, takes_key
from streams.dsl.getters import (
    GetterFactory,
    filtered_getter,
    joined_getter,
    mapped_getter,
    store_getter,
)
from streams.dsl.params import Grouped, Materialized, TableJoined, join_name
from streams.dsl.processors.aggregate import (
    TableAggregateProcessor,
    TableFilterProcessor,
    TableMapValuesProcessor,
    TableReduceProcessor,
    TableRepartitionMapProcessor,
    TableToStreamProcessor,
)
from streams.dsl.processors.joins import TableJoinMergeProcessor, TableTableJoinProcessor
from streams.dsl.suppress import Suppressed, build_suppress
from streams.dsl.unknown_serde import UNKNOWN_SERDE, known_serde
from streams.errors import TopologyError
from streams.processor.api import Processor
from streams.serdes import Long
from streams.state.versioned_builder import is_versioned

if TYPE_CHECKING:
    from streams.dsl.builder import StreamsBuilder
    from streams.dsl.kstream import KStream


class KTable:
    """The latest value per key. Updates flow downstream as (new, old) pairs; a None value
    deletes the key. ``store_name`` names the store holding it, when materialized."""

    def __init__(self, builder: StreamsBuilder, node: str, key_serde: Any, value_serde: Any,
                 store_name: str | None = None, getter: GetterFactory | None = None) -> None:
        self._builder = builder
        self.node = node
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.store_name = store_name
        self._getter = getter
        #: the window or session store behind a windowed aggregation's table
        self.window_store_name: str | None = None
        #: whether a node downstream needs this table's old values (Kafka Streams'
        #: ``sendOldValues``): a box its processor reads when it is made, after the whole build
        self._send_old = [False]
        #: the tables to ask in turn (an unmaterialized filter or mapping has no old values of
        #: its own: its parent must send them)
        self._old_values_from: list[KTable] = []
        #: materialized as far as Kafka Streams is concerned: a source table only once named by
        #: the user or needed by a join or old values (this runtime always gives it a store)
        self._materialized = True
        #: a table-table join's result: asked for old values, it asks both sides
        self._is_join = False
        #: a versioned table (KIP-914): materialized in a versioned store, or derived from one
        #: without a store of its own; joins look its values up as of the record's time
        self.versioned = False

    def _enable_sending_old_values(self) -> None:
        """A node downstream needs old values (a re-grouping, a suppression, a left or outer
        join, a foreign-key join): as Kafka Streams' ``enableSendingOldValues(true)``."""
        self._send_old[0] = True
        self._materialized = True
        for parent in self._old_values_from:
            parent._enable_sending_old_values()

    def _sends_old_values_if_materialized(self) -> bool:
        """Kafka Streams' ``enableSendingOldValues(false)``: send old values if that needs no
        new store (this table, or the first one upstream that has values of its own, is
        materialized already); True if it now does. A filter asks its parent so when it is
        built, and then drops updates that fail before and after (KAFKA-10077)."""
        if self._is_join:
            self._enable_sending_old_values()
            return True
        if self._old_values_from:
            able = all(p._sends_old_values_if_materialized() for p in self._old_values_from)
        else:
            able = self._materialized
        if able:
            self._send_old[0] = True
        return able

    @property
    def value_getter(self) -> GetterFactory:
        """How joins read this table's current value for a key."""
        self._materialized = True  # as Kafka Streams' valueGetterSupplier() materializes
        if self.store_name is not None:
            return store_getter(self.store_name)
        if self._getter is None:
            raise TopologyError(f"KTable {self.node!r} cannot be read by key; materialize it "
                                "with Materialized(...) before joining")
        return self._getter

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
        if ks is UNKNOWN_SERDE:
            b.topology.require_serde(node, "key", f"it materializes store {store!r}")
        if vs is UNKNOWN_SERDE:
            b.topology.require_serde(node, "value", f"it materializes store {store!r}")
        b.topology.add_state_store(b.timestamped_store(store, materialized, ks, vs))
        return store

    def _derive(self, prefix: str, name: str | None, materialized: Materialized | None,
                value_serde: Any, make: Callable[[str, str | None], Any],
                getter: Callable[[GetterFactory], GetterFactory] | None = None,
                send_old: list[bool] | None = None) -> KTable:
        b = self._builder
        store_name = self._store_name(prefix, materialized)
        node = b.name_or_new(name, prefix)
        store = self._materialize(node, store_name, materialized, value_serde)
        b.topology.add_processor(node, lambda: make(node, store), self.node)
        if store is not None:
            b.topology.connect_processor_and_state_stores(node, store)
            if materialized is not None and materialized.value_serde is not None:
                value_serde = materialized.value_serde
        derived = None
        if store is None and getter is not None and (self.store_name or self._getter):
            derived = getter(self.value_getter)
        table = KTable(b, node, self.key_serde, value_serde, store_name=store, getter=derived)
        table.versioned = (self.versioned if store is None
                           else is_versioned(materialized.store_supplier if materialized else None))
        if send_old is not None:
            table._send_old = send_old
        if store is None:
            table._old_values_from = [self]
        return table

    def filter(self, predicate: Callable[..., Any], materialized: Materialized | None = None,
               name: str | None = None) -> KTable:
        """Rows failing ``predicate`` become deletions downstream."""
        wk = takes_key(predicate, 1, "KTable.filter")
        send_old = [self._sends_old_values_if_materialized()]
        return self._derive("KTABLE-FILTER-", name, materialized, self.value_serde,
                            lambda n, s: TableFilterProcessor(predicate, wk, False, s, send_old,
                                                             self.versioned),
                            lambda g: filtered_getter(g, predicate, wk, False), send_old)

    def filter_not(self, predicate: Callable[..., Any], materialized: Materialized | None = None,
                   name: str | None = None) -> KTable:
        """Rows matching ``predicate`` become deletions downstream."""
        wk = takes_key(predicate, 1, "KTable.filter_not")
        send_old = [self._sends_old_values_if_materialized()]
        return self._derive("KTABLE-FILTER-", name, materialized, self.value_serde,
                            lambda n, s: TableFilterProcessor(predicate, wk, True, s, send_old,
                                                             self.versioned),
                            lambda g: filtered_getter(g, predicate, wk, True), send_old)

    def map_values(self, mapper: Callable[..., Any], materialized: Materialized | None = None,
                   name: str | None = None) -> KTable:
        """A table of ``mapper(value)`` (or ``mapper(key, value)``) per key."""
        wk = takes_key(mapper, 1, "KTable.map_values")
        return self._derive("KTABLE-MAPVALUES-", name, materialized, UNKNOWN_SERDE,
                            lambda n, s: TableMapValuesProcessor(mapper, wk, s),
                            lambda g: mapped_getter(g, mapper, wk))

    def to_stream(self, key_mapper: Callable[[Any, Any], Any] | None = None,
                  name: str | None = None) -> KStream:
        """The table's updates as a stream (deletions as None values)."""
        if key_mapper is not None:
            require_arity(key_mapper, 2, "to_stream", "key_mapper(key, value)")
        b = self._builder
        node = b.name_or_new(name, "KTABLE-TOSTREAM-")
        b.topology.add_processor(node, lambda: TableToStreamProcessor(key_mapper), self.node)
        ks = self.key_serde if key_mapper is None else UNKNOWN_SERDE
        return b.stream_of_node(node, ks, self.value_serde, key_mapper is not None)

    def group_by(self, selector: Callable[[Any, Any], tuple[Any, Any]],
                 grouped: Grouped | None = None) -> KGroupedTable:
        """Re-group rows: ``selector(key, value) -> (group_key, value)``; always repartitions."""
        require_arity(selector, 2, "KTable.group_by", "selector(key, value) -> (key, value)")
        g = grouped or Grouped()
        b = self._builder
        self._enable_sending_old_values()  # the subtractor needs the old row
        # Kafka Streams: "<grouped name>-select" (no index used) or KTABLE-SELECT-<n>
        node = f"{g.name}-select" if g.name else b.new_name("KTABLE-SELECT-")
        versioned = self.versioned
        b.topology.add_processor(
            node, lambda: TableRepartitionMapProcessor(selector, node, versioned), self.node)
        ks = g.key_serde if g.key_serde is not None else UNKNOWN_SERDE
        vs = g.value_serde if g.value_serde is not None else UNKNOWN_SERDE
        return KGroupedTable(b, node, ks, vs, g.name)

    def suppress(self, suppressed: Any) -> KTable:
        """Hold back updates: ``Suppressed.until_window_closes(BufferConfig.unbounded())``
        (final results of a windowed table) or ``Suppressed.until_time_limit(ms, config)``;
        see ``streams.dsl.suppress`` and docs/windowing.md."""
        return self._suppress(suppressed)

    def _suppress(self, suppressed: Suppressed, *, node: str | None = None,
                  store: str | None = None, close_after_ms: int | None = None,
                  by_window: bool = False) -> KTable:
        """:meth:`suppress`, with the node and buffer store names and the window grace given
        instead of generated or looked up (what ``emit_strategy(EmitStrategy.on_window_close())``
        uses); see :func:`streams.dsl.suppress.build_suppress`."""
        if self.versioned:
            raise TopologyError(f"suppress() of KTable {self.node!r}: suppression is only "
                                "supported for tables that are not versioned (a versioned store "
                                "upstream makes this table versioned), as in Kafka Streams")
        self._enable_sending_old_values()  # the buffer keeps what downstream last saw
        node, getter = build_suppress(self, suppressed, node=node, store=store,
                                      close_after_ms=close_after_ms, by_window=by_window)
        return KTable(self._builder, node, self.key_serde, self.value_serde, store_name=None,
                      getter=getter)

    # ------------------------------------------------------------------ joins
    def join(self, other: KTable, joiner: Callable[..., Any], *args: Any,
             materialized: Materialized | None = None, name: str | None = None,
             table_joined: TableJoined | None = None) -> KTable:
        """Inner join.

        * ``join(other, joiner[, materialized, name])``: on the key; a row exists while both
          tables have one; ``joiner(left, right)`` or ``joiner(key, left, right)``.
        * ``join(other, foreign_key_extractor, joiner[, materialized, name])``: foreign-key
          join (KIP-213): each row joins the ``other`` row whose key is
          ``foreign_key_extractor(value)`` (or ``(key, value)``); see ``streams.dsl.fk_join``.
          Its options (name, partitioners) come as ``table_joined=TableJoined(...)`` or as
          a ``TableJoined`` after the joiner, as in Kafka Streams.
        """
        return self._join_dispatch("inner", other, joiner, args, materialized, name,
                                   table_joined)

    def left_join(self, other: KTable, joiner: Callable[..., Any], *args: Any,
                  materialized: Materialized | None = None, name: str | None = None,
                  table_joined: TableJoined | None = None) -> KTable:
        """Left join: a row exists while this table has one (``right`` may be None); same two
        forms as :meth:`join` (on the key, or with a foreign key extractor first)."""
        return self._join_dispatch("left", other, joiner, args, materialized, name,
                                   table_joined)

    def _join_dispatch(self, mode: str, other: KTable, first: Callable[..., Any],
                       args: tuple[Any, ...], materialized: Materialized | None,
                       name: str | None, table_joined: TableJoined | None = None) -> KTable:
        """A function as the third argument makes it a foreign-key join (extractor, joiner);
        then a ``TableJoined`` may follow; the remaining positional arguments are
        ``materialized`` and ``name``."""
        op = "join" if mode == "inner" else "left_join"
        rest = list(args)
        extractor = None
        if rest and callable(rest[0]) and not isinstance(rest[0], Materialized):
            extractor, first = first, rest.pop(0)
        if rest and isinstance(rest[0], TableJoined):
            if table_joined is not None:
                raise TopologyError(f"KTable.{op}: TableJoined given twice")
            table_joined = rest.pop(0)
        if table_joined is not None:
            if extractor is None:
                raise TopologyError(f"KTable.{op}: TableJoined is for foreign-key joins")
            name = join_name(f"KTable.{op}", name, table_joined.name)
        if len(rest) > 2:
            raise TypeError(f"KTable.{op}() got {len(args) + 2} positional arguments after self; "
                            "expected (other, [foreign_key_extractor,] joiner, materialized, name)")
        if rest:
            if materialized is not None:
                raise TypeError(f"KTable.{op}() got multiple values for 'materialized'")
            materialized = rest[0]
        if len(rest) > 1:
            if name is not None:
                raise TypeError(f"KTable.{op}() got multiple values for 'name'")
            name = rest[1]
        if extractor is None:
            return self._table_join(other, first, mode, materialized, name)
        if not isinstance(other, KTable):
            raise TopologyError(f"KTable.{op} (foreign key) needs another KTable, got "
                                f"{type(other).__name__}")
        self._enable_sending_old_values()  # an update unsubscribes from the old foreign key
        node, ks, vs, store = foreign_key_join(
            self, other, extractor, first, materialized, name, mode == "left",
            table_joined.other_partitioner if table_joined is not None else None)
        return KTable(self._builder, node, ks, vs, store_name=store)

    def outer_join(self, other: KTable, joiner: Callable[..., Any],
                   materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """Outer join: a row exists while either table has one (the other side may be None)."""
        return self._table_join(other, joiner, "outer", materialized, name)

    def _table_join(self, other: KTable, joiner: Callable[..., Any], mode: str,
                    materialized: Materialized | None, name: str | None) -> KTable:
        op = {"inner": "join", "left": "left_join", "outer": "outer_join"}[mode]
        if not isinstance(other, KTable):
            raise TopologyError(f"KTable.{op} needs another KTable, got {type(other).__name__}")
        if other._builder is not self._builder:
            raise TopologyError(f"KTable.{op}: both tables must come from the same StreamsBuilder")
        wk = takes_key(joiner, 2, f"KTable.{op}")
        b = self._builder
        topo = b.topology
        # as Kafka Streams' KTableImpl.doJoin: the outer sides send old values
        if mode in ("left", "outer"):
            self._enable_sending_old_values()
        if mode == "outer":
            other._enable_sending_old_values()
        this_getter, other_getter = self.value_getter, other.value_getter
        declare_join_inputs(topo, self.node, other.node)
        # named as Kafka Streams does, whatever the mode: the store (KTABLE-MERGE-STATE-STORE-
        # <n> unless named), the merge node, then KTABLE-JOINTHIS-/KTABLE-JOINOTHER-<n>, or
        # "<name>-join-this"/"<name>-join-other" for a named join (indexes are used anyway)
        store = self._store_name("KTABLE-MERGE-", materialized)
        merge = b.name_or_new(name, "KTABLE-MERGE-")
        this_node = b.name_or_new(None, "KTABLE-JOINTHIS-")
        other_node = b.name_or_new(None, "KTABLE-JOINOTHER-")
        if name:
            this_node, other_node = f"{name}-join-this", f"{name}-join-other"
        topo.add_processor(this_node, lambda: TableTableJoinProcessor(
            other_getter, joiner, wk, mode, True, self.versioned), self.node)
        topo.connect_processor_and_state_stores(this_node, *other_getter[0])
        topo.add_processor(other_node, lambda: TableTableJoinProcessor(
            this_getter, joiner, wk, mode, False, other.versioned), other.node)
        topo.connect_processor_and_state_stores(other_node, *this_getter[0])
        store = self._materialize(merge, store, materialized, UNKNOWN_SERDE)
        topo.add_processor(merge, lambda: TableJoinMergeProcessor(store), this_node, other_node)
        vs: Any = UNKNOWN_SERDE
        if store is not None:
            topo.connect_processor_and_state_stores(merge, store)
            if materialized is not None and materialized.value_serde is not None:
                vs = materialized.value_serde
        getter = None if store else joined_getter(this_getter, other_getter, joiner, wk, mode)
        joined = KTable(b, merge, self.key_serde, vs, store_name=store, getter=getter)
        joined._old_values_from = [self, other]  # a join asked for old values asks both sides
        joined._is_join = True
        return joined

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
        b = self._builder
        topo = b.topology
        sink = b.name_or_new(f"{name}-sink" if name else None, "KSTREAM-SINK-")
        source = b.name_or_new(f"{name}-source" if name else None, "KSTREAM-SOURCE-")
        if self._name is not None and self._repartition_source is not None:
            return self._repartition_source
        topic = f"{self._name or store}-repartition"
        ks, vs = self.key_serde, self.value_serde
        why = f"it writes to repartition topic {topic!r} after group_by"
        if ks is UNKNOWN_SERDE:
            topo.require_serde(sink, "key", why)
        if vs is UNKNOWN_SERDE:
            topo.require_serde(sink, "value", why)
        kser = known_serde(ks)
        vser = ChangeSerde(known_serde(vs))
        topo.add_internal_topic(topic, "repartition")
        topo.add_sink(sink, topic, self._select, key_serde=kser, value_serde=vser)
        # as in Kafka Streams, internal topics are always read from the beginning
        topo.add_source(source, [topic], key_serde=kser, value_serde=vser, offset_reset="earliest")
        self._repartition_source = source
        return source

    def _aggregate(self, prefix: str, store_prefix: str, materialized: Materialized | None,
                   name: str | None, value_serde: Any,
                   make: Callable[[str, str], Processor]) -> KTable:
        b = self._builder
        m = materialized or Materialized()
        store = m.name or b.new_name(store_prefix)
        ks = m.key_serde if m.key_serde is not None else self.key_serde
        vs = m.value_serde if m.value_serde is not None else value_serde
        source = self._repartition(store, name)
        node = b.name_or_new(name, prefix)
        b.topology.add_processor(node, lambda: make(store, node), source)
        if ks is UNKNOWN_SERDE:
            b.topology.require_serde(node, "key", f"its store {store!r} is keyed by a computed key")
        if vs is UNKNOWN_SERDE:
            b.topology.require_serde(node, "value", f"its store {store!r} holds computed values")
        b.topology.add_state_store(b.timestamped_store(store, m, ks, vs), node)
        return KTable(b, node, ks, vs, store_name=store)

    def count(self, materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """Number of table rows per group (goes down when rows leave the group)."""
        m = materialized or Materialized()
        vs = m.value_serde if m.value_serde is not None else Long()
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
            raise TopologyError("aggregate: adder and subtractor must take the same arguments")
        return self._aggregate(
            "KTABLE-AGGREGATE-", "KTABLE-AGGREGATE-STATE-STORE-", materialized, name, UNKNOWN_SERDE,
            lambda store, node: TableAggregateProcessor(store, node, initializer, adder,
                                                        subtractor, wk),
        )
