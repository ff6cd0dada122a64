"""Restoring stores from their changelog topics, with a separate consumer per thread.

A task's stores are restored before it processes anything: each logged store's changelog
partition is read from the checkpointed offset (or the beginning) up to the end offset seen
when restoration started, in large batches written to the store in one go.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from streams.errors import StateStoreError
from streams.runtime.offsets import watermarks
from streams.runtime.retries import TransientErrorLog, is_transient

log = logging.getLogger(__name__)


class StateRestoreListener(Protocol):
    """Hook for restore progress (Kafka Streams' StateRestoreListener)."""

    def on_restore_start(self, topic: str, partition: int, store: str, start: int, end: int) -> None:
        """Restoration of one store partition begins: offsets ``start`` (inclusive) to ``end``."""
        ...

    def on_batch_restored(self, topic: str, partition: int, store: str, batch_end_offset: int,
                          num_restored: int) -> None:
        """A batch of ``num_restored`` records was written to the store."""
        ...

    def on_restore_end(self, topic: str, partition: int, store: str, total_restored: int) -> None:
        """The store partition caught up."""
        ...


@dataclass
class _Changelog:
    topic: str
    partition: int
    store: str
    restore: Callable[[list[tuple[bytes, bytes | None]]], None]
    start: int
    end: int
    task: Any
    restored: int = 0
    started_at: float = field(default_factory=time.monotonic)
    last_log: float = field(default_factory=time.monotonic)
    position: int = -1

    @property
    def done(self) -> bool:
        return self.position >= self.end


Batch = list[tuple[bytes, bytes | None]]


@dataclass(frozen=True)
class RestoreProgress:
    """One store's restoration under way: done so far, left, and for how long it has run."""

    task: str
    store: str
    topic: str
    partition: int
    restored: int
    remaining: int
    seconds: float

    @property
    def rate(self) -> float:
        """Records restored per second so far."""
        return self.restored / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far (None before any record was restored)."""
        return self.remaining / self.rate if self.rate > 0 else None


def changelog_batches(msgs: list[Any], wanted: Callable[[tuple[str, int], int], bool],
                      transient: TransientErrorLog, thread_name: str, purpose: str
                      ) -> tuple[dict[tuple[str, int], Batch], dict[tuple[str, int], int]]:
    """Changelog records read in one ``consume()``, as (key, value) batches per partition
    with the offset of each batch's last record; only records ``wanted(tp, offset)``.
    Transient errors are logged and skipped; others raise, naming the partition."""
    batches: dict[tuple[str, int], Batch] = {}
    last: dict[tuple[str, int], int] = {}
    for msg in msgs:
        err = msg.error()
        if err is not None:
            if err.code() == err._PARTITION_EOF:
                continue
            if is_transient(err):  # a broker away for a moment: librdkafka carries on
                transient.seen(err, msg.topic(), msg.partition())
                continue
            raise StateStoreError(f"{thread_name}: reading changelog {msg.topic()}-"
                                  f"{msg.partition()}{purpose} failed: {err}")
        tp = (msg.topic(), msg.partition())
        if wanted(tp, msg.offset()):
            batches.setdefault(tp, []).append((msg.key(), msg.value()))
            last[tp] = msg.offset()
    return batches, last


class ChangelogRestorer:
    """Drives restoration for one stream thread; call :meth:`restore_some` from its loop."""

    def __init__(self, consumer: Consumer, batch_size: int, listener: StateRestoreListener | None,
                 thread_name: str, timeout: float = 30.0,
                 uncommitted: Consumer | None = None) -> None:
        self._consumer = consumer
        #: under exactly-once, a ``read_uncommitted`` consumer for high watermarks: see
        #: :meth:`_committed_end`
        self._uncommitted = uncommitted
        #: how long offset look-ups ride out transient errors (``task.timeout.ms``)
        self._timeout = timeout
        self._transient = TransientErrorLog(log, f"{thread_name} restore consumer")
        self._batch = batch_size
        self._listener = listener
        self._name = thread_name
        self._active: dict[tuple[str, int], _Changelog] = {}
        #: total records restored, per (topic, partition); read by tests and metrics
        self.restored_records: dict[tuple[str, int], int] = {}
        #: monotonic time records were last restored (0.0: never); the stall watchdog reads it
        self.last_progress = 0.0

    @property
    def idle(self) -> bool:
        """True when nothing is being restored."""
        return not self._active

    def progress(self) -> list[RestoreProgress]:
        """Where each restoration under way stands (safe to call from another thread)."""
        now = time.monotonic()
        return [RestoreProgress(str(cl.task.name), cl.store, cl.topic, cl.partition,
                                cl.restored, max(cl.end - max(cl.position, cl.start), 0),
                                now - cl.started_at)
                for cl in list(self._active.values())]

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        """``(low, high)`` of any partition, read with the restore consumer (safe inside the
        main consumer's rebalance callbacks, unlike the main consumer's own calls)."""
        return watermarks(self._consumer, topic, partition, self._timeout)

    def partition_count(self, topic: str) -> int | None:
        """How many partitions ``topic`` has (None: it does not exist)."""
        metadata = self._consumer.list_topics(topic, timeout=min(self._timeout, 10.0))
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            return None
        return len(found.partitions)

    def end_offset(self, topic: str, partition: int) -> int:
        """The changelog partition's current end: the high watermark, or under exactly-once
        (a ``read_committed`` restore consumer) the end of the committed data, so a crashed
        writer's open transaction is not waited for."""
        return watermarks(self._consumer, topic, partition, self._timeout)[1]

    def add(self, task: Any, store: str, topic: str, partition: int, checkpoint: int | None,
            restore: Callable[[list[tuple[bytes, bytes | None]]], None]) -> bool:
        """Start restoring ``store`` of ``task``; returns False when there is nothing to read."""
        low, high = watermarks(self._consumer, topic, partition, self._timeout)
        if self._uncommitted is not None:
            high = self._committed_end(topic, partition, high)
        start = low if checkpoint is None else max(int(checkpoint), int(low))
        if checkpoint is not None and checkpoint > high:
            log.warning("%s: checkpoint %d of %s-%d is past its end %d; restoring from the start",
                        self._name, checkpoint, topic, partition, high)
            start = low
        if start >= high:
            return False
        cl = _Changelog(topic, partition, store, restore, start, high, task, position=start)
        self._active[(topic, partition)] = cl
        log.info("%s: restoring store %s of task %s from %s-%d, offsets %d..%d (%d records)",
                 self._name, store, task.name, topic, partition, start, high, high - start)
        if self._listener is not None:
            self._listener.on_restore_start(topic, partition, store, start, high)
        self._reassign()
        return True

    def _committed_end(self, topic: str, partition: int, stable: int) -> int:
        """Under exactly-once, wait until no transaction is open on the changelog partition,
        and return its end then.

        A ``read_committed`` consumer's end is the last stable offset: the first offset of the
        oldest open transaction. When a previous owner of the task died with a transaction
        open, a later owner may already have *committed* records past it, which the stable
        end hides until the broker aborts the dead transaction (``transaction.timeout.ms``).
        Restoring only up to it would resume the task from state older than its committed
        input offsets, and counts would go back. Every open transaction on this partition
        belongs to a previous owner (this thread writes to it only once the task runs), so
        waiting for them to end is bounded by their timeout.
        """
        assert self._uncommitted is not None
        deadline = time.monotonic() + self._timeout
        waited = False
        while True:
            high = watermarks(self._uncommitted, topic, partition, self._timeout)[1]
            if stable >= high:
                if waited:
                    log.info("%s: %s-%d has no open transaction any more; restoring up to %d",
                             self._name, topic, partition, stable)
                return stable
            if not waited:
                log.info("%s: %s-%d has an open transaction from offset %d (end %d), left by a "
                         "previous owner; waiting for it to end before restoring", self._name,
                         topic, partition, stable, high)
                waited = True
            if time.monotonic() > deadline:
                raise StateStoreError(
                    f"{self._name}: changelog {topic}-{partition} has had an open transaction "
                    f"from offset {stable} for {self._timeout:.0f} s (task.timeout.ms); its "
                    "producer neither committed nor aborted it")
            time.sleep(0.1)
            stable = watermarks(self._consumer, topic, partition, self._timeout)[1]

    def _reassign(self) -> None:
        self._consumer.assign([
            TopicPartition(cl.topic, cl.partition, cl.position if cl.position >= 0 else OFFSET_BEGINNING)
            for cl in self._active.values()
        ])

    def close(self) -> None:
        """Close the restore consumer."""
        self._consumer.close()
        if self._uncommitted is not None:
            self._uncommitted.close()

    def remove_task(self, task: Any) -> None:
        """Stop restoring a task's stores (it was revoked or closed)."""
        gone = [tp for tp, cl in self._active.items() if cl.task is task]
        for tp in gone:
            del self._active[tp]
        if gone:
            self._reassign()

    def restore_some(self, timeout: float) -> list[Any]:
        """Read one batch; apply it; return the tasks whose restoration just finished."""
        if not self._active:
            return []
        msgs: list[Any] = self._consumer.consume(num_messages=self._batch, timeout=timeout)
        active = self._active

        def wanted(tp: tuple[str, int], offset: int) -> bool:
            cl = active.get(tp)
            return cl is not None and offset < cl.end

        batches, last = changelog_batches(msgs, wanted, self._transient, self._name, "")
        now = time.monotonic()
        if batches:
            self.last_progress = now
        for tp, batch in batches.items():
            cl = self._active[tp]
            try:
                cl.restore(batch)
            except Exception as exc:
                raise StateStoreError(
                    f"{self._name}: restoring store {cl.store!r} of task {cl.task.name} from "
                    f"{tp[0]}-{tp[1]} failed near offset {last[tp]}: {exc}"
                ) from exc
            cl.restored += len(batch)
            cl.position = last[tp] + 1
            if self._listener is not None:
                self._listener.on_batch_restored(tp[0], tp[1], cl.store, last[tp], len(batch))
            if now - cl.last_log >= 5:
                cl.last_log = now
                rate = cl.restored / max(now - cl.started_at, 1e-6)
                log.info("%s: store %s: restored %d / %d records (%.0f records/s)", self._name,
                         cl.store, cl.restored, cl.end - cl.start, rate)
        # compaction and transaction markers leave gaps: trust the consumer's position too
        pending = [cl for cl in self._active.values() if not cl.done]
        if pending and not msgs:
            positions = self._consumer.position(
                [TopicPartition(cl.topic, cl.partition) for cl in pending])
            for tpo in positions:
                if tpo.offset >= 0:
                    cl = self._active[(tpo.topic, tpo.partition)]
                    cl.position = max(cl.position, tpo.offset)
        finished_tasks: list[Any] = []
        done = [tp for tp, cl in self._active.items() if cl.done]
        for tp in done:
            cl = self._active.pop(tp)
            self.restored_records[tp] = self.restored_records.get(tp, 0) + cl.restored
            elapsed = time.monotonic() - cl.started_at
            log.info("%s: store %s of task %s restored: %d records from %s-%d in %.2fs",
                     self._name, cl.store, cl.task.name, cl.restored, tp[0], tp[1], elapsed)
            if self._listener is not None:
                self._listener.on_restore_end(tp[0], tp[1], cl.store, cl.restored)
            if not any(other.task is cl.task for other in self._active.values()):
                finished_tasks.append(cl.task)
        if done:
            self._reassign()
        return finished_tasks
