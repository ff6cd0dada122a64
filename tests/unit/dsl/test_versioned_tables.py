"""Versioned KTables (KIP-914) and stream-table joins with a grace period (KIP-923), through
the test driver: out-of-order updates kept as history and not re-aggregated or joined, joins as
of the stream record's time, and the grace buffer's order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streams import (
    Consumed,
    Grouped,
    Joined,
    Materialized,
    Produced,
    StreamsBuilder,
    Suppressed,
    serdes,
)
from streams.errors import TopologyError
from streams.state import Stores, VersionedRecord
from streams.testing import TopologyTestDriver

S, L = serdes.String(), serdes.Long()
SS = Consumed(key_serde=S, value_serde=S)


def versioned(name: str = "vt", retention: int = 100) -> Materialized:
    return Materialized.as_(Stores.in_memory_versioned_key_value_store(name, retention))


def run(build: Callable[[StreamsBuilder], None], inputs: list[tuple[str, str, str | None, int]],
        outputs: dict[str, Any], reads: tuple[tuple[str, int | None], ...] = ()
        ) -> tuple[dict[str, list[tuple[Any, Any, int]]], list[Any]]:
    b = StreamsBuilder()
    build(b)
    with TopologyTestDriver(b.build(), {"application.id": "vt-test"}) as driver:
        topics = {t: driver.create_input_topic(t, S, S) for t, *_ in inputs}
        for topic, key, value, ts in inputs:
            topics[topic].pipe_input(key, value, timestamp=ts)
        out = {name: [(r.key, r.value, r.timestamp) for r in
                      driver.create_output_topic(name, S, vs).read_records_to_list()]
               for name, vs in outputs.items()}
        store = driver.get_versioned_key_value_store("vt")
        return out, [store.get(key, as_of) for key, as_of in reads]


def test_out_of_order_updates_are_history_not_changes() -> None:
    def build(b: StreamsBuilder) -> None:
        t = b.table("tin", SS, versioned(retention=20))
        t.to_stream().to("changes", Produced(key_serde=S, value_serde=S))
        (t.group_by(lambda k, v: (v, v), Grouped.with_(S, S)).count()
         .to_stream().to("counts", Produced(key_serde=S, value_serde=L)))

    out, reads = run(build, [
        ("tin", "a", "x", 10),
        ("tin", "a", "y", 30),
        ("tin", "a", "z", 20),   # out of order: history, forwarded as not latest
        ("tin", "b", "y", 40),
        ("tin", "a", "w", 5),    # older than stream time 40 - retention 20: dropped
    ], {"changes": S, "counts": L}, reads=(("a", 25), ("a", None)))
    assert out["changes"] == [("a", "x", 10), ("a", "y", 30), ("a", "z", 20), ("b", "y", 40)]
    # the re-grouping ignores the out-of-order "z": counts move only for x -> y and b's y
    assert out["counts"] == [("x", 1, 10), ("x", 0, 30), ("y", 1, 30), ("y", 2, 40)]
    assert reads == [VersionedRecord("z", 20, 30), VersionedRecord("y", 30, None)]


def test_stream_table_join_reads_the_table_as_of_the_record_time() -> None:
    def build(b: StreamsBuilder) -> None:
        t = b.table("tin", SS, versioned())
        s = b.stream("sin", SS)
        s.join(t, lambda v, tv: f"{v}+{tv}").to("out", Produced(key_serde=S, value_serde=S))

    out, _ = run(build, [
        ("tin", "k", "t10", 10),
        ("tin", "k", "t20", 20),
        ("sin", "k", "s15", 15),
        ("tin", "k", "t5", 5),
        ("sin", "k", "s7", 7),
        ("sin", "k", "s3", 3),   # before any version: an inner join emits nothing
        ("sin", "k", "s25", 25),
    ], {"out": S})
    assert out["out"] == [("k", "s15+t10", 15), ("k", "s7+t5", 7), ("k", "s25+t20", 25)]


def test_grace_period_buffers_and_joins_in_timestamp_order() -> None:
    def build(b: StreamsBuilder) -> None:
        t = b.table("tin", SS, versioned())
        s = b.stream("sin", SS)
        s.left_join(t, lambda v, tv: f"{v}+{tv}", Joined.with_(S, S, S).with_grace_period(10)
                    ).to("out", Produced(key_serde=S, value_serde=S))

    out, _ = run(build, [
        ("sin", "k", "s15", 15),
        ("sin", "k", "s8", 8),     # within grace: buffered, comes out before s15
        ("tin", "k", "t7", 7),     # the table catches up after the stream records
        ("tin", "k", "t14", 14),
        ("sin", "k", "s2", 2),     # older than stream time 15 - grace: joined at once
        ("sin", "j", "s30", 30),   # stream time 30: releases s8 and s15
        ("sin", "j", "s31", 31),
    ], {"out": S})
    assert out["out"] == [("k", "s2+None", 2), ("k", "s8+t7", 8), ("k", "s15+t14", 15)]


def test_grace_ties_come_out_by_key_bytes() -> None:
    def build(b: StreamsBuilder) -> None:
        t = b.table("tin", SS, versioned())
        b.stream("sin", SS).left_join(t, lambda v, tv: v, Joined.with_(S, S, S, grace_ms=0)
                                      ).to("out", Produced(key_serde=S, value_serde=S))

    out, _ = run(build, [("sin", "b", "1", 5), ("sin", "a", "2", 5), ("sin", "c", "3", 5),
                         ("sin", "z", "4", 6)], {"out": S})
    # grace 0: each record leaves once stream time reaches it; the ts-5 ones together
    assert out["out"] == [("b", "1", 5), ("a", "2", 5), ("c", "3", 5), ("z", "4", 6)]


def test_table_table_join_skips_out_of_order_updates_of_the_versioned_side() -> None:
    def build(b: StreamsBuilder) -> None:
        left = b.table("tin", SS, versioned())
        right = b.table("rin", SS, Materialized.as_("right"))
        left.join(right, lambda lv, rv: f"{lv}+{rv}").to_stream().to(
            "out", Produced(key_serde=S, value_serde=S))

    out, _ = run(build, [
        ("rin", "k", "r", 1),
        ("tin", "k", "l20", 20),
        ("tin", "k", "l10", 10),   # not the latest: no join result
        ("tin", "k", "l30", 30),
    ], {"out": S})
    assert out["out"] == [("k", "l20+r", 20), ("k", "l30+r", 30)]


def test_filter_passes_the_latest_flag_on() -> None:
    def build(b: StreamsBuilder) -> None:
        t = b.table("tin", SS, versioned()).filter(lambda v: v != "drop")
        (t.group_by(lambda k, v: ("all", v), Grouped.with_(S, S)).count()
         .to_stream().to("counts", Produced(key_serde=S, value_serde=L)))

    out, _ = run(build, [("tin", "a", "x", 10), ("tin", "a", "y", 5), ("tin", "b", "z", 12)],
                 {"counts": L})
    assert out["counts"] == [("all", 1, 10), ("all", 2, 12)]


def test_misuse_is_refused_when_the_topology_is_built() -> None:
    b = StreamsBuilder()
    plain = b.table("tin", SS, Materialized.as_("plain"))
    with pytest.raises(TopologyError, match="must be versioned"):
        b.stream("sin", SS).join(plain, lambda v, tv: v, Joined.with_(S, S, S, grace_ms=5))
    vt = b.table("vin", SS, versioned())
    with pytest.raises(TopologyError, match="not versioned"):
        vt.filter(lambda v: True).suppress(Suppressed.until_time_limit(10))
    with pytest.raises(TopologyError, match="cannot be versioned"):
        b.global_table("gin", SS, versioned("g"))
    with pytest.raises(TopologyError, match="grace period"):
        Joined.with_(S, S, S).with_grace_period(-1)


class _Context:
    """Just enough of a StateStoreContext for a buffer: collects its changelog, restores."""

    application_id, task_id, state_dir, timestamp = "app", "0_0", None, 0

    def __init__(self) -> None:
        self.logged: dict[bytes, bytes | None] = {}
        self.restore: Any = None
        self.changelog_writer = self

    def log_change(self, store: str, key: bytes, value: bytes | None, ts: int) -> None:
        self.logged[key] = value  # a compacted changelog: the last value per key

    def register(self, store: Any, restore: Any) -> None:
        self.restore = restore


def test_join_buffer_restores_its_records_and_stream_time() -> None:
    from streams.dsl.processors.join_buffer import JoinBufferBuilder
    from streams.processor.record import Record

    def buffer(ctx: _Context) -> Any:
        b = JoinBufferBuilder(Stores.in_memory_key_value_store("j-Buffer"), S, S, 10).build()
        b.init(ctx)
        return b

    ctx = _Context()
    first = buffer(ctx)
    assert first.put(Record("k", "a", 20, [("h", b"1")]))
    assert first.put(Record("k", "b", 12))
    assert list(first.evict()) == []  # stream time 20: nothing at or before 10
    first.flush()
    second_ctx = _Context()
    second = buffer(second_ctx)
    second_ctx.restore([(k, v) for k, v in ctx.logged.items()])
    assert second.stream_time == 20
    assert not second.put(Record("k", "late", 9))  # 9 < 20 - 10: the join takes it at once
    assert second.put(Record("j", "c", 31))
    assert [(r.key, r.value, r.timestamp, r.headers) for r in second.evict()] == [
        ("k", "b", 12, None), ("k", "a", 20, [("h", b"1")])]
    assert list(second.evict()) == []
