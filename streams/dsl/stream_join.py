"""Stream-stream windowed joins (``KStream.join/left_join/outer_join(other_stream, joiner,
JoinWindows...)``): the nodes and stores behind them, named as Kafka Streams names them.

Each side goes through a ``KSTREAM-WINDOWED-`` node that puts its records into the side's window
store (duplicates kept); each side's join node looks up the other side's store; the two join
nodes meet in a ``KSTREAM-MERGE-`` node. Left and outer joins add a shared "outer" store of
records still waiting for a partner. The processors are in
:mod:`streams.dsl.processors.stream_join`. This module works on node names and makes no KStream
(``KStream._stream_join`` makes the joined stream), so it imports nothing above the processors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams.dsl.processors import stateless as sl
from streams.dsl.processors.stream_join import (
    JoinWindowProcessor,
    OuterStoreBuilder,
    SharedTime,
    StreamStreamJoinProcessor,
)
from streams.dsl.unknown_serde import UNKNOWN_SERDE, known_serde
from streams.dsl.window_specs import JoinWindows
from streams.state.stores import Stores
from streams.state.window_store_builders import (
    in_memory_window_store,
    persistent_window_store,
    window_store_builder,
)

if TYPE_CHECKING:
    from streams.dsl.builder import StreamsBuilder

__all__ = ["add_stream_stream_join"]


def add_stream_stream_join(b: StreamsBuilder, this_node: str, other_node: str,
                           joiner: Callable[..., Any], wk: bool, windows: JoinWindows, mode: str,
                           name: str | None, ks: Any, this_vs: Any, other_vs: Any,
                           sj: Any) -> str:
    """Add the windowed join of the records of ``this_node`` and ``other_node`` (each side
    already repartitioned if it had to be); returns the merge node the joined records leave.

    ``mode`` is ``"inner"``, ``"left"`` or ``"outer"``; ``wk`` whether ``joiner`` takes the key;
    ``ks``/``this_vs``/``other_vs`` are the serdes of the join stores (``UNKNOWN_SERDE`` makes the
    config's defaults required); ``sj`` is the ``stream_joined`` argument (its ``store_type``,
    if any, picks in-memory or RocksDB stores).
    """
    topo = b.topology
    left_outer = mode in ("left", "outer")
    right_outer = mode == "outer"
    # names as Kafka Streams': every generated name takes an index even when named; the
    # stores are named after the join processors (generated names when unnamed)
    this_windowed = b.name_or_new(name and f"{name}-this-windowed", "KSTREAM-WINDOWED-")
    other_windowed = b.name_or_new(name and f"{name}-other-windowed", "KSTREAM-WINDOWED-")
    this_generated = b.new_name("KSTREAM-OUTERTHIS-" if right_outer else "KSTREAM-JOINTHIS-")
    other_generated = b.new_name("KSTREAM-OUTEROTHER-" if left_outer else "KSTREAM-JOINOTHER-")
    join_this = (f"{name}{'-outer-this-join' if right_outer else '-this-join'}" if name
                 else this_generated)
    join_other = (f"{name}{'-outer-other-join' if left_outer else '-other-join'}" if name
                  else other_generated)
    merge = b.name_or_new(name and f"{name}-merge", "KSTREAM-MERGE-")
    this_store, other_store = f"{join_this}-store", f"{join_other}-store"
    base = getattr(sj, "store_name", None)
    if base:  # StreamJoined.with_store_name: the stores' names no longer follow the nodes'
        this_store = f"{base}{'-outer-this-join' if right_outer else '-this-join'}-store"
        other_store = f"{base}{'-outer-other-join' if left_outer else '-other-join'}-store"
    outer_store = None
    if left_outer:
        shared_base = base or name
        outer_store = (f"{shared_base}{'-outer' if right_outer else '-left'}-shared-join-store"
                       if shared_base else
                       "KSTREAM-OUTERSHARED-" + this_generated.rsplit("-", 1)[1] + "-store")
    retention = windows.size_ms + windows.grace_ms
    in_memory = (b.store_type(None) == "in_memory" if getattr(sj, "store_type", None) is None
                 else str(sj.store_type).lower() == "in_memory")
    logging = getattr(sj, "logging", True)
    log_config = getattr(sj, "log_config", None) or {}

    def logged(builder: Any) -> Any:
        return builder.with_logging_enabled(log_config) if logging else \
            builder.with_logging_disabled()

    for store, vs in ((this_store, this_vs), (other_store, other_vs)):
        make = in_memory_window_store if in_memory else persistent_window_store
        topo.add_state_store(logged(window_store_builder(
            make(store, retention, windows.size_ms, retain_duplicates=True), known_serde(ks),
            known_serde(vs))))
    if outer_store is not None:
        supplier = (Stores.in_memory_key_value_store(outer_store) if in_memory
                    else Stores.persistent_key_value_store(outer_store))
        topo.add_state_store(logged(OuterStoreBuilder(supplier, known_serde(ks),
                                                      known_serde(this_vs),
                                                      known_serde(other_vs))))
    for store, vs in ((this_store, this_vs), (other_store, other_vs)):
        if ks is UNKNOWN_SERDE:
            topo.require_serde(merge, "key", f"join store {store!r} is keyed by a computed key")
        if vs is UNKNOWN_SERDE:
            topo.require_serde(merge, "value", f"join store {store!r} holds computed values")
    shared: dict[str, SharedTime] = {}
    extra = (outer_store,) if outer_store else ()
    topo.add_processor(this_windowed, lambda: JoinWindowProcessor(
        this_store, this_windowed, retention), this_node)
    topo.connect_processor_and_state_stores(this_windowed, this_store)
    topo.add_processor(other_windowed, lambda: JoinWindowProcessor(
        other_store, other_windowed, retention), other_node)
    topo.connect_processor_and_state_stores(other_windowed, other_store)
    topo.add_processor(join_this, lambda: StreamStreamJoinProcessor(
        join_this, other_store, outer_store, joiner, wk, True, left_outer, windows.before_ms,
        windows.after_ms, windows.grace_ms, shared), this_windowed)
    topo.connect_processor_and_state_stores(join_this, other_store, *extra)
    topo.add_processor(join_other, lambda: StreamStreamJoinProcessor(
        join_other, this_store, outer_store, joiner, wk, False, right_outer,
        windows.after_ms, windows.before_ms, windows.grace_ms, shared), other_windowed)
    topo.connect_processor_and_state_stores(join_other, this_store, *extra)
    topo.add_processor(merge, sl.PassThroughProcessor, join_this, join_other)
    return merge
