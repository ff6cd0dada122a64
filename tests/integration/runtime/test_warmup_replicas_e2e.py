"""Warm-up replicas on the real broker: a new instance takes stateful tasks only once it has
caught up on them, through warm-ups and the probing rebalances they start (a thread replaces
its consumer with one that reports them), and the moves restore nothing."""

from __future__ import annotations

from typing import Any

import pytest
from rt_helpers import make_lines, wait_for, wait_latest
from test_task_placement import ALL_TASKS, PARTITIONS, _running, _settled
from wordcount_app import build_topology

from streams.runtime.kafka_streams import KafkaStreams
from streams.testing import clients

pytestmark = pytest.mark.integration

STATEFUL = {f"1_{p}" for p in range(PARTITIONS)}


def _standbys(app: KafkaStreams) -> set[str]:
    return {str(t) for th in app.threads if th.task_manager for t in th.task_manager.standbys}


def _warming(app: KafkaStreams) -> set[str]:
    return {str(t) for th in app.threads if th.warmups for t in th.warmups.warmups}


@pytest.mark.timeout(240)
def test_stateful_tasks_move_to_a_new_instance_only_after_warming_up(
        app_factory: Any, topic_factory: Any, kafka_bootstrap: str) -> None:
    lines_topic = topic_factory("lines", partitions=PARTITIONS)
    counts_topic = topic_factory("counts", partitions=3)
    topology = build_topology(lines_topic, counts_topic)
    # no lag is acceptable, so an instance without the state is never caught up at once
    cfg = {"acceptable_recovery_lag": 0, "max_warmup_replicas": 2,
           "probing_rebalance_interval_ms": 0}
    lines, expected = make_lines(400, seed=3)
    clients.produce(kafka_bootstrap, lines_topic, lines)
    a = app_factory(topology, **cfg)
    a.start()
    wait_for(lambda: _settled([a]), 90, "one instance to run everything")
    wait_latest(kafka_bootstrap, counts_topic, dict(expected), timeout=90)
    b = app_factory(topology, **cfg)
    b.start()
    warming: list[set[str]] = []

    def converged() -> bool:
        if not _settled([a, b]):
            return False
        held = _standbys(b) - _running(b)
        if held:
            # a warm-up: the task keeps running on a while b catches up
            assert held <= _running(a), (held, _running(a))
            warming.append(held)
        return bool(_running(b) & STATEFUL) and not _warming(a) and not _warming(b)

    wait_for(converged, 120, "the stateful tasks to move through warm-ups")
    assert warming and all(len(w) <= 2 for w in warming), warming
    assert sorted([len(_running(a)), len(_running(b))]) == [len(ALL_TASKS) // 2] * 2
    assert b.restored_records() == 0  # every move found its warm-up caught up
    more, counts = make_lines(50, seed=4, start=400)
    clients.produce(kafka_bootstrap, lines_topic, more)
    expected.update(counts)
    wait_latest(kafka_bootstrap, counts_topic, dict(expected), timeout=90)
    assert all(th.failure is None for app in (a, b) for th in app.threads)
