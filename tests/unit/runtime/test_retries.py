"""Classifying client errors: transient ones are retried until task.timeout.ms, fatal ones
fail at once, and consumer error events are logged without flooding."""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import KafkaError, KafkaException

from streams.errors import KafkaUnavailableError
from streams.runtime.retries import (
    TransientErrorLog,
    is_task_migrated,
    is_transient,
    retrying,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def failing(codes: list[int], result: object = "ok") -> tuple[list[float], object]:
    timeouts: list[float] = []

    def call(timeout: float) -> object:
        timeouts.append(timeout)
        if codes:
            raise KafkaException(KafkaError(codes.pop(0)))
        return result

    return timeouts, call


@pytest.mark.parametrize("code", [
    KafkaError._UNKNOWN_PARTITION, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN,
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.REQUEST_TIMED_OUT, KafkaError._TIMED_OUT, KafkaError.NOT_ENOUGH_REPLICAS,
    KafkaError._DESTROY_BROKER,
])
def test_errors_of_a_settling_cluster_are_transient(code: int) -> None:
    assert is_transient(KafkaError(code))


@pytest.mark.parametrize("code", [
    KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED,
    KafkaError.INVALID_CONFIG, KafkaError._INVALID_ARG,
    KafkaError._DESTROY,  # the client itself is being closed
])
def test_other_errors_are_fatal(code: int) -> None:
    assert not is_transient(KafkaError(code))


def test_a_fatal_flag_wins_over_a_transient_code() -> None:
    assert not is_transient(KafkaError(KafkaError._TRANSPORT, fatal=True))


def test_a_refused_commit_means_the_tasks_migrated() -> None:
    for code in (KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID,
                 KafkaError.REBALANCE_IN_PROGRESS):
        assert is_task_migrated(KafkaError(code))
    assert not is_task_migrated(KafkaError(KafkaError.NOT_COORDINATOR))


def test_transient_errors_are_retried_with_backoff_until_the_call_succeeds() -> None:
    clock = Clock()
    timeouts, call = failing([KafkaError._UNKNOWN_PARTITION] * 5)
    assert retrying("could not x", call, 30, clock=clock, sleep=clock.sleep) == "ok"
    assert len(timeouts) == 6
    assert clock.sleeps == [0.05, 0.1, 0.2, 0.4, 0.8]
    assert all(t <= 10.0 for t in timeouts), "one attempt may not use the whole budget"


def test_a_fatal_error_fails_at_once_naming_what_was_done() -> None:
    clock = Clock()
    timeouts, call = failing([KafkaError.TOPIC_AUTHORIZATION_FAILED])
    with pytest.raises(KafkaUnavailableError, match="could not read offsets of t-1: ") as info:
        retrying("could not read offsets of t-1", call, 30, clock=clock, sleep=clock.sleep)
    assert len(timeouts) == 1
    assert isinstance(info.value.__cause__, KafkaException)


def test_giving_up_after_the_timeout_names_the_last_error() -> None:
    clock = Clock()
    _, call = failing([KafkaError.LEADER_NOT_AVAILABLE] * 1000)
    with pytest.raises(KafkaUnavailableError, match=r"could not x within 5 s \(last error: .*"
                       r"task.timeout.ms"):
        retrying("could not x", call, 5, clock=clock, sleep=clock.sleep)
    assert 4.0 <= clock.now <= 5.0


def test_no_answer_is_retried_too() -> None:
    clock = Clock()
    answers = [None, None, (1, 2)]
    assert retrying("could not x", lambda t: answers.pop(0), 30, clock=clock,
                    sleep=clock.sleep) == (1, 2)


def test_transient_error_events_are_logged_once_per_interval(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    errors = TransientErrorLog(logging.getLogger("t"), "thread-1 consumer", interval=10,
                               clock=clock)
    err = KafkaError(KafkaError._TRANSPORT)
    with caplog.at_level(logging.WARNING, logger="t"):
        for _ in range(50):
            errors.seen(err, "in", 0)
            clock.now += 0.1
        clock.now += 10
        errors.seen(err, "in", 1)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "thread-1 consumer: transient error on in-0" in lines[0]
    assert "49 more since the last report" in lines[1]
