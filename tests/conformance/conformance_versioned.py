"""Twins of versioned tables (KIP-889, KIP-914) and stream-table joins with a grace period
(KIP-923) (Java twins: ``VersionedTopologies.java``).

The table is materialized in a versioned store with a short history retention, so the
generator's out-of-order and late records exercise every case: an update older than the latest
(kept as history, forwarded as not latest, skipped by re-groupings and joins), one older than
the retention (dropped), stream records joined with the table as of their own time, and records
held for the grace period and released in timestamp order.

Imported at the end of :mod:`conformance_topologies`, whose ``twin`` registry it adds to.
"""

from __future__ import annotations

from conformance_topologies import (
    FK_IN,
    JOIN_IN,
    SS,
    TABLE_IN,
    L,
    S,
    Topic,
    first,
    fk,
    j,
    out,
    twin,
)

from streams import Grouped, Joined, KTable, Materialized, StreamsBuilder
from streams.state import Stores

HISTORY = 8  # ms of stream time the versioned stores keep (Java: VersionedTopologies.HISTORY)
JOIN_GRACE_PERIOD = 5  # ms a stream record waits for the table (Java: JOIN_GRACE_PERIOD)

# Kafka Streams cannot buffer a record with a None key (its buffer throws a
# NullPointerException); these inputs have none on the stream side (ours joins such a record
# at once: tests/unit/dsl/test_versioned_tables.py)
GRACE_IN = {"left": Topic(("a", "b", "c"), ("x1", "x2", "x3"), null_key=0.0, null_value=0.12),
            "right": JOIN_IN["right"]}


def versioned_table(b: StreamsBuilder, topic: str, store: str = "vt") -> KTable:
    return b.table(topic, SS, Materialized.as_(
        Stores.persistent_versioned_key_value_store(store, HISTORY)))


@twin("versioned_table_to_stream", TABLE_IN, windowed=True)
def _versioned_table_to_stream(b: StreamsBuilder) -> None:
    out(versioned_table(b, "tin").to_stream())


@twin("versioned_table_filter", TABLE_IN, windowed=True)
def _versioned_table_filter(b: StreamsBuilder) -> None:
    out(versioned_table(b, "tin").filter(lambda v: not v.startswith("b")).to_stream())


@twin("versioned_table_group_by_count", TABLE_IN, long_values=True, windowed=True)
def _versioned_table_group_by_count(b: StreamsBuilder) -> None:
    out(versioned_table(b, "tin").group_by(lambda k, v: (first(v), v), Grouped.with_(S, S))
        .count().to_stream(), L)


@twin("versioned_stream_table_join", JOIN_IN, windowed=True)
def _versioned_stream_table_join(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).join(versioned_table(b, "right"), j))


@twin("versioned_stream_table_left_join", JOIN_IN, windowed=True)
def _versioned_stream_table_left_join(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).left_join(versioned_table(b, "right"), j))


@twin("versioned_stream_table_join_grace", GRACE_IN, windowed=True)
def _versioned_stream_table_join_grace(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).join(versioned_table(b, "right"), j,
                                  Joined.with_(S, S, S).with_grace_period(JOIN_GRACE_PERIOD)))


@twin("versioned_stream_table_left_join_grace", GRACE_IN, windowed=True)
def _versioned_stream_table_left_join_grace(b: StreamsBuilder) -> None:
    out(b.stream("left", SS).left_join(
        versioned_table(b, "right"), j,
        Joined.with_(S, S, S, name="graceful", grace_ms=JOIN_GRACE_PERIOD)))


@twin("versioned_table_table_join", JOIN_IN, windowed=True)
def _versioned_table_table_join(b: StreamsBuilder) -> None:
    out(versioned_table(b, "left").join(b.table("right", SS), j).to_stream())


@twin("versioned_table_table_left_join", JOIN_IN, windowed=True)
def _versioned_table_table_left_join(b: StreamsBuilder) -> None:
    out(b.table("left", SS).left_join(versioned_table(b, "right"), j).to_stream())


@twin("versioned_fk_join", FK_IN, windowed=True)
def _versioned_fk_join(b: StreamsBuilder) -> None:
    out(versioned_table(b, "left").join(versioned_table(b, "right", "vr"), fk, j).to_stream())
