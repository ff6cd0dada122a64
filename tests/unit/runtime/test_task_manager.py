"""TaskManager on the in-memory Kafka: partitions to tasks, the co-partitioning check,
restoration before processing, routing of fetched records, checkpoints on a clean close."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError
from fake_clients import FakeConsumer, FakeProducer
from fake_kafka import FakeCluster

from streams import (
    Consumed,
    Materialized,
    Produced,
    StreamsBuilder,
    StreamsConfig,
    Topology,
    serdes,
)
from streams.engine.message import Message
from streams.errors import StreamsError
from streams.runtime.record_collector import KafkaRecordCollector
from streams.runtime.restore import ChangelogRestorer
from streams.runtime.task_manager import CopartitioningError, TaskManager
from streams.state.checkpoint import CHECKPOINT_FILE_NAME, OffsetCheckpoint

S, L = serdes.String(), serdes.Long()
APP = "tm"


def merged() -> Topology:
    """One sub-topology reading two topics (so its tasks need both partitions)."""
    b = StreamsBuilder()
    (b.stream("left", Consumed(key_serde=S, value_serde=S))
     .merge(b.stream("right", Consumed(key_serde=S, value_serde=S)))
     .to("out", Produced(key_serde=S, value_serde=S)))
    return b.build()


def counting() -> Topology:
    """Per-key counts of ``in`` in store ``counts`` (changelogged), written to ``out``."""
    b = StreamsBuilder()
    (b.stream("in", Consumed(key_serde=S, value_serde=S)).group_by_key()
     .count(Materialized(name="counts")).to_stream()
     .to("out", Produced(key_serde=S, value_serde=L)))
    return b.build()


def manager(cluster: FakeCluster, topology: Topology, tmp_path: Path) -> TaskManager:
    config = StreamsConfig({"application.id": APP, "bootstrap.servers": "fake:1",
                            "statestore.cache.max.bytes": 0})
    producer = FakeProducer(cluster, {})
    collector = KafkaRecordCollector(producer, "T")  # type: ignore[arg-type]
    restore = FakeConsumer(cluster, {"group.id": f"{APP}-restore"})
    restorer = ChangelogRestorer(restore, 1000, None, "T")  # type: ignore[arg-type]
    return TaskManager(topology, config, collector, restorer, tmp_path, "T")


@pytest.fixture
def cluster() -> FakeCluster:
    c = FakeCluster()
    for topic in ("left", "right", "in", "out", f"{APP}-counts-changelog"):
        c.create_topic(topic, 2)
    return c


def test_partitions_group_into_tasks_and_a_partial_one_is_refused(cluster: FakeCluster,
                                                                  tmp_path: Path) -> None:
    tm = manager(cluster, merged(), tmp_path)
    grouped = tm.tasks_for([("left", 0), ("right", 0), ("left", 1), ("right", 1)])
    assert {str(t): sorted(tps) for t, tps in grouped.items()} == {
        "0_0": [("left", 0), ("right", 0)], "0_1": [("left", 1), ("right", 1)]}
    with pytest.raises(CopartitioningError, match=r"task 0_1 needs partition 1 of "
                                                  r"\['left', 'right'\].*only \['left'\]"):
        tm.tasks_for([("left", 0), ("right", 0), ("left", 1)])
    with pytest.raises(StreamsError, match="assigned nope-0, which no sub-topology reads"):
        tm.tasks_for([("nope", 0)])


def test_fetched_records_reach_their_tasks_and_run(cluster: FakeCluster, tmp_path: Path) -> None:
    tm = manager(cluster, merged(), tmp_path)
    assert tm.assign([("left", 0), ("right", 0)]) == []  # stateless: nothing to restore
    msgs: list[Any] = [Message("left", 0, 0, 10, b"a", b"1"), Message("right", 0, 0, 5, b"b", b"2"),
                       Message("left", 1, 0, 1, b"c", b"3")]  # left-1 was revoked: dropped
    tm.add(msgs)
    assert tm.process(100) == 2
    # timestamp order across the task's two inputs: right (5) before left (10)
    assert [m.value() for m in cluster.records("out")] == [b"2", b"1"]


def test_consumer_errors_transient_are_skipped_fatal_raise(cluster: FakeCluster,
                                                           tmp_path: Path) -> None:
    class ErrorEvent:
        def __init__(self, code: int) -> None:
            self._err = KafkaError(code)

        def error(self) -> KafkaError:
            return self._err

        def topic(self) -> str:
            return "left"

        def partition(self) -> int:
            return 0

    tm = manager(cluster, merged(), tmp_path)
    tm.assign([("left", 0), ("right", 0)])
    tm.add([ErrorEvent(KafkaError._TRANSPORT)])  # a broker away: librdkafka recovers
    with pytest.raises(StreamsError, match="consumer error on left-0"):
        tm.add([ErrorEvent(KafkaError.TOPIC_AUTHORIZATION_FAILED)])


def test_a_task_restores_its_changelog_before_it_runs(cluster: FakeCluster,
                                                      tmp_path: Path) -> None:
    changelog = f"{APP}-counts-changelog"
    for n in (1, 2, 3):  # what an earlier owner counted for key "k" of partition 1
        cluster.append(changelog, 1, b"k", (0).to_bytes(8, "big") + n.to_bytes(8, "big"))
    tm = manager(cluster, counting(), tmp_path)
    paused = tm.assign([("in", 0), ("in", 1)])
    assert paused == [("in", 1)], "the restoring task's input waits"
    assert [str(t) for t in tm.running] == ["0_0"]
    finished: list[Any] = []
    while not tm.restorer.idle:
        finished += tm.restorer.restore_some(0.05)
    assert tm.restored(finished) == [("in", 1)]
    assert sorted(str(t) for t in tm.running) == ["0_0", "0_1"]
    tm.add([Message("in", 1, 0, 7, b"k", b"x")])
    tm.process(10)
    assert L.deserialize("out", cluster.records("out")[-1].value()) == 4, "counted on from 3"


def test_a_clean_close_writes_checkpoints_at_the_changelog_end(cluster: FakeCluster,
                                                               tmp_path: Path) -> None:
    tm = manager(cluster, counting(), tmp_path)
    tm.assign([("in", 0)])
    tm.add([Message("in", 0, i, i, b"k", b"x") for i in range(3)])
    tm.process(10)
    tm.collector.flush()
    tm.close_all(clean=True)
    written = OffsetCheckpoint(tmp_path / "0_0" / CHECKPOINT_FILE_NAME).read()
    assert written == {(f"{APP}-counts-changelog", 0): 3}
    assert tm.tasks == {} and tm.running == {}


def test_a_suspended_task_closed_after_the_rebalance_checkpoints_where_it_stopped(
        cluster: FakeCluster, tmp_path: Path) -> None:
    from streams.engine.task import TaskId

    tm = manager(cluster, counting(), tmp_path)
    tm.assign([("in", 0)])
    tm.add([Message("in", 0, i, i, b"k", b"x") for i in range(3)])
    tm.process(10)
    tm.suspend_all(tm.collector.flush)
    # the task's new owner writes to its changelog before this thread closes it
    cluster.append(f"{APP}-counts-changelog", 0, b"k", b"\0" * 16)
    tm.assign_tasks({})
    written = OffsetCheckpoint(tmp_path / "0_0" / CHECKPOINT_FILE_NAME).read()
    assert written == {(f"{APP}-counts-changelog", 0): 3}, "not the new owner's end (4)"
    # taken back, it restores the one record it missed; one that stays resumes at once and
    # is checkpointed at the end again afterwards
    assert tm.assign_tasks({TaskId(0, 0): [("in", 0)]}) == [("in", 0)]
    finished: list[Any] = []
    while not tm.restorer.idle:
        finished += tm.restorer.restore_some(0.05)
    tm.restored(finished)
    tm.suspend_all(tm.collector.flush)
    tm.assign_tasks({TaskId(0, 0): [("in", 0)]})
    assert [str(t) for t in tm.running] == ["0_0"]
    tm.close_all(clean=True)
    written = OffsetCheckpoint(tmp_path / "0_0" / CHECKPOINT_FILE_NAME).read()
    assert written == {(f"{APP}-counts-changelog", 0): 4}
