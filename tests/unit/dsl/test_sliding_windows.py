"""Sliding-window aggregations (``windowed_by(SlidingWindows...)``) with Kafka Streams' semantics
(KIP-450, ``KStreamSlidingWindowAggregate``), checked through the TopologyTestDriver: Windowed
key, value and timestamp of every output record.

Most scenarios are Kafka Streams' ``KStreamSlidingWindowAggregateTest`` (cache off, emit on
window update, store with a reverse iterator); its expected results are transcribed as they are
stated there: as ``{window start: {(value, timestamp), ...}}`` maps, or as the output list
stably sorted by key and window start. Where the exact record order matters it is asserted too:
it is Kafka Streams' order with a store that iterates backwards (both of its built-in window
stores do).

Windows are ``[start, start + d]`` with both ends inclusive; result keys are
``Windowed(key, TimeWindow(start, start + d))``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

import pytest

from streams import Consumed, Materialized, Produced, Record, StreamsBuilder, serdes
from streams.dsl.suppress import EmitStrategy
from streams.dsl.window_specs import SlidingWindows
from streams.errors import TopologyError
from streams.processor.window_types import TimeWindow, Windowed
from streams.testing import TopologyTestDriver

S, L = serdes.String(), serdes.Long()
STR = Consumed(key_serde=S, value_serde=S)
APP = {"application.id": "app"}
STORE_TYPES = ["in_memory", "rocksdb"]
#: the retention of the store suppliers in Kafka Streams' tests (more than any scenario needs)
KS_RETENTION = 50_000

Row = tuple[Any, Any, int]


def W(key: str, start: int, end: int) -> Windowed[str]:
    return Windowed(key, TimeWindow(start, end))


def rows(records: list[Record]) -> list[Row]:
    return [(r.key, r.value, r.timestamp) for r in records]


def ks_add(_key: str, value: str, agg: str) -> str:
    """Kafka Streams' MockAggregator.TOSTRING_ADDER (with MockInitializer.STRING_INIT "0")."""
    return f"{agg}+{value}"


def sliding_app(windows: SlidingWindows, op: Callable[[Any], Any], d: int,
                value_serde: Any = S, emit: Any = None) -> Any:
    b = StreamsBuilder()
    w = b.stream("in", STR).group_by_key().windowed_by(windows)
    if emit is not None:
        w = w.emit_strategy(emit)
    op(w).to_stream().to("out", Produced(key_serde=serdes.TimeWindowedSerde(S, d),
                                         value_serde=value_serde))
    return b.build()


def ks_aggregate(windows: SlidingWindows, store_type: str = "in_memory",
                 retention: int | None = KS_RETENTION, emit: Any = None) -> Any:
    """Kafka Streams' test topology: aggregate with "0" and TOSTRING_ADDER into store "s"."""
    return sliding_app(windows, lambda w: w.aggregate(
        lambda: "0", ks_add,
        Materialized(name="s", value_serde=S, store_type=store_type, retention_ms=retention)),
        windows.time_difference_ms, emit=emit)


def run(topology: Any, records: list[tuple[str, str, int]], d: int,
        value_serde: Any = S) -> tuple[list[Row], TopologyTestDriver]:
    """Pipe ``(key, value, ts)`` records; returns the output rows and the (open) driver."""
    drv = TopologyTestDriver(topology, APP)
    inp = drv.create_input_topic("in", S, S)
    for k, v, ts in records:
        inp.pipe_input(k, v, ts)
    out = drv.create_output_topic("out", serdes.TimeWindowedSerde(S, d), value_serde)
    return rows(out.read_records_to_list()), drv


def by_start(out: list[Row]) -> dict[int, set[tuple[Any, int]]]:
    """Kafka Streams' ``gatherOutput``: window start -> {(value, timestamp)}."""
    got: dict[int, set[tuple[Any, int]]] = {}
    for key, value, ts in out:
        got.setdefault(key.window.start, set()).add((value, ts))
    return got


def ks_sorted(out: list[Row]) -> list[Row]:
    """Kafka Streams' comparator: by key, then window start; stable, like Java's List.sort."""
    return sorted(out, key=lambda r: (r[0].key, r[0].window.start))


def dropped(drv: TopologyTestDriver) -> int:
    return sum(t.dropped_records for t in drv._tasks)


# ------------------------------------------------------------------- Kafka Streams scenarios


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_aggregate_small_input(store_type: str) -> None:
    """testAggregateSmallInput: d = 10, grace 5, in-order records (two at the same time)."""
    topo = ks_aggregate(SlidingWindows.of_time_difference_and_grace(10, 5), store_type)
    out, drv = run(topo, [("A", "1", 10), ("A", "2", 10), ("A", "3", 14), ("A", "4", 15),
                          ("A", "5", 20), ("A", "6", 22), ("A", "7", 30)], 10)
    with drv:
        assert out == [
            (W("A", 0, 10), "0+1", 10),           # A@10: left window [0,10]
            (W("A", 0, 10), "0+1+2", 10),         # A@10 again: only the left window changes
            (W("A", 11, 21), "0+3", 14),          # A@14: right window of A@10 ...
            (W("A", 4, 14), "0+1+2+3", 14),       # ... then its own left window
            (W("A", 11, 21), "0+3+4", 15),        # A@15: windows holding it, latest first
            (W("A", 15, 25), "0+4", 15),          # right window of A@14
            (W("A", 5, 15), "0+1+2+3+4", 15),     # left window of A@15
            (W("A", 15, 25), "0+4+5", 20),
            (W("A", 11, 21), "0+3+4+5", 20),
            (W("A", 16, 26), "0+5", 20),
            (W("A", 10, 20), "0+1+2+3+4+5", 20),  # [10,20]: both ends inclusive
            (W("A", 16, 26), "0+5+6", 22),
            (W("A", 15, 25), "0+4+5+6", 22),
            (W("A", 21, 31), "0+6", 22),
            (W("A", 12, 22), "0+3+4+5+6", 22),
            (W("A", 21, 31), "0+6+7", 30),
            (W("A", 23, 33), "0+7", 30),
            (W("A", 20, 30), "0+5+6+7", 30),
        ]
        assert by_start(out) == {
            0: {("0+1", 10), ("0+1+2", 10)},
            4: {("0+1+2+3", 14)},
            5: {("0+1+2+3+4", 15)},
            10: {("0+1+2+3+4+5", 20)},
            11: {("0+3", 14), ("0+3+4", 15), ("0+3+4+5", 20)},
            12: {("0+3+4+5+6", 22)},
            15: {("0+4", 15), ("0+4+5", 20), ("0+4+5+6", 22)},
            16: {("0+5", 20), ("0+5+6", 22)},
            20: {("0+5+6+7", 30)},
            21: {("0+6", 22), ("0+6+7", 30)},
            23: {("0+7", 30)},
        }
        assert dropped(drv) == 0


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_reduce_small_input(store_type: str) -> None:
    """testReduceSmallInput: reduce with a string adder; a window's first value is its
    aggregate (no initializer)."""
    d = 10
    topo = sliding_app(SlidingWindows.of_time_difference_and_grace(d, 5), lambda w: w.reduce(
        lambda agg, v: f"{agg}+{v}",
        Materialized(name="s", store_type=store_type, retention_ms=KS_RETENTION)), d)
    out, drv = run(topo, [("A", "1", 10), ("A", "2", 14), ("A", "3", 15), ("A", "4", 22),
                          ("A", "5", 26), ("A", "6", 30)], d)
    with drv:
        assert out == [
            (W("A", 0, 10), "1", 10),
            (W("A", 11, 21), "2", 14),
            (W("A", 4, 14), "1+2", 14),
            (W("A", 11, 21), "2+3", 15),
            (W("A", 15, 25), "3", 15),
            (W("A", 5, 15), "1+2+3", 15),
            (W("A", 15, 25), "3+4", 22),
            (W("A", 16, 26), "4", 22),
            (W("A", 12, 22), "2+3+4", 22),
            (W("A", 16, 26), "4+5", 26),
            (W("A", 23, 33), "5", 26),
            (W("A", 23, 33), "5+6", 30),
            (W("A", 27, 37), "6", 30),
            (W("A", 20, 30), "4+5+6", 30),
        ]
        assert by_start(out) == {
            0: {("1", 10)},
            4: {("1+2", 14)},
            5: {("1+2+3", 15)},
            11: {("2", 14), ("2+3", 15)},
            12: {("2+3+4", 22)},
            15: {("3", 15), ("3+4", 22)},
            16: {("4", 22), ("4+5", 26)},
            20: {("4+5+6", 30)},
            23: {("5", 26), ("5+6", 30)},
            27: {("6", 30)},
        }


def test_aggregate_large_input_out_of_order_within_grace() -> None:
    """testAggregateLargeInput (grace 50): out-of-order records update every window that
    contains them and create the windows they are missing; per key and window the updates
    come in Kafka Streams' order."""
    topo = ks_aggregate(SlidingWindows.of_time_difference_and_grace(10, 50))
    inputs = [("A", "1", 10), ("A", "2", 20), ("A", "3", 22), ("A", "4", 15),
              ("B", "1", 12), ("B", "2", 13), ("B", "3", 18), ("B", "4", 19), ("B", "5", 25),
              ("B", "6", 14),
              ("C", "1", 11), ("C", "2", 15), ("C", "3", 16), ("C", "4", 21), ("C", "5", 23),
              ("D", "4", 11), ("D", "2", 12), ("D", "3", 29), ("D", "5", 16)]
    out, drv = run(topo, inputs, 10)
    with drv:
        assert ks_sorted(out) == [
            (W("A", 0, 10), "0+1", 10),
            (W("A", 5, 15), "0+1+4", 15),
            (W("A", 10, 20), "0+1+2", 20),
            (W("A", 10, 20), "0+1+2+4", 20),
            (W("A", 11, 21), "0+2", 20),
            (W("A", 11, 21), "0+2+4", 20),
            (W("A", 12, 22), "0+2+3", 22),
            (W("A", 12, 22), "0+2+3+4", 22),
            (W("A", 16, 26), "0+2+3", 22),
            (W("A", 21, 31), "0+3", 22),
            (W("B", 2, 12), "0+1", 12),
            (W("B", 3, 13), "0+1+2", 13),
            (W("B", 4, 14), "0+1+2+6", 14),
            (W("B", 8, 18), "0+1+2+3", 18),
            (W("B", 8, 18), "0+1+2+3+6", 18),
            (W("B", 9, 19), "0+1+2+3+4", 19),
            (W("B", 9, 19), "0+1+2+3+4+6", 19),
            (W("B", 13, 23), "0+2", 13),
            (W("B", 13, 23), "0+2+3", 18),
            (W("B", 13, 23), "0+2+3+4", 19),
            (W("B", 13, 23), "0+2+3+4+6", 19),
            (W("B", 14, 24), "0+3", 18),
            (W("B", 14, 24), "0+3+4", 19),
            (W("B", 14, 24), "0+3+4+6", 19),
            (W("B", 15, 25), "0+3+4+5", 25),
            (W("B", 19, 29), "0+4", 19),
            (W("B", 19, 29), "0+4+5", 25),
            (W("B", 20, 30), "0+5", 25),
            (W("C", 1, 11), "0+1", 11),
            (W("C", 5, 15), "0+1+2", 15),
            (W("C", 6, 16), "0+1+2+3", 16),
            (W("C", 11, 21), "0+1+2+3+4", 21),
            (W("C", 12, 22), "0+2", 15),
            (W("C", 12, 22), "0+2+3", 16),
            (W("C", 12, 22), "0+2+3+4", 21),
            (W("C", 13, 23), "0+2+3+4+5", 23),
            (W("C", 16, 26), "0+3", 16),
            (W("C", 16, 26), "0+3+4", 21),
            (W("C", 16, 26), "0+3+4+5", 23),
            (W("C", 17, 27), "0+4", 21),
            (W("C", 17, 27), "0+4+5", 23),
            (W("C", 22, 32), "0+5", 23),
            (W("D", 1, 11), "0+4", 11),
            (W("D", 2, 12), "0+4+2", 12),
            (W("D", 6, 16), "0+4+2+5", 16),
            (W("D", 12, 22), "0+2", 12),
            (W("D", 12, 22), "0+2+5", 16),
            (W("D", 13, 23), "0+5", 16),
            (W("D", 19, 29), "0+3", 29),
        ]
        # the late A@15 in full: windows holding it latest first, then its left window, then
        # its right window (which holds A@20 and A@22 but not A@15 itself)
        a15 = [r for r in out if r[0].key == "A"][-5:]
        assert a15 == [
            (W("A", 12, 22), "0+2+3+4", 22),
            (W("A", 11, 21), "0+2+4", 20),
            (W("A", 10, 20), "0+1+2+4", 20),
            (W("A", 5, 15), "0+1+4", 15),
            (W("A", 16, 26), "0+2+3", 22),
        ]
        assert dropped(drv) == 0


def test_early_records_small_input() -> None:
    """testEarlyRecordsSmallInput: d = 50, no grace; records before d share the window
    [0, 50] as their left window."""
    topo = ks_aggregate(SlidingWindows.of_time_difference_and_grace(50, 0))
    out, drv = run(topo, [("A", "1", 0), ("A", "2", 5), ("A", "3", 6), ("A", "4", 3),
                          ("A", "5", 13), ("A", "6", 10), ("A", "7", 70)], 50)
    with drv:
        assert by_start(out) == {
            0: {("0+1", 0), ("0+1+2", 5), ("0+1+2+3", 6), ("0+1+2+3+4", 6),
                ("0+1+2+3+4+5", 13), ("0+1+2+3+4+5+6", 13)},
            1: {("0+2", 5), ("0+2+3", 6), ("0+2+3+4", 6), ("0+2+3+4+5", 13),
                ("0+2+3+4+5+6", 13)},
            4: {("0+2+3", 6), ("0+2+3+5", 13), ("0+2+3+5+6", 13)},
            6: {("0+3", 6), ("0+3+5", 13), ("0+3+5+6", 13)},
            7: {("0+5", 13), ("0+5+6", 13)},
            11: {("0+5", 13)},
            20: {("0+7", 70)},
        }
        assert out[:3] == [
            (W("A", 0, 50), "0+1", 0),
            (W("A", 1, 51), "0+2", 5),    # right window of A@0, created by A@5
            (W("A", 0, 50), "0+1+2", 5),  # [0,50] is updated last for early records
        ]
        assert out[-1] == (W("A", 20, 70), "0+7", 70)


def test_early_records_repeated_input() -> None:
    """testEarlyRecordsRepeatedInput: d = 5, no grace, many records at the same early times."""
    topo = ks_aggregate(SlidingWindows.of_time_difference_and_grace(5, 0), retention=None)
    out, drv = run(topo, [("A", "1", 0), ("A", "2", 2), ("A", "3", 4), ("A", "4", 0),
                          ("A", "5", 2), ("A", "6", 2), ("A", "7", 0), ("A", "8", 7)], 5)
    with drv:
        assert by_start(out) == {
            0: {("0+1", 0), ("0+1+2", 2), ("0+1+2+3", 4), ("0+1+2+3+4", 4),
                ("0+1+2+3+4+5", 4), ("0+1+2+3+4+5+6", 4), ("0+1+2+3+4+5+6+7", 4)},
            1: {("0+2", 2), ("0+2+3", 4), ("0+2+3+5", 4), ("0+2+3+5+6", 4)},
            2: {("0+2+3+5+6+8", 7)},
            3: {("0+3", 4), ("0+3+8", 7)},
            5: {("0+8", 7)},
        }


def test_early_records_large_input() -> None:
    """testEarlyRecordsLargeInput: d = 10, grace 50, early records out of order."""
    topo = ks_aggregate(SlidingWindows.of_time_difference_and_grace(10, 50))
    out, drv = run(topo, [("E", "1", 0), ("E", "3", 5), ("E", "4", 6), ("E", "2", 3),
                          ("E", "6", 13), ("E", "5", 10), ("E", "7", 4), ("E", "8", 2),
                          ("E", "9", 15)], 10)
    with drv:
        assert ks_sorted(out) == [
            (W("E", 0, 10), "0+1", 0),
            (W("E", 0, 10), "0+1+3", 5),
            (W("E", 0, 10), "0+1+3+4", 6),
            (W("E", 0, 10), "0+1+3+4+2", 6),
            (W("E", 0, 10), "0+1+3+4+2+5", 10),
            (W("E", 0, 10), "0+1+3+4+2+5+7", 10),
            (W("E", 0, 10), "0+1+3+4+2+5+7+8", 10),
            (W("E", 1, 11), "0+3", 5),
            (W("E", 1, 11), "0+3+4", 6),
            (W("E", 1, 11), "0+3+4+2", 6),
            (W("E", 1, 11), "0+3+4+2+5", 10),
            (W("E", 1, 11), "0+3+4+2+5+7", 10),
            (W("E", 1, 11), "0+3+4+2+5+7+8", 10),
            (W("E", 3, 13), "0+3+4+2+6", 13),
            (W("E", 3, 13), "0+3+4+2+6+5", 13),
            (W("E", 3, 13), "0+3+4+2+6+5+7", 13),
            (W("E", 4, 14), "0+3+4", 6),
            (W("E", 4, 14), "0+3+4+6", 13),
            (W("E", 4, 14), "0+3+4+6+5", 13),
            (W("E", 4, 14), "0+3+4+6+5+7", 13),
            (W("E", 5, 15), "0+3+4+6+5", 13),
            (W("E", 5, 15), "0+3+4+6+5+9", 15),
            (W("E", 6, 16), "0+4", 6),
            (W("E", 6, 16), "0+4+6", 13),
            (W("E", 6, 16), "0+4+6+5", 13),
            (W("E", 6, 16), "0+4+6+5+9", 15),
            (W("E", 7, 17), "0+6", 13),
            (W("E", 7, 17), "0+6+5", 13),
            (W("E", 7, 17), "0+6+5+9", 15),
            (W("E", 11, 21), "0+6", 13),
            (W("E", 11, 21), "0+6+9", 15),
            (W("E", 14, 24), "0+9", 15),
        ]


def test_no_grace_period_small_input() -> None:
    """testNoGracePeriodSmallInput: d = 50, no grace, records far from 0."""
    topo = ks_aggregate(SlidingWindows.of_time_difference_with_no_grace(50))
    out, drv = run(topo, [("A", "1", 100), ("A", "2", 105), ("A", "3", 106), ("A", "4", 103),
                          ("A", "5", 113), ("A", "6", 110)], 50)
    with drv:
        assert by_start(out) == {
            50: {("0+1", 100)},
            55: {("0+1+2", 105)},
            56: {("0+1+2+3", 106), ("0+1+2+3+4", 106)},
            63: {("0+1+2+3+4+5", 113), ("0+1+2+3+4+5+6", 113)},
            101: {("0+2", 105), ("0+2+3", 106), ("0+2+3+4", 106), ("0+2+3+4+5", 113),
                  ("0+2+3+4+5+6", 113)},
            104: {("0+2+3", 106), ("0+2+3+5", 113), ("0+2+3+5+6", 113)},
            106: {("0+3", 106), ("0+3+5", 113), ("0+3+5+6", 113)},
            107: {("0+5", 113), ("0+5+6", 113)},
            111: {("0+5", 113)},
        }
        # without grace, a window that ended before stream time is skipped (one drop each):
        # A@103 (stream time 106) cannot update [55,105] nor create its left window
        # [53,103]; A@110 (stream time 113) cannot create [60,110]. Open windows holding
        # the late records are still updated.
        assert not {53, 60} & by_start(out).keys()
        assert dropped(drv) == 3


@pytest.mark.parametrize("offset", [0, 100])
def test_no_grace_period_large_input(offset: int) -> None:
    """testEarlyNoGracePeriodLargeInput / testNoGracePeriodLargeInput: d = 10, no grace, the
    same records at 0.. and at 100.. (early and regular processing give the same windows,
    except that early records share [0,10] as their left window)."""
    topo = ks_aggregate(SlidingWindows.of_time_difference_with_no_grace(10), retention=500)
    ts = [0, 5, 6, 3, 13, 10, 4, 2, 15]
    values = ["1", "3", "4", "2", "6", "5", "7", "8", "9"]
    out, drv = run(topo, [("E", v, t + offset) for v, t in zip(values, ts, strict=True)], 10)
    with drv:
        o = offset
        head = ([(W("E", 0, 10), "0+1", 0), (W("E", 0, 10), "0+1+3", 5),
                 (W("E", 0, 10), "0+1+3+4", 6), (W("E", 0, 10), "0+1+3+4+2", 6)]
                if offset == 0 else
                [(W("E", o - 10, o), "0+1", o), (W("E", o - 5, o + 5), "0+1+3", o + 5),
                 (W("E", o - 4, o + 6), "0+1+3+4", o + 6),
                 (W("E", o - 4, o + 6), "0+1+3+4+2", o + 6)])
        tail = [
            (W("E", o + 1, o + 11), "0+3", o + 5),
            (W("E", o + 1, o + 11), "0+3+4", o + 6),
            (W("E", o + 1, o + 11), "0+3+4+2", o + 6),
            (W("E", o + 3, o + 13), "0+3+4+2+6", o + 13),
            (W("E", o + 3, o + 13), "0+3+4+2+6+5", o + 13),
            (W("E", o + 3, o + 13), "0+3+4+2+6+5+7", o + 13),
            (W("E", o + 4, o + 14), "0+3+4", o + 6),
            (W("E", o + 4, o + 14), "0+3+4+6", o + 13),
            (W("E", o + 4, o + 14), "0+3+4+6+5", o + 13),
            (W("E", o + 4, o + 14), "0+3+4+6+5+7", o + 13),
            (W("E", o + 5, o + 15), "0+3+4+6+5", o + 13),
            (W("E", o + 5, o + 15), "0+3+4+6+5+9", o + 15),
            (W("E", o + 6, o + 16), "0+4", o + 6),
            (W("E", o + 6, o + 16), "0+4+6", o + 13),
            (W("E", o + 6, o + 16), "0+4+6+5", o + 13),
            (W("E", o + 6, o + 16), "0+4+6+5+9", o + 15),
            (W("E", o + 7, o + 17), "0+6", o + 13),
            (W("E", o + 7, o + 17), "0+6+5", o + 13),
            (W("E", o + 7, o + 17), "0+6+5+9", o + 15),
            (W("E", o + 11, o + 21), "0+6", o + 13),
            (W("E", o + 11, o + 21), "0+6+9", o + 15),
            (W("E", o + 14, o + 24), "0+9", o + 15),
        ]
        assert ks_sorted(out) == [*head, *tail]


def test_late_records_are_dropped_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """shouldLogAndMeterWhenSkippingExpiredWindowByGrace: d = 10, grace 90. After k@200,
    stream time - grace is 110: the left windows of k@100..k@105 ended before it (one drop
    each); k@15 is too late even for its right window (one drop). Nothing else is emitted."""
    topo = ks_aggregate(SlidingWindows.of_time_difference_and_grace(10, 90))
    records = [("k", "100", 200), ("k", "0", 100), ("k", "1", 101), ("k", "2", 102),
               ("k", "3", 103), ("k", "4", 104), ("k", "5", 105), ("k", "6", 15),
               ("k", "101", 300), ("k", "102", 400)]
    with caplog.at_level(logging.DEBUG, logger="streams.processor"):
        out, drv = run(topo, records, 10)
    with drv:
        assert out == [
            (W("k", 190, 200), "0+100", 200),
            (W("k", 290, 300), "0+101", 300),
            (W("k", 390, 400), "0+102", 400),
        ]
        assert dropped(drv) == 7
        late = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG
                and "late record" in r.getMessage()]
        assert len(late) == 7
        assert "[90,100]" in late[0] and "offset=1" in late[0]
        assert "record at 15" in late[6] and "offset=7" in late[6]


@pytest.mark.parametrize("seed", range(8))
def test_random_order_gives_kafka_streams_final_windows(seed: int) -> None:
    """testAggregateRandomInput: the same records in any order (grace 100 > their spread) end in
    the same final windows; the aggregator sorts characters so the value is order-free."""
    topo = sliding_app(SlidingWindows.of_time_difference_and_grace(10, 100), lambda w: w.aggregate(
        lambda: "", lambda _k, v, agg: "".join(sorted(agg + v)),
        Materialized(name="s", value_serde=S, retention_ms=KS_RETENTION)), 10)
    inputs = [("A", 10), ("B", 15), ("C", 16), ("D", 18), ("E", 30), ("F", 40), ("G", 55),
              ("H", 56), ("I", 58), ("J", 58), ("K", 62), ("L", 63), ("M", 63), ("N", 63),
              ("O", 76), ("P", 77), ("Q", 80), ("R", 2), ("S", 3), ("T", 5), ("U", 8)]
    random.Random(seed).shuffle(inputs)
    out, drv = run(topo, [("A", v, t) for v, t in inputs] + [("A", "V", 181)], 10)
    with drv:
        final = {r[0].window.start: (r[1], r[2]) for r in out}
        assert final == {
            0: ("ARSTU", 10), 3: ("ASTU", 10), 4: ("ATU", 10), 5: ("ABTU", 15),
            6: ("ABCU", 16), 8: ("ABCDU", 18), 9: ("ABCD", 18), 11: ("BCD", 18),
            16: ("CD", 18), 17: ("D", 18), 20: ("E", 30), 30: ("EF", 40), 31: ("F", 40),
            45: ("G", 55), 46: ("GH", 56), 48: ("GHIJ", 58), 52: ("GHIJK", 62),
            53: ("GHIJKLMN", 63), 56: ("HIJKLMN", 63), 57: ("IJKLMN", 63), 59: ("KLMN", 63),
            63: ("LMN", 63), 66: ("O", 76), 67: ("OP", 77), 70: ("OPQ", 80), 77: ("PQ", 80),
            78: ("Q", 80), 171: ("V", 181),
        }
        assert dropped(drv) == 0


# ------------------------------------------------------------------------ our own checks


def brute_force_windows(records: list[tuple[str, int]], d: int) -> dict[int, tuple[str, int]]:
    """The sliding windows of one key by definition: the left window of every record
    (``[t - d, t]``, or ``[0, d]`` for ``t < d``), and the right window ``[t + 1, t + 1 + d]``
    of every record with a later record within it; each holds the records inside it (both
    ends inclusive). Values are the sorted concatenation, timestamps the latest record."""
    starts = set()
    for _, t in records:
        starts.add(max(0, t - d))
        if any(t < u <= t + 1 + d for _, u in records):
            starts.add(t + 1)
    out = {}
    for s in starts:
        inside = [(v, t) for v, t in records if s <= t <= s + d]
        out[s] = ("".join(sorted(v for v, _ in inside)), max(t for _, t in inside))
    return out


@pytest.mark.parametrize("seed", range(25))
def test_random_inputs_match_the_definition(seed: int) -> None:
    """With a grace larger than any disorder nothing is dropped, and the final value of every
    window is exactly the records it contains (random d, timestamps, duplicates, early ones)."""
    rnd = random.Random(seed)
    d = rnd.choice([1, 2, 3, 5, 10])
    letters = "abcdefghijklmnopqrstuvwxyz"
    records = [(letters[i], rnd.randrange(0, 6 * d)) for i in range(rnd.randrange(1, 16))]
    topo = sliding_app(SlidingWindows.of_time_difference_and_grace(d, 1_000), lambda w: w.aggregate(
        lambda: "", lambda v, agg: "".join(sorted(agg + v)),
        Materialized(name="s", value_serde=S)), d)
    out, drv = run(topo, [("k", v, t) for v, t in records], d)
    with drv:
        final = {r[0].window.start: (r[1], r[2]) for r in out}
        assert final == brute_force_windows(records, d), records
        store = drv.get_window_store("s")
        assert {s: v for s, v in store.fetch("k", 0, 10 * d)} == {
            s: v for s, (v, _) in brute_force_windows(records, d).items()}


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_count_with_inclusive_boundaries(store_type: str) -> None:
    """Records exactly d apart share a window (both ends inclusive); d + 1 apart they do not.
    Keys are independent."""
    d = 10
    topo = sliding_app(SlidingWindows.of_time_difference_with_no_grace(d),
                       lambda w: w.count(Materialized(name="c", store_type=store_type)), d, L)
    # stream time is per task, not per key: b@100 comes before a@110 so that it is on time
    out, drv = run(topo, [("a", "x", 100), ("b", "x", 100), ("a", "x", 110), ("b", "x", 111)],
                   d, L)
    with drv:
        assert out == [
            (W("a", 90, 100), 1, 100),
            (W("b", 90, 100), 1, 100),
            (W("a", 101, 111), 1, 110),   # right window of a@100 (a@110 is in it)
            (W("a", 100, 110), 2, 110),   # left window of a@110 holds a@100 at its start
            # b@111 shares no window with b@100: its left window [101,111] is b@100's
            # right window, which only b@111 is in
            (W("b", 101, 111), 1, 111),
        ]
        assert dropped(drv) == 0


def test_aggregate_without_key_argument_and_records_at_time_zero() -> None:
    d = 3
    topo = sliding_app(SlidingWindows.of_time_difference_with_no_grace(d), lambda w: w.aggregate(
        lambda: 0, lambda v, agg: agg + int(v), Materialized(name="sum", value_serde=L)), d, L)
    out, drv = run(topo, [("a", "1", 0), ("a", "2", 0), ("a", "4", 2)], d, L)
    with drv:
        assert out == [
            (W("a", 0, 3), 1, 0),
            (W("a", 0, 3), 3, 0),
            (W("a", 1, 4), 4, 2),   # right window of the records at 0
            (W("a", 0, 3), 7, 2),
        ]


def test_records_with_null_key_or_value_are_skipped_and_counted() -> None:
    d = 10
    b = StreamsBuilder()
    (b.stream("in", STR).group_by_key()
      .windowed_by(SlidingWindows.of_time_difference_with_no_grace(d)).count()
      .to_stream().to("out", Produced(key_serde=serdes.TimeWindowedSerde(S, d), value_serde=L)))
    with TopologyTestDriver(b.build(), APP) as drv:
        inp = drv.create_input_topic("in", S, S)
        inp.pipe_input(None, "x", 20)
        inp.pipe_input("a", None, 20)
        inp.pipe_input("a", "x", 20)
        out = rows(drv.create_output_topic("out", serdes.TimeWindowedSerde(S, d), L)
                   .read_records_to_list())
        assert out == [(W("a", 10, 20), 1, 20)]
        assert dropped(drv) == 2


# ------------------------------------------------------------------- store, serdes, naming


@pytest.mark.parametrize("store_type", STORE_TYPES)
def test_store_holds_windows_by_start_with_size_d(store_type: str) -> None:
    d = 10
    topo = sliding_app(SlidingWindows.of_time_difference_and_grace(d, 5),
                       lambda w: w.count(Materialized(name="c", store_type=store_type)), d, L)
    _out, drv = run(topo, [("a", "x", 10), ("a", "x", 14)], d, L)
    with drv:
        store = drv.get_window_store("c")
        assert store.fetch("a", 0, 100) == [(0, 1), (4, 2), (11, 1)]
        assert store.get("a", 11) == 1
        assert sorted(store.all(), key=lambda e: e[0].window.start) == [
            (W("a", 0, 10), 1), (W("a", 4, 14), 2), (W("a", 11, 21), 1)]
        raw = drv.get_state_store("c")
        assert raw.persistent is (store_type == "rocksdb")
        assert raw.window_size_ms == d
        assert raw.retention_ms == 2 * d + 5   # Kafka Streams: 2 * time difference + grace
        assert "app-c-changelog" in drv.produced_topic_names()


def test_retention_shorter_than_twice_the_time_difference_plus_grace_is_rejected() -> None:
    b = StreamsBuilder()
    w = b.stream("in", STR).group_by_key().windowed_by(
        SlidingWindows.of_time_difference_and_grace(10, 5))
    with pytest.raises(TopologyError, match="2 \\* time difference plus grace \\(25 ms\\)"):
        w.count(Materialized(name="c", retention_ms=24))
    # exactly the minimum, or more, is fine
    w.count(Materialized(name="c2", retention_ms=25))


def test_default_names_and_key_serde() -> None:
    """Kafka Streams' node and store names; with no Produced key serde the table's own
    ``TimeWindowedSerde(key serde, d)`` writes the keys."""
    d = 10
    b = StreamsBuilder()
    (b.stream("in", STR).group_by_key()
      .windowed_by(SlidingWindows.of_time_difference_with_no_grace(d))
      .reduce(lambda a, v: a + v)
      .to_stream().to("out"))
    topo = b.build()
    described = str(topo.describe())
    assert "KSTREAM-REDUCE-0000000002" in described
    assert "KSTREAM-REDUCE-STATE-STORE-0000000001" in described
    with TopologyTestDriver(topo, APP) as drv:
        inp = drv.create_input_topic("in", S, S)
        inp.pipe_input("a", "x", 30)
        inp.pipe_input("a", "y", 35)
        out = rows(drv.create_output_topic("out", serdes.TimeWindowedSerde(S, d), S)
                   .read_records_to_list())
        assert out == [(W("a", 20, 30), "x", 30), (W("a", 31, 41), "y", 35),
                       (W("a", 25, 35), "xy", 35)]


# -------------------------------------------------------------------------- emit on close


def test_emit_on_window_close_small_input() -> None:
    """testAggregateSmallInput with ON_WINDOW_CLOSE (default retention): only final results of
    windows that ended before stream time - grace (30 - 5); [15,25] is still open."""
    topo = ks_aggregate(SlidingWindows.of_time_difference_and_grace(10, 5), retention=None,
                        emit=EmitStrategy.on_window_close())
    out, drv = run(topo, [("A", "1", 10), ("A", "2", 10), ("A", "3", 14), ("A", "4", 15),
                          ("A", "5", 20), ("A", "6", 22), ("A", "7", 30)], 10)
    with drv:
        assert by_start(out) == {
            0: {("0+1+2", 10)},
            4: {("0+1+2+3", 14)},
            5: {("0+1+2+3+4", 15)},
            10: {("0+1+2+3+4+5", 20)},
            11: {("0+3+4+5", 20)},
            12: {("0+3+4+5+6", 22)},
        }


def test_emit_on_window_close_early_records() -> None:
    """testEarlyRecordsLargeInput with ON_WINDOW_CLOSE (grace 1)."""
    topo = ks_aggregate(SlidingWindows.of_time_difference_and_grace(10, 1), retention=None,
                        emit=EmitStrategy.on_window_close())
    out, drv = run(topo, [("E", "1", 0), ("E", "3", 5), ("E", "4", 6), ("E", "2", 3),
                          ("E", "6", 13), ("E", "5", 10), ("E", "7", 4), ("E", "8", 2),
                          ("E", "9", 15)], 10)
    with drv:
        assert ks_sorted(out) == [
            (W("E", 0, 10), "0+1+3+4+2", 6),
            (W("E", 1, 11), "0+3+4+2", 6),
            (W("E", 3, 13), "0+3+4+2+6+5+7", 13),
        ]


def test_emit_on_window_close_large_input() -> None:
    """testAggregateLargeInput with ON_WINDOW_CLOSE (grace 10): records whose windows closed
    (e.g. C@11, D@11, D@12 once stream time is 25) are skipped; final stream time 29."""
    topo = ks_aggregate(SlidingWindows.of_time_difference_and_grace(10, 10), retention=None,
                        emit=EmitStrategy.on_window_close())
    inputs = [("A", "1", 10), ("A", "2", 20), ("A", "3", 22), ("A", "4", 15),
              ("B", "1", 12), ("B", "2", 13), ("B", "3", 18), ("B", "4", 19), ("B", "5", 25),
              ("B", "6", 14),
              ("C", "1", 11), ("C", "2", 15), ("C", "3", 16), ("C", "4", 21), ("C", "5", 23),
              ("D", "4", 11), ("D", "2", 12), ("D", "3", 29), ("D", "5", 16)]
    out, drv = run(topo, inputs, 10)
    with drv:
        assert ks_sorted(out) == [
            (W("A", 0, 10), "0+1", 10),
            (W("A", 5, 15), "0+1+4", 15),
            (W("B", 2, 12), "0+1", 12),
            (W("B", 3, 13), "0+1+2", 13),
            (W("B", 8, 18), "0+1+2+3+6", 18),
            (W("C", 5, 15), "0+2", 15),
            (W("C", 6, 16), "0+2+3", 16),
        ]


def test_emit_on_window_close_drops_late_records() -> None:
    """shouldLogAndMeterWhenSkippingExpiredWindowByGrace with ON_WINDOW_CLOSE: the same seven
    drops; [390,400] is still open at the end."""
    topo = ks_aggregate(SlidingWindows.of_time_difference_and_grace(10, 90), retention=None,
                        emit=EmitStrategy.on_window_close())
    records = [("k", "100", 200), ("k", "0", 100), ("k", "1", 101), ("k", "2", 102),
               ("k", "3", 103), ("k", "4", 104), ("k", "5", 105), ("k", "6", 15),
               ("k", "101", 300), ("k", "102", 400)]
    out, drv = run(topo, records, 10)
    with drv:
        assert out == [(W("k", 190, 200), "0+100", 200), (W("k", 290, 300), "0+101", 300)]
        assert dropped(drv) == 7


def test_suppress_until_window_closes_uses_the_grace() -> None:
    """suppress(until_window_closes) finds the sliding aggregation's grace (Kafka Streams'
    GraphGraceSearchUtil: the grace alone) and emits a window once stream time >= end + grace:
    at stream time 30 that includes [15,25], which emit-on-close still holds back."""
    from streams.dsl.suppress import BufferConfig, Suppressed

    d = 10
    topo = sliding_app(SlidingWindows.of_time_difference_and_grace(d, 5), lambda w: w.aggregate(
        lambda: "0", ks_add, Materialized(name="s", value_serde=S))
        .suppress(Suppressed.until_window_closes(BufferConfig.unbounded())), d)
    out, drv = run(topo, [("A", "1", 10), ("A", "2", 10), ("A", "3", 14), ("A", "4", 15),
                          ("A", "5", 20), ("A", "6", 22), ("A", "7", 30)], d)
    with drv:
        assert out == [
            (W("A", 0, 10), "0+1+2", 10),
            (W("A", 4, 14), "0+1+2+3", 14),
            (W("A", 5, 15), "0+1+2+3+4", 15),
            (W("A", 10, 20), "0+1+2+3+4+5", 20),
            (W("A", 11, 21), "0+3+4+5", 20),
            (W("A", 12, 22), "0+3+4+5+6", 22),
            (W("A", 15, 25), "0+4+5+6", 22),
        ]
