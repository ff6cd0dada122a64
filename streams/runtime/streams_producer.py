"""A stream thread's producer and, under exactly-once, its transactions (Kafka Streams'
``StreamsProducer``).

Under exactly-once the producer is transactional (``transactional.id`` per thread) and a
transaction is always open: :meth:`StreamsProducer.commit` adds the input offsets to it,
commits it and begins the next; :meth:`StreamsProducer.abort` aborts it when the thread's tasks
are closed without committing. What can go wrong, and what is done:

* transient errors are retried (:func:`~streams.runtime.retries.retry_commit_step`); adding
  the offsets only for ``transaction.timeout.ms``, after which the broker aborts the
  transaction anyway;
* librdkafka's ``send_offsets_to_transaction`` can block far past its timeout when the group
  coordinator's broker dies or freezes (see :mod:`streams.runtime.hard_deadline`): the call is
  abandoned after its timeout plus a grace, and the producer is replaced;
* a ``commit_transaction`` that timed out stays in progress inside librdkafka and can only be
  resumed, so it is called again for ``task.timeout.ms``; if it never finishes, the producer
  is replaced rather than aborted;
* a producer that cannot abort (fenced, fatal, a commit still in progress, the coordinator
  away too long) is replaced: the new producer's ``init_transactions`` fences the old one and
  the broker completes or aborts its transaction.

Under at-least-once the producer is a plain idempotent one and this class only creates it.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaException, Producer, TopicPartition

from streams.errors import KafkaUnavailableError
from streams.runtime.client_supplier import ClientSupplier
from streams.runtime.hard_deadline import CallStuckError, HardDeadline
from streams.runtime.record_collector import KafkaRecordCollector
from streams.runtime.retries import (
    TaskMigratedError,
    kafka_error,
    retry_commit_step,
    retrying_action,
)

log = logging.getLogger(__name__)

#: how much longer than its own timeout send_offsets_to_transaction is waited for
SEND_OFFSETS_GRACE_S = 5.0


class StreamsProducer:
    """The producer of thread ``name``; see the module docstring."""

    def __init__(self, name: str, config: dict[str, Any], supplier: ClientSupplier, *,
                 eos: bool, task_timeout: float, commit_timeout: float,
                 producer: Producer | None = None) -> None:
        """``producer``: use this one (transactions already begun) instead of making one."""
        self.name = name
        self.eos = eos
        self._config = config
        self._supplier = supplier
        self._task_timeout = task_timeout
        #: how long adding offsets, and aborting, ride out transient errors under EOS
        self.commit_timeout = commit_timeout
        self._deadline = HardDeadline(name)
        #: set when a call was abandoned or a commit gave up while still in progress: the
        #: producer must be replaced, not used (not even to abort)
        self.stuck = False
        #: the collector sending through this producer, told when it is replaced
        self.collector: KafkaRecordCollector | None = None
        self.producer: Producer = producer if producer is not None else self._new()

    def _new(self) -> Producer:
        """A producer with the thread's config; under exactly-once with its transactions
        initialized (fencing any earlier producer of the same transactional id) and one
        begun."""
        producer = self._supplier.get_producer(self._config)
        if self.eos:
            retrying_action(f"{self.name}: could not initialize transactions",
                            producer.init_transactions, self._task_timeout)
            producer.begin_transaction()
        return producer

    def replace(self) -> None:
        """Swap in a new producer. The old one's queued records belong to a void transaction,
        so their delivery failures are discarded."""
        if self.collector is not None:
            self.collector.discard_errors()
        self.producer = self._new()
        if self.collector is not None:
            self.collector.replace_producer(self.producer)
        self.stuck = False

    # ------------------------------------------------------------------ exactly-once
    def commit(self, offsets: list[TopicPartition], group_metadata: object) -> None:
        """Add ``offsets`` to the transaction, commit it (which writes everything produced
        since the last commit), begin the next one. Raises :class:`TaskMigratedError` when the
        transaction cannot be committed and the thread's tasks must start again."""
        producer = self.producer
        if offsets:
            retry_commit_step(self.name, "could not add the offsets to the transaction",
                              lambda t: self._send_offsets(producer, offsets, group_metadata, t),
                              self.commit_timeout, eos=True)
        try:
            # resumed for as long as other client calls ride out transient errors: once the
            # coordinator has the commit request, the transaction timeout no longer applies
            retry_commit_step(self.name, "could not commit the transaction",
                              lambda t: producer.commit_transaction(t), self._task_timeout,
                              eos=True)
        except TaskMigratedError as exc:
            if isinstance(exc.__cause__, KafkaUnavailableError):
                # out of time with the commit still in progress in librdkafka: it can be
                # neither aborted nor used
                self.stuck = True
            raise
        producer.begin_transaction()

    def _send_offsets(self, producer: Producer, offsets: list[TopicPartition],
                      group_metadata: object, timeout: float) -> None:
        """``send_offsets_to_transaction`` with its timeout enforced here."""
        try:
            self._deadline.call(
                lambda: producer.send_offsets_to_transaction(offsets, group_metadata, timeout),
                timeout + SEND_OFFSETS_GRACE_S)
        except CallStuckError as exc:
            self.stuck = True
            raise TaskMigratedError(
                f"{self.name}: could not add the offsets to the transaction: "
                f"send_offsets_to_transaction gave {exc}, though given {timeout:.0f} s "
                "(librdkafka #5456); abandoning the producer") from exc

    def abort(self) -> None:
        """Abort the open transaction and begin the next, or replace the producer when it
        cannot abort (see the module docstring)."""
        if not self.eos:
            return
        if self.stuck:
            log.warning("%s: replacing the producer stuck in a transaction call", self.name)
            self.replace()
            return
        producer = self.producer
        try:
            # best effort, briefly: a new producer's init_transactions aborts it too
            retrying_action(f"{self.name}: could not abort the transaction",
                            producer.abort_transaction, self.commit_timeout)
            # the aborted records' delivery failures (timed out, purged) are void
            producer.poll(0)
            if self.collector is not None:
                self.collector.discard_errors()
            producer.begin_transaction()
        except (KafkaUnavailableError, KafkaException) as exc:
            cause = exc.__cause__ if isinstance(exc, KafkaUnavailableError) else exc
            err = kafka_error(cause) if cause is not None else None
            if err is None:
                raise
            # a fatal producer raises from every call, poll() included: dropped unpolled
            log.warning("%s: the producer cannot abort (%s); replacing it", self.name, err)
            self.replace()

    def close(self) -> None:
        """Let the helper thread of abandoned calls end."""
        self._deadline.close()
