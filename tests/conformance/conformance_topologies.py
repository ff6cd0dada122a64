"""The Python twins of the conformance topologies, and the inputs each one is fed.

Every entry of :data:`TWINS` has a Java twin of the same name in
``tests/conformance/java/src/main/java/conformance/Topologies.java``: the same topics, the same
functions, the same window parameters. Keep the two in step.

Conventions shared with the Java side: keys and values are strings (counts and sums are longs);
joiners write ``left + "+" + right`` with a missing side written ``null`` (Java's string
concatenation of ``null``); windowed keys are mapped to ``key@start/end`` before the sink.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams import (
    BufferConfig,
    Consumed,
    EmitStrategy,
    Grouped,
    JoinWindows,
    KGroupedStream,
    KTable,
    Materialized,
    Produced,
    Repartitioned,
    SessionWindows,
    SlidingWindows,
    StreamsBuilder,
    Suppressed,
    TimeWindows,
    Topology,
    serdes,
)
from streams.processor.window_types import Windowed

S, L = serdes.String(), serdes.Long()
SS = Consumed(key_serde=S, value_serde=S)

# window parameters (ms), the same in Topologies.java
SIZE, ADVANCE, GRACE = 10, 5, 5
GAP, SESSION_GRACE = 5, 3
DIFF = 10
JOIN_DIFF, JOIN_GRACE = 5, 3
RETENTION = 1_000_000


def n(x: Any) -> str:
    """``x`` as Java's string concatenation writes it (``None`` as ``null``)."""
    return "null" if x is None else str(x)


def j(left: Any, right: Any) -> str:
    """The joiner of every join: ``left+right``."""
    return f"{n(left)}+{n(right)}"


def wkey(w: Windowed[str], _value: Any = None) -> str:
    """A windowed key as ``key@start/end``."""
    return f"{w.key}@{w.window.start}/{w.window.end}"


def first(v: str) -> str:
    return v[:1]


def fk(v: str) -> str | None:
    """The foreign key of a left value ``x/fk`` (None without a slash)."""
    i = v.find("/")
    return None if i < 0 else v[i + 1:]


@dataclass(frozen=True)
class Topic:
    """How the generator fills one input topic."""

    keys: tuple[str, ...]
    values: tuple[str, ...]
    null_key: float = 0.08
    null_value: float = 0.1


@dataclass(frozen=True)
class Twin:
    """A named topology: how to build it, the topics it reads (with their generators) and the
    topics it writes (with their value serde)."""

    name: str
    build: Callable[[Mapping[str, Any]], Topology]  # build(config): the config reaches the builder
    inputs: dict[str, Topic]
    outputs: dict[str, Any] = field(default_factory=lambda: {"out": S})
    windowed: bool = False  # timestamps with more disorder and jumps
    # compare describe() and the names of every topic written (internal ones too) as well
    introspect: bool = False


WORDS = ("apple", "banana", "cherry", "kiwi", "fig", "date", "bb", "avocado pear", "blue berry")
STREAM_IN = {"in": Topic(("a", "b", "c"), WORDS)}
TABLE_IN = {"tin": Topic(("k1", "k2", "k3", "k4", "k5"), WORDS, null_key=0.04, null_value=0.2)}
JOIN_IN = {"left": Topic(("a", "b", "c"), ("x1", "x2", "x3"), null_value=0.12),
           "right": Topic(("a", "b", "c"), ("Y1", "Y2", "Y3"), null_value=0.15)}
FK_IN = {"left": Topic(("k1", "k2", "k3", "k4"), ("x/r1", "y/r2", "z/r3", "w", "v/r1"),
                       null_key=0.04, null_value=0.15),
         "right": Topic(("r1", "r2", "r3"), ("R1", "R2", "R3"), null_key=0.04, null_value=0.15)}
GLOBAL_IN = {"left": Topic(("a", "b"), ("apple", "banana", "cherry", "date")),
             "right": Topic(("a", "b", "c"), ("A1", "A2", "B1", "C1"), null_key=0.04,
                            null_value=0.15)}

TWINS: dict[str, Twin] = {}


def twin(name: str, inputs: dict[str, Topic], long_values: bool = False,
         windowed: bool = False, introspect: bool = False
         ) -> Callable[[Callable[[StreamsBuilder], None]], Callable[[StreamsBuilder], None]]:
    """Register ``body(builder)`` as the twin ``name`` writing one topic ``out``
    (``introspect``: compare its ``describe()`` and the topics it writes too)."""

    def register(body: Callable[[StreamsBuilder], None]) -> Callable[[StreamsBuilder], None]:
        def build(config: Mapping[str, Any]) -> Topology:
            b = StreamsBuilder(config)  # default.dsl.store decides the store type
            body(b)
            return b.build()

        TWINS[name] = Twin(name, build, inputs, {"out": L if long_values else S}, windowed,
                           introspect)
        return body

    return register


def grouped(b: StreamsBuilder) -> KGroupedStream:
    return b.stream("in", SS).group_by_key(Grouped(key_serde=S, value_serde=S))


def windowed_out(t: KTable) -> None:
    t.to_stream(wkey).to("out", Produced(key_serde=S, value_serde=L))


def out(stream: Any, value_serde: Any = S) -> None:
    stream.to("out", Produced(key_serde=S, value_serde=value_serde))


# ------------------------------------------------------------------ stateless
@twin("filter_map_values", STREAM_IN)
def _filter_map_values(b: StreamsBuilder) -> None:
    out(b.stream("in", SS)
        .filter(lambda k, v: v is None or not v.startswith("b"))
        .map_values(lambda v: None if v is None else v.upper()))


@twin("flat_map", STREAM_IN)
def _flat_map(b: StreamsBuilder) -> None:
    out(b.stream("in", SS).flat_map(lambda k, v: [] if v is None else [(w, k) for w in v.split(" ")]))


@twin("select_key_repartition", STREAM_IN)
def _select_key_repartition(b: StreamsBuilder) -> None:
    out(b.stream("in", SS)
        .select_key(lambda k, v: k if v is None else None if v.startswith("k") else first(v))
        .repartition(Repartitioned(name="rekey", key_serde=S, value_serde=S))
        .map_values(lambda k, v: f"{n(k)}:{n(v)}"))


@twin("to_table", STREAM_IN)
def _to_table(b: StreamsBuilder) -> None:
    out(b.stream("in", SS).to_table(Materialized(key_serde=S, value_serde=S)).to_stream())


# ------------------------------------------------------------------ aggregations
@twin("count", STREAM_IN, long_values=True)
def _count(b: StreamsBuilder) -> None:
    out(grouped(b).count().to_stream(), L)


@twin("group_by_count", STREAM_IN, long_values=True)
def _group_by_count(b: StreamsBuilder) -> None:
    out(b.stream("in", SS).group_by(lambda k, v: v, Grouped(key_serde=S, value_serde=S))
        .count().to_stream(), L)


@twin("reduce", STREAM_IN)
def _reduce(b: StreamsBuilder) -> None:
    out(grouped(b).reduce(lambda a, v: a + "," + v).to_stream())


# ------------------------------------------------------------------ table re-grouping
@twin("table_group_by_aggregate", TABLE_IN, long_values=True)
def _table_group_by_aggregate(b: StreamsBuilder) -> None:
    out(b.table("tin", SS)
        .group_by(lambda k, v: (first(v), v), Grouped(key_serde=S, value_serde=S))
        .aggregate(lambda: 0, lambda v, a: a + len(v), lambda v, a: a - len(v),
                   Materialized(key_serde=S, value_serde=L))
        .to_stream(), L)


@twin("table_group_by_reduce", TABLE_IN, long_values=True)
def _table_group_by_reduce(b: StreamsBuilder) -> None:
    out(b.table("tin", SS)
        .group_by(lambda k, v: (first(v), len(v)), Grouped(key_serde=S, value_serde=L))
        .reduce(lambda a, v: a + v, lambda a, v: a - v)
        .to_stream(), L)


@twin("table_group_by_count", TABLE_IN, long_values=True)
def _table_group_by_count(b: StreamsBuilder) -> None:
    out(b.table("tin", SS)
        .group_by(lambda k, v: (first(v), v), Grouped(key_serde=S, value_serde=S))
        .count().to_stream(), L)


# ------------------------------------------------------------------ KTable.filter
def even(v: str) -> bool:
    return len(v) % 2 == 0


@twin("table_filter", TABLE_IN)
def _table_filter(b: StreamsBuilder) -> None:
    out(b.table("tin", SS).filter(even).to_stream())


@twin("table_filter_materialized", TABLE_IN)
def _table_filter_materialized(b: StreamsBuilder) -> None:
    out(b.table("tin", SS)
        .filter(even, Materialized(name="filtered", key_serde=S, value_serde=S)).to_stream())


@twin("table_filter_source_materialized", TABLE_IN)
def _table_filter_source_materialized(b: StreamsBuilder) -> None:
    out(b.table("tin", SS, Materialized(name="source", key_serde=S, value_serde=S))
        .filter(even).to_stream())


@twin("table_filter_group_count", TABLE_IN, long_values=True)
def _table_filter_group_count(b: StreamsBuilder) -> None:
    out(b.table("tin", SS).filter(even)
        .group_by(lambda k, v: (first(v), v), Grouped(key_serde=S, value_serde=S))
        .count().to_stream(), L)


@twin("table_map_values", TABLE_IN)
def _table_map_values(b: StreamsBuilder) -> None:
    out(b.table("tin", SS).map_values(lambda v: v.upper()).to_stream())


# ------------------------------------------------------------------ windows
def tumbling() -> TimeWindows:
    return TimeWindows.of_size_and_grace(SIZE, GRACE)


def hopping() -> TimeWindows:
    return TimeWindows.of_size_and_grace(SIZE, GRACE).advance_by(ADVANCE)


def sliding() -> SlidingWindows:
    return SlidingWindows.of_time_difference_and_grace(DIFF, GRACE)


def sessions() -> SessionWindows:
    return SessionWindows.of_inactivity_gap_and_grace(GAP, SESSION_GRACE)


WINDOWS: dict[str, Callable[[], Any]] = {
    "tumbling": tumbling, "hopping": hopping, "sliding": sliding, "session": sessions}


def _register_windows() -> None:
    for kind, windows in WINDOWS.items():
        def count(b: StreamsBuilder, windows: Callable[[], Any] = windows) -> None:
            windowed_out(grouped(b).windowed_by(windows()).count())

        def suppressed(b: StreamsBuilder, windows: Callable[[], Any] = windows) -> None:
            windowed_out(grouped(b).windowed_by(windows()).count()
                         .suppress(Suppressed.until_window_closes(BufferConfig.unbounded())))

        def emit_final(b: StreamsBuilder, windows: Callable[[], Any] = windows) -> None:
            windowed_out(grouped(b).windowed_by(windows())
                         .emit_strategy(EmitStrategy.on_window_close()).count())

        def emit_final_retained(b: StreamsBuilder, windows: Callable[[], Any] = windows) -> None:
            windowed_out(grouped(b).windowed_by(windows())
                         .emit_strategy(EmitStrategy.on_window_close())
                         .count(Materialized(key_serde=S, value_serde=L, retention_ms=RETENTION)))

        twin(f"{kind}_count", STREAM_IN, long_values=True, windowed=True)(count)
        twin(f"{kind}_suppress", STREAM_IN, long_values=True, windowed=True)(suppressed)
        twin(f"{kind}_emit_final", STREAM_IN, long_values=True, windowed=True)(emit_final)
        # a long retention: the default (size + grace) can drop a window from Kafka Streams'
        # store before its emit-final scan reaches it (a deliberate difference)
        twin(f"{kind}_emit_final_retained", STREAM_IN, long_values=True,
             windowed=True)(emit_final_retained)


_register_windows()


# ------------------------------------------------------------------ stream-table joins
@twin("stream_table_join", JOIN_IN)
def _stream_table_join(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).join(b.table("right", SS), j))


@twin("stream_table_left_join", JOIN_IN)
def _stream_table_left_join(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).left_join(b.table("right", SS), j))


# after a key change: repartitioned first (a left join lets None keys through, KIP-962)
def rekey_for_join(k: Any, v: Any) -> Any:
    return k if v is None else None if v.endswith("3") else k


@twin("select_key_table_join", JOIN_IN)
def _select_key_table_join(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).select_key(rekey_for_join).join(b.table("right", SS), j))


@twin("select_key_table_left_join", JOIN_IN)
def _select_key_table_left_join(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).select_key(rekey_for_join).left_join(b.table("right", SS), j))


# ------------------------------------------------------------------ stream-global table joins
def global_key(k: Any, v: Any) -> Any:
    return None if v is None else first(v)


@twin("global_join", GLOBAL_IN)
def _global_join(b: StreamsBuilder) -> None:
    g = b.global_table("right", SS)
    out(b.stream("left", SS).join(g, global_key, j))


@twin("global_left_join", GLOBAL_IN)
def _global_left_join(b: StreamsBuilder) -> None:
    g = b.global_table("right", SS)
    out(b.stream("left", SS).left_join(g, global_key, j))


# ------------------------------------------------------------------ stream-stream joins
def join_windows() -> JoinWindows:
    return JoinWindows.of_time_difference_and_grace(JOIN_DIFF, JOIN_GRACE)


# ------------------------------------------------------------------ cogroup (KIP-150)
def _cogrouped(b: StreamsBuilder) -> Any:
    g = Grouped(key_serde=S, value_serde=S)
    left, right = b.stream("left", SS).group_by_key(g), b.stream("right", SS).group_by_key(g)
    return (left.cogroup(lambda k, v, agg: f"{agg}L{n(v)}")
            .cogroup(right, lambda k, v, agg: f"{agg}R{n(v)}"))


@twin("cogroup_aggregate", JOIN_IN)
def _cogroup_aggregate(b: StreamsBuilder) -> None:
    out(_cogrouped(b).aggregate(lambda: "", Materialized(key_serde=S, value_serde=S))
        .to_stream())


@twin("cogroup_tumbling", JOIN_IN, windowed=True)
def _cogroup_tumbling(b: StreamsBuilder) -> None:
    out(_cogrouped(b).windowed_by(tumbling())
        .aggregate(lambda: "", Materialized(key_serde=S, value_serde=S,
                                            retention_ms=RETENTION))
        .to_stream(wkey))


@twin("cogroup_sliding", JOIN_IN, windowed=True)
def _cogroup_sliding(b: StreamsBuilder) -> None:
    out(_cogrouped(b).windowed_by(sliding())
        .aggregate(lambda: "", Materialized(key_serde=S, value_serde=S,
                                            retention_ms=RETENTION))
        .to_stream(wkey))


@twin("cogroup_session", JOIN_IN, windowed=True)
def _cogroup_session(b: StreamsBuilder) -> None:
    out(_cogrouped(b).windowed_by(sessions())
        .aggregate(lambda: "", lambda k, a1, a2: f"{a1}+{a2}",
                   Materialized(key_serde=S, value_serde=S, retention_ms=RETENTION))
        .to_stream(wkey))


@twin("stream_stream_join", JOIN_IN, windowed=True)
def _stream_stream_join(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).join(b.stream("right", SS), j, join_windows()))


@twin("stream_stream_left_join", JOIN_IN, windowed=True)
def _stream_stream_left_join(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).left_join(b.stream("right", SS), j, join_windows()))


@twin("stream_stream_outer_join", JOIN_IN, windowed=True)
def _stream_stream_outer_join(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).outer_join(b.stream("right", SS), j, join_windows()))


@twin("stream_stream_left_join_asymmetric", JOIN_IN, windowed=True)
def _stream_stream_left_join_asymmetric(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).left_join(b.stream("right", SS), j, join_windows().before(2)))


# ------------------------------------------------------------------ table-table joins
@twin("table_table_join", JOIN_IN)
def _table_table_join(b: StreamsBuilder) -> None:
    out(b.table("left", SS).join(b.table("right", SS), j).to_stream())


@twin("table_table_left_join", JOIN_IN)
def _table_table_left_join(b: StreamsBuilder) -> None:
    out(b.table("left", SS).left_join(b.table("right", SS), j).to_stream())


@twin("table_table_outer_join", JOIN_IN)
def _table_table_outer_join(b: StreamsBuilder) -> None:
    out(b.table("left", SS).outer_join(b.table("right", SS), j).to_stream())


# ------------------------------------------------------------------ foreign-key joins
@twin("fk_join", FK_IN)
def _fk_join(b: StreamsBuilder) -> None:
    out(b.table("left", SS).join(b.table("right", SS), fk, j).to_stream())


@twin("fk_left_join", FK_IN)
def _fk_left_join(b: StreamsBuilder) -> None:
    out(b.table("left", SS).left_join(b.table("right", SS), fk, j).to_stream())


# ------------------------------------------------------------------ more twins, in their own modules
# (imported last: they register with twin() above)
import conformance_join_options  # noqa: E402, F401  (StreamJoined, Joined, TableJoined)
import conformance_versioned  # noqa: E402, F401  (versioned tables, join grace)
