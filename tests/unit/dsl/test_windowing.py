"""Windowed aggregations (TimeWindows, SessionWindows) with Kafka Streams' semantics, checked
through the TopologyTestDriver record by record: Windowed key, value and timestamp.

Expected outputs follow Kafka Streams' KStreamWindowAggregate / KStreamSessionWindowAggregate
(caching disabled): a time window is open while ``end > stream time - grace``; a session is
accepted while ``session end >= stream time - grace``; window results carry the largest
timestamp of their records, session results carry the session end.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from typing import Any

import pytest

from streams import Consumed, Grouped, Materialized, Produced, Record, StreamsBuilder, serdes
from streams.dsl.window_specs import SessionWindows, SlidingWindows, TimeWindows
from streams.errors import TopologyError
from streams.processor.window_types import SessionWindow, TimeWindow, Windowed
from streams.testing import TopologyTestDriver

S, L = serdes.String(), serdes.Long()
STR = Consumed(key_serde=S, value_serde=S)
APP = {"application.id": "app"}
STORE_TYPES = ["in_memory", "rocksdb"]


def W(key: str, start: int, end: int) -> Windowed[str]:
    return Windowed(key, TimeWindow(start, end))


def SW(key: str, start: int, end: int) -> Windowed[str]:
    return Windowed(key, SessionWindow(start, end))


def rows(records: list[Record]) -> list[tuple[Any, Any, int]]:
    return [(r.key, r.value, r.timestamp) for r in records]


def time_app(windows: TimeWindows, op: Callable[[Any], Any], value_serde: Any = L,
             grouped: Any = None) -> Any:
    b = StreamsBuilder()
    g = grouped(b.stream("in", STR)) if grouped else b.stream("in", STR).group_by_key()
    op(g.windowed_by(windows)).to_stream().to(
        "out", Produced(key_serde=serdes.TimeWindowedSerde(S, windows.size_ms),
                        value_serde=value_serde))
    return b.build()


def session_app(windows: SessionWindows, op: Callable[[Any], Any], value_serde: Any = L) -> Any:
    b = StreamsBuilder()
    op(b.stream("in", STR).group_by_key().windowed_by(windows)).to_stream().to(
        "out", Produced(key_serde=serdes.SessionWindowedSerde(S), value_serde=value_serde))
    return b.build()


def run(topology: Any, records: list[tuple[str, str, int]], key_serde: Any,
        value_serde: Any = L) -> tuple[list[tuple[Any, Any, int]], TopologyTestDriver]:
    """Pipe ``(key, value, ts)`` records; returns the output rows and the (open) driver."""
    d = TopologyTestDriver(topology, APP)
    i = d.create_input_topic("in", S, S)
    for k, v, ts in records:
        i.pipe_input(k, v, ts)
    return rows(d.create_output_topic("out", key_serde, value_serde).read_records_to_list()), d


def dropped(d: TopologyTestDriver) -> int:
    return sum(t.dropped_records for t in d._tasks)


def tws(size: int) -> Any:
    return serdes.TimeWindowedSerde(S, size)


SWS = serdes.SessionWindowedSerde(S)


# ------------------------------------------------------------------------------ tumbling


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_tumbling_end_is_exclusive_and_starts_align_to_epoch(store_type: str) -> None:
    topo = time_app(TimeWindows.of_size_with_no_grace(10),
                    lambda w: w.count(Materialized(name="c", store_type=store_type)))
    out, d = run(topo, [("a", "x", 0), ("a", "x", 9), ("a", "x", 10), ("a", "x", 19),
                        ("a", "x", 20), ("b", "x", 27)], tws(10))
    with d:
        assert out == [
            (W("a", 0, 10), 1, 0),
            (W("a", 0, 10), 2, 9),
            (W("a", 10, 20), 1, 10),   # a record at exactly `end` opens the next window
            (W("a", 10, 20), 2, 19),
            (W("a", 20, 30), 1, 20),
            (W("b", 20, 30), 1, 27),   # start = 27 - 27 % 10, not the record's timestamp
        ]
        assert dropped(d) == 0


def test_tumbling_window_start_is_aligned_to_epoch_zero_for_large_timestamps() -> None:
    minute = 60_000
    ts = 1_700_000_123_456
    topo = time_app(TimeWindows.of_size_with_no_grace(minute), lambda w: w.count())
    out, d = run(topo, [("a", "x", ts)], tws(minute))
    with d:
        start = ts - ts % minute
        assert out == [(W("a", start, start + minute), 1, ts)]


# ------------------------------------------------------------------------------- hopping


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_hopping_matches_kafka_streams_agg_basic(store_type: str) -> None:
    """Kafka Streams' KStreamWindowAggregateTest.testAggBasic: size 10, advance 5; every
    record lands in two windows, earliest first; late (in-grace) records update old windows."""
    windows = TimeWindows.of_size_and_grace(10, 1_000).advance_by(5)
    topo = time_app(windows, lambda w: w.aggregate(
        lambda: "0", lambda _k, v, agg: f"{agg}+{v}",
        Materialized(name="agg", value_serde=S, store_type=store_type)), value_serde=S)
    inputs = [("A", "1", 0), ("B", "2", 1), ("C", "3", 2), ("D", "4", 3), ("A", "1", 4),
              ("A", "1", 5), ("B", "2", 6), ("D", "4", 7), ("B", "2", 8), ("C", "3", 9),
              ("A", "1", 10), ("B", "2", 11), ("D", "4", 12), ("B", "2", 13), ("C", "3", 14),
              ("B", "1", 3), ("B", "2", 2), ("B", "3", 9)]
    out, d = run(topo, inputs, tws(10), S)
    with d:
        assert out == [
            (W("A", 0, 10), "0+1", 0),
            (W("B", 0, 10), "0+2", 1),
            (W("C", 0, 10), "0+3", 2),
            (W("D", 0, 10), "0+4", 3),
            (W("A", 0, 10), "0+1+1", 4),
            (W("A", 0, 10), "0+1+1+1", 5),
            (W("A", 5, 15), "0+1", 5),
            (W("B", 0, 10), "0+2+2", 6),
            (W("B", 5, 15), "0+2", 6),
            (W("D", 0, 10), "0+4+4", 7),
            (W("D", 5, 15), "0+4", 7),
            (W("B", 0, 10), "0+2+2+2", 8),
            (W("B", 5, 15), "0+2+2", 8),
            (W("C", 0, 10), "0+3+3", 9),
            (W("C", 5, 15), "0+3", 9),
            (W("A", 5, 15), "0+1+1", 10),
            (W("A", 10, 20), "0+1", 10),
            (W("B", 5, 15), "0+2+2+2", 11),
            (W("B", 10, 20), "0+2", 11),
            (W("D", 5, 15), "0+4+4", 12),
            (W("D", 10, 20), "0+4", 12),
            (W("B", 5, 15), "0+2+2+2+2", 13),
            (W("B", 10, 20), "0+2+2", 13),
            (W("C", 5, 15), "0+3+3", 14),
            (W("C", 10, 20), "0+3", 14),
            # out of order: timestamps stay the max of the window's records
            (W("B", 0, 10), "0+2+2+2+1", 8),
            (W("B", 0, 10), "0+2+2+2+1+2", 8),
            (W("B", 0, 10), "0+2+2+2+1+2+3", 9),
            (W("B", 5, 15), "0+2+2+2+2+3", 13),
        ]
        store = d.get_window_store("agg")
        assert store.fetch("B", 0, 100) == [(0, "0+2+2+2+1+2+3"), (5, "0+2+2+2+2+3"),
                                           (10, "0+2+2")]


def test_hopping_record_in_three_windows_earliest_first() -> None:
    topo = time_app(TimeWindows.of_size_with_no_grace(30).advance_by(10), lambda w: w.count())
    out, d = run(topo, [("a", "x", 25)], tws(30))
    with d:
        assert out == [(W("a", 0, 30), 1, 25), (W("a", 10, 40), 1, 25), (W("a", 20, 50), 1, 25)]


def test_hopping_no_negative_window_starts() -> None:
    topo = time_app(TimeWindows.of_size_with_no_grace(10).advance_by(5), lambda w: w.count())
    out, d = run(topo, [("a", "x", 3)], tws(10))
    with d:
        assert out == [(W("a", 0, 10), 1, 3)]   # [-5, 5) does not exist


# --------------------------------------------------------------------------------- grace


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_grace_late_record_inside_grace_updates_beyond_is_dropped(store_type: str) -> None:
    windows = TimeWindows.of_size_and_grace(10, 5)
    topo = time_app(windows, lambda w: w.count(
        Materialized(name="c", store_type=store_type, retention_ms=1_000)))
    d = TopologyTestDriver(topo, APP)
    with d:
        i = d.create_input_topic("in", S, S)
        o = d.create_output_topic("out", tws(10), L)
        i.pipe_input("a", "x", 0)
        i.pipe_input("a", "x", 12)      # stream time 12: [0,10) open until stream time 15
        i.pipe_input("a", "x", 8)       # late but within grace
        assert rows(o.read_records_to_list()) == [
            (W("a", 0, 10), 1, 0), (W("a", 10, 20), 1, 12), (W("a", 0, 10), 2, 8)]
        i.pipe_input("a", "x", 15)      # stream time 15 = end + grace: [0,10) is closed
        assert rows(o.read_records_to_list()) == [(W("a", 10, 20), 2, 15)]
        assert dropped(d) == 0
        i.pipe_input("a", "x", 9)       # beyond grace: dropped and counted
        i.pipe_input("b", "x", 0)       # a new key in a closed window too
        assert o.read_records_to_list() == []
        assert dropped(d) == 2
        store = d.get_window_store("c")
        assert store.get("a", 0) == 2   # the closed window is unchanged
        assert store.get("b", 0) is None
        assert store.fetch("a", 0, 100) == [(0, 2), (10, 2)]


def test_hopping_record_late_for_one_window_still_updates_the_open_one(
        caplog: pytest.LogCaptureFixture) -> None:
    topo = time_app(TimeWindows.of_size_with_no_grace(10).advance_by(5), lambda w: w.count())
    with caplog.at_level(logging.DEBUG, logger="streams.processor"):
        out, d = run(topo, [("a", "x", 12), ("a", "x", 7)], tws(10))
    with d:
        assert out == [(W("a", 5, 15), 1, 12), (W("a", 10, 20), 1, 12),
                       (W("a", 5, 15), 2, 12)]      # [0,10) closed: not emitted
        assert dropped(d) == 1
        assert any("late record" in r.getMessage() and "[0,10)" in r.getMessage()
                   for r in caplog.records if r.levelno == logging.DEBUG)


def test_a_none_key_is_skipped_and_a_none_value_counts_as_in_kafka_streams() -> None:
    # Kafka Streams' KStreamWindowAggregate skips only None keys (the conformance suite found
    # that we skipped None values too)
    topo = time_app(TimeWindows.of_size_with_no_grace(10), lambda w: w.count())
    with TopologyTestDriver(topo, APP) as d:
        i = d.create_input_topic("in", S, S)
        i.pipe_input(None, "x", 1)
        i.pipe_input("a", None, 1)
        assert rows(d.create_output_topic("out", tws(10), L).read_records_to_list()) == [
            (W("a", 0, 10), 1, 1)]


# -------------------------------------------------------------------- reduce / aggregate


def test_reduce_per_window_with_max_timestamp() -> None:
    topo = time_app(TimeWindows.of_size_with_no_grace(10),
                    lambda w: w.reduce(lambda agg, v: agg + v), value_serde=S)
    out, d = run(topo, [("a", "x", 5), ("a", "y", 3), ("a", "z", 7), ("a", "w", 11)],
                 tws(10), S)
    with d:
        assert out == [(W("a", 0, 10), "x", 5), (W("a", 0, 10), "xy", 5),
                       (W("a", 0, 10), "xyz", 7), (W("a", 10, 20), "w", 11)]


@pytest.mark.parametrize("with_key", [True, False])
def test_aggregate_with_and_without_key(with_key: bool) -> None:
    def agg_k(k: str, v: str, agg: str) -> str:
        return f"{agg}|{k}{v}"

    def agg_nok(v: str, agg: str) -> str:
        return f"{agg}|{v}"

    topo = time_app(TimeWindows.of_size_with_no_grace(10), lambda w: w.aggregate(
        lambda: "", agg_k if with_key else agg_nok, Materialized(value_serde=S)), value_serde=S)
    out, d = run(topo, [("a", "1", 1), ("b", "2", 2), ("a", "3", 4)], tws(10), S)
    with d:
        p = (lambda k: k) if with_key else (lambda k: "")
        assert out == [(W("a", 0, 10), f"|{p('a')}1", 1), (W("b", 0, 10), f"|{p('b')}2", 2),
                       (W("a", 0, 10), f"|{p('a')}1|{p('a')}3", 4)]


# ------------------------------------------------------------------------------ retention


def test_time_window_retention_shorter_than_size_plus_grace_fails_at_build() -> None:
    with pytest.raises(TopologyError, match="retention"):
        time_app(TimeWindows.of_size_and_grace(10, 5),
                 lambda w: w.count(Materialized(name="c", retention_ms=14)))


def test_session_retention_shorter_than_gap_plus_grace_fails_at_build() -> None:
    with pytest.raises(TopologyError, match="retention"):
        session_app(SessionWindows.of_inactivity_gap_and_grace(10, 5),
                    lambda w: w.count(Materialized(name="s", retention_ms=14)))


def test_retention_equal_to_size_plus_grace_is_accepted() -> None:
    topo = time_app(TimeWindows.of_size_and_grace(10, 5),
                    lambda w: w.count(Materialized(name="c", retention_ms=15)))
    with TopologyTestDriver(topo, APP) as d:
        assert d.get_window_store("c") is not None


def test_default_retention_expires_windows_older_than_size_plus_grace() -> None:
    topo = time_app(TimeWindows.of_size_and_grace(10, 5),
                    lambda w: w.count(Materialized(name="c")))
    _out, d = run(topo, [("a", "x", 1), ("a", "x", 12), ("a", "x", 30)], tws(10))
    with d:
        # retention 15 at stream time 30: windows starting before 16 are gone
        assert d.get_window_store("c").all() == [(W("a", 30, 40), 1)]


# ------------------------------------------------------------------------------- sessions


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_session_new_extend_and_merge(store_type: str) -> None:
    topo = session_app(SessionWindows.of_inactivity_gap_and_grace(10, 100),
                       lambda w: w.count(Materialized(name="s", store_type=store_type)))
    out, d = run(topo, [("a", "x", 0), ("a", "x", 20), ("a", "x", 10), ("a", "x", 25),
                        ("a", "x", 5), ("a", "x", 40)], SWS)
    with d:
        assert out == [
            (SW("a", 0, 0), 1, 0),              # new session
            (SW("a", 20, 20), 1, 20),           # more than the gap away: another session
            # 10 is within the gap of both: both are deleted, then the merged session
            (SW("a", 0, 0), None, 0),
            (SW("a", 20, 20), None, 20),
            (SW("a", 0, 20), 3, 20),
            # extension: the old session is deleted, the longer one written
            (SW("a", 0, 20), None, 20),
            (SW("a", 0, 25), 4, 25),
            # a record inside a session: same window, still delete-then-put
            (SW("a", 0, 25), None, 25),
            (SW("a", 0, 25), 5, 25),
            (SW("a", 40, 40), 1, 40),           # 40 - 25 > 10: new session
        ]
        store = d.get_session_store("s")
        assert list(store.fetch("a")) == [(SW("a", 0, 25), 5), (SW("a", 40, 40), 1)]
        assert dropped(d) == 0


def test_session_records_exactly_gap_apart_merge() -> None:
    topo = session_app(SessionWindows.of_inactivity_gap_with_no_grace(5), lambda w: w.count())
    out, d = run(topo, [("a", "x", 0), ("a", "x", 5), ("a", "x", 11)], SWS)
    with d:
        assert out == [(SW("a", 0, 0), 1, 0), (SW("a", 0, 0), None, 0), (SW("a", 0, 5), 2, 5),
                       (SW("a", 11, 11), 1, 11)]


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_session_late_record_beyond_grace_is_dropped(store_type: str) -> None:
    topo = session_app(SessionWindows.of_inactivity_gap_and_grace(5, 10),
                       lambda w: w.count(Materialized(name="s", store_type=store_type,
                                                      retention_ms=1_000)))
    d = TopologyTestDriver(topo, APP)
    with d:
        i = d.create_input_topic("in", S, S)
        o = d.create_output_topic("out", SWS, L)
        i.pipe_input("a", "x", 0)
        # stream time 20: sessions ending at or after 20 - grace - gap = 5 accept records (as
        # in Kafka Streams: a session may merge with a record up to a gap after its end)
        i.pipe_input("a", "x", 20)
        i.pipe_input("b", "x", 5)       # a session ending exactly at the close time: kept
        i.pipe_input("d", "x", 9)       # ends at 9 >= 5: kept (it is more than grace old)
        assert rows(o.read_records_to_list()) == [
            (SW("a", 0, 0), 1, 0), (SW("a", 20, 20), 1, 20), (SW("b", 5, 5), 1, 5),
            (SW("d", 9, 9), 1, 9)]
        i.pipe_input("a", "x", 3)       # would extend [0,0] to [0,3]: 3 < 5, dropped
        i.pipe_input("c", "x", 4)       # a new session ending at 4 < 5: dropped
        assert o.read_records_to_list() == []
        assert dropped(d) == 2
        store = d.get_session_store("s")
        assert list(store.fetch("a")) == [(SW("a", 0, 0), 1), (SW("a", 20, 20), 1)]
        assert list(store.fetch("c")) == []


@pytest.mark.parametrize("with_key", [True, False])
def test_session_aggregate_merges_with_merger_then_aggregates(with_key: bool) -> None:
    if with_key:
        def aggregator(k: str, v: str, agg: str) -> str:
            return agg + v

        def merger(k: str, a: str, b: str) -> str:
            return f"({a}&{b})"
        op = lambda w: w.aggregate(lambda: "", aggregator, merger,  # noqa: E731
                                   Materialized(name="s", value_serde=S))
    else:
        op = lambda w: w.aggregate(lambda: "", lambda v, agg: agg + v,  # noqa: E731
                                   lambda a, b: f"({a}&{b})",
                                   Materialized(name="s", value_serde=S))
    topo = session_app(SessionWindows.of_inactivity_gap_and_grace(10, 100), op, value_serde=S)
    out, d = run(topo, [("a", "x", 0), ("a", "z", 20), ("a", "y", 10)], SWS, S)
    with d:
        # Kafka Streams: agg = initializer(); agg = merger(agg, s) for each session found,
        # earliest first; then agg = aggregator(value, agg)
        assert out == [
            (SW("a", 0, 0), "x", 0),
            (SW("a", 20, 20), "z", 20),
            (SW("a", 0, 0), None, 0),
            (SW("a", 20, 20), None, 20),
            (SW("a", 0, 20), "((&x)&z)y", 20),
        ]
        assert list(d.get_session_store("s").fetch("a")) == [(SW("a", 0, 20), "((&x)&z)y")]


def test_session_reduce() -> None:
    topo = session_app(SessionWindows.of_inactivity_gap_with_no_grace(10),
                       lambda w: w.reduce(lambda agg, v: agg + v, Materialized(name="s")),
                       value_serde=S)
    out, d = run(topo, [("a", "x", 0), ("a", "y", 5), ("b", "q", 5), ("a", "z", 30)], SWS, S)
    with d:
        assert out == [(SW("a", 0, 0), "x", 0), (SW("a", 0, 0), None, 0),
                       (SW("a", 0, 5), "xy", 5), (SW("b", 5, 5), "q", 5),
                       (SW("a", 30, 30), "z", 30)]
        # retention = gap + grace = 10: at stream time 30 only a's newest session is kept
        assert list(d.get_session_store("s").fetch("a")) == [(SW("a", 30, 30), "z")]
        assert list(d.get_session_store("s").fetch("b")) == []


# ------------------------------------------------------------------------ windowed serdes


def test_time_windowed_key_bytes_on_the_output_topic() -> None:
    topo = time_app(TimeWindows.of_size_with_no_grace(60_000), lambda w: w.count())
    with TopologyTestDriver(topo, APP) as d:
        d.create_input_topic("in", S, S).pipe_input("ab", "x", 125_000)
        r = d.create_output_topic("out", serdes.Bytes(), serdes.Bytes()).read_record()
        assert r.key == b"ab" + struct.pack(">q", 120_000)
        assert r.value == struct.pack(">q", 1)


def test_session_windowed_key_bytes_on_the_output_topic() -> None:
    topo = session_app(SessionWindows.of_inactivity_gap_with_no_grace(100), lambda w: w.count())
    with TopologyTestDriver(topo, APP) as d:
        i = d.create_input_topic("in", S, S)
        i.pipe_input("ab", "x", 10)
        i.pipe_input("ab", "x", 70)
        got = d.create_output_topic("out", serdes.Bytes(), serdes.Bytes()).read_records_to_list()
        # [key][8-byte end][8-byte start]; the tombstone has no value
        assert [(r.key, r.value) for r in got] == [
            (b"ab" + struct.pack(">qq", 10, 10), struct.pack(">q", 1)),
            (b"ab" + struct.pack(">qq", 10, 10), None),
            (b"ab" + struct.pack(">qq", 70, 10), struct.pack(">q", 2)),
        ]


def test_windowed_table_to_stream_defaults_to_windowed_key_serde() -> None:
    b = StreamsBuilder()
    (b.stream("in", STR).group_by_key().windowed_by(TimeWindows.of_size_with_no_grace(10))
     .count().to_stream().to("out", Produced(value_serde=L)))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_input("a", "x", 13)
        assert rows(d.create_output_topic("out", tws(10), L).read_records_to_list()) == [
            (W("a", 10, 20), 1, 13)]


# ---------------------------------------------------------------- repartition, store types


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_group_by_then_windowed_by_goes_through_a_repartition_topic(store_type: str) -> None:
    def grouped(s: Any) -> Any:
        return s.group_by(lambda _k, v: v, Grouped(key_serde=S, value_serde=S))

    topo = time_app(TimeWindows.of_size_with_no_grace(10),
                    lambda w: w.count(Materialized(name="by-value", store_type=store_type)),
                    grouped=grouped)
    assert "by-value-repartition" in str(topo.describe())
    out, d = run(topo, [("k1", "a", 1), ("k2", "a", 2), ("k3", "b", 12)], tws(10))
    with d:
        assert out == [(W("a", 0, 10), 1, 1), (W("a", 0, 10), 2, 2), (W("b", 10, 20), 1, 12)]
        assert "app-by-value-repartition" in d.produced_topic_names()
        assert len(topo.subtopologies()) == 2
        assert d.get_window_store("by-value").fetch("b", 0, 100) == [(10, 1)]


def test_group_by_key_needs_no_repartition_topic() -> None:
    topo = time_app(TimeWindows.of_size_with_no_grace(10),
                    lambda w: w.count(Materialized(name="c")))
    _out, d = run(topo, [("a", "x", 1)], tws(10))
    with d:
        assert not any(t.endswith("-repartition") for t in d.produced_topic_names())
        assert len(topo.subtopologies()) == 1


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_store_type_is_honoured(store_type: str) -> None:
    topo = time_app(TimeWindows.of_size_with_no_grace(10),
                    lambda w: w.count(Materialized(name="c", store_type=store_type)))
    with TopologyTestDriver(topo, APP) as d:
        d.create_input_topic("in", S, S).pipe_input("a", "x", 1)
        raw = d.get_state_store("c")
        assert raw.persistent is (store_type == "rocksdb")
        assert d.get_window_store("c").get("a", 0) == 1


# ---------------------------------------------------------------------------------- gaps


def test_sliding_windows_are_routed_to_the_sliding_windowed_stream() -> None:
    # the aggregations themselves are checked in test_sliding_windows.py
    from streams.dsl.windowed_kstream import SlidingWindowedKStream

    b = StreamsBuilder()
    g = b.stream("in", STR).group_by_key()
    w = g.windowed_by(SlidingWindows.of_time_difference_with_no_grace(10))
    assert isinstance(w, SlidingWindowedKStream)


def test_windowed_by_rejects_other_objects() -> None:
    b = StreamsBuilder()
    with pytest.raises(TopologyError, match="windowed_by"):
        b.stream("in", STR).group_by_key().windowed_by(10)
