"""A stream thread: one consumer in the application's group, one producer, its tasks.

Loop: consume a batch -> buffer per task -> restore a batch (if any task is restoring) ->
process -> punctuate -> commit when ``commit.interval.ms`` has passed or a processor asked.
Rebalance callbacks run inside ``consume`` on this same thread, so tasks are never touched
concurrently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import (
    Consumer,
    Producer,
    TopicPartition,
)

from streams.config import EXACTLY_ONCE_V2, StreamsConfig
from streams.engine.commit import commit_tasks
from streams.engine.task import TaskId
from streams.runtime.assignor import StreamsAssignor
from streams.runtime.client_configs import (
    producer_config,
    restore_consumer_config,
    thread_admin_config,
)
from streams.runtime.client_supplier import ClientSupplier, KafkaClientSupplier
from streams.runtime.group_members import topology_fingerprint
from streams.runtime.lags import FetchedLags
from streams.runtime.placement import ThreadKey
from streams.runtime.record_collector import KafkaRecordCollector
from streams.runtime.restore import ChangelogRestorer, StateRestoreListener
from streams.runtime.retries import TaskMigratedError, retry_commit_step
from streams.runtime.standby import StandbyUpdateListener, StandbyUpdater
from streams.runtime.streams_metadata import GroupView
from streams.runtime.streams_producer import StreamsProducer
from streams.runtime.task_manager import TaskManager
from streams.runtime.task_ownership import TaskOwnership
from streams.runtime.thread_membership import GroupMembership
from streams.runtime.thread_metrics import ThreadMetrics
from streams.runtime.thread_state import ThreadState
from streams.runtime.warmups import WarmupWatch
from streams.topology.topology import Topology

log = logging.getLogger(__name__)


_REBALANCING = (ThreadState.STARTING, ThreadState.PARTITIONS_REVOKED,
                ThreadState.PARTITIONS_ASSIGNED)

__all__ = ["StreamThread", "TaskMigratedError", "ThreadState"]


class StreamThread(GroupMembership, threading.Thread):
    """Runs part of the topology's tasks; see the module docstring."""

    def __init__(
        self,
        index: int,
        topology: Topology,
        config: StreamsConfig,
        state_root: Path,
        client_id: str,
        *,
        on_state: Callable[[StreamThread, ThreadState], None],
        on_error: Callable[[StreamThread, BaseException], None],
        restore_listener: StateRestoreListener | None = None,
        global_stores: dict[str, Any] | None = None,
        client_supplier: ClientSupplier | None = None,
        process_id: str = "",
        standby_listener: StandbyUpdateListener | None = None,
        on_placement: Callable[[GroupView | None], None] | None = None,
        ownership: TaskOwnership | None = None,
    ) -> None:
        super().__init__(name=f"{client_id}-StreamThread-{index}", daemon=True)
        #: the instance's process id (the placement's name for it)
        self.process_id = process_id or client_id
        self._on_placement = on_placement
        self._standby_listener = standby_listener
        self._ownership = ownership
        #: computes this thread's tasks from the group (None: task.assignor=range)
        self.assignor: StreamsAssignor | None = None
        #: this thread's warm-up replicas (None: task.assignor=range)
        self.warmups: WarmupWatch | None = None
        self._fingerprint = ""
        self.index = index
        self.topology = topology
        self.config = config
        self.state_root = state_root
        self.client_id = client_id
        self._on_state = on_state
        self._on_error = on_error
        self._restore_listener = restore_listener
        self._global_stores = global_stores or {}
        self._supplier: ClientSupplier = client_supplier or KafkaClientSupplier()
        self.app_id: str = config["application.id"]
        self.eos = config["processing.guarantee"] == EXACTLY_ONCE_V2
        self.thread_state = ThreadState.CREATED
        self._stop_requested = threading.Event()
        self.task_manager: TaskManager | None = None
        self.restorer: ChangelogRestorer | None = None
        self.consumer: Consumer | None = None
        #: the thread's producer and its transactions
        self.streams_producer: StreamsProducer | None = None
        self.failure: BaseException | None = None
        #: set once the thread failed: rebalance callbacks during the close must not commit
        self._failed = False
        #: how long client calls ride out transient errors before the thread fails
        self._task_timeout: float = config["task.timeout.ms"] / 1000.0
        #: monotonic time the loop last came round; the stall watchdog reads it
        self.last_loop: float = time.monotonic()
        #: monotonic time the thread entered a rebalance, None outside one (for the watchdog)
        self.rebalancing_since: float | None = None
        #: processed, committed, polled and how long it took (streams.serving.prometheus)
        self.metrics = ThreadMetrics()
        #: times the thread's tasks were closed dirty and taken up again after a migration
        self.migrations = 0

    @property
    def processed(self) -> int:
        """Records this thread has processed."""
        return self.metrics.processed

    @property
    def commits(self) -> int:
        """Commits this thread has made."""
        return self.metrics.commits

    @property
    def last_restored(self) -> float:
        """Monotonic time this thread last restored changelog records (0.0: never); a
        long restoration that progresses is not a stall."""
        return self.restorer.last_progress if self.restorer is not None else 0.0

    # ------------------------------------------------------------------ lifecycle
    def _set_state(self, state: ThreadState) -> None:
        if state in _REBALANCING:
            if self.rebalancing_since is None:
                self.rebalancing_since = time.monotonic()
        else:
            self.rebalancing_since = None
        old, self.thread_state = self.thread_state, state
        if old != state:
            self._on_state(self, state)

    def shutdown(self) -> None:
        """Ask the thread to commit, close its tasks and leave the group."""
        self._stop_requested.set()

    def run(self) -> None:
        """Thread body: set up clients, loop until asked to stop, then close cleanly.

        A failure anywhere (including rebalance callbacks and restoration) closes the tasks
        without committing, then reports to the client's uncaught-exception handling *before*
        the Kafka clients are closed: closing a consumer talks to the group coordinator and
        may take long while brokers are away, and the failure must not wait for that.
        """
        try:
            self._set_state(ThreadState.STARTING)
            self._setup()
            self._loop()
            self._set_state(ThreadState.PENDING_SHUTDOWN)
            self._close_tasks(clean=True)
        except BaseException as exc:
            self.failure = self.failure or exc
            self._failed = True
            log.error("%s failed: %s", self.name, exc, exc_info=exc)
            self._close_tasks(clean=False)
            try:
                self._on_error(self, exc)
            finally:
                self._close_clients()
                self._set_state(ThreadState.DEAD)
            return
        self._close_clients()
        self._set_state(ThreadState.DEAD)

    def _setup(self) -> None:
        pcfg = producer_config(self.config, self.name,
                               f"{self.app_id}-{self.client_id}-{self.index}")
        # adding offsets to a transaction for longer than its timeout is pointless: the broker
        # aborts it after that, so the thread aborts and rejoins instead
        commit_timeout = (min(self._task_timeout, int(pcfg["transaction.timeout.ms"]) / 1000.0)
                          if self.eos else self._task_timeout)
        collector_box: list[KafkaRecordCollector] = []
        pcfg["on_delivery"] = lambda err, msg: collector_box[0].on_delivery(err, msg)
        self.streams_producer = StreamsProducer(
            self.name, pcfg, self._supplier, eos=self.eos, task_timeout=self._task_timeout,
            commit_timeout=commit_timeout)
        collector = KafkaRecordCollector(self.streams_producer.producer, self.name)
        self.streams_producer.collector = collector
        collector_box.append(collector)
        rcfg = restore_consumer_config(self.config, self.name)
        restore_consumer = self._supplier.get_restore_consumer(rcfg)
        uncommitted = None
        if self.eos:
            # high watermarks past open transactions, never used to read records
            uncommitted = self._supplier.get_restore_consumer({**rcfg, "isolation.level": "read_uncommitted",
                                    "client.id": f"{self.name}-restore-watermarks"})
        self.restorer = ChangelogRestorer(restore_consumer, self.config["restore.batch.size"],
                                          self._restore_listener, self.name,
                                          timeout=self._task_timeout, uncommitted=uncommitted)
        placing = self.config["task.assignor"] == "streams"
        self._fingerprint = (topology_fingerprint(str(self.topology.describe()))
                             if placing else "")
        lags = FetchedLags(None)
        self.task_manager = TaskManager(self.topology, self.config, collector, self.restorer,
                                        self.state_root, self.name, self._global_stores,
                                        lags=lags, ownership=self._ownership)
        ready: set[TaskId] = set()
        if placing:
            # a lazy consumer: made at the first standby or warm-up
            self.task_manager.standby_updater = StandbyUpdater(
                lambda: self._supplier.get_restore_consumer(
                    {**rcfg, "client.id": f"{self.name}-standby-consumer"}),
                self.config["restore.batch.size"], self.name, self._standby_listener)
            self.assignor = StreamsAssignor(
                self.name, self.app_id, ThreadKey(self.process_id, self.index),
                lambda: self._supplier.get_admin(thread_admin_config(self.config, self.name)),
                self.task_manager, self.config["num.standby.replicas"], self._task_timeout,
                self._fingerprint, self.config["max.warmup.replicas"])
            ready = self._ready_here()
            self.warmups = WarmupWatch(self.config["acceptable.recovery.lag"],
                                       self.config["probing.rebalance.interval.ms"] / 1000.0,
                                       ready)
        self.consumer = self._main_consumer(ready)
        lags.use(self.consumer)
        self._subscribe(self.consumer)
        log.info("%s subscribed to %s", self.name, ", ".join(sorted(self.task_manager.sub_of_topic)))

    @property
    def producer(self) -> Producer | None:
        """The thread's current producer (replaced after a fatal error or a stuck call)."""
        return self.streams_producer.producer if self.streams_producer is not None else None

    # ------------------------------------------------------------------ loop
    def _loop(self) -> None:
        assert self.consumer is not None and self.task_manager is not None
        assert self.restorer is not None
        tm, restorer = self.task_manager, self.restorer
        poll_s = self.config["poll.ms"] / 1000.0
        max_records = self.config["max.poll.records"]
        commit_interval = self.config["commit.interval.ms"] / 1000.0
        last_commit = last_probe = time.monotonic()
        while not self._stop_requested.is_set():
            self.last_loop = time.monotonic()
            consumer = self.consumer  # replaced when warm-ups are reported
            busy = tm.has_buffered() or not restorer.idle
            msgs = consumer.consume(num_messages=max_records, timeout=0 if busy else poll_s)
            self.metrics.polls += 1
            if self.assignor is not None:
                if self.assignor.pending_stamps:
                    self.assignor.record_ownership(consumer)
                if self.assignor.take_rejoin():
                    log.info("%s: rejoining the group for a usable assignment", self.name)
                    self._rejoin()
            if msgs:
                tm.add(msgs)
            if not restorer.idle:
                finished = restorer.restore_some(0.05 if not tm.running else 0)
                if finished:
                    resume = tm.restored(finished)
                    if resume:
                        consumer.resume([TopicPartition(t, p) for t, p in resume])
                if restorer.idle and self.thread_state == ThreadState.PARTITIONS_ASSIGNED:
                    self._set_state(ThreadState.RUNNING)
            if tm.standby_updater is not None and not tm.standby_updater.idle:
                tm.standby_updater.update(0)
            began = time.perf_counter_ns()
            n = tm.process(max_records)
            if n:
                self.metrics.processed_batch(n, time.perf_counter_ns() - began)
            pause, resume = tm.flow_control()
            if pause:
                consumer.pause([TopicPartition(t, p) for t, p in pause])
            if resume:
                consumer.resume([TopicPartition(t, p) for t, p in resume])
            tm.collector.maintain()
            tm.punctuate()
            now = time.monotonic()
            if now - last_probe >= 1.0:
                last_probe = now
                self.metrics.records_lag_max = tm.fetched_lag_max()
                if self.warmups is not None and self.warmups.warmups:
                    self._report_warmups(now)
            # commit on the interval even without new input: punctuators may have written
            if (now - last_commit >= commit_interval and tm.running) or tm.commit_requested():
                try:
                    self._commit()
                except TaskMigratedError as exc:
                    self._handle_task_migrated(exc)
                last_commit = now

    def _commit(self) -> None:
        """Flush stores and producer, commit offsets (in the transaction under EOS), checkpoint.

        Transient errors are retried for ``task.timeout.ms``; a commit the group refuses, or a
        transaction that must be aborted, raises :class:`TaskMigratedError`.
        """
        assert self.task_manager is not None and self.consumer is not None
        tm = self.task_manager
        began = time.perf_counter_ns()
        if self.eos:
            # the transaction's commit writes the output, then the offsets with it
            # (checkpoints: standbys' only, active state is checkpointed on a clean close)
            commit_tasks(tm.running.values(), commit_offsets=self._commit_transaction,
                         write_checkpoints=tm.write_checkpoints)
        else:
            commit_tasks(tm.running.values(), write_output=tm.collector.flush,
                         commit_offsets=self._commit_offsets,
                         write_checkpoints=tm.write_checkpoints)
        self.metrics.committed(time.perf_counter_ns() - began)

    def _offsets(self, offsets: dict[tuple[str, int], int]) -> list[TopicPartition]:
        """Offsets to commit, each with its task's recent owners as metadata (the placement
        reads them back at the next rebalance)."""
        if self.assignor is None:
            return [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        meta = self.assignor.commit_metadata
        # confluent-kafka takes no None metadata; partitions of a task placed before the
        # last rebalance always have some
        return [TopicPartition(t, p, o, metadata=meta[(t, p)]) if (t, p) in meta
                else TopicPartition(t, p, o) for (t, p), o in offsets.items()]

    def _commit_offsets(self, offsets: dict[tuple[str, int], int]) -> None:
        """At-least-once: commit the input offsets to the group."""
        assert self.consumer is not None
        consumer = self.consumer
        tps = self._offsets(offsets)
        if tps:
            retry_commit_step(self.name, "could not commit offsets",
                              lambda t: consumer.commit(offsets=tps, asynchronous=False),
                              self._task_timeout, eos=False)

    def _commit_transaction(self, offsets: dict[tuple[str, int], int]) -> None:
        """Exactly-once: the offsets go into the transaction, which is committed."""
        assert self.consumer is not None and self.streams_producer is not None
        tps = self._offsets(offsets)
        self.streams_producer.commit(tps, self.consumer.consumer_group_metadata() if tps
                                     else None)

    def _close_tasks(self, clean: bool) -> None:
        """Close the tasks: clean ones commit and write checkpoints first. A clean close that
        fails falls back to a dirty one and fails the thread, unless the group had moved on
        (the tasks already belong to others: nothing is lost, their new owners go on from
        the last commit, as after any migration)."""
        tm = self.task_manager
        if tm is None:
            return
        try:
            if clean:
                tm.revoke_all(self._commit)
            else:
                self._close_dirty_and_abort()
        except TaskMigratedError as exc:
            log.warning("%s: %s while shutting down; closing its tasks without committing",
                        self.name, exc)
            self._close_dirty_and_abort()
        except BaseException as exc:
            log.error("%s: closing tasks failed: %s", self.name, exc)
            if clean:
                self.failure = self.failure or exc
            try:
                tm.close_all(clean=False)
            except BaseException as close_exc:
                log.error("%s: closing tasks without committing failed too: %s", self.name,
                          close_exc)
            if clean:
                raise

    def _close_clients(self) -> None:
        """Close the Kafka clients; the consumer leaves the group, so the others rebalance at
        once. Errors are logged: the thread is ending either way."""
        if self.consumer is not None:
            try:
                self.consumer.close()
            except Exception as exc:
                log.warning("%s: closing the consumer failed: %s", self.name, exc)
        if self.restorer is not None:
            try:
                self.restorer.close()
            except Exception as exc:
                log.warning("%s: closing the restore consumer failed: %s", self.name, exc)
        updater = self.task_manager.standby_updater if self.task_manager is not None else None
        if updater is not None:
            try:
                updater.close()
            except Exception as exc:
                log.warning("%s: closing the standby consumer failed: %s", self.name, exc)
        tm = self.task_manager
        if tm is not None and self.streams_producer is not None and not self.eos:
            tm.collector.close()
        if self.streams_producer is not None:
            self.streams_producer.close()

