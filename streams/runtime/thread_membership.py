"""A stream thread's side of the group: its main consumer, the rebalance callbacks, rejoining,
and reporting caught-up warm-ups (by replacing the consumer).

:class:`GroupMembership` is mixed into :class:`~streams.runtime.stream_thread.StreamThread`
(the thread's loop, commits and shutdown live there); it only uses the thread's state
declared below.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from confluent_kafka import OFFSET_INVALID, Consumer, TopicPartition

from streams.config import StreamsConfig
from streams.engine.task import TaskId
from streams.runtime.assignor import StreamsAssignor
from streams.runtime.client_configs import main_consumer_config
from streams.runtime.client_supplier import ClientSupplier
from streams.runtime.group_members import member_client_id
from streams.runtime.restore import ChangelogRestorer
from streams.runtime.retries import TaskMigratedError, retrying
from streams.runtime.start_offsets import needs_start_offsets, reset_overrides, start_offsets
from streams.runtime.streams_metadata import GroupView
from streams.runtime.streams_producer import StreamsProducer
from streams.runtime.task_manager import TaskManager
from streams.runtime.thread_state import ThreadState
from streams.runtime.warmups import WarmupWatch, local_ready_tasks
from streams.topology.topology import Topology

log = logging.getLogger("streams.runtime.stream_thread")


class GroupMembership:
    """The group side of a stream thread; see the module docstring."""

    name: str
    index: int
    config: StreamsConfig
    topology: Topology
    app_id: str
    process_id: str
    state_root: Path
    consumer: Consumer | None
    task_manager: TaskManager | None
    restorer: ChangelogRestorer | None
    streams_producer: StreamsProducer | None
    assignor: StreamsAssignor | None
    warmups: WarmupWatch | None
    failure: BaseException | None
    migrations: int
    _supplier: ClientSupplier
    _fingerprint: str
    _failed: bool
    _task_timeout: float
    _on_placement: Callable[[GroupView | None], None] | None

    def _set_state(self, state: ThreadState) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _main_consumer(self, ready: Iterable[TaskId]) -> Consumer:
        """A new main consumer; under the placement its client id describes the thread to the
        group, with the tasks it holds caught-up copies of (:mod:`streams.runtime.warmups`)."""
        ccfg = main_consumer_config(self.config, self.name, self.index)
        if self.assignor is not None:
            ccfg["client.id"] = member_client_id(ccfg["client.id"], self.process_id, self.index,
                                                 self.config["application.server"],
                                                 self._fingerprint, ready)
        return self._supplier.get_consumer(ccfg)

    def _ready_here(self) -> set[TaskId]:
        """The tasks this instance is caught up on (:func:`local_ready_tasks`)."""
        assert self.restorer is not None
        return local_ready_tasks(self.name, self.topology, self.app_id, self.state_root,
                                 self.restorer.partition_count, self.restorer.end_offset,
                                 self.config["acceptable.recovery.lag"])

    def _subscribe(self, consumer: Consumer) -> None:
        assert self.task_manager is not None
        consumer.subscribe(sorted(self.task_manager.sub_of_topic), on_assign=self._on_assign,
                           on_revoke=self._on_revoke, on_lost=self._on_lost)

    def _start_offsets(self, consumer: Consumer,
                       partitions: list[TopicPartition]) -> list[TopicPartition]:
        """The partitions to assign, with start offsets where streams decides them
        (:mod:`streams.runtime.start_offsets`)."""
        assert self.task_manager is not None and self.restorer is not None
        overrides = reset_overrides(self.topology, self.app_id)
        multi = self.task_manager.multi_input_topics
        if not needs_start_offsets(partitions, overrides, multi):
            return partitions
        if self.assignor is not None:
            # read by the assignor through the admin client: calling the consumer itself
            # inside its rebalance callback breaks confluent-kafka's callback state
            known = self.assignor.committed
            committed = [TopicPartition(tp.topic, tp.partition,
                                        known.get((tp.topic, tp.partition), OFFSET_INVALID))
                         for tp in partitions]
        else:
            committed = retrying(
                f"could not read the committed offsets of group {self.app_id}",
                lambda t: consumer.committed(partitions, timeout=t), self._task_timeout)
        assigned, starts = start_offsets(committed, overrides, multi,
                                         self.config["auto.offset.reset"],
                                         self.restorer.watermarks)
        assert self.task_manager.lags is not None
        self.task_manager.lags.track(starts)
        return assigned

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self.task_manager is not None
        try:
            self._set_state(ThreadState.PARTITIONS_ASSIGNED)
            if self.assignor is not None:
                wanted = self.assignor.assign(consumer, partitions)
                if self.warmups is not None:
                    self.warmups.assigned(self.assignor.warmups, time.monotonic())
                if self._on_placement is not None:
                    self._on_placement(self.assignor.view)
            else:
                wanted = self.task_manager.tasks_for((tp.topic, tp.partition)
                                                     for tp in partitions)
            partitions = self._start_offsets(
                consumer, [TopicPartition(t, p) for tps in wanted.values() for t, p in tps])
            consumer.assign(partitions)
            pause = self.task_manager.assign_tasks(
                wanted, self.assignor.standbys if self.assignor is not None else ())
            if pause:
                consumer.pause([TopicPartition(t, p) for t, p in pause])
            if self.restorer is not None and self.restorer.idle:
                self._set_state(ThreadState.RUNNING)
        except BaseException as exc:
            # exceptions inside librdkafka callbacks are re-raised by consume(); keep the cause
            self.failure = exc
            raise

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self.task_manager is not None
        try:
            self._set_state(ThreadState.PARTITIONS_REVOKED)
            if self._failed:  # called from consumer.close() after a failure: commit nothing
                self.task_manager.close_all(clean=False)
            else:
                try:
                    self.task_manager.suspend_all(self._commit)
                except TaskMigratedError as exc:
                    log.warning("%s: %s; its tasks are closed without committing",
                                self.name, exc)
                    self._close_dirty_and_abort()
            consumer.unassign()
        except BaseException as exc:
            self.failure = exc
            raise

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self.task_manager is not None
        log.warning("%s lost its partitions (e.g. a session timeout); closing tasks without "
                    "committing", self.name)
        try:
            self._set_state(ThreadState.PARTITIONS_REVOKED)
            self._close_dirty_and_abort()
            consumer.unassign()
        except BaseException as exc:
            self.failure = exc
            raise

    def _close_dirty_and_abort(self) -> None:
        """Close every task without committing; under exactly-once abort the open
        transaction first (its writes belong to the closed tasks), or replace a producer that
        cannot abort: the tasks are closed dirty anyway, so nothing of the old transaction
        survives."""
        assert self.task_manager is not None
        if self.streams_producer is not None:
            self.streams_producer.abort()
        self.task_manager.close_all(clean=False)

    def _rejoin(self) -> None:
        """Leave and join the group again, which starts a rebalance (the thread holds no
        task: the last assignment gave it none)."""
        assert self.consumer is not None and self.task_manager is not None
        self.consumer.unsubscribe()
        self._subscribe(self.consumer)

    def _handle_task_migrated(self, exc: TaskMigratedError) -> None:
        """Kafka Streams' answer to a migrated task: close every task dirty and rejoin the
        group, which assigns partitions afresh; the tasks then start again from the last
        committed offsets (and, under exactly-once, from state wiped and restored)."""
        assert self.consumer is not None and self.task_manager is not None
        self.migrations += 1
        log.warning("%s: %s; closing its tasks without committing and rejoining the group",
                    self.name, exc)
        self._set_state(ThreadState.PARTITIONS_REVOKED)
        self._close_dirty_and_abort()
        self._rejoin()

    def _report_warmups(self, now: float) -> None:
        """When warm-ups have caught up (:meth:`WarmupWatch.due`), replace the main consumer
        with one whose client id reports them: the new member joins first and the old one
        leaves after, so the group rebalances once, with this thread in it all along, and
        the placement moves the caught-up tasks here (a probing rebalance)."""
        assert self.warmups is not None and self.task_manager is not None
        assert self.consumer is not None
        tm = self.task_manager
        updater = tm.standby_updater
        assert updater is not None
        ready = self.warmups.due(list(tm.standbys), lambda t: updater.lag(tm.standbys[t]), now)
        if ready is None:
            return
        log.info("%s: warm-ups %s caught up (within acceptable.recovery.lag=%d); rejoining "
                 "the group so that they move here", self.name,
                 ", ".join(str(t) for t in sorted(self.warmups.warmups & ready)),
                 self.warmups.acceptable_lag)
        if tm.running:
            try:
                self._commit()  # before the rebalance the new member starts
            except TaskMigratedError as exc:
                self._handle_task_migrated(exc)
                return
        ready = ready | self._ready_here()
        old, new = self.consumer, self._main_consumer(ready)
        self._subscribe(new)
        joined_by = time.monotonic() + 10.0
        while not new.memberid() and time.monotonic() < joined_by:
            time.sleep(0.02)  # the old member leaves once the new one is in the group
        old.close()  # its revocation commits through self.consumer, still the old one
        self.consumer = new
        assert tm.lags is not None
        tm.lags.use(new)
        self.warmups.reported = ready

