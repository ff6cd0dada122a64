"""Which tasks an instance counts as caught up on, and when a thread reports its warm-ups."""

from __future__ import annotations

from pathlib import Path

from streams.engine.task import TaskId
from streams.runtime.warmups import WarmupWatch, local_offsets, ready_tasks
from streams.state.checkpoint import CHECKPOINT_FILE_NAME, OffsetCheckpoint

T0, T1, T2 = TaskId(1, 0), TaskId(1, 1), TaskId(1, 2)
CHANGELOGS = {T0: [("c", 0)], T1: [("c", 1)], T2: [("c", 2)]}


def test_caught_up_is_lag_within_the_acceptable_lag_with_or_without_local_state() -> None:
    ends = {("c", 0): 50, ("c", 1): 5000, ("c", 2): 5000}
    local = {T1: {("c", 1): 4990}, T2: {("c", 2): 6000}}  # T2's checkpoint is past the end
    assert ready_tasks(CHANGELOGS, ends, local, acceptable_lag=100) == {T0, T1}
    assert ready_tasks(CHANGELOGS, ends, local, acceptable_lag=9) == set()
    assert ready_tasks(CHANGELOGS, {("c", 0): 50}, {}, acceptable_lag=100) == {T0}  # no end


def test_every_changelog_of_a_task_counts() -> None:
    two = {T0: [("a", 0), ("b", 0)]}
    ends = {("a", 0): 100, ("b", 0): 100}
    assert ready_tasks(two, ends, {T0: {("a", 0): 100}}, acceptable_lag=99) == set()
    assert ready_tasks(two, ends, {T0: {("a", 0): 100, ("b", 0): 1}}, acceptable_lag=99) == {T0}


def test_local_offsets_skip_in_memory_sub_topologies_and_bad_files(tmp_path: Path) -> None:
    for name, offsets in (("1_0", {("c", 0): 7}), ("2_0", {("m", 0): 3})):
        (tmp_path / name).mkdir()
        OffsetCheckpoint(tmp_path / name / CHECKPOINT_FILE_NAME).write(offsets)
    (tmp_path / "1_1").mkdir()
    (tmp_path / "1_1" / CHECKPOINT_FILE_NAME).write_text("garbage\n")
    (tmp_path / "global").mkdir()
    assert local_offsets(tmp_path, persistent_subs={1}) == {T0: {("c", 0): 7}}


def test_a_thread_reports_when_all_warmups_caught_up_or_after_the_probing_interval() -> None:
    lags = {T0: 0, T1: 50, T2: None}
    watch = WarmupWatch(acceptable_lag=10, probing_interval=60.0)
    assert watch.due([T0, T1], lags.get, now=0.0) is None  # no warm-ups given
    watch.assigned([T0, T1], now=0.0)
    assert watch.due([T0, T1], lags.get, now=1.0) is None  # T1 still behind
    assert watch.due([T0, T1], lags.get, now=61.0) == {T0}  # the interval passed
    lags[T1] = 10
    assert watch.due([T0, T1, T2], lags.get, now=2.0) == {T0, T1}  # all caught up
    watch.reported = frozenset({T0, T1})
    assert watch.due([T0, T1], lags.get, now=3.0) is None  # nothing new to say
    watch.assigned([T0, T1], now=100.0)  # the same warm-ups again: the clock does not restart
    lags[T1] = 50
    watch.reported = frozenset()
    assert watch.due([T0, T1], lags.get, now=101.0) == {T0}
