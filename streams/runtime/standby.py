"""Standby tasks: copies of other instances' stores, kept up to date from their changelogs.

A standby task opens the task's stores in this instance's state directory and applies every
record written to their changelog partitions, continuously, with a consumer of its own (so
active restoration, on the restore consumer, never waits for it). It never processes input.
When the placement later makes this instance the task's owner, the standby is closed with a
checkpoint of how far it got, and the active task restores only the tail after it.

Standbys read only committed data under exactly-once (``read_committed``), so unlike an
active task's state their local state may be checkpointed at any time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from streams.errors import StateStoreError
from streams.runtime.restore import changelog_batches
from streams.runtime.retries import TransientErrorLog

log = logging.getLogger(__name__)


class StandbyUpdateListener(Protocol):
    """Hook for standby progress (Kafka Streams' ``StandbyUpdateListener``)."""

    def on_update_start(self, topic: str, partition: int, store: str, start_offset: int) -> None:
        """A standby of ``store`` starts reading its changelog partition at ``start_offset``."""
        ...

    def on_batch_loaded(self, topic: str, partition: int, store: str, task_id: str,
                        batch_end_offset: int, batch_size: int) -> None:
        """``batch_size`` records up to ``batch_end_offset`` were applied to the standby."""
        ...

    def on_update_suspended(self, topic: str, partition: int, store: str, store_offset: int,
                            reason: str) -> None:
        """The standby stopped: ``reason`` is ``PROMOTED`` (it becomes active here) or
        ``MIGRATED`` (this instance no longer keeps it)."""
        ...


@dataclass
class _Replica:
    topic: str
    partition: int
    store: str
    apply: Callable[[list[tuple[bytes, bytes | None]]], None]
    task: Any
    #: next offset to read (-1: from the beginning)
    position: int


class StandbyUpdater:
    """Keeps one thread's standby stores up to date; call :meth:`update` from its loop."""

    def __init__(self, consumer_factory: Callable[[], Any], batch_size: int, thread_name: str,
                 listener: StandbyUpdateListener | None = None) -> None:
        #: the consumer is made at the first standby: a thread that never keeps one (no
        #: standbys configured, no warm-up given) costs no client
        self._factory = consumer_factory
        self._consumer: Any = None
        self._batch = batch_size
        self._name = thread_name
        self._listener = listener
        self._replicas: dict[tuple[str, int], _Replica] = {}
        self._transient = TransientErrorLog(log, f"{thread_name} standby consumer")
        #: records applied to standbys, per changelog partition (not restoration)
        self.updated_records: dict[tuple[str, int], int] = {}

    @property
    def idle(self) -> bool:
        """True when this thread keeps no standby."""
        return not self._replicas

    def add(self, task: Any, store: str, topic: str, partition: int, start: int | None,
            apply: Callable[[list[tuple[bytes, bytes | None]]], None]) -> None:
        """Keep ``store`` of ``task`` up to date from ``topic``-``partition``, from offset
        ``start`` (None: the beginning)."""
        self._replicas[(topic, partition)] = _Replica(topic, partition, store, apply, task,
                                                     -1 if start is None else int(start))
        if self._listener is not None:
            self._listener.on_update_start(topic, partition, store, -1 if start is None else start)
        self._reassign()

    def positions(self, task: Any) -> dict[tuple[str, int], int]:
        """How far each of ``task``'s changelogs is reflected in its standby stores (only
        partitions read at least once)."""
        return {tp: r.position for tp, r in self._replicas.items()
                if r.task is task and r.position >= 0}

    def remove_task(self, task: Any, reason: str) -> None:
        """Stop updating ``task``'s stores (``reason`` as in the listener)."""
        gone = [tp for tp, r in self._replicas.items() if r.task is task]
        for tp in gone:
            r = self._replicas.pop(tp)
            if self._listener is not None:
                self._listener.on_update_suspended(tp[0], tp[1], r.store, r.position, reason)
        if gone:
            self._reassign()

    def lag(self, task: Any) -> int | None:
        """Changelog records ``task``'s standby stores trail by, summed over its partitions,
        from the ends the last fetches saw; None until every partition was fetched once."""
        if self._consumer is None:
            return None
        total = 0
        found = False
        for (topic, partition), r in self._replicas.items():
            if r.task is not task:
                continue
            found = True
            marks = self._consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                         cached=True)
            if not marks or marks[1] < 0 or r.position < 0:
                return None
            total += max(marks[1] - r.position, 0)
        return total if found else None

    def _reassign(self) -> None:
        if self._consumer is None:
            if not self._replicas:
                return
            self._consumer = self._factory()
        self._consumer.assign([
            TopicPartition(r.topic, r.partition, r.position if r.position >= 0 else OFFSET_BEGINNING)
            for r in self._replicas.values()])

    def update(self, timeout: float) -> int:
        """Read one batch of changelog records and apply it; returns how many."""
        if not self._replicas:
            return 0
        msgs = self._consumer.consume(num_messages=self._batch, timeout=timeout)
        replicas = self._replicas
        batches, last = changelog_batches(msgs, lambda tp, _offset: tp in replicas,
                                          self._transient, self._name, " for a standby")
        total = 0
        for tp, batch in batches.items():
            r = self._replicas[tp]
            try:
                r.apply(batch)
            except Exception as exc:
                raise StateStoreError(
                    f"{self._name}: updating standby store {r.store!r} of task {r.task.name} "
                    f"from {tp[0]}-{tp[1]} failed near offset {last[tp]}: {exc}") from exc
            r.position = last[tp] + 1
            total += len(batch)
            self.updated_records[tp] = self.updated_records.get(tp, 0) + len(batch)
            if self._listener is not None:
                self._listener.on_batch_loaded(tp[0], tp[1], r.store, r.task.name, last[tp],
                                               len(batch))
        if not msgs:
            self._catch_up_positions()
        return total

    def _catch_up_positions(self) -> None:
        """Compaction and transaction markers leave gaps the records do not show: take the
        consumer's position when it is ahead (so a checkpoint covers them)."""
        started = time.monotonic()
        positions = self._consumer.position(
            [TopicPartition(r.topic, r.partition) for r in self._replicas.values()])
        for tpo in positions:
            r = self._replicas.get((tpo.topic, tpo.partition))
            if r is not None and tpo.offset >= 0:
                r.position = max(r.position, tpo.offset)
        if time.monotonic() - started > 1.0:
            log.debug("%s: reading standby positions took %.1fs", self._name,
                      time.monotonic() - started)

    def close(self) -> None:
        """Close the standby consumer."""
        if self._consumer is not None:
            self._consumer.close()
