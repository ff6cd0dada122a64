"""Word count end to end on the broker, in process, with one and with two stream threads."""

from __future__ import annotations

import pytest
from rt_helpers import make_lines, wait_for, wait_latest
from wordcount_app import build_topology

from streams.runtime.kafka_streams import State
from streams.testing import clients

pytestmark = pytest.mark.integration

#: Every client state change allowed by Kafka Streams' KafkaStreams.State.
ALLOWED = {
    (State.CREATED, State.REBALANCING),
    (State.REBALANCING, State.RUNNING),
    (State.RUNNING, State.REBALANCING),
    (State.REBALANCING, State.PENDING_SHUTDOWN),
    (State.RUNNING, State.PENDING_SHUTDOWN),
    (State.PENDING_SHUTDOWN, State.NOT_RUNNING),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("threads", [1, 2])
def test_wordcount_end_to_end(threads, app_factory, topic_factory, kafka_bootstrap):
    lines_topic = topic_factory("lines", partitions=4)
    counts_topic = topic_factory("counts", partitions=2)
    app = app_factory(build_topology(lines_topic, counts_topic), num_stream_threads=threads)
    transitions: list[tuple[State, State]] = []
    app.set_state_listener(lambda new, old: transitions.append((old, new)))

    first, expected = make_lines(600, seed=threads)
    clients.produce(kafka_bootstrap, lines_topic, first)  # some input before the app starts
    app.start()
    app.wait_until_running(60)
    second, more = make_lines(600, seed=threads + 100, start=600)
    clients.produce(kafka_bootstrap, lines_topic, second)  # and some while it runs
    expected.update(more)

    wait_latest(kafka_bootstrap, counts_topic, dict(expected))
    # interactive query over every local task (both threads' tasks with two threads)
    wait_for(lambda: dict(app.store("counts").all()) == dict(expected), 30,
             "the counts store to match")
    assert app.store("counts").get("apple") == expected["apple"]
    assert app.store("counts").get("no-such-word") is None
    tasks = app.local_tasks()
    assert len(tasks) == threads
    assert sorted(t for ts in tasks.values() for t in ts) == sorted(
        f"{s}_{p}" for s in (0, 1) for p in range(4))
    if threads == 2:
        assert all(tasks.values()), f"a thread got no tasks: {tasks}"

    assert app.close(30)
    assert app.state == State.NOT_RUNNING
    assert transitions[0] == (State.CREATED, State.REBALANCING)
    assert (State.REBALANCING, State.RUNNING) in transitions
    assert transitions[-2:] == [(State.RUNNING, State.PENDING_SHUTDOWN),
                                (State.PENDING_SHUTDOWN, State.NOT_RUNNING)]
    assert set(transitions) <= ALLOWED, transitions
