"""A stream thread's failure and recovery paths, on fake clients (no broker).

* a failure is reported to the client's handler before the Kafka clients are closed, so a
  consumer close that hangs (brokers away) cannot hide a dead thread (issue #16);
* rebalance callbacks run by that close commit nothing;
* commits retry transient errors; a commit the group refuses, or a transaction that must be
  aborted, closes the tasks dirty and rejoins the group instead of killing the thread.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from streams import Consumed, Produced, StreamsBuilder, StreamsConfig, serdes
from streams.runtime.client_supplier import KafkaClientSupplier
from streams.runtime.stream_thread import StreamThread, TaskMigratedError, ThreadState
from streams.runtime.streams_producer import StreamsProducer


def _topology() -> Any:
    b = StreamsBuilder()
    (b.stream("in", Consumed(key_serde=serdes.String(), value_serde=serdes.String()))
     .to("out", Produced(key_serde=serdes.String(), value_serde=serdes.String())))
    return b.build()


def _config(**extra: Any) -> StreamsConfig:
    return StreamsConfig({"application.id": "app", "bootstrap.servers": "unused:1",
                          "task.timeout.ms": 5000, **extra})


class FakeTask:
    """A running task whose commit covers offset 7 of in-0."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def prepare_commit(self) -> dict[tuple[str, int], int]:
        self.calls.append("prepare_commit")
        return {("in", 0): 7}


class FakeTaskManager:
    """Records what the thread asks of its tasks."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.sub_of_topic = {"in": object()}
        self.collector = self
        self.running = {"0_0": FakeTask(self.calls)}
        self.standby_updater = None

    def flush(self) -> None:
        self.calls.append("flush")

    def write_checkpoints(self) -> None:
        self.calls.append("write_checkpoints")

    def close_all(self, clean: bool) -> None:
        self.calls.append(f"close_all(clean={clean})")

    def revoke_all(self, commit: Any) -> None:
        self.calls.append("revoke_all")
        commit()
        self.close_all(clean=True)

    def close(self) -> None:
        self.calls.append("collector.close")

    def discard_errors(self) -> None:
        self.calls.append("collector.discard_errors")

    def replace_producer(self, producer: Any) -> None:
        self.calls.append("collector.replace_producer")
        self.producer = producer


class FakeConsumer:
    def __init__(self, commit_errors: list[int] | None = None) -> None:
        self.commit_errors = list(commit_errors or [])
        self.commits: list[Any] = []
        self.calls: list[str] = []
        self.on_close: Any = None
        self.release = threading.Event()
        self.release.set()

    def commit(self, offsets: Any, asynchronous: bool) -> None:
        if self.commit_errors:
            raise KafkaException(KafkaError(self.commit_errors.pop(0)))
        self.commits.append([(tp.topic, tp.partition, tp.offset) for tp in offsets])

    def unassign(self) -> None:
        self.calls.append("unassign")

    def unsubscribe(self) -> None:
        self.calls.append("unsubscribe")

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.calls.append(f"subscribe({','.join(topics)})")

    def consumer_group_metadata(self) -> str:
        return "group-metadata"

    def close(self) -> None:
        if self.on_close is not None:
            self.on_close()
        self.release.wait(30)
        self.calls.append("close")


class FakeProducer:
    def __init__(self, commit_error: KafkaError | None = None) -> None:
        self.commit_error = commit_error
        self.calls: list[str] = []

    def send_offsets_to_transaction(self, tps: Any, meta: Any, timeout: float) -> None:
        self.calls.append("send_offsets")

    def commit_transaction(self, timeout: float) -> None:
        if self.commit_error is not None:
            err, self.commit_error = self.commit_error, None
            raise KafkaException(err)
        self.calls.append("commit")

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")

    def purge(self) -> None:
        self.calls.append("purge")

    def poll(self, timeout: float) -> int:
        self.calls.append("poll")  # serves the aborted records' delivery reports
        return 0

    def begin_transaction(self) -> None:
        self.calls.append("begin")


def _thread(tmp_path: Path, config: StreamsConfig, consumer: FakeConsumer,
            producer: FakeProducer | None = None,
            loop: Any = None) -> tuple[StreamThread, FakeTaskManager, list[BaseException]]:
    errors: list[BaseException] = []
    tm = FakeTaskManager()

    class Thread(StreamThread):
        def _setup(self) -> None:
            self.consumer = consumer  # type: ignore[assignment]
            self.streams_producer = StreamsProducer(
                self.name, {}, KafkaClientSupplier(), eos=self.eos,
                task_timeout=self._task_timeout, commit_timeout=self._task_timeout,
                producer=producer or FakeProducer())  # type: ignore[arg-type]
            self.streams_producer.collector = tm  # type: ignore[assignment]
            self.task_manager = tm  # type: ignore[assignment]

        def _loop(self) -> None:
            if loop is not None:
                loop(self)

    t = Thread(1, _topology(), config, tmp_path, "client", on_state=lambda t, s: None,
               on_error=lambda t, e: errors.append(e))
    return t, tm, errors


def test_a_failure_is_reported_while_the_consumer_still_closes(tmp_path: Path) -> None:
    consumer = FakeConsumer()
    consumer.release.clear()  # closing the consumer hangs, as it may with brokers away

    def fail(thread: StreamThread) -> None:
        raise RuntimeError("boom in the loop")

    t, tm, errors = _thread(tmp_path, _config(), consumer, loop=fail)
    t.start()
    deadline = time.monotonic() + 5
    while not errors and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert [str(e) for e in errors] == ["boom in the loop"], \
            "the handler must hear of the failure without waiting for consumer.close()"
        assert "close_all(clean=False)" in tm.calls, "tasks are closed before the report"
        assert t.is_alive() and t.thread_state != ThreadState.DEAD
    finally:
        consumer.release.set()
        t.join(5)
    assert t.thread_state == ThreadState.DEAD
    assert consumer.calls[-1] == "close"
    assert "revoke_all" not in tm.calls and "prepare_commit" not in tm.calls


def test_a_revocation_during_the_close_after_a_failure_commits_nothing(tmp_path: Path) -> None:
    consumer = FakeConsumer()

    def fail(thread: StreamThread) -> None:
        raise RuntimeError("boom")

    t, tm, errors = _thread(tmp_path, _config(), consumer, loop=fail)
    consumer.on_close = lambda: t._on_revoke(consumer, [])  # type: ignore[arg-type]
    t.run()
    assert len(errors) == 1
    assert consumer.commits == []
    assert "revoke_all" not in tm.calls
    assert tm.calls.count("close_all(clean=False)") == 2  # on failure, and in the callback


def test_a_clean_stop_commits_then_closes(tmp_path: Path) -> None:
    consumer = FakeConsumer()
    t, tm, errors = _thread(tmp_path, _config(), consumer)
    t.run()
    assert errors == []
    assert tm.calls[:3] == ["revoke_all", "prepare_commit", "flush"]
    assert consumer.commits == [[("in", 0, 7)]]
    assert consumer.calls == ["close"]


def test_transient_commit_errors_are_retried(tmp_path: Path) -> None:
    consumer = FakeConsumer([KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.NOT_COORDINATOR,
                             KafkaError.REQUEST_TIMED_OUT])
    t, _, _ = _thread(tmp_path, _config(), consumer)
    t._setup()
    t._commit()
    assert consumer.commits == [[("in", 0, 7)]]
    assert t.commits == 1


def test_transient_commit_errors_give_up_after_task_timeout(tmp_path: Path) -> None:
    consumer = FakeConsumer([KafkaError.COORDINATOR_NOT_AVAILABLE] * 10_000)
    t, _, _ = _thread(tmp_path, _config(**{"task.timeout.ms": 300}), consumer)
    t._setup()
    with pytest.raises(Exception, match=r"could not commit offsets within 0 s"):
        t._commit()


def test_a_refused_commit_closes_the_tasks_dirty_and_rejoins(tmp_path: Path) -> None:
    consumer = FakeConsumer([KafkaError.ILLEGAL_GENERATION])
    t, tm, _ = _thread(tmp_path, _config(), consumer)
    t._setup()
    with pytest.raises(TaskMigratedError, match="could not commit offsets"):
        t._commit()
    t._handle_task_migrated(TaskMigratedError("fenced"))
    assert tm.calls[-1] == "close_all(clean=False)"
    assert consumer.calls == ["unsubscribe", "subscribe(in)"]
    assert t.migrations == 1


def test_an_abortable_transaction_error_aborts_and_rejoins(tmp_path: Path) -> None:
    err = KafkaError(KafkaError._TIMED_OUT, "abortable", txn_requires_abort=True)
    producer = FakeProducer(commit_error=err)
    consumer = FakeConsumer()
    t, tm, _ = _thread(tmp_path, _config(**{"processing.guarantee": "exactly_once_v2"}),
                       consumer, producer)
    t._setup()
    with pytest.raises(TaskMigratedError, match="transaction must be aborted"):
        t._commit()
    assert "begin" not in producer.calls
    t._handle_task_migrated(TaskMigratedError("abort"))
    assert producer.calls == ["send_offsets", "abort", "poll", "begin"]
    # the aborted records' delivery failures are dropped before the next transaction begins
    assert tm.calls[-2:] == ["collector.discard_errors", "close_all(clean=False)"]
    assert consumer.calls == ["unsubscribe", "subscribe(in)"]


def test_a_retriable_transaction_commit_is_retried(tmp_path: Path) -> None:
    err = KafkaError(KafkaError._TIMED_OUT, "slow", retriable=True)
    producer = FakeProducer(commit_error=err)
    t, _, _ = _thread(tmp_path, _config(**{"processing.guarantee": "exactly_once_v2"}),
                      FakeConsumer(), producer)
    t._setup()
    t._commit()
    assert producer.calls == ["send_offsets", "commit", "begin"]


def test_a_commit_that_keeps_timing_out_is_resumed_then_its_producer_replaced(
        tmp_path: Path) -> None:
    """A timed-out commit_transaction stays in progress in librdkafka: it is resumed (called
    again) for task.timeout.ms, not only the transaction timeout; then the producer, which
    can neither abort (a commit is in progress) nor commit, is replaced, not aborted."""
    class SlowProducer(FakeProducer):
        def commit_transaction(self, timeout: float) -> None:
            self.calls.append("commit")
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "slow", retriable=True))

    old, new = SlowProducer(), FakeProducer()
    t, _, _ = _thread(tmp_path, _config(**{"processing.guarantee": "exactly_once_v2",
                                           "task.timeout.ms": 1500}), FakeConsumer(), old)
    t._setup()
    t.streams_producer.commit_timeout = 0.2  # type: ignore[union-attr]
    t.streams_producer._new = lambda: new  # type: ignore[method-assign,union-attr]
    started = time.monotonic()
    with pytest.raises(TaskMigratedError, match="could not commit the transaction within 2 s"):
        t._commit()
    assert 0.5 < time.monotonic() - started < 5, "resumed past the 0.2 s transaction budget"
    assert old.calls.count("commit") > 3
    t._handle_task_migrated(TaskMigratedError("commit timed out"))
    assert "abort" not in old.calls and t.producer is new


def test_a_producer_fenced_while_aborting_is_replaced(tmp_path: Path) -> None:
    class FencedProducer(FakeProducer):
        def abort_transaction(self, timeout: float) -> None:
            self.calls.append("abort")
            raise KafkaException(KafkaError(KafkaError._FENCED, "fenced by a newer instance",
                                            fatal=True))

    old, new = FencedProducer(), FakeProducer()
    t, tm, _ = _thread(tmp_path, _config(**{"processing.guarantee": "exactly_once_v2"}),
                       FakeConsumer(), old)
    t._setup()
    t.streams_producer._new = lambda: new  # type: ignore[method-assign,union-attr]
    t._handle_task_migrated(TaskMigratedError("fenced"))
    assert old.calls == ["abort"], "a fatal producer raises from poll() too: never call it"
    assert t.producer is new
    assert tm.calls[-3:] == ["collector.discard_errors", "collector.replace_producer",
                             "close_all(clean=False)"]
    assert getattr(tm, "producer", None) is new


def test_a_send_offsets_call_stuck_past_its_timeout_replaces_the_producer(
        tmp_path: Path) -> None:
    """librdkafka's send_offsets_to_transaction can wait for a frozen group coordinator far
    past its timeout (librdkafka #5456): the thread stops waiting, handles it as a migration,
    and fences the stuck producer with a new one instead of calling it again."""
    release = threading.Event()

    class StuckProducer(FakeProducer):
        def send_offsets_to_transaction(self, tps: Any, meta: Any, timeout: float) -> None:
            self.calls.append("send_offsets")
            release.wait(30)

    old, new = StuckProducer(), FakeProducer()
    consumer = FakeConsumer()
    t, tm, _ = _thread(tmp_path, _config(**{"processing.guarantee": "exactly_once_v2"}),
                       consumer, old)
    t._setup()
    t.streams_producer._new = lambda: new  # type: ignore[method-assign,union-attr]
    t.streams_producer.commit_timeout = 0.2  # type: ignore[union-attr]  # plus the grace
    started = time.monotonic()
    try:
        with pytest.raises(TaskMigratedError, match="abandoning the producer"):
            t._commit()
        assert time.monotonic() - started < 10
        t._handle_task_migrated(TaskMigratedError("stuck"))
    finally:
        release.set()
    assert old.calls == ["send_offsets"], "a producer stuck in a call must not be called again"
    assert t.producer is new
    assert tm.calls[-3:] == ["collector.discard_errors", "collector.replace_producer",
                             "close_all(clean=False)"]
    assert consumer.calls == ["unsubscribe", "subscribe(in)"]
    # the next commit goes through the new producer
    t._commit()
    assert new.calls == ["send_offsets", "commit", "begin"]
