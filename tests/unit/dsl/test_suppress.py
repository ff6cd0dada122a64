"""KTable.suppress (KIP-328) and emit_strategy (KIP-825), checked through the
TopologyTestDriver record by record.

The scenarios and their expected records are Kafka Streams' own ``SuppressScenarioTest``
(caching disabled): final results of time and session windows, time limits, record and byte
limits with emit-early, suppression in front of a re-grouping and of a table-table join.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams import (
    BufferConfig,
    Consumed,
    EmitStrategy,
    Grouped,
    Materialized,
    Processor,
    ProcessorError,
    Produced,
    Record,
    StreamsBuilder,
    StreamsError,
    Suppressed,
    serdes,
)
from streams.dsl.change import Change
from streams.dsl.processors.suppress import SuppressionBufferFullError
from streams.dsl.processors.suppression_buffer import SuppressionBuffer
from streams.dsl.processors.suppression_buffer_entry import (
    BufferedEntry,
    decode_entry,
    encode_entry,
)
from streams.dsl.suppress import BufferFullStrategy
from streams.dsl.window_specs import SessionWindows, TimeWindows
from streams.errors import StateStoreError, TopologyError
from streams.testing import TopologyTestDriver

S, L = serdes.String(), serdes.Long()
STR = Consumed(key_serde=S, value_serde=S)
APP = {"application.id": "app"}
STORE_TYPES = ["in_memory", "rocksdb"]
UNBOUNDED = BufferConfig.unbounded()

Row = tuple[Any, Any, int]


def rows(records: list[Record]) -> list[Row]:
    return [(r.key, r.value, r.timestamp) for r in records]


def drain(d: TopologyTestDriver, topic: str, value_serde: Any = L) -> list[Row]:
    return rows(d.create_output_topic(topic, S, value_serde).read_records_to_list())


def pipe(d: TopologyTestDriver, records: list[tuple[str, str, int]], topic: str = "input") -> None:
    i = d.create_input_topic(topic, S, S)
    for k, v, ts in records:
        i.pipe_input(k, v, ts)


def windowed_str(k: Any) -> str:
    """Kafka Streams' Windowed.toString(): ``[key@start/end]``."""
    return f"[{k.key}@{k.window.start}/{k.window.end}]"


def raw_and_suppressed(table: Any, suppressed: Suppressed) -> None:
    """Write ``table`` to output-raw and its suppression to output-suppressed, with
    ``[key@start/end]`` string keys for windowed tables (as the Kafka tests map them)."""
    def to_str(k: Any, v: Any) -> tuple[Any, Any]:
        return (windowed_str(k) if hasattr(k, "window") else k), v

    out = Produced(key_serde=S, value_serde=L)
    table.suppress(suppressed).to_stream().map(to_str).to("output-suppressed", out)
    table.to_stream().map(to_str).to("output-raw", out)


def value_counts(b: StreamsBuilder) -> Any:
    """``table("input").groupBy((k, v) -> (v, k)).count()``: counts of values."""
    return (b.table("input", STR, Materialized(logging=False))
            .group_by(lambda k, v: (v, k), Grouped(key_serde=S, value_serde=S))
            .count())


def builder(store_type: str = "rocksdb") -> StreamsBuilder:
    return StreamsBuilder({**APP, "default.dsl.store": store_type})


# --------------------------------------------------------------------- final results: windows


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_final_results_for_time_windows(store_type: str) -> None:
    b = builder(store_type)
    counts = (b.stream("input", STR).group_by(lambda k, v: k, Grouped(key_serde=S, value_serde=S))
              .windowed_by(TimeWindows.of_size_and_grace(2, 1))
              .count(Materialized(name="counts")))
    raw_and_suppressed(counts, Suppressed.until_window_closes(UNBOUNDED))
    with TopologyTestDriver(b.build(), APP) as d:
        # the last record is dropped: stream time 5 closed [0,2) at 2 + 1 = 3
        pipe(d, [("k1", "v1", 0), ("k1", "v1", 1), ("k1", "v1", 2), ("k1", "v1", 1),
                 ("k1", "v1", 0), ("k1", "v1", 5), ("k1", "v1", 0)])
        assert drain(d, "output-raw") == [
            ("[k1@0/2]", 1, 0), ("[k1@0/2]", 2, 1), ("[k1@2/4]", 1, 2), ("[k1@0/2]", 3, 1),
            ("[k1@0/2]", 4, 1), ("[k1@4/6]", 1, 5)]
        assert drain(d, "output-suppressed") == [("[k1@0/2]", 4, 1), ("[k1@2/4]", 1, 2)]


def test_final_results_for_time_windows_with_large_jump() -> None:
    b = builder()
    counts = (b.stream("input", STR).group_by(lambda k, v: k, Grouped(key_serde=S, value_serde=S))
              .windowed_by(TimeWindows.of_size_and_grace(2, 2))
              .count(Materialized(name="counts", key_serde=S)))
    raw_and_suppressed(counts, Suppressed.until_window_closes(UNBOUNDED))
    with TopologyTestDriver(b.build(), APP) as d:
        pipe(d, [("k1", "v1", 0), ("k1", "v1", 1), ("k1", "v1", 2), ("k1", "v1", 0),
                 ("k1", "v1", 3), ("k1", "v1", 0), ("k1", "v1", 4),
                 ("k1", "v1", 0),  # dropped: stream time 4 closed [0,2)
                 ("k1", "v1", 30)])
        assert drain(d, "output-raw") == [
            ("[k1@0/2]", 1, 0), ("[k1@0/2]", 2, 1), ("[k1@2/4]", 1, 2), ("[k1@0/2]", 3, 1),
            ("[k1@2/4]", 2, 3), ("[k1@0/2]", 4, 1), ("[k1@4/6]", 1, 4), ("[k1@30/32]", 1, 30)]
        assert drain(d, "output-suppressed") == [
            ("[k1@0/2]", 4, 1), ("[k1@2/4]", 2, 3), ("[k1@4/6]", 1, 4)]


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_final_results_for_session_windows(store_type: str) -> None:
    b = builder(store_type)
    counts = (b.stream("input", STR).group_by(lambda k, v: k, Grouped(key_serde=S, value_serde=S))
              .windowed_by(SessionWindows.of_inactivity_gap_and_grace(5, 0))
              .count(Materialized(name="counts")))
    raw_and_suppressed(counts, Suppressed.until_window_closes(UNBOUNDED))
    with TopologyTestDriver(b.build(), APP) as d:
        # as Kafka Streams' SuppressScenarioTest since sessions close at end + gap + grace
        pipe(d, [("k1", "v1", 0), ("k1", "v1", 5),
                 ("k1", "v1", 1),   # disordered but the session is still open
                 ("k2", "v1", 11),  # any key advances stream time: [0,5] closes at 5 + 5
                 ("k1", "v1", 5),   # late for the first session: dropped everywhere
                 ("k1", "v1", 30)])
        assert drain(d, "output-raw") == [
            ("[k1@0/0]", 1, 0), ("[k1@0/0]", None, 0), ("[k1@0/5]", 2, 5), ("[k1@0/5]", None, 5),
            ("[k1@0/5]", 3, 5), ("[k2@11/11]", 1, 11), ("[k1@30/30]", 1, 30)]
        # the merged-away session [0,0] was buffered and its tombstone is never emitted
        assert drain(d, "output-suppressed") == [("[k1@0/5]", 3, 5), ("[k2@11/11]", 1, 11)]


def test_nothing_is_emitted_before_window_end_plus_grace() -> None:
    b = builder()
    counts = b.stream("input", STR).group_by_key().windowed_by(
        TimeWindows.of_size_and_grace(10, 5)).count()
    raw_and_suppressed(counts, Suppressed.until_window_closes(UNBOUNDED))
    with TopologyTestDriver(b.build(), APP) as d:
        pipe(d, [("a", "x", 1), ("a", "x", 3), ("a", "x", 9), ("b", "x", 12), ("a", "x", 8)])
        assert drain(d, "output-suppressed") == []   # stream time 12 < 10 + 5
        pipe(d, [("b", "x", 14)])
        assert drain(d, "output-suppressed") == []   # 14: one ms before [0,10) closes
        pipe(d, [("b", "x", 15)])                     # 15 = end + grace: closed
        assert drain(d, "output-suppressed") == [("[a@0/10]", 4, 9)]
        assert len(drain(d, "output-raw")) == 7       # every update, unsuppressed


def test_multiple_keys_are_emitted_in_window_end_order_then_key_order() -> None:
    b = builder()
    counts = b.stream("input", STR).group_by_key().windowed_by(
        TimeWindows.of_size_with_no_grace(10).advance_by(5)).count()
    raw_and_suppressed(counts, Suppressed.until_window_closes(UNBOUNDED))
    with TopologyTestDriver(b.build(), APP) as d:
        pipe(d, [("c", "x", 7), ("b", "x", 3), ("a", "x", 12), ("b", "x", 8)])
        # b@8 is late for [0,10) (closed at 12 with no grace) and only updates [5,15)
        assert drain(d, "output-suppressed") == [("[b@0/10]", 1, 3), ("[c@0/10]", 1, 7)]
        pipe(d, [("z", "x", 40)])
        assert drain(d, "output-suppressed") == [
            # ends 15, then 20; equal ends in serialized-key order
            ("[a@5/15]", 1, 12), ("[b@5/15]", 1, 8), ("[c@5/15]", 1, 7), ("[a@10/20]", 1, 12)]


def test_window_close_finds_the_grace_through_table_operators() -> None:
    b = builder()
    counts = b.stream("input", STR).group_by_key().windowed_by(
        TimeWindows.of_size_and_grace(10, 3)).count()
    derived = counts.filter(lambda v: v > 1).filter_not(lambda v: v > 100)
    derived.suppress(Suppressed.until_window_closes(UNBOUNDED)).to_stream().map(
        lambda k, v: (windowed_str(k), v)).to("out", Produced(key_serde=S, value_serde=L))
    with TopologyTestDriver(b.build(), APP) as d:
        pipe(d, [("a", "x", 1), ("a", "x", 2), ("b", "x", 4), ("z", "x", 12)])
        assert drain(d, "out") == []
        pipe(d, [("z", "x", 13)])
        # only updates that pass the filters reach the buffer and advance its stream time:
        # z@12 (count 1) did not, z@13 (count 2) does; b's window never passed
        assert drain(d, "out") == [("[a@0/10]", 2, 2)]


def test_until_window_closes_needs_a_windowed_table() -> None:
    b = builder()
    table = b.table("input", STR).map_values(str.upper)
    with pytest.raises(TopologyError, match=r"only defined for windowed computations.*"
                                            r"KTABLE-SOURCE-0000000002->KTABLE-MAPVALUES"):
        table.suppress(Suppressed.until_window_closes(UNBOUNDED))


def test_until_window_closes_needs_a_strict_buffer() -> None:
    with pytest.raises(TopologyError, match="strict buffer config"):
        Suppressed.until_window_closes(BufferConfig.max_records(10))
    ok = Suppressed.until_window_closes(BufferConfig.max_records(10).shut_down_when_full())
    assert ok.buffer_config.record_limit == 10 and ok.buffer_config.is_strict


def test_suppress_rejects_other_objects() -> None:
    b = builder()
    with pytest.raises(TopologyError, match="needs a Suppressed"):
        b.table("input", STR).suppress(BufferConfig.unbounded())


# --------------------------------------------------------------------- time limit


def test_time_limit_zero_emits_every_update_immediately() -> None:
    b = builder()
    raw_and_suppressed(value_counts(b), Suppressed.until_time_limit(0, UNBOUNDED))
    with TopologyTestDriver(b.build(), APP) as d:
        pipe(d, [("k1", "v1", 0), ("k1", "v2", 1), ("k2", "v1", 2)])
        expected = [("v1", 1, 0), ("v1", 0, 1), ("v2", 1, 1), ("v1", 1, 2)]
        assert drain(d, "output-raw") == expected
        assert drain(d, "output-suppressed") == expected
        pipe(d, [("x", "x", 3)])
        assert drain(d, "output-raw") == drain(d, "output-suppressed") == [("x", 1, 3)]
        pipe(d, [("x", "y", 4)])
        assert drain(d, "output-raw") == drain(d, "output-suppressed") == [
            ("x", 0, 4), ("y", 1, 4)]


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_time_limit_suppresses_intermediate_updates(store_type: str) -> None:
    b = builder(store_type)
    raw_and_suppressed(value_counts(b), Suppressed.until_time_limit(2, UNBOUNDED))
    with TopologyTestDriver(b.build(), APP) as d:
        pipe(d, [("k1", "v1", 0), ("k1", "v2", 1), ("k2", "v1", 2)])
        assert drain(d, "output-raw") == [("v1", 1, 0), ("v1", 0, 1), ("v2", 1, 1), ("v1", 1, 2)]
        # v1 first buffered at 0: due at stream time 2, with its latest value and timestamp
        assert drain(d, "output-suppressed") == [("v1", 1, 2)]
        pipe(d, [("tick", "tick", 3)])
        assert drain(d, "output-raw") == [("tick", 1, 3)]
        assert drain(d, "output-suppressed") == [("v2", 1, 1)]
        pipe(d, [("tick", "tock", 4)])
        assert drain(d, "output-raw") == [("tick", 0, 4), ("tock", 1, 4)]
        # tick was first buffered at 3: the update at 4 does not restart its timer, but it is
        # not due before stream time 5
        assert drain(d, "output-suppressed") == []
        pipe(d, [("k3", "other", 5)])
        assert drain(d, "output-suppressed") == [("tick", 0, 4)]


def test_time_limit_accepts_a_timedelta() -> None:
    import datetime

    s = Suppressed.until_time_limit(datetime.timedelta(seconds=2))
    assert s.time_to_wait_ms == 2000 and s.buffer_config == BufferConfig.unbounded()
    with pytest.raises(TopologyError, match="non-negative"):
        Suppressed.until_time_limit(-1, UNBOUNDED)


def test_record_limit_emits_early_when_full() -> None:
    b = builder()
    raw_and_suppressed(value_counts(b), Suppressed.until_time_limit(
        2**62, BufferConfig.max_records(1).emit_early_when_full()))
    with TopologyTestDriver(b.build(), APP) as d:
        pipe(d, [("k1", "v1", 0), ("k1", "v2", 1), ("k2", "v1", 2)])
        assert drain(d, "output-raw") == [("v1", 1, 0), ("v1", 0, 1), ("v2", 1, 1), ("v1", 1, 2)]
        # consecutive updates of v1 are collapsed; the last one waits for another key
        assert drain(d, "output-suppressed") == [("v1", 0, 1), ("v2", 1, 1)]
        pipe(d, [("x", "x", 3)])
        assert drain(d, "output-raw") == [("x", 1, 3)]
        assert drain(d, "output-suppressed") == [("v1", 1, 2)]


def test_byte_limit_emits_early_when_full() -> None:
    # an entry of key "v1" holding Change(1, None) counts 8 + 2 + 40 = 50 bytes (see
    # SuppressionBuffer), so 80 bytes hold one entry and never two
    b = builder()
    raw_and_suppressed(value_counts(b), Suppressed.until_time_limit(
        2**62, BufferConfig.max_bytes(80)))
    with TopologyTestDriver(b.build(), APP) as d:
        pipe(d, [("k1", "v1", 0), ("k1", "v2", 1), ("k2", "v1", 2)])
        assert drain(d, "output-suppressed") == [("v1", 0, 1), ("v2", 1, 1)]
        pipe(d, [("x", "x", 3)])
        assert drain(d, "output-suppressed") == [("v1", 1, 2)]
        buf = d.get_state_store("KTABLE-SUPPRESS-STATE-STORE-0000000009")
        assert isinstance(buf, SuppressionBuffer)
        # what is left: "x" -> Change(1, None), 8 + 1 + 40 bytes
        assert buf.num_records == 1 and buf.buffer_size == 49


def test_shut_down_when_full_raises_naming_the_node() -> None:
    b = builder()
    (value_counts(b)
     .suppress(Suppressed.until_time_limit(1000, BufferConfig.max_records(1).shut_down_when_full())
               .with_name("rate-limit"))
     .to_stream().to("out", Produced(key_serde=S, value_serde=L)))
    # a processing handler that continues must not turn the shutdown into a skipped record
    with TopologyTestDriver(b.build(), {**APP, "processing.exception.handler": "log_and_continue"}) as d:
        pipe(d, [("k1", "v1", 0)])
        with pytest.raises(SuppressionBufferFullError,
                           match=r"rate-limit buffer exceeded its max capacity\. Currently "
                                 r"\[2/1\] records and \[\d+/unbounded\] bytes") as err:
            pipe(d, [("k2", "v2", 1)])
        assert isinstance(err.value, ProcessorError) and isinstance(err.value, StreamsError)


def test_time_limit_forwards_deletions() -> None:
    b = builder()
    (b.table("input", STR, Materialized(name="source"))
     .suppress(Suppressed.until_time_limit(10, UNBOUNDED))
     .to_stream().to("out", Produced(key_serde=S, value_serde=S)))
    with TopologyTestDriver(b.build(), APP) as d:
        i = d.create_input_topic("input", S, S)
        i.pipe_input("a", "1", 0)
        i.pipe_input("b", "1", 1)
        i.pipe_input("a", None, 2)
        i.pipe_input("tick", "t", 11)
        # "a" came and went inside the buffer: its deletion is still emitted (not safe to drop
        # for a plain table); "b" is emitted with its value
        assert drain(d, "out", S) == [("a", None, 2), ("b", "1", 1)]


def test_emitted_record_carries_the_latest_update_timestamp_and_headers() -> None:
    b = builder()
    (b.table("input", STR, Materialized(name="source"))
     .suppress(Suppressed.until_time_limit(5, UNBOUNDED))
     .to_stream().to("out", Produced(key_serde=S, value_serde=S)))
    with TopologyTestDriver(b.build(), APP) as d:
        i = d.create_input_topic("input", S, S)
        i.pipe_input("a", "1", 0, headers=[("h", b"first")])
        i.pipe_input("a", "2", 3, headers=[("h", b"second"), ("empty", None)])
        i.pipe_input("tick", "t", 5)
        out = d.create_output_topic("out", S, S).read_records_to_list()
        assert [(r.key, r.value, r.timestamp, list(r.headers or [])) for r in out] == [
            ("a", "2", 3, [("h", b"second"), ("empty", None)])]


# --------------------------------------------------------------------- in front of other operators


def test_suppress_before_group_by() -> None:
    b = builder()
    (b.table("topic", STR)
     .suppress(Suppressed.until_time_limit(10, UNBOUNDED))
     .group_by(lambda k, v: (k, v), Grouped(key_serde=S, value_serde=S))
     .count()
     .to_stream().to("output", Produced(key_serde=S, value_serde=L)))
    with TopologyTestDriver(b.build(), APP) as d:
        pipe(d, [("A", "a", 0), ("tick", "tick", 10)], topic="topic")
        assert drain(d, "output") == [("A", 1, 0)]


def test_suppress_before_join_reads_what_was_emitted() -> None:
    b = builder()
    left = b.table("left", STR)
    right = b.table("right", STR).suppress(Suppressed.until_time_limit(10, UNBOUNDED))
    left.outer_join(right, lambda lv, rv: f"({lv},{rv})").to_stream().to(
        "output", Produced(key_serde=S, value_serde=S))
    with TopologyTestDriver(b.build(), APP) as d:
        r = d.create_input_topic("right", S, S)
        lt = d.create_input_topic("left", S, S)
        r.pipe_input("B", "1", 0)
        r.pipe_input("A", "1", 0)
        assert drain(d, "output", S) == []                          # buffered
        r.pipe_input("tick", "tick", 10)
        assert drain(d, "output", S) == [("A", "(None,1)", 0), ("B", "(None,1)", 0)]
        r.pipe_input("A", "2", 11)
        assert drain(d, "output", S) == []                          # buffered
        lt.pipe_input("A", "a", 12)
        # joins with the right side as last emitted (1), not the buffered 2
        assert drain(d, "output", S) == [("A", "(a,1)", 12)]
        lt.pipe_input("B", "b", 12)
        # B is no longer buffered: read through to the right table
        assert drain(d, "output", S) == [("B", "(b,1)", 12)]
        lt.pipe_input("A", "b", 13)
        assert drain(d, "output", S) == [("A", "(b,1)", 13)]
        r.pipe_input("tick", "tick1", 21)
        assert drain(d, "output", S) == [("tick", "(None,tick1)", 21), ("A", "(b,2)", 13)]


# --------------------------------------------------------------------- emit strategy (KIP-825)


def _time_windowed(b: StreamsBuilder, windows: TimeWindows) -> Any:
    return (b.stream("input", STR).group_by(lambda k, v: k, Grouped(key_serde=S, value_serde=S))
            .windowed_by(windows))


RECORDS = [("k1", "v1", 0), ("k2", "v1", 1), ("k1", "v1", 2), ("k1", "v1", 1), ("k2", "v1", 0),
           ("k1", "v1", 5), ("k1", "v1", 0), ("k2", "v1", 7), ("k1", "v1", 9), ("k1", "v1", 30)]


def test_emit_strategy_on_window_close_equals_suppress_until_window_closes() -> None:
    windows = TimeWindows.of_size_and_grace(4, 2).advance_by(2)
    out = Produced(key_serde=S, value_serde=L)

    b1 = builder()
    (_time_windowed(b1, windows).emit_strategy(EmitStrategy.on_window_close())
     .count(Materialized(name="counts")).to_stream()
     .map(lambda k, v: (windowed_str(k), v)).to("out", out))
    b2 = builder()
    (_time_windowed(b2, windows).count(Materialized(name="counts"))
     .suppress(Suppressed.until_window_closes(UNBOUNDED)).to_stream()
     .map(lambda k, v: (windowed_str(k), v)).to("out", out))
    results = []
    for b in (b1, b2):
        with TopologyTestDriver(b.build(), APP) as d:
            pipe(d, RECORDS)
            results.append(drain(d, "out"))
    assert results[0] == results[1] == [
        # end 4 closes at stream time 6 (emitted at 7); k1@0 at stream time 5 was in grace
        ("[k1@0/4]", 4, 2), ("[k2@0/4]", 2, 1),
        ("[k1@2/6]", 2, 5),                           # end 6 closes at 8 (emitted at 9)
        # the rest at 30, by window end, then by key
        ("[k1@4/8]", 1, 5), ("[k2@4/8]", 1, 7),
        ("[k1@6/10]", 1, 9), ("[k2@6/10]", 1, 7),
        ("[k1@8/12]", 1, 9)]


def test_emit_strategy_on_window_update_is_the_default() -> None:
    windows = TimeWindows.of_size_and_grace(4, 2)
    out = Produced(key_serde=S, value_serde=L)
    results = []
    for strategy in (None, EmitStrategy.on_window_update()):
        b = builder()
        w = _time_windowed(b, windows)
        if strategy is not None:
            w = w.emit_strategy(strategy)
        w.count().to_stream().map(lambda k, v: (windowed_str(k), v)).to("out", out)
        topology = b.build()
        assert "SUPPRESS" not in str(topology.describe()) and "EMIT" not in str(topology.describe())
        with TopologyTestDriver(topology, APP) as d:
            pipe(d, RECORDS)
            results.append(drain(d, "out"))
    assert results[0] == results[1] and len(results[0]) == 10  # one update per record


def test_emit_strategy_returns_a_copy_and_keeps_kafka_streams_node_names() -> None:
    b = builder()
    w = _time_windowed(b, TimeWindows.of_size_with_no_grace(10))
    final = w.emit_strategy(EmitStrategy.on_window_close())
    assert final is not w and w._emit_strategy is None
    table = final.count(Materialized(name="counts"))
    table.to_stream().to("out")
    assert table.node == "KSTREAM-AGGREGATE-0000000002-EMIT-FINAL"
    assert table.window_store_name == "counts"
    desc = str(b.build().describe())
    assert "Processor: KSTREAM-AGGREGATE-0000000002-EMIT-FINAL (stores: [counts-emit-final-buffer])" in desc
    # no generated index was used: the next nodes are numbered as in Kafka Streams
    assert "KTABLE-TOSTREAM-0000000006" in desc
    with pytest.raises(TopologyError, match="needs EmitStrategy"):
        w.emit_strategy("on_window_close")


def test_emit_strategy_on_window_close_for_sessions() -> None:
    b = builder()
    (b.stream("input", STR).group_by_key()
     .windowed_by(SessionWindows.of_inactivity_gap_and_grace(5, 0))
     .emit_strategy(EmitStrategy.on_window_close())
     .count().to_stream().map(lambda k, v: (windowed_str(k), v))
     .to("out", Produced(key_serde=S, value_serde=L)))
    with TopologyTestDriver(b.build(), APP) as d:
        # the last k1 record is not late: [0,5] takes records until stream time 5 + gap
        pipe(d, [("k1", "v1", 0), ("k1", "v1", 5), ("k1", "v1", 1), ("k2", "v1", 6),
                 ("k1", "v1", 5)])
        assert drain(d, "out") == []
        pipe(d, [("k3", "v1", 10)])
        # KIP-825 emits a session once its end < stream time - gap - grace: 5 < 10 - 5 is false
        assert drain(d, "out") == []
        pipe(d, [("k3", "v1", 11)])
        assert drain(d, "out") == [("[k1@0/5]", 4, 5)]
        pipe(d, [("k3", "v1", 30)])
        assert drain(d, "out") == [("[k2@6/6]", 1, 6), ("[k3@10/11]", 2, 11)]


def test_sessions_closing_together_are_emitted_by_end_then_start() -> None:
    # Kafka Streams scans its session store in time order: (end, start), not key order
    b = builder()
    (b.stream("input", STR).group_by_key()
     .windowed_by(SessionWindows.of_inactivity_gap_and_grace(1, 0))
     .emit_strategy(EmitStrategy.on_window_close())
     .count().to_stream().map(lambda k, v: (windowed_str(k), v))
     .to("out", Produced(key_serde=S, value_serde=L)))
    with TopologyTestDriver(b.build(), APP) as d:
        pipe(d, [("b", "v", 0), ("b", "v", 1), ("b", "v", 2), ("b", "v", 3), ("b", "v", 4),
                 ("a", "v", 4), ("c", "v", 4), ("z", "v", 20)])
        assert drain(d, "out") == [("[b@0/4]", 5, 4), ("[a@4/4]", 1, 4), ("[c@4/4]", 1, 4)]


def test_suppress_until_window_closes_keeps_the_buffer_order_for_sessions() -> None:
    # Kafka Streams' suppression buffer orders by (window end, key bytes)
    b = builder()
    counts = (b.stream("input", STR).group_by_key()
              .windowed_by(SessionWindows.of_inactivity_gap_and_grace(1, 0)).count())
    raw_and_suppressed(counts, Suppressed.until_window_closes(UNBOUNDED))
    with TopologyTestDriver(b.build(), APP) as d:
        pipe(d, [("b", "v", 0), ("b", "v", 1), ("b", "v", 2), ("b", "v", 3), ("b", "v", 4),
                 ("a", "v", 4), ("c", "v", 4), ("z", "v", 20)])
        assert [k for k, _, _ in drain(d, "output-suppressed")] == [
            "[a@4/4]", "[b@0/4]", "[c@4/4]"]


# --------------------------------------------------------------------- names, store, changelog


def test_generated_and_given_names() -> None:
    b = builder()
    t = b.table("input", STR, Materialized(name="source"))
    s1 = t.suppress(Suppressed.until_time_limit(1, UNBOUNDED))
    s2 = t.suppress(Suppressed.until_time_limit(1, UNBOUNDED).with_name("limited"))
    s1.to_stream().to("o1")
    s2.to_stream().to("o2")
    topology = b.build()
    assert s1.node == "KTABLE-SUPPRESS-0000000002"
    assert "KTABLE-SUPPRESS-STATE-STORE-0000000003" in topology.stores
    assert s2.node == "limited" and "limited-store" in topology.stores
    desc = str(topology.describe())
    assert "Processor: limited (stores: [limited-store])" in desc
    with pytest.raises(TopologyError, match="non-empty"):
        Suppressed.until_time_limit(1).with_name("")


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_buffer_is_logged_and_evictions_are_tombstones(store_type: str) -> None:
    b = builder(store_type)
    (b.table("input", STR, Materialized(name="source", logging=False))
     .suppress(Suppressed.until_time_limit(5, UNBOUNDED).with_name("sup"))
     .to_stream().to("out", Produced(key_serde=S, value_serde=S)))
    with TopologyTestDriver(b.build(), APP) as d:
        pipe(d, [("a", "1", 0), ("a", "2", 2), ("b", "1", 4), ("c", "1", 5)])
        log = d._collector.by_topic["app-sup-store-changelog"]
        assert [(r.key, r.value is None) for r in log] == [
            (b"a", False), (b"a", False), (b"b", False), (b"c", False), (b"a", True)]
        entry = decode_entry(log[1].value or b"")
        assert entry == BufferedEntry(0, 2, None, b"1", b"2", None)
        assert drain(d, "out", S) == [("a", "2", 2)]
        buf = d.get_state_store("sup-store")
        assert isinstance(buf, SuppressionBuffer) and buf.persistent == (store_type == "rocksdb")
        assert [(k, e.buffer_time, e.new) for k, e in buf.entries()] == [
            ("b", 4, b"1"), ("c", 5, b"1")]


def test_logging_disabled_has_no_changelog() -> None:
    b = builder()
    (b.table("input", STR, Materialized(name="source", logging=False))
     .suppress(Suppressed.until_time_limit(5, UNBOUNDED.with_logging_disabled()).with_name("sup"))
     .to_stream().to("out"))
    topology = b.build()
    assert not topology.stores["sup-store"].logging_enabled
    with TopologyTestDriver(topology, APP) as d:
        pipe(d, [("a", "1", 0)])
        assert d.produced_topic_names() == set()


def test_buffer_log_config_reaches_the_store_builder() -> None:
    b = builder()
    config = UNBOUNDED.with_logging_enabled({"min.insync.replicas": 2})
    b.table("input", STR).suppress(
        Suppressed.until_time_limit(5, config).with_name("sup")).to_stream().to("out")
    store = b.build().stores["sup-store"]
    assert store.logging_enabled and store.log_config == {"min.insync.replicas": "2"}


def _final_counts_app(store_type: str) -> Any:
    b = builder(store_type)
    (b.stream("input", STR).group_by_key()
     .windowed_by(TimeWindows.of_size_and_grace(10, 5))
     .count(Materialized(name="counts"))
     .suppress(Suppressed.until_window_closes(UNBOUNDED).with_name("final"))
     .to_stream().map(lambda k, v: (windowed_str(k), v))
     .to("out", Produced(key_serde=S, value_serde=L)))
    return b.build()


def test_persistent_buffer_survives_a_restart_on_the_same_state_dir(tmp_path: Path) -> None:
    config = {**APP, "state.dir": str(tmp_path)}
    with TopologyTestDriver(_final_counts_app("rocksdb"), config) as d:
        pipe(d, [("a", "x", 1), ("a", "x", 2), ("b", "x", 9), ("a", "x", 12)])
        assert drain(d, "out") == []
    # a new instance on the same state directory: the buffer is read back from disk
    with TopologyTestDriver(_final_counts_app("rocksdb"), config) as d:
        buf = d.get_state_store("final-store")
        assert [k.key for k, _ in buf.entries()] == ["a", "b", "a"]
        pipe(d, [("a", "x", 15)])
        # [0,10) closed at 15 with the counts of the first run; [10,20) is still open
        assert drain(d, "out") == [("[a@0/10]", 2, 2), ("[b@0/10]", 1, 9)]
        pipe(d, [("c", "x", 25)])
        assert drain(d, "out") == [("[a@10/20]", 2, 15)]


def test_in_memory_buffer_is_restored_from_its_changelog() -> None:
    # first instance: capture the buffer's changelog
    with TopologyTestDriver(_final_counts_app("in_memory"), APP) as d:
        pipe(d, [("a", "x", 1), ("a", "x", 2), ("b", "x", 9), ("a", "x", 12)])
        changelog = [(r.key or b"", r.value)
                     for r in d._collector.by_topic["app-final-store-changelog"]]
    assert len(changelog) == 4
    # second instance: replay the changelog through the callback the store registered, as the
    # runtime's restorer does before processing starts
    with TopologyTestDriver(_final_counts_app("in_memory"), APP) as d:
        task = next(t for t in d._tasks if "final-store" in t.stores)
        bytes_store, restore = task.state.registered["final-store"]
        assert bytes_store.name == "final-store"
        assert list(d.get_state_store("final-store").entries()) == []
        restore(changelog[:2])
        restore(changelog[2:])
        assert [k.key for k, _ in d.get_state_store("final-store").entries()] == ["a", "b", "a"]
        pipe(d, [("a", "x", 15)])
        assert drain(d, "out") == [("[a@0/10]", 2, 2), ("[b@0/10]", 1, 9)]


def test_restoring_a_tombstone_removes_the_entry() -> None:
    with TopologyTestDriver(_final_counts_app("in_memory"), APP) as d:
        pipe(d, [("a", "x", 1), ("a", "x", 40)])
        changelog = [(r.key or b"", r.value)
                     for r in d._collector.by_topic["app-final-store-changelog"]]
        assert changelog[-1][1] is None  # [a@0/10] evicted
    with TopologyTestDriver(_final_counts_app("in_memory"), APP) as d:
        task = next(t for t in d._tasks if "final-store" in t.stores)
        task.state.registered["final-store"][1](changelog)
        assert [(k.key, k.window.start) for k, _ in d.get_state_store("final-store").entries()] == [
            ("a", 40)]


def test_buffer_needs_serdes_from_the_config_when_values_were_computed() -> None:
    b = StreamsBuilder()
    (b.table("input", STR).map_values(len)
     .suppress(Suppressed.until_time_limit(0, UNBOUNDED))
     .to_stream().to("out", Produced(key_serde=S, value_serde=serdes.Integer())))
    topology = b.build()
    with pytest.raises(TopologyError, match="KTABLE-SUPPRESS-0000000004 needs a value serde"):
        TopologyTestDriver(topology, APP)
    with TopologyTestDriver(topology, {**APP, "default.value.serde": serdes.Integer()}) as d:
        pipe(d, [("a", "xyz", 0)])
        assert drain(d, "out", serdes.Integer()) == [("a", 3, 0)]


# --------------------------------------------------------------------- value types


def test_buffer_config_factories_and_modifiers() -> None:
    assert BufferConfig.unbounded().is_strict
    assert BufferConfig.unbounded().record_limit is None and BufferConfig.unbounded().byte_limit is None
    eager = BufferConfig.max_records(5)
    assert eager.full_strategy is BufferFullStrategy.EMIT and not eager.is_strict
    assert BufferConfig.max_bytes(100).byte_limit == 100 and not BufferConfig.max_bytes(1).is_strict
    strict = eager.with_max_bytes(1000).shut_down_when_full()
    assert (strict.record_limit, strict.byte_limit, strict.is_strict) == (5, 1000, True)
    assert strict.with_max_records(7).is_strict and strict.with_max_records(7).record_limit == 7
    assert strict.emit_early_when_full().full_strategy is BufferFullStrategy.EMIT
    unbounded = eager.with_no_bound()
    assert unbounded.is_strict and unbounded.record_limit is None
    assert not BufferConfig.unbounded().with_logging_disabled().logging_enabled
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(TopologyError):
            BufferConfig.max_records(bad)  # type: ignore[arg-type]


def test_emit_strategy_value_type() -> None:
    assert EmitStrategy.on_window_close() == EmitStrategy.on_window_close()
    assert EmitStrategy.on_window_close() != EmitStrategy.on_window_update()
    assert EmitStrategy.on_window_close().type is EmitStrategy.StrategyType.ON_WINDOW_CLOSE
    assert repr(EmitStrategy.on_window_update()) == "EmitStrategy.on_window_update()"


def test_entry_encoding_round_trip_and_malformed_bytes() -> None:
    entry = BufferedEntry(-5, 2**40, b"", None, b"\x00new", [("h", b"v"), ("\u00e9", None)])
    assert decode_entry(encode_entry(entry)) == entry
    plain = BufferedEntry(1, 2, None, None, None, None)
    assert decode_entry(encode_entry(plain)) == plain
    with pytest.raises(StateStoreError, match="malformed suppression buffer entry"):
        decode_entry(encode_entry(entry)[:-1])
    with pytest.raises(StateStoreError, match="malformed"):
        decode_entry(encode_entry(plain) + b"x")


def test_change_of_evicted_record_carries_the_prior_value() -> None:
    # downstream operators that retract old values see what was emitted before, not the old
    # value of the last (suppressed) update
    seen: list[Change] = []
    b = builder()
    table = b.table("input", STR, Materialized(name="source")).suppress(
        Suppressed.until_time_limit(10, UNBOUNDED))
    b.topology.add_processor("spy", lambda: _Spy(seen), table.node)
    with TopologyTestDriver(b.build(), APP) as d:
        pipe(d, [("a", "1", 0), ("tick", "t", 10), ("a", "2", 11), ("a", "3", 12),
                 ("tick", "t", 21)])
    assert seen == [Change("1", None), Change("t", None), Change("3", "1")]


class _Spy(Processor):
    def __init__(self, seen: list[Change]) -> None:
        self.seen = seen

    def process(self, record: Record) -> None:
        self.seen.append(record.value)


def test_start_up_plans_the_buffer_changelog_topic() -> None:
    from streams.runtime.internal_topics import plan_topics

    b = builder()
    (b.stream("input", STR).group_by_key()
     .windowed_by(TimeWindows.of_size_with_no_grace(10))
     .count(Materialized(name="counts"))
     .suppress(Suppressed.until_window_closes(
         UNBOUNDED.with_logging_enabled({"segment.ms": 60_000})).with_name("final"))
     .to_stream().to("out"))
    plan = plan_topics(b.build(), "app", {"input": 3, "out": 1})
    assert plan.internal["app-final-store-changelog"] == (
        3, {"cleanup.policy": "compact", "segment.ms": "60000"})
