"""Which client errors go away by themselves, and retrying a client call until they do.

Kafka Streams retries a task's blocked client calls for up to ``task.timeout.ms`` before it
gives up; so does the runtime, through :func:`retrying`. An error is *transient* when
librdkafka flags it retriable or its code is one a broker gives while leadership, group
coordination or metadata settle after a broker fails (not leader, unknown partition, no
coordinator, transport errors, ...). Anything else is fatal and raised at once, naming what
was being done.

A commit refused because the group moved on (the member was fenced out of the group by a
rebalance or a session timeout) is neither: the thread's tasks have migrated. That is told by
:func:`is_task_migrated`, and handled by the stream thread, which closes its tasks dirty and
takes them up again from the last commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

from streams.errors import KafkaUnavailableError, StreamsError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: codes that clear once the cluster settles after a broker dies, freezes or moves leadership
TRANSIENT_CODES: frozenset[int] = frozenset({
    KafkaError._UNKNOWN_PARTITION,  # metadata not yet updated after a reassignment
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._TIMED_OUT,
    KafkaError._WAIT_COORD,
    KafkaError._RESOLVE,
    KafkaError._OUTDATED,
    # librdkafka (2.10+) decommissions a broker that drops out of the metadata (killed, or
    # restarting) and fails requests queued on it with this; asked again, they go to a live one
    KafkaError._DESTROY_BROKER,
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,  # also: a new topic's metadata still propagating
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError.NETWORK_EXCEPTION,
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.FENCED_LEADER_EPOCH,
    KafkaError.UNKNOWN_LEADER_EPOCH,
    KafkaError.OFFSET_NOT_AVAILABLE,
    KafkaError.KAFKA_STORAGE_ERROR,
    KafkaError.NOT_ENOUGH_REPLICAS,
    KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    KafkaError.UNSTABLE_OFFSET_COMMIT,
    KafkaError.CONCURRENT_TRANSACTIONS,
})

#: codes of a commit refused because this member no longer holds its partitions
TASK_MIGRATED_CODES: frozenset[int] = frozenset({
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.FENCED_INSTANCE_ID,
    KafkaError.STALE_MEMBER_EPOCH,
    KafkaError.FENCED_MEMBER_EPOCH,
    KafkaError._ASSIGNMENT_LOST,
    KafkaError._MAX_POLL_EXCEEDED,
})


class TaskMigratedError(StreamsError):
    """A commit was refused because the group has moved this thread's partitions on (a
    rebalance or a session timeout fenced it out), or a transaction had to be aborted: the
    tasks' uncommitted work is void (Kafka Streams' TaskMigratedException)."""


def kafka_error(exc: BaseException) -> KafkaError | None:
    """The :class:`KafkaError` a confluent-kafka exception carries, if any."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def is_transient(err: KafkaError) -> bool:
    """True for errors worth retrying: they clear once the cluster settles."""
    if err.fatal():
        return False
    return bool(err.retriable()) or err.code() in TRANSIENT_CODES


def is_task_migrated(err: KafkaError) -> bool:
    """True when a commit failed because the group moved this member's partitions on."""
    return err.code() in TASK_MIGRATED_CODES


def retrying(what: str, call: Callable[[float], T | None], timeout: float, *,
             max_attempt: float = 10.0, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep,
             on_retry: Callable[[], object] | None = None) -> T:
    """``call(attempt_timeout)`` until it returns, retrying transient Kafka errors with
    back-off for up to ``timeout`` seconds.

    ``call`` receives how long one attempt may block (at most ``max_attempt`` seconds, so one
    hung request does not use the whole budget) and may return None to mean "no answer yet",
    which is retried too. ``on_retry`` runs before each retry (to refresh metadata, say); what
    it raises is logged, not raised. A fatal error raises :class:`KafkaUnavailableError` at once, and so
    does running out of time; both messages start with ``what``, phrased as what could not be
    done ("could not read the offsets of t-3"), and the last error is chained.
    """
    started = clock()
    deadline = started + timeout
    delay = 0.05
    warned = False
    last: str = "no answer"
    cause: BaseException | None = None
    while True:
        left = deadline - clock()
        try:
            result = call(max(min(left, max_attempt), 0.1))
            if result is not None:
                return result
            last, cause = "no answer", None
        except KafkaException as exc:
            err = kafka_error(exc)
            if err is None or not is_transient(err):
                raise KafkaUnavailableError(f"{what}: {exc}") from exc
            last, cause = str(err), exc
        if clock() + delay > deadline:
            raise KafkaUnavailableError(
                f"{what} within {timeout:.0f} s (last error: {last}); transient errors are "
                "retried for task.timeout.ms") from cause
        if not warned and clock() - started > 5.0:  # long enough to explain a pause
            warned = True
            log.warning("%s yet: transient errors for %.0f s, retrying for up to %.0f s "
                        "(last error: %s)", what, clock() - started, timeout, last)
        log.debug("%s: transient error, retrying in %.2fs: %s", what, delay, last)
        sleep(delay)
        if on_retry is not None:
            try:
                on_retry()
            except Exception as exc:
                log.debug("%s: refresh before retrying failed: %s", what, exc)
        delay = min(delay * 2, 1.0)


class TransientErrorLog:
    """Logs transient errors that a consumer reports as events (a broker went away, a
    leader moved) without flooding: the first of each kind at once, then one line with a
    count at most every ``interval`` seconds. librdkafka recovers from these by itself; the
    lines say why progress paused."""

    def __init__(self, logger: logging.Logger, who: str, interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log = logger
        self._who = who
        self._interval = interval
        self._clock = clock
        #: error code -> (time of the last line, errors since then)
        self._last: dict[int, tuple[float, int]] = {}

    def seen(self, err: KafkaError, topic: str | None, partition: int | None) -> None:
        """Record one transient error event."""
        now = self._clock()
        code = err.code()
        at, count = self._last.get(code, (None, 0))
        if at is not None and now - at < self._interval:
            self._last[code] = (at, count + 1)
            return
        self._last[code] = (now, 0)
        where = f" on {topic}-{partition}" if topic else ""
        more = f" ({count} more since the last report)" if count else ""
        self._log.warning("%s: transient error%s, retrying: %s%s", self._who, where, err, more)


def retrying_action(what: str, action: Callable[[float], object], timeout: float) -> None:
    """:func:`retrying` for a call whose result does not matter (``abort_transaction``,
    ``init_transactions``, ...): done once it returns without raising."""

    def call(attempt_timeout: float) -> bool:
        action(attempt_timeout)
        return True

    retrying(what, call, timeout)


def retry_commit_step(who: str, what: str, call: Callable[[float], object], timeout: float, *,
                      eos: bool) -> None:
    """Run one commit step of thread ``who``, retrying transient errors for ``timeout``
    seconds. A refusal by the group, an error that requires aborting the transaction, and
    (under exactly-once) running out of time all raise :class:`TaskMigratedError`."""
    def attempt(attempt_timeout: float) -> bool:
        try:
            call(attempt_timeout)
        except KafkaException as exc:
            err = kafka_error(exc)
            if err is not None and is_task_migrated(err):
                raise TaskMigratedError(f"{who}: {what}: {err}") from exc
            if err is not None and err.txn_requires_abort():
                raise TaskMigratedError(f"{who}: the transaction must be aborted ({err})") from exc
            raise
        return True

    try:
        retrying(f"{who}: {what}", attempt, timeout)
    except KafkaUnavailableError as exc:
        if eos and kafka_error(exc.__cause__ or exc) is not None:
            # out of time on transient errors: the broker aborts the transaction anyway
            raise TaskMigratedError(f"{exc}; aborting the transaction") from exc
        raise
