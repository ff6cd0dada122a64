"""Which stream thread of this instance holds each task's local state.

Tasks stay open across a rebalance (suspended), so a task that moves from one thread of an
instance to another is still open in the first when the second takes it up: the second must
wait until the first has closed it (RocksDB allows one opener per directory). Every thread
closes what it gives up before it opens what it takes, so two threads swapping tasks cannot
wait for each other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from streams.engine.task import TaskId
from streams.errors import StreamsError


class TaskOwnership:
    """Task -> the thread holding it, shared by the threads of one instance."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holder: dict[TaskId, str] = {}

    def acquire(self, task: TaskId, thread: str, timeout: float,
                stopping: Callable[[], bool] = lambda: False) -> None:
        """Make ``thread`` the holder of ``task``, waiting up to ``timeout`` seconds for the
        thread holding it to let go."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                holder = self._holder.get(task)
                if holder is None or holder == thread:
                    self._holder[task] = thread
                    return
                left = deadline - time.monotonic()
                if left <= 0 or stopping():
                    raise StreamsError(
                        f"{thread}: task {task} is still held by {holder} of this instance "
                        f"after {timeout:.0f} s; it should have closed it in this rebalance")
                self._changed.wait(min(left, 0.1))

    def release(self, task: TaskId, thread: str) -> None:
        """``thread`` no longer holds ``task``."""
        with self._changed:
            if self._holder.get(task) == thread:
                del self._holder[task]
                self._changed.notify_all()

    def held_by(self, task: TaskId) -> str | None:
        """The thread holding ``task``, if any."""
        with self._changed:
            return self._holder.get(task)
