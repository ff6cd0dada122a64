"""Three worker processes share the work; a SIGTERMed one hands its tasks to the others."""

from __future__ import annotations

import collections
import threading
import time

import pytest
from rt_helpers import make_lines, stable_assignment, wait_for, wait_latest

from streams.testing import clients

pytestmark = pytest.mark.integration

PARTITIONS = 6
#: word count has two sub-topologies (lines -> repartition, repartition -> counts)
ALL_TASKS = {f"{s}_{p}" for s in (0, 1) for p in range(PARTITIONS)}


@pytest.mark.timeout(180)
def test_three_workers_share_and_hand_over(worker_factory, topic_factory, kafka_bootstrap):
    lines_topic = topic_factory("lines", partitions=PARTITIONS)
    counts_topic = topic_factory("counts", partitions=3)
    workers = [worker_factory(name, lines_topic, counts_topic) for name in ("w1", "w2", "w3")]

    shares = wait_for(lambda: stable_assignment(workers, ALL_TASKS), 90,
                      "three workers to split the tasks between them")
    # balanced by task count over both sub-topologies (docs/assignment.md)
    assert sorted(len(s) for s in shares.values()) == [4, 4, 4], shares

    expected: collections.Counter[str] = collections.Counter()
    produced = threading.Event()
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            for batch in range(30):
                lines, counts = make_lines(100, seed=batch, start=batch * 100)
                clients.produce(kafka_bootstrap, lines_topic, lines)
                expected.update(counts)
                time.sleep(0.1)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            produced.set()

    producer = threading.Thread(target=produce, name="test-producer")
    producer.start()
    time.sleep(1.0)
    leaving = workers[2]
    assert leaving.terminate(40) == 0, leaving.text()[-3000:]
    assert "received SIGTERM: shutting down" in leaving.text()
    remaining = workers[:2]
    after = wait_for(lambda: stable_assignment(remaining, ALL_TASKS), 60,
                     "the two remaining workers to take over every task")
    moved = shares[leaving.name]
    assert all(any(t in share for share in after.values()) for t in moved)
    assert sorted(len(s) for s in after.values()) == [6, 6], after
    # sticky: the two that stayed kept every task they had and only took the leaver's
    for w in remaining:
        assert shares[w.name] <= after[w.name], (shares, after)

    producer.join(60)
    assert produced.is_set() and not errors, errors
    # clean shutdown and clean revocations commit what was processed: counts are exact
    wait_latest(kafka_bootstrap, counts_topic, dict(expected), timeout=60)
    for w in remaining:
        assert w.alive, w.text()[-3000:]
        assert w.terminate(40) == 0
