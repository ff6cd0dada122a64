"""KStream: an unbounded stream of key-value records, and the operations on it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from streams.dsl.copartitioning import declare_join_inputs
from streams.dsl.functions import require_arity, takes_key
from streams.dsl.getters import GetterFactory, store_getter
from streams.dsl.grouped import KGroupedStream
from streams.dsl.ktable import GlobalKTable, KTable
from streams.dsl.params import (
    Branched,
    Grouped,
    Joined,
    Materialized,
    Produced,
    Repartitioned,
    join_name,
)
from streams.dsl.processors import stateless as sl
from streams.dsl.processors.aggregate import TableSourceProcessor
from streams.dsl.processors.join_buffer import add_join_buffer
from streams.dsl.processors.joins import JoinRepartitionFilterProcessor, StreamTableJoinProcessor
from streams.dsl.stream_join import add_stream_stream_join
from streams.dsl.unknown_serde import UNKNOWN_SERDE, known_serde
from streams.dsl.window_specs import JoinWindows
from streams.errors import TopologyError
from streams.processor.api import Processor
from streams.state.versioned_builder import is_versioned

if TYPE_CHECKING:
    from streams.dsl.builder import StreamsBuilder


#: A name the builder generated (Kafka Streams: ``"KSTREAM.*-[0-9]{10}"``); repartition nodes
#: derived from such a name get generated names as well.
_GENERATED = re.compile(r"KSTREAM.*-[0-9]{10}")


class KStream:
    """A stream of records. Operations return new KStreams; nothing runs until the topology
    is started (``KafkaStreams``) or driven (``TopologyTestDriver``).

    Functions may take the value alone or the key and the value: ``filter(lambda v: v > 0)``
    and ``filter(lambda k, v: k != "x")`` both work.
    """

    def __init__(self, builder: StreamsBuilder, node: str, key_serde: Any, value_serde: Any,
                 repartition_required: bool) -> None:
        self._builder = builder
        self.node = node
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.repartition_required = repartition_required

    # ------------------------------------------------------------------ helpers
    def _add(self, prefix: str, name: str | None, make: Callable[[str], Processor],
             *, key_serde: Any = None, value_serde: Any = None, key_changed: bool = False,
             same_key_serde: bool = True, same_value_serde: bool = True) -> KStream:
        node = self._builder.name_or_new(name, prefix)
        self._builder.topology.add_processor(node, lambda: make(node), self.node)
        ks = (self.key_serde if same_key_serde
              else (key_serde if key_serde is not None else UNKNOWN_SERDE))
        vs = (self.value_serde if same_value_serde
              else (value_serde if value_serde is not None else UNKNOWN_SERDE))
        return KStream(self._builder, node, ks, vs, self.repartition_required or key_changed)

    # ------------------------------------------------------------------ stateless
    def filter(self, predicate: Callable[..., Any], name: str | None = None) -> KStream:
        """Keep records for which ``predicate(value)`` (or ``predicate(key, value)``) is true."""
        wk = takes_key(predicate, 1, "filter")
        return self._add("KSTREAM-FILTER-", name, lambda n: sl.FilterProcessor(predicate, wk, False))

    def filter_not(self, predicate: Callable[..., Any], name: str | None = None) -> KStream:
        """Drop records for which the predicate is true."""
        wk = takes_key(predicate, 1, "filter_not")
        return self._add("KSTREAM-FILTER-", name, lambda n: sl.FilterProcessor(predicate, wk, True))

    def map_values(self, mapper: Callable[..., Any], name: str | None = None) -> KStream:
        """Replace each value by ``mapper(value)`` (or ``mapper(key, value)``)."""
        wk = takes_key(mapper, 1, "map_values")
        return self._add("KSTREAM-MAPVALUES-", name, lambda n: sl.MapValuesProcessor(mapper, wk),
                         same_value_serde=False)

    def map(self, mapper: Callable[[Any, Any], tuple[Any, Any]], name: str | None = None) -> KStream:
        """Replace key and value: ``mapper(key, value) -> (new_key, new_value)``."""
        require_arity(mapper, 2, "map", "mapper(key, value) -> (key, value)")
        return self._add("KSTREAM-MAP-", name, lambda n: sl.MapProcessor(mapper, n),
                         key_changed=True, same_key_serde=False, same_value_serde=False)

    def flat_map(self, mapper: Callable[[Any, Any], Iterable[tuple[Any, Any]]],
                 name: str | None = None) -> KStream:
        """Zero or more ``(key, value)`` pairs per record."""
        require_arity(mapper, 2, "flat_map", "mapper(key, value) -> iterable of (key, value)")
        return self._add("KSTREAM-FLATMAP-", name, lambda n: sl.FlatMapProcessor(mapper, n),
                         key_changed=True, same_key_serde=False, same_value_serde=False)

    def flat_map_values(self, mapper: Callable[..., Iterable[Any]], name: str | None = None) -> KStream:
        """Zero or more values per record, each keeping the record's key."""
        wk = takes_key(mapper, 1, "flat_map_values")
        return self._add("KSTREAM-FLATMAPVALUES-", name,
                         lambda n: sl.FlatMapValuesProcessor(mapper, wk), same_value_serde=False)

    def select_key(self, selector: Callable[..., Any], name: str | None = None) -> KStream:
        """Set the key to ``selector(value)`` (or ``selector(key, value)``)."""
        wk = takes_key(selector, 1, "select_key")
        return self._add("KSTREAM-KEY-SELECT-", name, lambda n: sl.SelectKeyProcessor(selector, wk),
                         key_changed=True, same_key_serde=False)

    def peek(self, action: Callable[..., Any], name: str | None = None) -> KStream:
        """Call ``action`` on each record and pass it on unchanged."""
        wk = takes_key(action, 1, "peek")
        return self._add("KSTREAM-PEEK-", name, lambda n: sl.PeekProcessor(action, wk, True))

    def foreach(self, action: Callable[..., Any], name: str | None = None) -> None:
        """Call ``action`` on each record (terminal)."""
        wk = takes_key(action, 1, "foreach")
        self._add("KSTREAM-FOREACH-", name, lambda n: sl.PeekProcessor(action, wk, False))

    def merge(self, other: KStream, name: str | None = None) -> KStream:
        """Interleave this stream and ``other``."""
        if other._builder is not self._builder:
            raise TopologyError("merge: both streams must come from the same StreamsBuilder")
        node = self._builder.name_or_new(name, "KSTREAM-MERGE-")
        self._builder.topology.add_processor(node, sl.PassThroughProcessor, self.node, other.node)
        ks = self.key_serde if self.key_serde is other.key_serde else UNKNOWN_SERDE
        vs = self.value_serde if self.value_serde is other.value_serde else UNKNOWN_SERDE
        if self.key_serde is None and other.key_serde is None:
            ks = None
        if self.value_serde is None and other.value_serde is None:
            vs = None
        return KStream(self._builder, node, ks, vs,
                       self.repartition_required or other.repartition_required)

    def split(self, name: str | None = None) -> BranchedKStream:
        """Route records to named branches by predicate; see :class:`BranchedKStream`."""
        return BranchedKStream(self, name or "")

    # ------------------------------------------------------------------ processor API
    def process(self, supplier: Callable[[], Processor], stores: Iterable[str] = (),
                name: str | None = None) -> KStream:
        """Run a custom Processor (made per task by ``supplier``) with access to ``stores``."""
        # as in Kafka Streams, a user-given name uses no index
        node = name if name else self._builder.name_or_new(name, "KSTREAM-PROCESSOR-")
        topo = self._builder.topology
        topo.add_processor(node, supplier, self.node)
        store_list = list(stores)
        if store_list:
            topo.connect_processor_and_state_stores(node, *store_list)
        return KStream(self._builder, node, UNKNOWN_SERDE, UNKNOWN_SERDE, True)

    def process_values(self, supplier: Callable[[], Processor], stores: Iterable[str] = (),
                       name: str | None = None) -> KStream:
        """Like :meth:`process`, but forwarded records keep their input key (no repartition)."""
        node = name if name else self._builder.name_or_new(name, "KSTREAM-PROCESSVALUES-")
        topo = self._builder.topology
        topo.add_processor(node, lambda: sl.FixedKeyProcessorAdapter(supplier()), self.node)
        store_list = list(stores)
        if store_list:
            topo.connect_processor_and_state_stores(node, *store_list)
        return KStream(self._builder, node, self.key_serde, UNKNOWN_SERDE,
                       self.repartition_required)

    # ------------------------------------------------------------------ sinks
    def to(self, topic: str | Callable[[Any, Any, Any], str], produced: Produced | None = None) -> None:
        """Write the stream to ``topic``, or to the topic ``topic(key, value, record)`` names."""
        p = produced or Produced()
        node = self._builder.name_or_new(p.name, "KSTREAM-SINK-")
        ks = p.key_serde if p.key_serde is not None else self.key_serde
        vs = p.value_serde if p.value_serde is not None else self.value_serde
        self._require(node, ks, vs, f"it writes to {topic if isinstance(topic, str) else 'a chosen topic'}")
        self._builder.topology.add_sink(
            node, topic, self.node, key_serde=known_serde(ks), value_serde=known_serde(vs),
            partitioner=p.partitioner,
        )

    def _require(self, node: str, ks: Any, vs: Any, why: str) -> None:
        topo = self._builder.topology
        if ks is UNKNOWN_SERDE:
            topo.require_serde(node, "key", f"{why} after an operation that changed the key")
        if vs is UNKNOWN_SERDE:
            topo.require_serde(node, "value", f"{why} after an operation that changed the value")

    def repartition(self, repartitioned: Repartitioned | None = None) -> KStream:
        """Write through a new internal topic (``<application.id>-<name>-repartition``)."""
        r = repartitioned or Repartitioned()
        # as in Kafka Streams, a Repartitioned name uses no index
        base = r.name if r.name else self._builder.name_or_new(r.name, "KSTREAM-REPARTITION-")
        ks = r.key_serde if r.key_serde is not None else self.key_serde
        vs = r.value_serde if r.value_serde is not None else self.value_serde
        # None keys are dropped (and counted) before the topic, as since Kafka Streams' KIP-962
        node = self._repartition_through(base, ks, vs, filter_null_keys=True,
                                         partitions=r.num_partitions, partitioner=r.partitioner)
        return KStream(self._builder, node, ks, vs, False)

    def _repartition_through(self, base: str, ks: Any, vs: Any, *, filter_null_keys: bool,
                             partitions: int | None = None, partitioner: Any = None,
                             null_filter: Callable[[str], Processor] | None = None) -> str:
        """Insert filter -> sink -> internal topic -> source; returns the source node name.

        Named as Kafka Streams does: three indexes are always used (sink, filter, source);
        when ``base`` is itself a generated name (``KSTREAM-...-0000000007``) the nodes get
        generated names too, otherwise ``<base>-repartition-filter/-sink/-source``.
        ``null_filter(node_name)`` makes the filter processor instead of the None-key filter.
        """
        b = self._builder
        topo = b.topology
        topic = f"{base}-repartition"
        gen_sink = b.new_name("KSTREAM-SINK-")
        gen_filter = b.new_name("KSTREAM-FILTER-")
        gen_source = b.new_name("KSTREAM-SOURCE-")
        if _GENERATED.fullmatch(base):
            fname, sink, source = gen_filter, gen_sink, gen_source
        else:
            fname, sink, source = f"{topic}-filter", f"{topic}-sink", f"{topic}-source"
        parent = self.node
        if null_filter is not None:
            topo.add_processor(fname, lambda: null_filter(fname), parent)
            parent = fname
        elif filter_null_keys:
            topo.add_processor(fname, lambda: sl.NullKeyFilterProcessor(fname), parent)
            parent = fname
        self._require(sink, ks, vs, f"it writes to repartition topic {topic!r}")
        topo.add_internal_topic(topic, "repartition", partitions)
        kser = known_serde(ks)
        vser = known_serde(vs)
        topo.add_sink(sink, topic, parent, key_serde=kser, value_serde=vser, partitioner=partitioner)
        # as in Kafka Streams, internal topics are always read from the beginning
        topo.add_source(source, [topic], key_serde=kser, value_serde=vser, offset_reset="earliest")
        return source

    def to_table(self, materialized: Materialized | None = None, name: str | None = None) -> KTable:
        """The latest value per key as a KTable (None values delete)."""
        m = materialized or Materialized()
        ks = m.key_serde if m.key_serde is not None else self.key_serde
        vs = m.value_serde if m.value_serde is not None else self.value_serde
        b = self._builder
        node = b.name_or_new(name, "KSTREAM-TOTABLE-")
        store = m.name or b.new_name("KSTREAM-TOTABLE-STATE-STORE-")
        parent = self
        if self.repartition_required:
            # Kafka Streams names the topic after the to_table node: <node>-repartition
            src = self._repartition_through(node, ks, vs, filter_null_keys=True)
            parent = KStream(b, src, ks, vs, False)
        b.topology.add_processor(node, lambda: TableSourceProcessor(store, node), parent.node)
        self._require(node, ks, vs, f"it materializes store {store!r}")
        b.topology.add_state_store(b.timestamped_store(store, m, ks, vs), node)
        table = KTable(b, node, ks, vs, store_name=store)
        table.versioned = is_versioned(m.store_supplier)
        return table

    # ------------------------------------------------------------------ joins
    def join(self, other: Any, joiner: Callable[..., Any], value_joiner: Any = None, *,
             name: str | None = None, windows: Any = None, stream_joined: Any = None,
             joined: Joined | None = None) -> KStream:
        """Inner join.

        * ``stream.join(table, joiner)``: looks the table up on the record's key at processing
          time; ``joiner(value, table_value)`` or ``joiner(key, value, table_value)``.
        * ``stream.join(global_table, key_selector, joiner)``: on ``key_selector(key, value)``.
        * ``stream.join(other_stream, joiner, JoinWindows...)``: records of both streams with
          the same key at most the window apart.

        Options: ``joined=Joined(...)`` (or a ``Joined`` as the third argument) for a table
        join, ``stream_joined=StreamJoined(...)`` for a stream-stream join: serdes, names.

        Records without a match emit nothing.
        """
        if isinstance(other, KStream):
            return self._stream_join(other, joiner, windows or value_joiner, "inner", name,
                                     stream_joined)
        return self._table_join(other, joiner, value_joiner, False, name, joined)

    def left_join(self, other: Any, joiner: Callable[..., Any], value_joiner: Any = None, *,
                  name: str | None = None, windows: Any = None,
                  stream_joined: Any = None, joined: Joined | None = None) -> KStream:
        """Left join (same forms as :meth:`join`): every record of this stream emits, joined
        with None when nothing matches (for stream-stream joins: once its window has closed)."""
        if isinstance(other, KStream):
            return self._stream_join(other, joiner, windows or value_joiner, "left", name,
                                     stream_joined)
        return self._table_join(other, joiner, value_joiner, True, name, joined)

    def outer_join(self, other: KStream, joiner: Callable[..., Any], windows: Any = None, *,
                   name: str | None = None, stream_joined: Any = None) -> KStream:
        """Outer stream-stream join: unmatched records of either side emit with None for the
        other side once their window has closed."""
        if not isinstance(other, KStream):
            raise TopologyError("outer_join is a stream-stream join; for tables use "
                                "KTable.outer_join")
        return self._stream_join(other, joiner, windows, "outer", name, stream_joined)

    def _stream_join(self, other: KStream, joiner: Callable[..., Any], windows: Any, mode: str,
                     name: str | None, stream_joined: Any) -> KStream:
        op = {"inner": "join", "left": "left_join", "outer": "outer_join"}[mode]
        if not isinstance(windows, JoinWindows):
            raise TopologyError(f"KStream.{op}(other_stream, joiner, windows): a stream-stream "
                                f"join needs JoinWindows, got {windows!r}")
        if other._builder is not self._builder:
            raise TopologyError(f"KStream.{op}: both streams must come from the same StreamsBuilder")
        wk = takes_key(joiner, 2, f"KStream.{op}")
        b = self._builder
        sj = stream_joined
        name = join_name(f"KStream.{op}", name, getattr(sj, "name", None))
        ks = getattr(sj, "key_serde", None) or self.key_serde
        this_vs = getattr(sj, "value_serde", None) or self.value_serde
        other_vs = getattr(sj, "other_value_serde", None) or other.value_serde
        left_outer = mode in ("left", "outer")
        # Kafka Streams' repartitionForJoin: topic <name>-left/-right-repartition, or, unnamed,
        # <this stream's node>-repartition, shared with the stream's other unnamed joins; a
        # left/outer join lets None keys through (KIP-962)
        this = self._side_for_join(name and f"{name}-left", ks, this_vs, left_outer)
        other_ks = getattr(sj, "key_serde", None) or other.key_serde
        that = other._side_for_join(name and f"{name}-right", other_ks, other_vs, left_outer)
        declare_join_inputs(b.topology, this.node, that.node)
        merge = add_stream_stream_join(b, this.node, that.node, joiner, wk, windows, mode, name,
                                       ks, this_vs, other_vs, sj)
        return KStream(b, merge, ks, UNKNOWN_SERDE, False)

    def _side_for_join(self, name: str | None, ks: Any, vs: Any,
                       keep_null_keys: bool) -> KStream:
        """This stream as one input of a join: itself, or (after a key change) read back
        through the join's repartition topic, written with ``ks``/``vs``."""
        if not self.repartition_required:
            return self
        view = self
        if ks is not self.key_serde or vs is not self.value_serde:
            # serdes given for the join: a repartition of its own, written with them
            view = KStream(self._builder, self.node, ks, vs, True)
        return view._repartition_for_join(name, keep_null_keys)

    #: The repartition an unnamed stream-table join of this stream reads, shared by later
    #: unnamed joins as in Kafka Streams: (source node, [whether a left join reads it]).
    _join_repartition: tuple[str, list[bool]] | None = None

    def _repartition_for_join(self, name: str | None, left: bool) -> KStream:
        """Kafka Streams' repartitionForJoin: the topic is ``<join name>-repartition``, or
        ``<this node>-repartition`` for an unnamed join (then shared by every unnamed join of
        this stream). None keys are dropped before the topic unless a left join reads it."""
        b = self._builder
        shared = self._join_repartition if name is None else None
        if shared is not None:
            src, keep_null_keys = shared
            for prefix in ("KSTREAM-SINK-", "KSTREAM-FILTER-", "KSTREAM-SOURCE-"):
                b.new_name(prefix)  # Kafka Streams burns the three indexes again
        else:
            keep_null_keys = [False]
            src = self._repartition_through(
                name or self.node, self.key_serde, self.value_serde, filter_null_keys=True,
                null_filter=lambda n: JoinRepartitionFilterProcessor(n, keep_null_keys[0]))
            if name is None:
                self._join_repartition = (src, keep_null_keys)
        if left:
            keep_null_keys[0] = True  # KIP-962: a left join joins None keys with None
        return KStream(b, src, self.key_serde, self.value_serde, False)

    def _table_join(self, other: Any, first: Callable[..., Any], second: Any, left: bool,
                    name: str | None, joined: Joined | None = None) -> KStream:
        op = "left_join" if left else "join"
        if isinstance(second, Joined):  # Kafka Streams' join(table, joiner, Joined)
            if joined is not None:
                raise TopologyError(f"KStream.{op}: Joined given twice")
            joined, second = second, None
        name = join_name(f"KStream.{op}", name, joined.name if joined is not None else None)
        b = self._builder
        stores: tuple[str, ...] = ()
        if isinstance(other, GlobalKTable):
            if second is None:
                raise TopologyError(f"KStream.{op}(global_table, key_selector, joiner): the key "
                                    "selector and the joiner are both needed")
            require_arity(first, 2, op, "key_selector(key, value)")
            selector: Callable[[Any, Any], Any] | None = first
            joiner = second
            # a global store is readable from every task without being connected; connecting
            # it would pull the global source into this sub-topology (Kafka: "stores: []")
            getter: GetterFactory = store_getter(other.store_name)
            parent = self
            # Kafka Streams names both stream-global table joins KSTREAM-LEFTJOIN-<n>
            prefix = "KSTREAM-LEFTJOIN-"
        elif isinstance(other, KTable):
            if second is not None:
                raise TopologyError(f"KStream.{op}(table, joiner) takes one function; a key "
                                    "selector is only for GlobalKTable joins")
            selector, joiner = None, first
            getter = other.value_getter
            stores = getter[0]
            # the key changed upstream: co-partition with the table through a topic (written
            # with the Joined serdes, if given)
            parent = self._side_for_join(
                name, (joined and joined.key_serde) or self.key_serde,
                (joined and joined.value_serde) or self.value_serde, left)
            declare_join_inputs(b.topology, parent.node, other.node)
            prefix = "KSTREAM-LEFTJOIN-" if left else "KSTREAM-JOIN-"
        elif isinstance(other, KStream):
            raise NotImplementedError(
                "KStream-KStream joins need JoinWindows and are not implemented yet")
        else:
            raise TopologyError(f"KStream.{op} needs a KTable or GlobalKTable, got "
                                f"{type(other).__name__}")
        wk = takes_key(joiner, 2, f"KStream.{op}")
        node = b.name_or_new(name, prefix)
        as_of = isinstance(other, KTable) and other.versioned
        grace = joined.grace_ms if joined is not None else None
        buffer = None if grace is None else add_join_buffer(
            b, f"KStream.{op}", node, as_of, grace, (joined and joined.key_serde) or self.key_serde,
            (joined and joined.value_serde) or self.value_serde)
        b.topology.add_processor(node, lambda: StreamTableJoinProcessor(
            getter, joiner, wk, left, node, selector, as_of=as_of, buffer=buffer), parent.node)
        if stores:
            b.topology.connect_processor_and_state_stores(node, *stores)
        if buffer is not None:
            b.topology.connect_processor_and_state_stores(node, buffer)
        return KStream(b, node, self.key_serde, UNKNOWN_SERDE, parent.repartition_required)

    # ------------------------------------------------------------------ grouping
    def group_by_key(self, grouped: Grouped | None = None) -> KGroupedStream:
        """Group by the current key (repartitions first if an earlier step changed the key)."""
        g = grouped or Grouped()
        ks = g.key_serde if g.key_serde is not None else self.key_serde
        vs = g.value_serde if g.value_serde is not None else self.value_serde
        return KGroupedStream(self._builder, self, ks, vs, g.name, self.repartition_required)

    def group_by(self, selector: Callable[..., Any], grouped: Grouped | None = None) -> KGroupedStream:
        """Group by ``selector(value)`` (or ``selector(key, value)``); always repartitions."""
        g = grouped or Grouped()
        # Kafka Streams names the key-select node after the Grouped name when one is given
        keyed = self.select_key(selector, name=g.name)
        ks = g.key_serde if g.key_serde is not None else UNKNOWN_SERDE
        vs = g.value_serde if g.value_serde is not None else self.value_serde
        return KGroupedStream(self._builder, keyed, ks, vs, g.name, True)

    def __repr__(self) -> str:
        return f"KStream(node={self.node!r})"


class BranchedKStream:
    """What ``split()`` returns: add branches, then finish with ``default_branch()`` or
    ``no_default_branch()`` to get a dict of branch name -> KStream.

    Example::

        branches = (stream.split(name="route-")
                    .branch(lambda v: v > 0, name="positive")
                    .default_branch(name="rest"))
        branches["route-positive"].to("positives")
    """

    def __init__(self, stream: KStream, prefix: str) -> None:
        self._stream = stream
        b = stream._builder
        # branch names are the splitter's name plus the branch's name (or position)
        self._node = b.name_or_new(prefix or None, "KSTREAM-BRANCH-")
        self._prefix = self._node
        self._branches: list[tuple[Callable[..., Any], bool, str, Branched]] = []
        self._done = False

    def branch(self, predicate: Callable[..., Any], branched: Branched | None = None, *,
               name: str | None = None) -> BranchedKStream:
        """Records matching ``predicate`` (and no earlier branch) go to this branch."""
        if self._done:
            raise TopologyError("split(): no branch can be added after the default branch")
        br = branched or Branched(name=name)
        wk = takes_key(predicate, 1, "split().branch")
        suffix = br.name if br.name is not None else str(len(self._branches) + 1)
        self._branches.append((predicate, wk, self._prefix + suffix, br))
        return self

    def _finish(self, default: Branched | None) -> dict[str, Any]:
        if self._done:
            raise TopologyError("split(): already finished")
        self._done = True
        b = self._stream._builder
        topo = b.topology
        default_name = None
        if default is not None:
            default_name = self._prefix + (default.name if default.name is not None else "0")
        names = [n for _, _, n, _ in self._branches] + ([default_name] if default_name else [])
        if len(set(names)) != len(names):
            raise TopologyError(f"split(): branch names must be unique, got {names}")
        preds = [(p, wk, n) for p, wk, n, _ in self._branches]
        topo.add_processor(self._node, lambda: sl.BranchProcessor(preds, default_name), self._stream.node)
        out: dict[str, Any] = {}
        all_branches = [(n, br) for _, _, n, br in self._branches]
        if default is not None and default_name is not None:
            all_branches.append((default_name, default))
        s = self._stream
        for bname, br in all_branches:
            topo.add_processor(bname, sl.PassThroughProcessor, self._node)
            b.next_index()
            child = KStream(b, bname, s.key_serde, s.value_serde, s.repartition_required)
            result = br.chain(child) if br.chain is not None else child
            if result is not None:
                out[bname] = result
        return out

    def default_branch(self, branched: Branched | None = None, *, name: str | None = None) -> dict[str, Any]:
        """Finish: records matching no branch go to the default branch."""
        return self._finish(branched or Branched(name=name))

    def no_default_branch(self) -> dict[str, Any]:
        """Finish without a default branch: records matching no branch are not forwarded."""
        return self._finish(None)
