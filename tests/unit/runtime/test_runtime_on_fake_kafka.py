"""The whole runtime (KafkaStreams, StreamThread, TaskManager, restoration, commits, rebalances)
on the in-memory cluster of ``fake_kafka``: no broker, real threads.

Word count (lines -> words -> repartition -> count store -> output) runs under at-least-once
and exactly-once; instances join and leave (eager rebalances, restoration from the changelog),
a member's session expires (lost partitions), a transaction must be aborted; each time the
output is checked exactly. The last test runs one topology through ``TopologyTestDriver`` and
through a stream thread and compares the outputs record for record.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError
from fake_kafka import FakeCluster

from streams import (
    Consumed,
    Grouped,
    Materialized,
    Produced,
    StreamsBuilder,
    Topology,
    serdes,
)
from streams.runtime.kafka_streams import KafkaStreams, State
from streams.testing import TopologyTestDriver

S, L = serdes.String(), serdes.Long()
APP = "wc"
PARTITIONS = 3


def wordcount(extra: Callable[[StreamsBuilder], object] | None = None,
              store_type: str | None = None) -> Topology:
    """Word count; ``extra`` may add more to the builder (another version of the app)."""
    b = StreamsBuilder()
    (b.stream("lines", Consumed(key_serde=S, value_serde=S))
     .flat_map_values(str.split)
     .group_by(lambda k, w: w, Grouped(key_serde=S, value_serde=S))
     .count(Materialized(name="counts", store_type=store_type))
     .to_stream()
     .to("counts", Produced(key_serde=S, value_serde=L)))
    if extra is not None:
        extra(b)
    return b.build()


def feed(cluster: FakeCluster, lines: list[str], start: int = 0) -> collections.Counter[str]:
    """Append lines (keyed line-<i>) and return their word counts."""
    for i, line in enumerate(lines, start):
        cluster.append("lines", None, f"line-{i}".encode(), line.encode(), timestamp=1000 + i)
    return collections.Counter(w for line in lines for w in line.split())


def latest_counts(cluster: FakeCluster) -> dict[str, int]:
    return {S.deserialize("counts", m.key()): L.deserialize("counts", m.value())
            for m in cluster.records("counts")}


def sequences(cluster: FakeCluster, topic: str = "counts") -> dict[str, list[int]]:
    """Per word, the counts in ``topic`` in offset order (a changelog value holds the
    timestamp, then the count: the last 8 bytes)."""
    out: dict[str, list[int]] = collections.defaultdict(list)
    for m in cluster.records(topic):
        value = m.value()
        assert value is not None
        out[S.deserialize(topic, m.key())].append(L.deserialize(topic, value[-8:]))
    return dict(out)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@contextmanager
def instance(cluster: FakeCluster, tmp_path: Path, name: str, topology: Topology | None = None,
             **config: Any) -> Iterator[KafkaStreams]:
    app = KafkaStreams(topology or wordcount(), {
        "application.id": APP, "bootstrap.servers": "fake:9092", "client.id": name,
        "state.dir": str(tmp_path / name), "commit.interval.ms": 50, "poll.ms": 10,
        "statestore.cache.max.bytes": 0, **config}, client_supplier=cluster.supplier())
    app.start()
    try:
        yield app
    finally:
        app.close(timeout=20)


def committed(cluster: FakeCluster) -> dict[int, int]:
    offsets = cluster.group(APP).offsets
    return {p: offsets.get(("lines", p), 0) for p in range(PARTITIONS)}


def ends(cluster: FakeCluster) -> dict[int, int]:
    return {p: cluster.high_watermark("lines", p) for p in range(PARTITIONS)}


WORDS = ["a b c", "b c d", "c d e", "a a a", "e f", "b", "f g h", "a c e g"]


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once_v2"])
def test_word_count_runs_commits_and_checkpoints(cluster: FakeCluster, tmp_path: Path,
                                                 guarantee: str) -> None:
    expected = feed(cluster, WORDS * 5)
    with instance(cluster, tmp_path, "i1", **{"processing.guarantee": guarantee}) as app:
        wait_until(lambda: app.state == State.RUNNING, "RUNNING")
        wait_until(lambda: latest_counts(cluster) == dict(expected), "the true counts")
        wait_until(lambda: committed(cluster) == ends(cluster), "offsets committed to the end")
    # cache off: every update is forwarded, so each word's counts are exactly 1..n
    assert sequences(cluster) == {w: list(range(1, n + 1)) for w, n in expected.items()}
    changelog = sequences(cluster, f"{APP}-counts-changelog")
    assert {w: seq[-1] for w, seq in changelog.items()} == dict(expected)
    checkpoints = list((tmp_path / "i1" / APP).glob("1_*/.checkpoint"))
    assert len(checkpoints) == PARTITIONS, "a clean close writes every task's checkpoint"


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once_v2"])
def test_a_second_instance_takes_tasks_over_and_restores_them(
        cluster: FakeCluster, tmp_path: Path, guarantee: str) -> None:
    cfg = {"processing.guarantee": guarantee}
    expected = feed(cluster, WORDS * 3)
    with instance(cluster, tmp_path, "i1", **cfg) as first:
        wait_until(lambda: latest_counts(cluster) == dict(expected), "counts by one instance")
        with instance(cluster, tmp_path, "i2", **cfg) as second:
            wait_until(lambda: first.state == second.state == State.RUNNING,
                       "both RUNNING after the rebalance")
            tasks = [{t for th in app._threads for t in (th.task_manager.running)}
                     for app in (first, second)]
            assert tasks[0] and tasks[1] and not tasks[0] & tasks[1], tasks
            expected += feed(cluster, WORDS * 2, start=100)
            wait_until(lambda: latest_counts(cluster) == dict(expected), "counts by two")
        # the second left: the first takes its tasks back, restoring their stores
        expected += feed(cluster, WORDS, start=200)
        wait_until(lambda: latest_counts(cluster) == dict(expected), "counts after leaving")
        restorer = first._threads[0].restorer
        assert restorer is not None and sum(restorer.restored_records.values()) > 0
    seqs = sequences(cluster)
    if guarantee == "exactly_once_v2":
        assert seqs == {w: list(range(1, n + 1)) for w, n in expected.items()}
    else:  # at-least-once: never below, never skipping a count
        for w, n in expected.items():
            assert seqs[w][-1] == n and set(range(1, n + 1)) <= set(seqs[w])


def test_lost_partitions_close_tasks_dirty_and_rejoin(cluster: FakeCluster,
                                                      tmp_path: Path) -> None:
    expected = feed(cluster, WORDS * 2)
    with instance(cluster, tmp_path, "i1", **{"processing.guarantee": "exactly_once_v2"}) as app:
        wait_until(lambda: latest_counts(cluster) == dict(expected), "counts")
        thread = app._threads[0]
        cluster.expire(thread.consumer)  # a session timeout: the group moved on without it
        expected += feed(cluster, WORDS, start=50)
        wait_until(lambda: latest_counts(cluster) == dict(expected), "counts after rejoining")
        assert app.state == State.RUNNING
    assert sequences(cluster) == {w: list(range(1, n + 1)) for w, n in expected.items()}


def test_a_transaction_that_must_be_aborted_is_redone_exactly_once(
        cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.fail_next("commit_transaction",
                      KafkaError(KafkaError._TIMED_OUT, "abortable", txn_requires_abort=True),
                      times=2)
    expected = feed(cluster, WORDS * 4)
    with instance(cluster, tmp_path, "i1", **{"processing.guarantee": "exactly_once_v2"}) as app:
        wait_until(lambda: latest_counts(cluster) == dict(expected), "counts")
        assert app._threads[0].migrations >= 1
    assert sequences(cluster) == {w: list(range(1, n + 1)) for w, n in expected.items()}


def test_a_commit_that_times_out_is_resumed_not_redone(cluster: FakeCluster,
                                                        tmp_path: Path) -> None:
    cluster.fail_next("commit_transaction",
                      KafkaError(KafkaError._TIMED_OUT, "slow", retriable=True), times=3)
    expected = feed(cluster, WORDS * 4)
    with instance(cluster, tmp_path, "i1", **{"processing.guarantee": "exactly_once_v2"}) as app:
        wait_until(lambda: latest_counts(cluster) == dict(expected), "counts")
        assert app._threads[0].migrations == 0
    assert sequences(cluster) == {w: list(range(1, n + 1)) for w, n in expected.items()}


def test_a_refused_commit_under_at_least_once_rejoins_and_reprocesses(
        cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.fail_next("commit", KafkaError(KafkaError.ILLEGAL_GENERATION, "fenced"))
    expected = feed(cluster, WORDS * 2)

    def caught_up() -> bool:
        counts = latest_counts(cluster)
        return committed(cluster) == ends(cluster) and all(
            counts.get(w, 0) >= n for w, n in expected.items())

    with instance(cluster, tmp_path, "i1") as app:
        wait_until(caught_up, "every word counted and the input committed")
        assert app._threads[0].migrations == 1 and app.state == State.RUNNING
    # the first commit was refused: the records it covered were processed again (lines, and
    # the repartitioned words, each from offset 0) into the same stores, which at-least-once
    # keeps: words are over-counted, never under-counted
    counts = latest_counts(cluster)
    assert all(n < counts[w] <= 3 * n for w, n in expected.items()), (counts, expected)


def test_the_driver_and_a_stream_thread_give_the_same_output(tmp_path: Path) -> None:
    lines = [("k1", "a b"), ("k2", "b c"), ("k1", "a"), ("k3", "c c d")] * 3
    with TopologyTestDriver(wordcount(), {"application.id": APP,
                                          "statestore.cache.max.bytes": 0}) as driver:
        source = driver.create_input_topic("lines", S, S)
        for i, (k, v) in enumerate(lines):
            source.pipe_input(k, v, timestamp=1000 + i)
        by_driver = driver.create_output_topic("counts", S, L).read_key_values_to_list()

    cluster = FakeCluster()
    cluster.create_topic("lines", 1)
    cluster.create_topic("counts", 1)
    for i, (k, v) in enumerate(lines):
        cluster.append("lines", 0, k.encode(), v.encode(), timestamp=1000 + i)
    with instance(cluster, tmp_path, "i1"):
        wait_until(lambda: len(cluster.records("counts")) >= len(by_driver), "output")
    by_thread = [(S.deserialize("counts", m.key()), L.deserialize("counts", m.value()))
                 for m in cluster.records("counts")]
    assert by_thread == by_driver


def test_restoration_reads_only_what_the_checkpoint_does_not_cover(cluster: FakeCluster,
                                                                    tmp_path: Path) -> None:
    expected = feed(cluster, WORDS * 3)
    with instance(cluster, tmp_path, "i1"):
        wait_until(lambda: latest_counts(cluster) == dict(expected), "counts")
    changelog = f"{APP}-counts-changelog"
    logged = sum(cluster.high_watermark(changelog, p) for p in range(PARTITIONS))

    def restored(app: KafkaStreams) -> int:
        restorer = app._threads[0].restorer
        assert restorer is not None
        return sum(restorer.restored_records.values())

    # same state directory, clean checkpoints: nothing to restore, counting goes on
    expected += feed(cluster, WORDS, start=100)
    with instance(cluster, tmp_path, "i1") as again:
        wait_until(lambda: latest_counts(cluster) == dict(expected), "counts after restart")
        assert restored(again) == 0
    # a new state directory: the whole changelog is restored, and counting goes on from it
    expected += feed(cluster, WORDS, start=200)
    with instance(cluster, tmp_path, "i2") as fresh:
        wait_until(lambda: latest_counts(cluster) == dict(expected), "counts on new state")
        assert restored(fresh) >= logged
