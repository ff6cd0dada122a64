"""KStream-KStream windowed joins (inner, left, outer) against Kafka Streams' semantics,
through the TopologyTestDriver.

Expected outputs come from Kafka Streams: the inputs, timestamps and outputs of
KStreamKStreamJoinTest, KStreamKStreamLeftJoinTest and KStreamKStreamOuterJoinTest (the
versions after KAFKA-10847, with the emit interval set to 0 as those tests do), and from the
rules of KStreamKStreamJoin and KStreamJoinWindow:

* a record joins every record of the other side with the same key whose timestamp is in
  ``[ts - before, ts + after]`` (for a right record: ``[ts - after, ts + before]``), both ends
  inclusive; the result's timestamp is the larger of the two;
* a left/outer record without a partner waits in the shared outer store and is emitted, joined
  with None, once stream time has passed ``ts + after + grace`` (a right record:
  ``ts + before + grace``) — unless a partner arrives first; one whose window has already
  ended when it arrives is emitted at once;
* a record older than its side's window store retention (before + after + grace behind that
  side's newest record) is not stored (counted as dropped) but still joins what the other side
  holds;
* None values are dropped; None keys are dropped by inner joins and joined with None at once
  by left/outer joins (KIP-962).

Keys are integers and the joiner is Kafka's ``MockValueJoiner.TOSTRING_JOINER``
(``"A0+a0"``, None as ``"null"``), so the expected records read as Kafka's tests do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from streams import Consumed, Produced, StreamsBuilder, serdes
from streams.dsl.window_specs import JoinWindows
from streams.testing import TopologyTestDriver
from streams.topology.topology import Topology

S, INT = serdes.String(), serdes.Integer()
CONSUMED = Consumed(key_serde=INT, value_serde=S)
OUT = Produced(key_serde=INT, value_serde=S)
APP = {"application.id": "ssj"}
KEYS = [0, 1, 2, 3]

KVT = tuple[Any, Any, int]


def plus(left: Any, right: Any) -> str:
    """Kafka's MockValueJoiner.TOSTRING_JOINER: ``left + "+" + right``, None as "null"."""
    return f"{'null' if left is None else left}+{'null' if right is None else right}"


def no_grace(ms: int) -> JoinWindows:
    return JoinWindows.of_time_difference_with_no_grace(ms)


def build(mode: str, windows: JoinWindows, store: str = "rocksdb",
          joiner: Callable[..., Any] = plus, name: str | None = None) -> Topology:
    """left <mode> right -> "out"; ``store`` is the builder's ``default.dsl.store``."""
    b = StreamsBuilder({**APP, "default.dsl.store": store})
    left = b.stream("left", CONSUMED)
    right = b.stream("right", CONSUMED)
    getattr(left, mode)(right, joiner, windows, name=name).to("out", OUT)
    return b.build()


class Join:
    """A driver with both inputs and the output at hand."""

    def __init__(self, driver: TopologyTestDriver) -> None:
        self.driver = driver
        self._left = driver.create_input_topic("left", INT, S)
        self._right = driver.create_input_topic("right", INT, S)
        self._out = driver.create_output_topic("out", INT, S)

    def left(self, key: Any, value: Any, ts: int) -> None:
        self._left.pipe_input(key, value, ts)

    def right(self, key: Any, value: Any, ts: int) -> None:
        self._right.pipe_input(key, value, ts)

    def read(self) -> list[KVT]:
        """Everything the join emitted since the last read, as (key, value, timestamp)."""
        return [(r.key, r.value, r.timestamp) for r in self._out.read_records_to_list()]

    @property
    def dropped(self) -> int:
        """The tasks' dropped-records count."""
        return sum(t.dropped_records for t in self.driver._tasks)


@contextmanager
def joining(mode: str, windows: JoinWindows, store: str = "rocksdb",
            joiner: Callable[..., Any] = plus, config: dict[str, Any] | None = None) -> Iterator[Join]:
    with TopologyTestDriver(build(mode, windows, store, joiner), {**APP, **(config or {})}) as d:
        yield Join(d)


@pytest.fixture(params=["rocksdb", "in_memory"])
def store(request: pytest.FixtureRequest) -> str:
    """Every semantics test runs with both store types (``default.dsl.store``)."""
    return str(request.param)


# ---------------------------------------------------------------------- inner join

def test_inner_join_matches_kafka(store: str) -> None:
    # KStreamKStreamJoinTest.testJoin: every record at timestamp 0, window 100
    with joining("join", no_grace(100), store) as j:
        for k in KEYS[:2]:
            j.left(k, f"A{k}", 0)
        assert j.read() == []
        for k in KEYS[:2]:
            j.right(k, f"a{k}", 0)
        assert j.read() == [(0, "A0+a0", 0), (1, "A1+a1", 0)]
        for k in KEYS:
            j.left(k, f"B{k}", 0)
        assert j.read() == [(0, "B0+a0", 0), (1, "B1+a1", 0)]
        for k in KEYS:
            j.right(k, f"b{k}", 0)
        assert j.read() == [(0, "A0+b0", 0), (0, "B0+b0", 0), (1, "A1+b1", 0), (1, "B1+b1", 0),
                            (2, "B2+b2", 0), (3, "B3+b3", 0)]
        for k in KEYS:
            j.left(k, f"C{k}", 0)
        assert j.read() == [(0, "C0+a0", 0), (0, "C0+b0", 0), (1, "C1+a1", 0), (1, "C1+b1", 0),
                            (2, "C2+b2", 0), (3, "C3+b3", 0)]
        for k in KEYS[:2]:
            j.right(k, f"c{k}", 0)
        assert j.read() == [(0, "A0+c0", 0), (0, "B0+c0", 0), (0, "C0+c0", 0),
                            (1, "A1+c1", 0), (1, "B1+c1", 0), (1, "C1+c1", 0)]
        assert j.dropped == 0


def test_inner_join_window_edges_are_inclusive_and_results_take_the_later_timestamp(
        store: str) -> None:
    # the left record first: right records probe [ts - 100, ts + 100]
    with joining("join", no_grace(100), store) as j:
        j.left(0, "L", 1000)
        for ts in (899, 900, 1100, 1101):
            j.right(0, f"r{ts}", ts)
        assert j.read() == [(0, "L+r900", 1000), (0, "L+r1100", 1100)]
    # the right records first (a grace of 10 keeps r899..r1101 in the store's retention)
    with joining("join", JoinWindows.of_time_difference_and_grace(100, 10), store) as j:
        for ts in (899, 900, 1100, 1101):
            j.right(0, f"r{ts}", ts)
        j.left(0, "L", 1000)
        assert j.read() == [(0, "L+r900", 1000), (0, "L+r1100", 1100)]


RIGHT_TIMES = (899, 900, 979, 980, 999, 1000, 1050, 1051, 1100, 1101)


@pytest.mark.parametrize(("windows", "joined"), [
    # after(100), before(0): a right record joins left records 0..100 ms before it
    (no_grace(100).before(0), [1000, 1050, 1051, 1100]),
    # before(100), after(0): a right record joins left records 0..100 ms after it
    (no_grace(100).after(0), [900, 979, 980, 999, 1000]),
    # before(20), after(50)
    (no_grace(0).before(20).after(50), [980, 999, 1000, 1050]),
], ids=["before-0", "after-0", "before-20-after-50"])
def test_asymmetric_windows(store: str, windows: JoinWindows, joined: list[int]) -> None:
    # a left record at 1000 joins right records in [1000 - before, 1000 + after]
    with joining("join", windows, store) as j:
        j.left(0, "L", 1000)
        for ts in RIGHT_TIMES:
            j.right(0, f"r{ts}", ts)
        assert j.read() == [(0, f"L+r{t}", max(1000, t)) for t in joined]


def test_asymmetric_window_seen_from_the_left() -> None:
    # before(20), after(50): a left record joins right records 20 ms before to 50 ms after it
    # (a grace of 10 keeps r979..r1051 within the right store's retention of 70 + 10 ms)
    with joining("join", JoinWindows.of_time_difference_and_grace(0, 10).before(20).after(50)) as j:
        for ts in (979, 980, 1050, 1051):
            j.right(0, f"r{ts}", ts)
        j.left(0, "L", 1000)
        assert j.read() == [(0, "L+r980", 1000), (0, "L+r1050", 1050)]


def test_out_of_order_records_join_within_the_window(store: str) -> None:
    with joining("join", no_grace(100), store) as j:
        j.left(0, "L150", 150)
        j.left(0, "L300", 300)
        j.right(0, "R110", 110)  # behind stream time, still inside L150's window
        assert j.read() == [(0, "L150+R110", 150)]
        j.right(0, "R290", 290)
        assert j.read() == [(0, "L300+R290", 300)]
        assert j.dropped == 0


def test_duplicates_on_either_side_join_pairwise(store: str) -> None:
    with joining("join", no_grace(10), store) as j:
        j.left(0, "A", 0)
        j.left(0, "A", 0)  # the very same record twice
        j.left(0, "A'", 0)
        j.right(0, "a", 0)
        assert j.read() == [(0, "A+a", 0), (0, "A+a", 0), (0, "A'+a", 0)]
        j.right(0, "a", 5)
        j.right(0, "a", 5)
        assert j.read() == [(0, "A+a", 5), (0, "A+a", 5), (0, "A'+a", 5)] * 2
        j.left(0, "B", 5)
        assert j.read() == [(0, "B+a", 5), (0, "B+a", 5), (0, "B+a", 5)]


# ---------------------------------------------------------------------- left join

def test_left_join_emits_unmatched_records_once_window_and_grace_have_closed(store: str) -> None:
    with joining("left_join", JoinWindows.of_time_difference_and_grace(10, 5), store) as j:
        j.left(1, "A", 0)
        j.left(9, "X", 15)  # stream time 15 = 0 + 10 + 5: A's window is still open
        assert j.read() == []
        j.left(9, "Y", 16)  # now it has closed
        assert j.read() == [(1, "A+null", 0)]
        j.left(2, "B", 20)
        j.right(2, "b", 30)  # in time: B is joined and never emitted unjoined
        assert j.read() == [(2, "B+b", 30)]
        j.right(3, "c", 100)  # a right record without partner emits nothing in a left join
        assert j.read() == [(9, "X+null", 15), (9, "Y+null", 16)]
        j.left(4, "D", 1000)
        assert j.read() == []
        assert j.dropped == 0


def test_left_join_matches_kafka(store: str) -> None:
    # KStreamKStreamLeftJoinTest.testLeftJoin's inputs (all at timestamp 0, window 100), with
    # the unjoined results held back until a later record closes their windows
    with joining("left_join", no_grace(100), store) as j:
        for k in KEYS[:2]:
            j.left(k, f"A{k}", 0)
        assert j.read() == []
        for k in KEYS[:2]:
            j.right(k, f"a{k}", 0)
        assert j.read() == [(0, "A0+a0", 0), (1, "A1+a1", 0)]
        for k in KEYS[:3]:
            j.left(k, f"B{k}", 0)
        assert j.read() == [(0, "B0+a0", 0), (1, "B1+a1", 0)]
        for k in KEYS:
            j.right(k, f"b{k}", 0)
        assert j.read() == [(0, "A0+b0", 0), (0, "B0+b0", 0), (1, "A1+b1", 0), (1, "B1+b1", 0),
                            (2, "B2+b2", 0)]
        for k in KEYS:
            j.left(k, f"C{k}", 0)
        assert j.read() == [(0, "C0+a0", 0), (0, "C0+b0", 0), (1, "C1+a1", 0), (1, "C1+b1", 0),
                            (2, "C2+b2", 0), (3, "C3+b3", 0)]
        j.left(0, "dummy", 400)  # everything was joined: nothing unjoined to emit
        assert j.read() == []


def test_left_join_late_record_is_emitted_at_once(store: str) -> None:
    # Kafka's testLowerWindowBound: a left record whose window ended before it arrived does
    # not wait; it is still joined with what the right store holds
    with joining("left_join", no_grace(100), store) as j:
        j.right(0, "b0", 1000)
        j.right(1, "b1", 1001)
        j.left(2, "dummy", 1405)
        assert j.read() == []
        j.left(0, "G0", 899)
        j.left(1, "G1", 899)
        assert j.read() == [(0, "G0+null", 899), (1, "G1+null", 899)]
        j.left(0, "H0", 900)
        j.left(1, "H1", 900)
        assert j.read() == [(0, "H0+b0", 1000), (1, "H1+null", 900)]
        # the late left records were not stored (1405 - 200 >= 900): counted as dropped, and
        # a later right record cannot join them
        assert j.dropped == 4
        j.right(1, "c1", 1001)
        assert j.read() == []


# ---------------------------------------------------------------------- outer join

def test_outer_join_matches_kafka(store: str) -> None:
    # KStreamKStreamOuterJoinTest.runOuterJoin (default and in-memory suppliers)
    with joining("outer_join", no_grace(100), store) as j:
        assert len(j.driver.get_all_state_stores()) == 3  # two window stores + the shared one
        for k in KEYS[:2]:
            j.left(k, f"A{k}", 0)
        assert j.read() == []
        for k in KEYS[:2]:
            j.right(k, f"a{k}", 0)
        assert j.read() == [(0, "A0+a0", 0), (1, "A1+a1", 0)]
        for k in KEYS[:3]:
            j.left(k, f"B{k}", 0)
        assert j.read() == [(0, "B0+a0", 0), (1, "B1+a1", 0)]
        for k in KEYS:
            j.right(k, f"b{k}", 0)
        assert j.read() == [(0, "A0+b0", 0), (0, "B0+b0", 0), (1, "A1+b1", 0), (1, "B1+b1", 0),
                            (2, "B2+b2", 0)]
        for k in KEYS:
            j.left(k, f"C{k}", 0)
        assert j.read() == [(0, "C0+a0", 0), (0, "C0+b0", 0), (1, "C1+a1", 0), (1, "C1+b1", 0),
                            (2, "C2+b2", 0), (3, "C3+b3", 0)]
        j.left(0, "dummy", 400)
        assert j.read() == []


def test_outer_join_duplicates_match_kafka(store: str) -> None:
    # KStreamKStreamOuterJoinTest.testOuterJoinDuplicates: unjoined duplicates (same key,
    # side and timestamp) are all emitted; joined duplicates join pairwise
    with joining("outer_join", JoinWindows.of_time_difference_and_grace(100, 10), store) as j:
        j.left(0, "A0", 0)
        j.left(0, "A0-0", 0)
        j.right(1, "a1", 0)
        j.right(1, "a1-0", 0)
        j.right(1, "a0", 111)
        j.right(3, "dummy", 211)
        assert j.read() == [(1, "null+a1", 0), (1, "null+a1-0", 0), (0, "A0+null", 0),
                            (0, "A0-0+null", 0)]
        j.left(2, "A2", 200)
        j.left(2, "A2-0", 200)
        j.right(2, "a2", 201)
        j.right(2, "a2-0", 201)
        assert j.read() == [(2, "A2+a2", 201), (2, "A2-0+a2", 201), (2, "A2+a2-0", 201),
                            (2, "A2-0+a2-0", 201)]
        j.right(3, "dummy", 1500)
        assert j.read() == [(1, "null+a0", 111), (3, "null+dummy", 211)]


@pytest.mark.parametrize("pending", ["left", "right"])
@pytest.mark.parametrize("trigger", ["left", "right"])
def test_expired_unjoined_records_are_emitted_by_either_processor(
        store: str, pending: str, trigger: str) -> None:
    # KStreamKStreamOuterJoinTest.test{Left,Right}ExpiredNonJoinedRecordsAreEmittedByThe
    # {Left,Right}Processor
    other = "right" if pending == "left" else "left"
    with joining("outer_join", no_grace(100), store) as j:
        wait, partner = getattr(j, pending), getattr(j, other)
        wait(0, "A0", 1)
        wait(1, "A1", 2)
        wait(0, "A0-0", 3)
        assert j.read() == []
        partner(1, "a1", 3)
        assert j.read() == [(1, "A1+a1" if pending == "left" else "a1+A1", 3)]
        getattr(j, trigger)(2, "dummy", 401)
        if pending == "left":
            assert j.read() == [(0, "A0+null", 1), (0, "A0-0+null", 3)]
        else:
            assert j.read() == [(0, "null+A0", 1), (0, "null+A0-0", 3)]
        getattr(j, "right" if trigger == "left" else "left")(2, "dummy", 402)
        assert j.read() == [(2, "dummy+dummy", 402)]


def test_outer_join_emits_closed_unjoined_records_before_the_join_result(store: str) -> None:
    # KStreamKStreamOuterJoinTest.testOrdering
    with joining("outer_join", no_grace(100), store) as j:
        j.left(0, "A0", 0)
        j.left(1, "A1", 100)
        assert j.read() == []
        j.right(1, "a1", 110)
        assert j.read() == [(0, "A0+null", 0), (1, "A1+a1", 110)]


def test_outer_join_grace_period_matches_kafka(store: str) -> None:
    # KStreamKStreamOuterJoinTest.testGracePeriod: window 100, grace 10
    with joining("outer_join", JoinWindows.of_time_difference_and_grace(100, 10), store) as j:
        j.left(0, "A0", 0)
        j.right(1, "a1", 0)
        assert j.read() == []
        # out of the window (101 > 100) but not closed yet (101 <= 0 + 100 + 10)
        j.right(0, "a0", 101)
        j.left(1, "A1", 101)
        assert j.read() == []
        j.right(0, "dummy", 211)
        assert j.read() == [(1, "null+a1", 0), (0, "A0+null", 0)]


def test_outer_join_window_bounds_match_kafka(store: str) -> None:
    # KStreamKStreamOuterJoinTest.testWindowing: upper and lower window bounds, window 100
    with joining("outer_join", no_grace(100), store) as j:
        for k in KEYS[:2]:
            j.left(k, f"A{k}", 0)
        assert j.read() == []
        for k in KEYS:
            j.right(k, f"a{k}", 0)
        assert j.read() == [(0, "A0+a0", 0), (1, "A1+a1", 0)]
        # upper bound
        for k in KEYS:
            j.right(k, f"b{k}", 1000 + k)
        assert j.read() == [(2, "null+a2", 0), (3, "null+a3", 0)]
        for k in KEYS:
            j.left(k, f"B{k}", 1100)
        assert j.read() == [(k, f"B{k}+b{k}", 1100) for k in KEYS]
        for k in KEYS:
            j.left(k, f"C{k}", 1101)
        assert j.read() == [(1, "C1+b1", 1101), (2, "C2+b2", 1101), (3, "C3+b3", 1101)]
        for k in KEYS:
            j.left(k, f"D{k}", 1102)
        assert j.read() == [(2, "D2+b2", 1102), (3, "D3+b3", 1102)]
        for k in KEYS:
            j.left(k, f"E{k}", 1103)
        assert j.read() == [(3, "E3+b3", 1103)]
        for k in KEYS:
            j.left(k, f"F{k}", 1104)
        assert j.read() == []
        j.left(0, "dummy", 1405)
        assert j.read() == [(0, "C0+null", 1101), (0, "D0+null", 1102), (1, "D1+null", 1102),
                            (0, "E0+null", 1103), (1, "E1+null", 1103), (2, "E2+null", 1103),
                            (0, "F0+null", 1104), (1, "F1+null", 1104), (2, "F2+null", 1104),
                            (3, "F3+null", 1104)]
        assert j.dropped == 0
        # lower bound: records behind stream time 1405 (late for the left store, which keeps
        # 200 ms) still join the right store's b records and are emitted at once otherwise
        for k in KEYS:
            j.left(k, f"G{k}", 899)
        assert j.read() == [(k, f"G{k}+null", 899) for k in KEYS]
        for k in KEYS:
            j.left(k, f"H{k}", 900)
        assert j.read() == [(0, "H0+b0", 1000), (1, "H1+null", 900), (2, "H2+null", 900),
                            (3, "H3+null", 900)]
        for k in KEYS:
            j.left(k, f"I{k}", 901)
        assert j.read() == [(0, "I0+b0", 1000), (1, "I1+b1", 1001), (2, "I2+null", 901),
                            (3, "I3+null", 901)]
        for k in KEYS:
            j.left(k, f"J{k}", 902)
        assert j.read() == [(0, "J0+b0", 1000), (1, "J1+b1", 1001), (2, "J2+b2", 1002),
                            (3, "J3+null", 902)]
        for k in KEYS:
            j.left(k, f"K{k}", 903)
        assert j.read() == [(k, f"K{k}+b{k}", 1000 + k) for k in KEYS]
        j.left(0, "dummy", 1103)
        assert j.read() == [(0, "dummy+null", 1103)]
        # none of G..K nor the last dummy was stored: 21 records dropped by the left store
        assert j.dropped == 21


def test_asymmetric_before_window_emits_as_kafka(store: str) -> None:
    # KStreamKStreamOuterJoinTest.shouldNotEmitLeftJoinResultForAsymmetricBeforeWindow:
    # before(0): a left record waits 100 ms (its after), a right record 0 ms (its before)
    with joining("outer_join", no_grace(100).before(0), store) as j:
        j.left(0, "A0", 0)
        j.left(1, "A1", 1)
        assert j.read() == []
        j.right(0, "a0", 100)
        assert j.read() == [(0, "A0+a0", 100)]
        j.right(1, "a1", 102)
        assert j.read() == [(1, "A1+null", 1)]
        j.right(2, "a2", 103)
        assert j.read() == [(1, "null+a1", 102)]
        j.left(2, "A2", 103)
        assert j.read() == [(2, "A2+a2", 103)]


def test_asymmetric_after_window_emits_as_kafka(store: str) -> None:
    # KStreamKStreamOuterJoinTest.shouldNotEmitLeftJoinResultForAsymmetricAfterWindow, as
    # KAFKA-15417 (Kafka 3.7) left it: after(0), so a left record waits 0 ms and a right
    # record 100 ms (before); A0's window has closed once stream time passes 0
    with joining("outer_join", no_grace(100).after(0), store) as j:
        j.left(0, "A0", 0)
        j.left(1, "A1", 1)
        assert j.read() == [(0, "A0+null", 0)]
        j.right(1, "a1", 1)
        assert j.read() == [(1, "A1+a1", 1)]
        j.right(2, "a2", 101)
        j.right(3, "a3", 101)
        assert j.read() == []
        j.left(2, "A2", 201)  # a2 and a3 wait until stream time passes 101 + 100
        assert j.read() == [(2, "A2+a2", 201)]
        j.left(4, "dummy", 202)
        assert j.read() == [(3, "null+a3", 101)]


def test_asymmetric_window_emits_the_closed_side_past_an_open_one() -> None:
    # after(100), before(0): an older left record still waits while a newer right record's
    # window has closed; the right one is emitted without waiting for the left one
    with joining("outer_join", no_grace(100).before(0)) as j:
        j.left(0, "A0", 10)
        j.right(1, "a1", 20)
        j.right(2, "x", 50)  # a right record: its processor checks right records' windows
        assert j.read() == [(1, "null+a1", 20)]
        j.left(3, "y", 111)
        assert j.read() == [(0, "A0+null", 10), (2, "null+x", 50)]


# ---------------------------------------------------------------------- grace and late records

def test_grace_keeps_out_of_order_records_joinable() -> None:
    # without grace the left store keeps 20 ms behind its newest record: L100 is gone at 130
    with joining("join", no_grace(10)) as j:
        j.left(0, "L100", 100)
        j.left(0, "L130", 130)
        j.right(0, "R105", 105)
        assert j.read() == []
    # a grace of 20 keeps it 40 ms: the out-of-order R105 still finds it
    with joining("join", JoinWindows.of_time_difference_and_grace(10, 20)) as j:
        j.left(0, "L100", 100)
        j.left(0, "L130", 130)
        j.right(0, "R105", 105)
        assert j.read() == [(0, "L100+R105", 105)]


@pytest.mark.parametrize("mode", ["join", "left_join", "outer_join"])
def test_late_records_are_dropped_from_the_store_and_counted(store: str, mode: str) -> None:
    with joining(mode, JoinWindows.of_time_difference_and_grace(10, 20), store) as j:
        j.left(0, "L100", 100)
        j.left(0, "L130", 130)
        assert j.dropped == 0
        # 85 <= 130 - (10 + 10 + 20): too late for the left store
        j.left(0, "L85", 85)
        assert j.dropped == 1
        late = j.read()
        # it still probes the right store (empty); a left/outer join emits it at once, as its
        # window [75, 95] ended long before stream time 130
        assert late == ([] if mode == "join" else [(0, "L85+null", 85)])
        # a right record in both windows joins L100 only: L85 was never stored
        j.right(0, "R92", 92)
        assert j.read() == [(0, "L100+R92", 100)]
        assert j.dropped == 1


# ---------------------------------------------------------------------- None keys and values

def test_null_keys_and_values(store: str) -> None:
    # KIP-962: left/outer joins emit a None-key record joined with None at once; inner
    # joins (and the inner side of a left join) drop it. None values are always dropped.
    with joining("join", no_grace(100), store) as j:
        j.left(None, "A", 0)
        j.right(None, "a", 0)
        j.left(0, None, 0)
        assert j.read() == []
        assert j.dropped == 3
    with joining("left_join", no_grace(100), store) as j:
        j.left(None, "A", 5)
        assert j.read() == [(None, "A+null", 5)]
        j.right(None, "a", 6)
        j.right(0, None, 7)
        assert j.read() == []
        assert j.dropped == 2
    with joining("outer_join", no_grace(100), store) as j:
        j.left(None, "A", 5)
        j.right(None, "a", 6)
        assert j.read() == [(None, "A+null", 5), (None, "null+a", 6)]
        j.left(1, None, 7)
        assert j.read() == []
        assert j.dropped == 1


def test_null_key_records_advance_stream_time() -> None:
    # as in Kafka Streams, every record the join sees moves its stream time
    with joining("left_join", no_grace(10)) as j:
        j.left(0, "A", 0)
        j.left(None, "N", 100)
        assert j.read() == [(None, "N+null", 100)]
        j.left(1, "B", 50)  # its window ended before stream time 100: emitted at once
        assert j.read() == [(1, "B+null", 50)]
        j.left(2, "C", 100)  # at stream time: the closed A is emitted first
        assert j.read() == [(0, "A+null", 0)]


# ---------------------------------------------------------------------- joiner with key

def test_value_joiner_with_key(store: str) -> None:
    def keyed(key: Any, left: Any, right: Any) -> str:
        return f"{key}:{plus(left, right)}"

    with joining("outer_join", no_grace(10), store, joiner=keyed) as j:
        j.left(1, "A", 0)
        j.right(1, "a", 5)
        j.left(2, "B", 5)
        j.right(3, "c", 6)
        j.left(None, "N", 6)
        assert j.read() == [(1, "1:A+a", 5), (None, "None:N+null", 6)]
        j.left(9, "Z", 100)
        assert j.read() == [(2, "2:B+null", 5), (3, "3:null+c", 6)]
    with joining("join", no_grace(10), store, joiner=keyed) as j:
        j.left(1, "A", 0)
        j.right(1, "a", 5)
        assert j.read() == [(1, "1:A+a", 5)]


# ---------------------------------------------------------------------- repartitioning

def build_rekeyed(mode: str, name: str | None = None) -> Topology:
    """orders keyed by order id, "customer|item" values, re-keyed by customer, joined with
    visits keyed by customer."""
    b = StreamsBuilder({**APP, "default.key.serde": S})
    orders = b.stream("orders", Consumed(key_serde=S, value_serde=S))
    visits = b.stream("visits", Consumed(key_serde=S, value_serde=S))
    by_customer = orders.select_key(lambda order_id, v: v.split("|")[0])
    getattr(by_customer, mode)(visits, lambda o, v: f"{o}@{v}", no_grace(60), name=name).to(
        "out", Produced(key_serde=S, value_serde=S))
    return b.build()


def test_select_key_then_join_goes_through_a_repartition_topic(store: str) -> None:
    topology = build_rekeyed("join")
    text = str(topology.describe())
    # as Kafka Streams: the topic is named after the node that changed the key
    assert "Sub-topology: 1" in text
    assert "(topic: KSTREAM-KEY-SELECT-0000000002-repartition)" in text
    assert "(topics: [KSTREAM-KEY-SELECT-0000000002-repartition])" in text
    with TopologyTestDriver(topology, {**APP, "default.key.serde": S,
                                       "default.dsl.store": store}) as d:
        orders = d.create_input_topic("orders", S, S)
        visits = d.create_input_topic("visits", S, S)
        out = d.create_output_topic("out", S, S)
        visits.pipe_input("alice", "shop", 100)
        visits.pipe_input("bob", "web", 100)
        orders.pipe_input("o1", "alice|book", 120)
        orders.pipe_input("o2", "bob|pen", 161)  # 61 ms after bob's visit: outside
        orders.pipe_input("o3", "carol|cup", 130)
        orders.pipe_input("o4", "alice|lamp", 150)
        visits.pipe_input("carol", "app", 140)
        assert [(r.key, r.value, r.timestamp) for r in out.read_records_to_list()] == [
            ("alice", "alice|book@shop", 120), ("alice", "alice|lamp@shop", 150),
            ("carol", "carol|cup@app", 140)]
        assert any(t.endswith("-repartition") for t in d.produced_topic_names())


def test_named_join_after_select_key_names_its_repartition_topic() -> None:
    text = str(build_rekeyed("left_join", name="enrich").describe())
    assert "(topic: enrich-left-repartition)" in text
    assert "enrich-left-repartition-source" in text
    for node in ("enrich-this-windowed", "enrich-other-windowed", "enrich-this-join",
                 "enrich-outer-other-join", "enrich-merge"):
        assert f"Processor: {node} " in text, node
    assert "enrich-left-shared-join-store" in text


def test_left_join_after_select_key_keeps_none_keys(store: str) -> None:
    # KIP-962 through the repartition topic: a None key reaches the left join, which emits it
    # joined with None at once
    b = StreamsBuilder({**APP, "default.key.serde": S})
    orders = b.stream("orders", Consumed(key_serde=S, value_serde=S))
    visits = b.stream("visits", Consumed(key_serde=S, value_serde=S))
    orders.select_key(lambda v: None if v == "anon" else v).left_join(
        visits, plus, no_grace(60)).to("out", Produced(key_serde=S, value_serde=S))
    with TopologyTestDriver(b.build(), {**APP, "default.key.serde": S,
                                        "default.dsl.store": store}) as d:
        d.create_input_topic("orders", S, S).pipe_input("o1", "anon", 10)
        assert [(r.key, r.value, r.timestamp)
                for r in d.create_output_topic("out", S, S).read_records_to_list()] == [
            (None, "anon+null", 10)]


# ---------------------------------------------------------------------- topology and stores

def test_describe_names_match_kafka() -> None:
    outer = str(build("outer_join", no_grace(10)).describe())
    assert ("Processor: KSTREAM-OUTERTHIS-0000000004 (stores: [KSTREAM-OUTEROTHER-0000000005-"
            "store, KSTREAM-OUTERSHARED-0000000004-store])") in outer
    assert ("Processor: KSTREAM-WINDOWED-0000000002 (stores: [KSTREAM-OUTERTHIS-0000000004-"
            "store])") in outer
    assert "Processor: KSTREAM-MERGE-0000000006 (stores: [])" in outer
    left = str(build("left_join", no_grace(10)).describe())
    assert ("Processor: KSTREAM-JOINTHIS-0000000004 (stores: [KSTREAM-OUTEROTHER-0000000005-"
            "store, KSTREAM-OUTERSHARED-0000000004-store])") in left
    inner = str(build("join", no_grace(10)).describe())
    assert ("Processor: KSTREAM-JOINTHIS-0000000004 (stores: [KSTREAM-JOINOTHER-0000000005-"
            "store])") in inner
    assert "OUTERSHARED" not in inner
    named = str(build("outer_join", no_grace(10), name="j").describe())
    for node in ("j-this-windowed", "j-other-windowed", "j-outer-this-join",
                 "j-outer-other-join", "j-merge"):
        assert f"Processor: {node} " in named, node
    assert "j-outer-shared-join-store" in named
    # the next generated name continues after the five the join took
    assert "Sink: KSTREAM-SINK-0000000007 (topic: out)" in named


@pytest.mark.parametrize("mode", ["join", "left_join", "outer_join"])
def test_default_dsl_store_picks_the_join_stores(store: str, mode: str) -> None:
    with joining(mode, no_grace(10), store) as j:
        stores = j.driver.get_all_state_stores()
        assert len(stores) == (2 if mode == "join" else 3)
        assert {s.persistent for s in stores.values()} == {store == "rocksdb"}


def test_pending_unjoined_records_survive_a_restart(tmp_path: Path) -> None:
    topology = build("left_join", no_grace(10))
    config = {**APP, "state.dir": str(tmp_path)}
    with TopologyTestDriver(topology, config) as d:
        j = Join(d)
        j.left(1, "A", 0)
        j.left(1, "A'", 0)  # a duplicate waits with it
        assert j.read() == []
    with TopologyTestDriver(topology, config) as d:
        j = Join(d)
        j.left(9, "Z", 100)
        assert j.read() == [(1, "A+null", 0), (1, "A'+null", 0)]


def test_a_new_driver_starts_a_fresh_join_clock() -> None:
    topology = build("left_join", no_grace(10))
    with TopologyTestDriver(topology, APP) as d:
        Join(d).left(5, "far", 1000)
    with TopologyTestDriver(topology, APP) as d:
        j = Join(d)
        j.left(0, "A", 0)
        j.right(0, "a", 5)
        assert j.read() == [(0, "A+a", 5)]
