"""Making a topology's tasks: the one place both the runtime and the test driver create them.

A stream task ``1_3`` runs sub-topology 1 for partition 3, with its state in
``<state.dir>/<application.id>/1_3``; global tasks (one per global sub-topology) keep theirs in
``<state.dir>/<application.id>/global`` and write to no topic. The factory builds them; opening
stores, restoring and initializing processors is the caller's (a stream thread restores from
changelogs first; the driver has nothing to restore).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streams.config import StreamsConfig
from streams.engine.collector import NoOutputCollector, RecordCollector
from streams.engine.task import Task, TaskId
from streams.state.cache import ThreadCache
from streams.topology.nodes import SubTopology
from streams.topology.topology import Topology

#: the directory of every global store, under the application's state directory
GLOBAL_STATE_DIR = "global"


class TaskFactory:
    """Creates the tasks of ``topology``; see the module docstring."""

    def __init__(self, topology: Topology, config: StreamsConfig, collector: RecordCollector,
                 state_root: Path, wall_clock: Callable[[], int],
                 cache: ThreadCache | None = None) -> None:
        self.topology = topology
        self.config = config
        self.collector = collector
        self.state_root = state_root
        self.wall_clock = wall_clock
        self.cache = cache
        self._subs = {s.id: s for s in topology.subtopologies()}

    def subtopology(self, sub_id: int) -> SubTopology:
        """The sub-topology with id ``sub_id``."""
        return self._subs[sub_id]

    def task_dir(self, task_id: TaskId) -> Path:
        """Where the state of stream task ``task_id`` lives."""
        return self.state_root / str(task_id)

    def create(self, task_id: TaskId) -> Task:
        """A new stream task (stores not opened yet)."""
        return Task(task_id, self.topology, self._subs[task_id.subtopology], self.config,
                    self.collector, wall_clock=self.wall_clock,
                    state_dir=self.task_dir(task_id), cache=self.cache)

    @property
    def global_dir(self) -> Path:
        """Where every global store lives."""
        return self.state_root / GLOBAL_STATE_DIR

    def global_tasks(self) -> list[Task]:
        """One new task per global sub-topology (stores not opened yet)."""
        return [Task(TaskId(sub.id, -1), self.topology, sub, self.config, NoOutputCollector(),
                     wall_clock=self.wall_clock, state_dir=self.global_dir)
                for sub in self._subs.values() if sub.is_global]
