"""Warm-up replicas end to end on the in-memory cluster: a stateful task moves to a new
instance only once that instance has caught up on it, through warm-ups and the probing
rebalances they trigger, and the move then restores nothing."""

from __future__ import annotations

from pathlib import Path

from fake_kafka import FakeCluster
from test_placement_on_fake_kafka import _running, _settled, _standbys
from test_runtime_on_fake_kafka import (
    PARTITIONS,
    WORDS,
    feed,
    instance,
    latest_counts,
    wait_until,
)

from streams.runtime.kafka_streams import KafkaStreams

STATEFUL = {f"1_{p}" for p in range(PARTITIONS)}


def _warming(app: KafkaStreams) -> set[str]:
    return {str(t) for th in app._threads if th.warmups for t in th.warmups.warmups}


def test_a_new_instance_takes_stateful_tasks_only_after_warming_up(cluster: FakeCluster,
                                                                    tmp_path: Path) -> None:
    # no lag is acceptable: an instance without the state is never caught up at once
    cfg = {"acceptable.recovery.lag": 0, "max.warmup.replicas": 1,
           "probing.rebalance.interval.ms": 0}
    expected = feed(cluster, WORDS * 3)
    with instance(cluster, tmp_path, "i1", **cfg) as a:
        wait_until(lambda: _settled([a], 2 * PARTITIONS), "one instance runs everything")
        wait_until(lambda: latest_counts(cluster) == dict(expected), "the counts")
        seen_warming: list[set[str]] = []

        def observe() -> bool:
            standbys = _standbys(b)
            if standbys and not (_running(b) & standbys) and _settled([a, b], 2 * PARTITIONS):
                # a warm-up: a kept it running while b caught up
                assert standbys <= _running(a), (standbys, _running(a))
                seen_warming.append(standbys)
            return (_settled([a, b], 2 * PARTITIONS) and bool(_running(b) & STATEFUL)
                    and not _warming(a) and not _warming(b))

        with instance(cluster, tmp_path, "i2", **cfg) as b:
            wait_until(observe, "the stateful tasks balanced through warm-ups")
            # one warm-up at a time (max.warmup.replicas=1), and each moved with no restore
            assert seen_warming and all(len(s) == 1 for s in seen_warming)
            assert b.restored_records() == 0
            assert sorted([len(_running(a)), len(_running(b))]) == [PARTITIONS, PARTITIONS]
            expected += feed(cluster, WORDS, start=50)
            wait_until(lambda: latest_counts(cluster) == dict(expected), "counts after moves")
            assert all(th.failure is None for x in (a, b) for th in x._threads)


def test_with_a_small_state_a_new_instance_is_caught_up_at_once(cluster: FakeCluster,
                                                                 tmp_path: Path) -> None:
    expected = feed(cluster, WORDS)
    with instance(cluster, tmp_path, "i1") as a:
        wait_until(lambda: _settled([a], 2 * PARTITIONS), "one instance runs everything")
        wait_until(lambda: latest_counts(cluster) == dict(expected), "the counts")
        with instance(cluster, tmp_path, "i2") as b:
            # default acceptable.recovery.lag: a few records are nothing to catch up on
            wait_until(lambda: _settled([a, b], 2 * PARTITIONS)
                       and len(_running(b)) == PARTITIONS, "balanced")
            assert _running(b) & STATEFUL and not _warming(a) and not _warming(b)
            assert b.restored_records() > 0  # restored at once: no warm-up needed
