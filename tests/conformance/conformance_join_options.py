"""Twins of the join option objects: ``StreamJoined``, ``Joined`` and ``TableJoined``, written
as a Kafka Streams user writes them (Java twins: ``JoinOptionTopologies.java``).

Besides the output records, every twin here is **introspected**: its ``describe()`` text and the
names of every topic the driver wrote to (repartition topics and changelogs included) must be
Kafka Streams' own, since what these options mostly change is names: of the join nodes, of the
join stores and their changelogs (``with_store_name``, ``with_logging_disabled``) and of the
repartition and foreign-key topics (the ``Joined`` / ``TableJoined`` name).

Imported at the end of :mod:`conformance_topologies`, whose ``twin`` registry it adds to.
"""

from __future__ import annotations

from typing import Any

from conformance_topologies import (
    FK_IN,
    JOIN_IN,
    SS,
    S,
    fk,
    j,
    join_windows,
    n,
    out,
    rekey_for_join,
    twin,
)

from streams import Materialized, StreamsBuilder
from streams.dsl.params import Joined, StreamJoined, TableJoined


def first_of_value(k: Any, v: Any) -> Any:
    """A key change for stream-stream joins: the key and the value's last digit (``a`` with
    ``x2`` or ``Y2``: ``a2``), the old key for a None value, so both sides are repartitioned."""
    return k if v is None else f"{n(k)}{v[-1]}"  # a None key: "null2", as Java


# ------------------------------------------------------------------ StreamJoined
@twin("stream_joined_join", JOIN_IN, windowed=True, introspect=True)
def _stream_joined_join(b: StreamsBuilder) -> None:
    # a name and a store name: nodes sj-*, stores sj-store-this-join-store, ...
    out(b.stream("left", SS).join(
        b.stream("right", SS), j, join_windows(),
        stream_joined=StreamJoined.with_(S, S, S).with_name("sj").with_store_name("sj-store")))


@twin("stream_joined_left_join", JOIN_IN, windowed=True, introspect=True)
def _stream_joined_left_join(b: StreamsBuilder) -> None:
    # without changelogs: no -changelog topic may be written
    out(b.stream("left", SS).left_join(
        b.stream("right", SS), j, join_windows(),
        stream_joined=StreamJoined.with_(S, S, S).with_name("sjl").with_store_name("sjl-store")
        .with_logging_disabled()))


@twin("stream_joined_outer_join", JOIN_IN, windowed=True, introspect=True)
def _stream_joined_outer_join(b: StreamsBuilder) -> None:
    # as_(store name) and the serdes one by one, no name: generated node names, named stores
    out(b.stream("left", SS).outer_join(
        b.stream("right", SS), j, join_windows(),
        stream_joined=StreamJoined.as_("sjo-store").with_key_serde(S).with_value_serde(S)
        .with_other_value_serde(S).with_logging_enabled({"retention.ms": "86400000"})))


@twin("stream_joined_in_memory", JOIN_IN, windowed=True, introspect=True)
def _stream_joined_in_memory(b: StreamsBuilder) -> None:
    # in-memory join stores whatever default.dsl.store says (Kafka: withDslStoreSuppliers)
    out(b.stream("left", SS).join(
        b.stream("right", SS), j, join_windows(),
        stream_joined=StreamJoined(key_serde=S, value_serde=S, other_value_serde=S,
                                   store_type="in_memory").with_name("sjm")))


@twin("stream_joined_rekeyed_join", JOIN_IN, windowed=True, introspect=True)
def _stream_joined_rekeyed_join(b: StreamsBuilder) -> None:
    # both sides re-keyed: topics sjr-left-repartition and sjr-right-repartition, written with
    # the StreamJoined serdes
    out(b.stream("left", SS).select_key(first_of_value).join(
        b.stream("right", SS).select_key(first_of_value), j, join_windows(),
        stream_joined=StreamJoined.with_(S, S, S).with_name("sjr")))


# ------------------------------------------------------------------ Joined
@twin("joined_stream_table_join", JOIN_IN, introspect=True)
def _joined_stream_table_join(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).join(b.table("right", SS), j,
                                  Joined.with_(S, S, S).with_name("lookup")))


@twin("joined_stream_table_left_join", JOIN_IN, introspect=True)
def _joined_stream_table_left_join(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).left_join(b.table("right", SS), j, Joined.as_("lookup-left")))


# after a key change the Joined name names the repartition topic (<name>-repartition) and its
# serdes write it
@twin("joined_select_key_table_join", JOIN_IN, introspect=True)
def _joined_select_key_table_join(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).select_key(rekey_for_join).join(
        b.table("right", SS), j, Joined.with_(S, S, S).with_name("rekeyed")))


@twin("joined_select_key_table_left_join", JOIN_IN, introspect=True)
def _joined_select_key_table_left_join(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).select_key(rekey_for_join).left_join(
        b.table("right", SS), j,
        joined=Joined.as_("rekeyed-left").with_key_serde(S).with_value_serde(S)
        .with_other_value_serde(S)))


# ------------------------------------------------------------------ TableJoined
def by_length(topic: str, key: Any, value: Any, partitions: int) -> int:
    """A custom partitioner (the same in Java): the key's length modulo the partitions."""
    return len(key) % partitions


@twin("table_joined_fk_join", FK_IN, introspect=True)
def _table_joined_fk_join(b: StreamsBuilder) -> None:
    out(b.table("left", SS).join(b.table("right", SS), fk, j,
                                 TableJoined.with_(by_length, by_length).with_name("fk"))
        .to_stream())


@twin("table_joined_fk_left_join", FK_IN, introspect=True)
def _table_joined_fk_left_join(b: StreamsBuilder) -> None:
    out(b.table("left", SS).left_join(
        b.table("right", SS), fk, j, TableJoined.as_("fkl"),
        Materialized(name="fkl-result", key_serde=S, value_serde=S)).to_stream())
