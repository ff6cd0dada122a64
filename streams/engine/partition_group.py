"""A task's input partitions: one queue each, which record goes next, and when to wait.

Kafka Streams' ``PartitionGroup``. Records of each input partition wait in their own queue.
With several inputs (a join, a merge) the record with the smallest timestamp at the head of a
queue goes next, so a task sees its inputs in time order whatever order they were fetched in.
An input whose queue is empty may be left behind only as ``max.task.idle.ms`` allows: not while
the broker holds records of it not fetched yet (its fetched lag is not 0), and with a positive
setting not before it has stayed empty that long. The group also keeps each partition's
*partition time* (largest timestamp seen) and the offset of the last record taken from it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from streams.errors import StreamsError

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]


class PartitionGroup:
    """One task's input queues; see the module docstring."""

    def __init__(self, task_name: str, topics: set[str], idle_ms: int,
                 wall_clock: Callable[[], int]) -> None:
        self._task = task_name
        self._topics = topics
        self._idle_ms = idle_ms
        self._wall_clock = wall_clock
        self.queues: dict[TopicPartition, deque[Any]] = {}
        #: largest timestamp taken from each partition (-1 before any)
        self.partition_time: dict[TopicPartition, int] = {}
        #: offset of the last record taken from each partition
        self.consumed: dict[TopicPartition, int] = {}
        #: the fetched lag of an input partition (0: caught up, -1: not known yet); None, as in
        #: the test driver, means every input is always caught up
        self.lag_of: Callable[[TopicPartition], int] | None = None
        # wall-clock time until which an empty, caught-up input is waited for
        self._idle_deadlines: dict[TopicPartition, int] = {}
        #: True when the last pick stopped to wait for data of an empty input
        self.waiting = False
        #: times processing went ahead with an input empty (Kafka Streams' enforced processing)
        self.enforced_processing = 0
        self._cleared: set[TopicPartition] = set()

    def queue(self, partition: TopicPartition) -> deque[Any]:
        """The queue of one input partition (created on first use; the stream thread appends
        to it directly)."""
        q = self.queues.get(partition)
        if q is None:
            if partition[0] not in self._topics:
                raise StreamsError(
                    f"task {self._task} got records of {partition[0]!r}, which it does not read")
            q = self.queues[partition] = deque()
        return q

    def buffered(self) -> int:
        """Records waiting in all queues."""
        return sum(len(q) for q in self.queues.values())

    def buffered_for(self, partition: TopicPartition) -> int:
        """Records waiting for one partition."""
        q = self.queues.get(partition)
        return len(q) if q is not None else 0

    def start_pass(self) -> None:
        """Begin one :meth:`pick` pass (an empty input cleared to be left behind stays
        cleared until the pass ends)."""
        self.waiting = False
        self._cleared.clear()

    def pick(self) -> Any:
        """The next record by head timestamp (ties keep insertion order), or None when the
        queues are empty or the task must wait for an empty input (:attr:`waiting`)."""
        best: deque[Any] | None = None
        best_ts = 0
        empty: list[TopicPartition] | None = None
        cleared = self._cleared
        for tp, q in self.queues.items():
            if q:
                ts = q[0].timestamp()[1]
                if best is None or ts < best_ts:
                    best, best_ts = q, ts
            elif tp not in cleared:
                if empty is None:
                    empty = [tp]
                else:
                    empty.append(tp)
        if best is None:
            return None
        if empty is None:
            if self._idle_deadlines:  # every input has records: idling starts over
                self._idle_deadlines.clear()
        elif not self._may_leave_behind(empty):
            self.waiting = True
            return None
        return best.popleft()

    def _may_leave_behind(self, empty: list[TopicPartition]) -> bool:
        """Kafka Streams' ``max.task.idle.ms``: take records while ``empty`` inputs have none
        buffered only if none has records on the broker not fetched yet and, when the setting
        is positive, each has stayed empty that long."""
        lag_of = self.lag_of
        idle = self._idle_ms
        if lag_of is None or idle < 0:
            self._cleared.update(empty)
            return True
        deadlines = self._idle_deadlines
        if deadlines:
            for tp in [tp for tp in deadlines if self.queues.get(tp)]:
                del deadlines[tp]
        now = -1
        for tp in empty:
            lag = lag_of(tp)
            if lag != 0:
                # data for it is on the broker, or its end is not known yet: wait for the fetch
                deadlines.pop(tp, None)
                return False
            if idle > 0:
                if now < 0:
                    now = self._wall_clock()
                deadline = deadlines.setdefault(tp, now + idle)
                if now < deadline:
                    return False
        self._cleared.update(empty)
        self.enforced_processing += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug("task %s: processing with empty inputs %s (caught up; max.task.idle.ms=%d)",
                      self._task, ", ".join(f"{t}-{p}" for t, p in empty), idle)
        return True

    def clear(self) -> None:
        """Drop every buffered record (the task is closing)."""
        self.queues.clear()

    def drop_buffered(self) -> None:
        """Drop the buffered records but keep the queues: the task is suspended during a
        rebalance, and its input is fetched again from the offsets committed on suspension."""
        for q in self.queues.values():
            q.clear()
        self._idle_deadlines.clear()
        self.waiting = False
