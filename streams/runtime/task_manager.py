"""Turns a stream thread's share of the tasks into running tasks, and runs them.

On assign: take the thread's tasks (from the placement, or grouped from the partitions the
``range`` assignor gave, co-partitioning checked), keep the ones it already runs, close the
ones it no longer has, create and open the new ones and restore their stores (input paused
meanwhile), then let them process. On revoke: commit and *suspend* every task (buffered input
dropped, stores kept open), since most come back in the next assignment. On loss: close them
dirty.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from streams.config import EXACTLY_ONCE_V2, StreamsConfig
from streams.engine.task import Task, TaskId
from streams.engine.task_factory import TaskFactory
from streams.errors import StateStoreError, StreamsError
from streams.runtime.lags import FetchedLags
from streams.runtime.record_collector import KafkaRecordCollector
from streams.runtime.restore import ChangelogRestorer
from streams.runtime.retries import TransientErrorLog, is_task_migrated, is_transient
from streams.runtime.standby import StandbyUpdater
from streams.runtime.task_ownership import TaskOwnership
from streams.state.cache import ThreadCache
from streams.state.checkpoint import CHECKPOINT_FILE_NAME, OffsetCheckpoint
from streams.topology.topology import Topology

log = logging.getLogger(__name__)


class CopartitioningError(StreamsError):
    """A task's input partitions were not all assigned to the same consumer."""


class TaskManager:
    """The tasks of one stream thread."""

    def __init__(self, topology: Topology, config: StreamsConfig, collector: KafkaRecordCollector,
                 restorer: ChangelogRestorer, state_root: Path, thread_name: str,
                 global_stores: dict[str, Any] | None = None,
                 wall_clock: Any = None, lags: FetchedLags | None = None,
                 ownership: TaskOwnership | None = None) -> None:
        self.topology = topology
        self.config = config
        self.collector = collector
        self.restorer = restorer
        self.state_root = state_root
        self.thread_name = thread_name
        self.global_stores = global_stores or {}
        self.eos = config["processing.guarantee"] == EXACTLY_ONCE_V2
        self.app_id: str = config["application.id"]
        self._wall_clock = wall_clock or (lambda: int(time.time() * 1000))
        self.tasks: dict[TaskId, Task] = {}
        self.running: dict[TaskId, Task] = {}
        self.by_partition: dict[tuple[str, int], Task] = {}
        self.sub_of_topic: dict[str, Any] = {}
        #: topics read by sub-topologies with several input topics, whose tasks wait for data
        #: on all inputs (max.task.idle.ms) and so need to know where each partition starts
        self.multi_input_topics: set[str] = set()
        for sub in topology.subtopologies():
            if sub.is_global:
                continue
            topics = {topology.resolve_topic(t, self.app_id) for t in sub.source_topics}
            for t in topics:
                self.sub_of_topic[t] = sub
            if len(topics) > 1:
                self.multi_input_topics |= topics
        self.lags = lags
        #: changelog ends of each task when it was suspended (its checkpoint if it is closed
        #: after the rebalance: by then a new owner may write to its changelogs)
        self._suspended_at: dict[TaskId, dict[tuple[str, int], int]] = {}
        #: standby tasks: stores kept up to date from changelogs, never processing
        self.standbys: dict[TaskId, Task] = {}
        self.standby_updater: StandbyUpdater | None = None
        #: which thread of this instance holds each task's state (shared by its threads)
        self.ownership = ownership or TaskOwnership()
        self._handover_timeout: float = config["task.timeout.ms"] / 1000.0
        #: the thread's record cache, shared by its tasks' caching stores
        self.cache = ThreadCache(config["statestore.cache.max.bytes"]
                                 // max(1, config["num.stream.threads"]))
        self.factory = TaskFactory(topology, config, collector, state_root, self._wall_clock,
                                   self.cache)
        self._buffer_limit: int = config["buffered.records.per.partition"]
        #: partitions paused because their task waits for another input while their buffer is full
        self.backpressured: set[tuple[str, int]] = set()
        self._waiting: list[Task] = []
        self._transient = TransientErrorLog(log, f"{thread_name} consumer")

    # ------------------------------------------------------------------ assignment
    def tasks_for(self, partitions: Iterable[tuple[str, int]]) -> dict[TaskId, list[tuple[str, int]]]:
        """Group partitions into tasks, verifying every task got all its inputs."""
        grouped: dict[TaskId, list[tuple[str, int]]] = {}
        for topic, p in partitions:
            sub = self.sub_of_topic.get(topic)
            if sub is None:
                raise StreamsError(f"{self.thread_name} was assigned {topic}-{p}, which no "
                                   "sub-topology reads")
            grouped.setdefault(TaskId(sub.id, p), []).append((topic, p))
        for tid, tps in grouped.items():
            sub = next(s for s in self.topology.subtopologies() if s.id == tid.subtopology)
            needed = {self.topology.resolve_topic(t, self.app_id) for t in sub.source_topics}
            got = {t for t, _ in tps}
            if got != needed:
                raise CopartitioningError(
                    f"{self.thread_name}: task {tid} needs partition {tid.partition} of "
                    f"{sorted(needed)} on one consumer but got only {sorted(got)}. The group's "
                    "assignment is not co-partitioned: all instances must run the same topology "
                    "with partition.assignment.strategy=range (see docs/assignment.md)"
                )
        return grouped

    def task_partitions(self, partition_counts: dict[str, int]
                        ) -> dict[TaskId, list[tuple[str, int]]]:
        """Every task of the topology with its input partitions, given each input topic's
        partition count: a sub-topology has as many tasks as its largest input has
        partitions, and task ``s_p`` reads partition ``p`` of each input that has one."""
        out: dict[TaskId, list[tuple[str, int]]] = {}
        by_sub: dict[int, list[str]] = {}
        for topic, sub in self.sub_of_topic.items():
            by_sub.setdefault(sub.id, []).append(topic)
        for sub_id, topics in sorted(by_sub.items()):
            counts = {t: partition_counts.get(t, 0) for t in sorted(topics)}
            for p in range(max(counts.values(), default=0)):
                out[TaskId(sub_id, p)] = [(t, p) for t, n in counts.items() if p < n]
        return out

    def stateful(self, tasks: Iterable[TaskId]) -> list[TaskId]:
        """The tasks with change-logged stores (the ones a standby can help)."""
        stores = self.topology.stores
        logged = {sub.id for sub in self.topology.subtopologies()
                  if any(stores[name].logging_enabled for name in sub.stores)}
        return [t for t in tasks if t.subtopology in logged]

    def assign(self, partitions: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """``range`` mode: tasks from the assigned partitions (see :meth:`assign_tasks`)."""
        return self.assign_tasks(self.tasks_for(partitions))

    def suspend_all(self, commit: Any) -> None:
        """A rebalance begins: commit (through ``commit``), then keep every task open but
        idle. Buffered input is dropped (it is fetched again from the committed offsets)."""
        if self.tasks:
            commit()
        for task in self.tasks.values():
            task.group.drop_buffered()
            if task.id in self.running and task.state.changelog_topics:
                self._suspended_at[task.id] = self._changelog_ends(task)
        self.backpressured.clear()
        self._waiting.clear()
        if self.lags is not None:
            self.lags.clear()

    def assign_tasks(self, wanted: dict[TaskId, list[tuple[str, int]]],
                     standbys: Iterable[TaskId] = ()) -> list[tuple[str, int]]:
        """Make the thread run exactly ``wanted`` and keep the ``standbys``: tasks it ran
        before go on where they were (their stores open and restored), tasks no longer
        wanted are closed cleanly (they were committed on suspension), new ones are
        created. Everything given up is closed before anything is opened, so a standby
        promoted here leaves its checkpoint for the active task. Returns the partitions to
        pause because their task is restoring."""
        keep_standby = set(standbys) - set(wanted)
        for tid in [t for t in self.tasks if t not in wanted]:
            self._close_one(self.tasks[tid], clean=True)
        promoted: dict[TaskId, Task] = {}
        for tid in [t for t in self.standbys if t not in keep_standby]:
            if tid in wanted:
                promoted[tid] = self._promote_standby(self.standbys[tid])
            else:
                self._close_standby(self.standbys[tid], clean=True, reason="MIGRATED")
        pause: list[tuple[str, int]] = []
        for tid, tps in sorted(wanted.items()):
            if tid in self.tasks:
                self._suspended_at.pop(tid, None)  # resumed: it writes on, as sole owner
                if tid not in self.running:
                    pause.extend(tps)  # still restoring: the new assign() resumed its input
                continue
            task = promoted.pop(tid, None) or self._create_task(tid)
            self.tasks[tid] = task
            for tp in tps:
                self.by_partition[tp] = task
                task.queue(tp)  # every input has a queue, so an empty one can be waited for
            if len(tps) > 1 and self.lags is not None:
                task.lag_of = self.lags.lag
            if self._start_restore(task):
                pause.extend(tps)
            else:
                self._activate(task)
        for tid in sorted(keep_standby - set(self.standbys)):
            self._open_standby(tid)
        log.info("%s: assigned tasks %s (%d restoring)", self.thread_name,
                 ", ".join(str(t) for t in sorted(wanted)) or "none",
                 len(self.tasks) - len(self.running))
        if self.standbys or self.standby_updater is not None:
            log.info("%s: standby tasks %s", self.thread_name,
                     ", ".join(str(t) for t in sorted(self.standbys)) or "none")
        return pause

    def _open_standby(self, tid: TaskId) -> None:
        """Open ``tid``'s stores here and keep them up to date from their changelogs."""
        if self.standby_updater is None:
            raise StreamsError(f"{self.thread_name}: standby {tid} assigned, but this thread "
                               "has no standby consumer")
        task = self._create_task(tid)
        self.standbys[tid] = task
        for store, topic, start, apply in self._changelogs(task):
            self.standby_updater.add(task, store, topic, tid.partition, start, apply)

    def _promote_standby(self, task: Task) -> Task:
        """Turn this thread's standby of a task it is now to run into the active task, stores
        and all (Kafka Streams recycles a standby the same way): nothing is reopened, an
        in-memory store keeps its contents, and restoration reads only the changelog's tail
        after where the standby got to."""
        del self.standbys[task.id]
        assert self.standby_updater is not None
        positions = self.standby_updater.positions(task)
        self.standby_updater.remove_task(task, "PROMOTED")
        task.checkpoint = {**task.checkpoint, **positions}
        task.stores_existed = set(task.state.changelog_topics)
        if self.eos:
            # as for any active task under exactly-once: no checkpoint on disk while it runs
            OffsetCheckpoint(self.factory.task_dir(task.id) / CHECKPOINT_FILE_NAME).delete()
        return task

    def _close_standby(self, task: Task, clean: bool, reason: str) -> None:
        """Stop keeping a standby; a clean close checkpoints how far it got."""
        del self.standbys[task.id]
        try:
            assert self.standby_updater is not None
            positions = self.standby_updater.positions(task)
            self.standby_updater.remove_task(task, reason)
            if clean and not task.closed:
                self._checkpoint_standby(task, positions)
                task.close()
            else:
                task.close_dirty()
        finally:
            self.ownership.release(task.id, self.thread_name)

    def _checkpoint_standby(self, task: Task, positions: dict[tuple[str, int], int]) -> None:
        # standbys hold committed data only (read_committed under exactly-once): a checkpoint
        # is safe at any time, unlike an active task's under exactly-once
        task.state.flush()
        if positions and task.state.task_dir() is not None:
            OffsetCheckpoint(self.factory.task_dir(task.id) / CHECKPOINT_FILE_NAME).write(
                {**task.checkpoint, **positions})

    def _close_one(self, task: Task, clean: bool) -> None:
        """Close one task that leaves this thread (clean: checkpoint written first)."""
        self.restorer.remove_task(task)
        del self.tasks[task.id]
        was_running = self.running.pop(task.id, None) is not None
        for tp in [tp for tp, t in self.by_partition.items() if t is task]:
            del self.by_partition[tp]
        try:
            if clean and was_running and not task.closed:
                self._write_checkpoint(task)
                task.close()
            else:
                task.close_dirty()
        finally:
            self.ownership.release(task.id, self.thread_name)

    def _create_task(self, tid: TaskId) -> Task:
        self.ownership.acquire(tid, self.thread_name, self._handover_timeout)
        try:
            return self._open_task(tid)
        except BaseException:
            self.ownership.release(tid, self.thread_name)
            raise

    def _open_task(self, tid: TaskId) -> Task:
        sub = self.factory.subtopology(tid.subtopology)
        task_dir = self.factory.task_dir(tid)
        task = self.factory.create(tid)
        checkpoint_file = OffsetCheckpoint(task_dir / CHECKPOINT_FILE_NAME)
        try:
            checkpoint = checkpoint_file.read()
        except StateStoreError as exc:
            log.warning("%s: %s; restoring task %s from the beginning", self.thread_name, exc, tid)
            checkpoint = {}
        if self.eos and task_dir.exists() and not checkpoint_file.path.exists():
            # not closed cleanly under exactly-once: local state may hold aborted writes
            log.info("%s: task %s was not closed cleanly; wiping its state", self.thread_name, tid)
            shutil.rmtree(task_dir, ignore_errors=True)
        for (topic, partition), offset in checkpoint.items():
            end = self.restorer.end_offset(topic, partition)
            if offset > end:
                # the changelog was deleted or truncated (e.g. an application reset): the local
                # state reflects records that no longer exist; keeping it would count them twice
                log.warning("%s: checkpoint %d of %s-%d is past the changelog's end %d; wiping "
                            "task %s state and restoring from the changelog", self.thread_name,
                            offset, topic, partition, end, tid)
                shutil.rmtree(task_dir, ignore_errors=True)
                checkpoint = {}
                break
        existed = {name for name in sub.stores if (task_dir / name).exists()}
        try:
            task.initialize(self.global_stores)
        except StateStoreError as exc:
            log.warning("%s: %s; wiping task %s state and restoring from the changelog",
                        self.thread_name, exc, tid)
            task.close_dirty()
            shutil.rmtree(task_dir, ignore_errors=True)
            existed = set()
            checkpoint = {}
            task = self.factory.create(tid)
            task.initialize(self.global_stores)
        if self.eos:
            checkpoint_file.delete()
        task.checkpoint = checkpoint
        # an in-memory store starts empty whatever lies in the directory
        task.stores_existed = {name for name in existed if getattr(
            task.state.registered.get(name, (None, None))[0], "persistent", False)}
        return task

    @staticmethod
    def _changelogs(task: Task) -> list[tuple[str, str, int | None, Any]]:
        """(store, changelog topic, offset to read from, function applying records) for each
        of ``task``'s logged stores. Reading starts at the checkpoint for the stores whose
        contents were kept (:attr:`Task.stores_existed`), else at the beginning (None)."""
        out = []
        for store, topic in task.state.changelog_topics.items():
            registered = task.state.registered.get(store)
            if registered is None:
                continue
            _, apply = registered
            kept = store in task.stores_existed
            out.append((store, topic,
                        task.checkpoint.get((topic, task.id.partition)) if kept else None, apply))
        return out

    def _start_restore(self, task: Task) -> bool:
        restoring = False
        for store, topic, offset, restore in self._changelogs(task):
            if self.restorer.add(task, store, topic, task.id.partition, offset, restore):
                restoring = True
        return restoring

    def _activate(self, task: Task) -> None:
        task.init_processors()
        self.running[task.id] = task

    def restored(self, tasks: list[Task]) -> list[tuple[str, int]]:
        """Tasks whose stores caught up start processing; returns partitions to resume."""
        resume: list[tuple[str, int]] = []
        for task in tasks:
            if task.id in self.tasks and not task.closed:
                self._activate(task)
                resume.extend(tp for tp, t in self.by_partition.items() if t is task)
        return resume

    def revoke_all(self, commit: Any) -> None:
        """Commit (through ``commit``) and close every task cleanly."""
        if self.tasks:
            commit()
        self.close_all(clean=True)

    def close_all(self, clean: bool) -> None:
        """Close every task; clean closes write checkpoints, dirty ones do not."""
        first: BaseException | None = None
        for task in list(self.tasks.values()):
            try:
                self._close_one(task, clean)
            except BaseException as exc:
                log.error("%s: closing task %s failed: %s", self.thread_name, task.name, exc)
                first = first or exc
        for standby in list(self.standbys.values()):
            try:
                self._close_standby(standby, clean, reason="MIGRATED")
            except BaseException as exc:
                log.error("%s: closing standby %s failed: %s", self.thread_name, standby.name,
                          exc)
                first = first or exc
        self.tasks.clear()
        self.running.clear()
        self.by_partition.clear()
        self._suspended_at.clear()
        self.backpressured.clear()
        self._waiting.clear()
        if self.lags is not None:
            self.lags.clear()
        if first is not None:
            raise first

    # ------------------------------------------------------------------ processing
    def add(self, msgs: list[Any]) -> None:
        """Buffer consumed messages in their tasks' queues."""
        by_partition = self.by_partition
        last_topic: str | None = None
        last_partition = -1
        q: Any = None
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.code() == err._PARTITION_EOF:
                    continue
                # a broker away or a leader moving, or this member dropped from the group
                # (librdkafka rejoins and calls on_lost): it recovers by itself
                if is_transient(err) or is_task_migrated(err):
                    self._transient.seen(err, msg.topic(), msg.partition())
                    continue
                raise StreamsError(f"{self.thread_name}: consumer error on "
                                   f"{msg.topic()}-{msg.partition()}: {err}")
            partition = msg.partition()
            topic = msg.topic()
            # batches come in runs of one partition: look the queue up only when it changes
            if partition != last_partition or topic != last_topic:
                last_topic, last_partition = topic, partition
                task = by_partition.get((topic, partition))
                # None: fetched just before a revocation; it will be re-read by the new owner
                q = None if task is None else task.queue((topic, partition))
            if q is not None:
                q.append(msg)

    def process(self, max_per_task: int) -> int:
        """Process buffered records of running tasks; returns the number processed."""
        total = 0
        waiting = self._waiting
        waiting.clear()
        for task in self.running.values():
            n = task.process(max_per_task)
            task.processed += n
            total += n
            if task.waiting:
                waiting.append(task)
        return total

    def fetched_lag_max(self) -> int:
        """The largest fetched lag of the running tasks' input partitions (0 if none known)."""
        if self.lags is None:
            return 0
        return max((self.lags.lag(tp) for tp, t in self.by_partition.items()
                    if t.id in self.running), default=0)

    def has_buffered(self) -> bool:
        """True when a running task has records it can process now (not waiting for another
        input's data)."""
        return any(t.buffered() and not t.waiting for t in self.running.values())

    def flow_control(self) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """Partitions to pause and to resume after :meth:`process`.

        A task waiting for data of one input keeps receiving the others; once such a
        partition holds more than ``buffered.records.per.partition`` records it is paused until
        the task runs again. Tasks that process keep their buffers short on their own (each
        loop takes at most ``max.poll.records``), so they are never paused: pausing makes
        librdkafka drop what it prefetched.
        """
        if not self._waiting and not self.backpressured:
            return [], []
        limit = self._buffer_limit
        pause: list[tuple[str, int]] = []
        for task in self._waiting:
            for tp in task.source_partitions():
                if tp not in self.backpressured and task.buffered_for(tp) > limit:
                    self.backpressured.add(tp)
                    pause.append(tp)
        resume: list[tuple[str, int]] = []
        for tp in list(self.backpressured):
            owner = self.by_partition.get(tp)
            if owner is None or not owner.waiting or owner.buffered_for(tp) <= limit:
                self.backpressured.discard(tp)
                if owner is not None:
                    resume.append(tp)
        return pause, resume

    def punctuate(self) -> None:
        """Fire due punctuators of running tasks."""
        now = self._wall_clock()
        for task in self.running.values():
            task.maybe_punctuate_stream_time()
            task.maybe_punctuate_wall_clock(now)

    def commit_requested(self) -> bool:
        """True when a processor asked for a commit."""
        return any(t.commit_requested for t in self.running.values())

    def write_checkpoints(self) -> None:
        """After a commit: record how far each changelog is reflected in local state."""
        if self.standby_updater is not None:
            for standby in self.standbys.values():
                self._checkpoint_standby(standby, self.standby_updater.positions(standby))
        if self.eos:
            return
        for task in self.running.values():
            self._write_checkpoint(task)

    def _changelog_ends(self, task: Task) -> dict[tuple[str, int], int]:
        """The ends of ``task``'s changelog partitions: how far its local state reaches, as
        long as this thread is their only writer."""
        return {(topic, task.id.partition): self.restorer.end_offset(topic, task.id.partition)
                for topic in task.state.changelog_topics.values()}

    def _write_checkpoint(self, task: Task) -> None:
        if not task.state.changelog_topics or task.state.task_dir() is None:
            return
        # a task suspended in a rebalance may already have a new owner writing to its
        # changelogs: its state reaches only as far as the ends seen when it was suspended
        offsets = self._suspended_at.pop(task.id, None)
        if offsets is None:
            offsets = self._changelog_ends(task)
        OffsetCheckpoint(self.factory.task_dir(task.id) / CHECKPOINT_FILE_NAME).write(offsets)
