"""Bad records and failing threads on the broker: fail, dead-letter, or replace the thread."""

from __future__ import annotations

import threading

import pytest
from rt_helpers import wait_for, wait_latest

from streams import Consumed, Materialized, Produced, StreamsBuilder, serdes
from streams.errors import ProcessorError, SerializationError
from streams.runtime.kafka_streams import State, StreamThreadExceptionResponse
from streams.testing import clients

pytestmark = pytest.mark.integration


def _doubling(source: str, sink: str) -> StreamsBuilder:
    """source (String -> Long) -> value * 2 -> sink."""
    builder = StreamsBuilder()
    (builder.stream(source, Consumed(key_serde=serdes.String(), value_serde=serdes.Long()))
     .map_values(lambda v: v * 2)
     .to(sink, Produced(key_serde=serdes.String(), value_serde=serdes.Long())))
    return builder


def _longs(pairs):
    return [(k, None if v is None else (serdes.Long().serialize("t", v) if isinstance(v, int) else v))
            for k, v in pairs]


@pytest.mark.timeout(90)
def test_deserialization_error_fails_the_client_by_default(app_factory, topic_factory,
                                                           kafka_bootstrap):
    source, sink = topic_factory("in"), topic_factory("out")
    delivered = clients.produce(kafka_bootstrap, source,
                                _longs([("a", 1), ("bad", b"not a long"), ("c", 3)]))
    bad = delivered[1]
    app = app_factory(_doubling(source, sink).build())
    seen: list[BaseException] = []
    errored = threading.Event()

    def handler(exc: BaseException) -> StreamThreadExceptionResponse:
        seen.append(exc)
        return StreamThreadExceptionResponse.SHUTDOWN_CLIENT

    app.set_uncaught_exception_handler(handler)
    app.set_state_listener(lambda new, old: new == State.ERROR and errored.set())
    app.start()
    assert errored.wait(60), f"client did not reach ERROR (state {app.state})"
    assert app.state == State.ERROR
    assert len(seen) == 1
    exc = seen[0]
    assert isinstance(exc, SerializationError)
    assert (exc.topic, exc.partition, exc.offset) == (source, bad.partition, bad.offset)
    assert f"topic={source!r}" in str(exc) and f"offset={bad.offset}" in str(exc)
    assert not any(t.is_alive() for t in app.threads)
    assert app.close(10)  # closing a failed client is a no-op
    # the record before the bad one was processed (and never the one after)
    assert {r.key: r.value for r in clients.consume_all(
        kafka_bootstrap, sink, key_serde=serdes.String(), value_serde=serdes.Long())} == {"a": 2}


@pytest.mark.timeout(90)
def test_log_and_continue_sends_bad_records_to_the_dead_letter_queue(app_factory, topic_factory,
                                                                     kafka_bootstrap):
    source, sink, dlq = topic_factory("in", partitions=2), topic_factory("out"), topic_factory("dlq")
    records = _longs([("a", 1), ("bad", b"xyz"), ("b", 2), ("worse", b"\x00"), ("c", 3)])
    delivered = clients.produce(kafka_bootstrap, source, records)
    app = app_factory(_doubling(source, sink).build(),
                      **{"default.deserialization.exception.handler": "log_and_continue",
                         "errors.dead.letter.queue.topic.name": dlq})
    app.start()
    app.wait_until_running(60)
    wait_latest(kafka_bootstrap, sink, {"a": 2, "b": 4, "c": 6})
    clients.produce(kafka_bootstrap, source, _longs([("d", 4)]))  # still processing afterwards
    wait_latest(kafka_bootstrap, sink, {"a": 2, "b": 4, "c": 6, "d": 8})
    assert app.state == State.RUNNING

    dead = clients.consume(kafka_bootstrap, dlq, 2, timeout=30)
    by_key = {r.key: r for r in dead}
    assert set(by_key) == {b"bad", b"worse"}
    for key, original in ((b"bad", delivered[1]), (b"worse", delivered[3])):
        r = by_key[key]
        assert r.value == original.value  # the original bytes
        headers = {k: v for k, v in r.headers}
        assert headers["__streams.errors.topic"] == source.encode()
        assert headers["__streams.errors.partition"] == str(original.partition).encode()
        assert headers["__streams.errors.offset"] == str(original.offset).encode()
        assert headers["__streams.errors.exception"] == b"SerializationError"
        assert headers["__streams.errors.message"]
        assert "__streams.errors.node" in headers
    assert app.close(30)


@pytest.mark.timeout(120)
def test_replace_thread_starts_a_new_stream_thread(app_factory, topic_factory, kafka_bootstrap):
    source, sink = topic_factory("in"), topic_factory("out")
    failed_once = threading.Event()

    def fail_once(v: int) -> int:
        if v == 13 and not failed_once.is_set():
            failed_once.set()
            raise RuntimeError("unlucky number")
        return v * 2

    builder = StreamsBuilder()
    doubled = (builder.stream(source, Consumed(key_serde=serdes.String(),
                                               value_serde=serdes.Long()))
               .map_values(fail_once))
    doubled.to(sink, Produced(key_serde=serdes.String(), value_serde=serdes.Long()))
    # a persistent store too: the replacement must reopen what the dead thread closed dirty
    doubled.group_by_key().count(Materialized(name="seen"))
    app = app_factory(builder.build())
    seen: list[BaseException] = []

    def handler(exc: BaseException) -> StreamThreadExceptionResponse:
        seen.append(exc)
        return StreamThreadExceptionResponse.REPLACE_THREAD

    app.set_uncaught_exception_handler(handler)
    app.start()
    app.wait_until_running(60)
    first = app.threads[0]
    clients.produce(kafka_bootstrap, source, _longs([("a", 1), ("b", 13), ("c", 3)]))
    # the replacement thread re-reads from the last commit; 13 goes through the second time
    wait_latest(kafka_bootstrap, sink, {"a": 2, "b": 26, "c": 6})
    assert len(seen) == 1 and isinstance(seen[0], ProcessorError)
    assert "unlucky number" in str(seen[0])
    wait_for(lambda: app.state == State.RUNNING, 30, "the client to run again")
    threads = app.threads
    assert len(threads) == 1 and threads[0] is not first
    assert not first.is_alive() and threads[0].is_alive()
    assert threads[0].name.endswith("-StreamThread-2")
    # at-least-once: what the dead thread did after its last commit may be seen twice
    wait_for(lambda: all((app.store("seen").get(k) or 0) >= 1 for k in "abc"), 30,
             "the replacement thread's store to see every key")
    assert all(app.store("seen").get(k) <= 2 for k in "abc")
    assert app.close(30)
    assert app.state == State.NOT_RUNNING


@pytest.mark.timeout(120)
def test_shutdown_application_stops_every_instance(app_factory, topic_factory, kafka_bootstrap,
                                                   tmp_path):
    source, sink = topic_factory("in", partitions=2), topic_factory("out")
    apps = [app_factory(_doubling(source, sink).build(), state_dir=tmp_path / f"instance-{i}")
            for i in range(2)]
    errored = [threading.Event() for _ in apps]
    seen: list[BaseException] = []

    def handler(exc: BaseException) -> StreamThreadExceptionResponse:
        seen.append(exc)
        return StreamThreadExceptionResponse.SHUTDOWN_APPLICATION

    for app, event in zip(apps, errored):
        app.set_uncaught_exception_handler(handler)
        app.set_state_listener(lambda new, old, event=event: new == State.ERROR and event.set())
        app.start()
    for app in apps:
        app.wait_until_running(60)
    wait_for(lambda: all(app.local_tasks() and any(app.local_tasks().values()) for app in apps),
             60, "both instances to own a task")
    # one poison record: only the instance owning its partition fails, yet both must stop
    clients.produce(kafka_bootstrap, source, _longs([("good", 1), ("bad", b"not a long")]))
    for i, event in enumerate(errored):
        assert event.wait(60), f"instance {i} did not reach ERROR (state {apps[i].state})"
    # the failing instance leaves the group as it stops: the poison record's partition may
    # reach the other instance before the shutdown request does, and fail it the same way
    assert 1 <= len(seen) <= 2 and all(isinstance(e, SerializationError) for e in seen), seen
    assert len({str(e) for e in seen}) == 1, "the same record failed both instances"
    for app in apps:
        assert app.state == State.ERROR
        wait_for(lambda app=app: not any(t.is_alive() for t in app.threads), 30,
                 "stream threads to stop")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once_v2"])
def test_a_thread_failing_in_its_assignment_callback_fails_the_client(
        guarantee, app_factory, topic_factory, kafka_bootstrap, monkeypatch):
    # e.g. a store that cannot be opened: the failure surfaces from consume(), the thread
    # dies, the client goes to ERROR and close() returns promptly (no hang in the callbacks
    # the consumer's close runs)
    from streams.runtime.task_manager import TaskManager

    def broken_assign(self, tasks, standbys=()):
        raise RuntimeError("cannot create tasks")

    monkeypatch.setattr(TaskManager, "assign_tasks", broken_assign)
    source, sink = topic_factory("in"), topic_factory("out")
    app = app_factory(_doubling(source, sink).build(), processing_guarantee=guarantee)
    seen: list[BaseException] = []
    app.set_uncaught_exception_handler(
        lambda exc: (seen.append(exc), StreamThreadExceptionResponse.SHUTDOWN_CLIENT)[1])
    app.start()
    wait_for(lambda: app.state == State.ERROR, 60, "the client to reach ERROR")
    assert seen and "cannot create tasks" in str(seen[0])
    assert app.close(20)
