"""max.task.idle.ms: when a task with several inputs may process while one input is empty.

The lags a stream thread reads from its consumer are given here by a dict, so every case of
Kafka Streams' PartitionGroup.readyToProcess can be set up exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from task_helpers import Collector, Msg, two_topic_task

from streams.engine.task import Task
from streams.runtime.lags import UNKNOWN, FetchedLags

L, R = ("left", 2), ("right", 2)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        return self.now


def idling_task(
    tmp_path: Path, lags: dict[tuple[str, int], int], idle_ms: int = 0, clock: Clock | None = None,
) -> tuple[Task, Collector, list[tuple[str, int, int]]]:
    task, collector, seen = two_topic_task(
        tmp_path, {"max.task.idle.ms": idle_ms}, clock or Clock())
    task.queue(L)  # as the task manager does at assignment: every input has a queue
    task.queue(R)
    task.lag_of = lags.__getitem__
    return task, collector, seen


def values(collector: Collector) -> list[bytes | None]:
    return [v for _, v, _ in collector.sent]


def test_an_empty_input_with_records_on_the_broker_is_waited_for(tmp_path: Path) -> None:
    lags = {L: 0, R: 5}
    task, collector, _ = idling_task(tmp_path, lags)
    task.add_records(L, [Msg("left", 2, 0, 50, "L0")])
    assert task.process() == 0
    assert task.waiting
    # the right side's records arrive, earlier in time: they go first
    lags[R] = 0
    task.add_records(R, [Msg("right", 2, 0, 10, "R0"), Msg("right", 2, 1, 20, "R1")])
    assert task.process() == 3
    assert not task.waiting
    assert values(collector) == [b"R0", b"R1", b"L0"]
    task.close()


def test_an_input_whose_end_is_not_known_yet_is_waited_for(tmp_path: Path) -> None:
    lags = {L: 0, R: UNKNOWN}
    task, collector, _ = idling_task(tmp_path, lags)
    task.add_records(L, [Msg("left", 2, 0, 50, "L0")])
    assert task.process() == 0 and task.waiting
    lags[R] = 0  # the first fetch response showed it is empty
    assert task.process() == 1
    assert values(collector) == [b"L0"]
    assert task.enforced_processing == 1
    task.close()


def test_a_caught_up_empty_input_does_not_hold_the_task_back_by_default(tmp_path: Path) -> None:
    task, collector, _ = idling_task(tmp_path, {L: 0, R: 0})
    task.add_records(L, [Msg("left", 2, i, 10 * i, f"L{i}") for i in range(3)])
    assert task.process() == 3
    assert values(collector) == [b"L0", b"L1", b"L2"]
    task.close()


def test_an_input_that_empties_mid_batch_is_checked_again(tmp_path: Path) -> None:
    lags = {L: 0, R: 0}
    task, collector, _ = idling_task(tmp_path, lags)
    task.add_records(L, [Msg("left", 2, 0, 10, "L0"), Msg("left", 2, 1, 30, "L1")])
    task.add_records(R, [Msg("right", 2, 0, 20, "R0")])
    lags[R] = 7  # more of the right side is on the broker than was handed over
    # L0 and R0 go; then the right queue is empty with a lag: L1 must wait for it
    assert task.process() == 2
    assert task.waiting
    assert values(collector) == [b"L0", b"R0"]
    task.close()


def test_a_lag_is_read_once_per_partition_and_call(tmp_path: Path) -> None:
    asked: list[tuple[str, int]] = []

    def lag_of(tp: tuple[str, int]) -> int:
        asked.append(tp)
        return 0

    task, _, _ = idling_task(tmp_path, {})
    task.lag_of = lag_of
    task.add_records(L, [Msg("left", 2, i, i, f"L{i}") for i in range(100)])
    assert task.process() == 100
    assert asked == [R]
    task.close()


def test_positive_idle_time_waits_that_long_for_a_caught_up_input(tmp_path: Path) -> None:
    clock = Clock()
    task, collector, _ = idling_task(tmp_path, {L: 0, R: 0}, idle_ms=100, clock=clock)
    task.add_records(L, [Msg("left", 2, 0, 50, "L0")])
    assert task.process() == 0 and task.waiting
    clock.now += 99
    assert task.process() == 0
    clock.now += 1
    assert task.process() == 1
    assert values(collector) == [b"L0"]
    # the deadline stays while the input stays empty...
    task.add_records(L, [Msg("left", 2, 1, 60, "L1")])
    assert task.process() == 1
    # ...and starts over once it has had records again: R0 goes, then the right side is
    # empty again and L2 waits a full idle time for it
    task.add_records(R, [Msg("right", 2, 0, 55, "R0")])
    task.add_records(L, [Msg("left", 2, 2, 70, "L2")])
    assert task.process() == 1
    clock.now += 99
    assert task.process() == 0
    clock.now += 1
    assert task.process() == 1
    assert values(collector) == [b"L0", b"L1", b"R0", b"L2"]
    task.close()


def test_minus_one_never_waits(tmp_path: Path) -> None:
    task, _, _ = idling_task(tmp_path, {L: 0, R: 1_000}, idle_ms=-1)
    task.add_records(L, [Msg("left", 2, 0, 50, "L0")])
    assert task.process() == 1
    assert not task.waiting
    task.close()


def test_the_test_driver_and_single_input_tasks_never_wait(tmp_path: Path) -> None:
    # lag_of None: nothing to ask, as in TopologyTestDriver, where every input is caught up
    task, _, _ = two_topic_task(tmp_path, {"max.task.idle.ms": 0})
    task.queue(R)
    task.add_records(L, [Msg("left", 2, 0, 50, "L0")])
    assert task.process() == 1
    task.close()


# --------------------------------------------------------------------------- FetchedLags
class _Offset:
    def __init__(self, offset: int) -> None:
        self.offset = offset


class FakeConsumer:
    """The two librdkafka calls FetchedLags makes, with the values librdkafka returns
    (-1001 for an offset not known)."""

    def __init__(self) -> None:
        self.marks: dict[tuple[str, int], tuple[int, int]] = {}
        self.positions: dict[tuple[str, int], int] = {}

    def get_watermark_offsets(self, tp: Any, cached: bool = False) -> tuple[int, int]:
        assert cached  # never a broker round trip on the processing path
        return self.marks.get((tp.topic, tp.partition), (-1001, -1001))

    def position(self, tps: list[Any]) -> list[_Offset]:
        return [_Offset(self.positions.get((tp.topic, tp.partition), -1001)) for tp in tps]


@pytest.mark.parametrize(
    ("marks", "position", "start", "lag"),
    [
        ((-1001, -1001), -1001, 0, UNKNOWN),  # no fetch response yet
        ((0, 10), 4, 0, 6),  # six records not handed over yet
        ((0, 10), 10, 0, 0),  # caught up
        ((0, 10), -1001, 3, 7),  # nothing handed over since it was assigned at offset 3
        ((0, 10), -1001, 10, 0),  # assigned at its end
        ((8, 8), -1001, 2, 0),  # assigned before the log start; those records are gone
        ((0, 10), -1001, None, UNKNOWN),  # not assigned at a known offset
    ],
)
def test_fetched_lag(marks: tuple[int, int], position: int, start: int | None, lag: int) -> None:
    consumer = FakeConsumer()
    consumer.marks[L] = marks
    consumer.positions[L] = position
    lags = FetchedLags(consumer)
    if start is not None:
        lags.track({L: start})
    assert lags.lag(L) == lag
    lags.clear()
    if position < 0 and start is not None:
        assert lags.lag(L) == UNKNOWN
