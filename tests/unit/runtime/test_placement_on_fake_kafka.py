"""The streams placement end to end on the in-memory cluster: balance across instances, owner
metadata that agrees with the actual owners, a restarted instance getting its tasks back, and
standby tasks taking over without restoring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_kafka import FakeCluster
from test_runtime_on_fake_kafka import (
    APP,
    PARTITIONS,
    WORDS,
    S,
    feed,
    instance,
    latest_counts,
    wait_until,
    wordcount,
)

from streams.runtime.kafka_streams import KafkaStreams, State
from streams.runtime.streams_metadata import HostInfo


def _running(app: KafkaStreams) -> set[str]:
    return {str(t) for th in app._threads if th.task_manager for t in th.task_manager.running}


def _standbys(app: KafkaStreams) -> set[str]:
    return {str(t) for th in app._threads if th.task_manager for t in th.task_manager.standbys}


def _settled(apps: list[KafkaStreams], total: int) -> bool:
    if any(a.state != State.RUNNING for a in apps):
        return False
    owned = [_running(a) for a in apps]
    return sum(len(o) for o in owned) == total and len(set().union(*owned)) == total


def test_three_instances_balance_and_agree_on_every_keys_owner(cluster: FakeCluster,
                                                                tmp_path: Path) -> None:
    expected = feed(cluster, WORDS * 2)
    servers = {f"i{n}": f"host-{n}:{8080 + n}" for n in (1, 2, 3)}
    with instance(cluster, tmp_path, "i1", **{"application.server": servers["i1"]}) as a, \
            instance(cluster, tmp_path, "i2", **{"application.server": servers["i2"]}) as b, \
            instance(cluster, tmp_path, "i3", **{"application.server": servers["i3"]}) as c:
        apps = {"i1": a, "i2": b, "i3": c}
        wait_until(lambda: _settled(list(apps.values()), 2 * PARTITIONS), "a settled placement")
        wait_until(lambda: latest_counts(cluster) == dict(expected), "the counts")
        assert sorted(len(_running(x)) for x in apps.values()) == [2, 2, 2]
        owner_of = {t: HostInfo.parse(servers[n]) for n, x in apps.items() for t in _running(x)}
        everyone = [x.metadata_for_all_streams_clients() for x in apps.values()]
        assert all(m == everyone[0] for m in everyone)
        assert {str(m.host_info) for m in everyone[0]} == set(servers.values())
        for word in sorted(expected):
            answers = {x.query_metadata_for_key("counts", word, S) for x in apps.values()}
            assert len(answers) == 1, answers
            meta = answers.pop()
            assert meta.active_host == owner_of[f"1_{meta.partition}"], (word, meta)
            # and the owner really holds the word
            owner = next(x for n, x in apps.items()
                         if HostInfo.parse(servers[n]) == meta.active_host)
            assert owner.store("counts").get(word) == expected[word]


def test_an_instance_restarted_with_its_state_gets_its_tasks_back(cluster: FakeCluster,
                                                                  tmp_path: Path) -> None:
    feed(cluster, WORDS)
    with instance(cluster, tmp_path, "i1") as a, instance(cluster, tmp_path, "i2") as b:
        with instance(cluster, tmp_path, "i3") as c:
            wait_until(lambda: _settled([a, b, c], 2 * PARTITIONS), "three settled")
            before = _running(c)
            kept = {"i1": _running(a), "i2": _running(b)}
        wait_until(lambda: _settled([a, b], 2 * PARTITIONS), "two settled")
        # the two that stayed kept what they had (sticky) and took the leaver's tasks
        assert kept["i1"] <= _running(a) and kept["i2"] <= _running(b)
        with instance(cluster, tmp_path, "i3") as again:
            wait_until(lambda: _settled([a, b, again], 2 * PARTITIONS), "three again")
            assert _running(again) == before
            assert _running(a) == kept["i1"] and _running(b) == kept["i2"]


@pytest.mark.parametrize("store", ["rocksdb", "in_memory"])
def test_a_standby_takes_over_without_restoring(cluster: FakeCluster, tmp_path: Path,
                                                store: str) -> None:
    # an in-memory standby is turned into the active task as it is, contents and all
    cfg: dict[str, Any] = {"num.standby.replicas": 1, "topology": wordcount(store_type=store)}
    expected = feed(cluster, WORDS * 3)
    with instance(cluster, tmp_path, "i1", **cfg) as a:
        with instance(cluster, tmp_path, "i2", **cfg) as b:
            wait_until(lambda: _settled([a, b], 2 * PARTITIONS), "two settled")
            wait_until(lambda: latest_counts(cluster) == dict(expected), "the counts")
            # every stateful task has its standby on the other instance
            stateful = {f"1_{p}" for p in range(PARTITIONS)}
            wait_until(lambda: _standbys(a) == stateful & _running(b)
                       and _standbys(b) == stateful & _running(a), "standbys placed")
            # the standby copies catch up with the counts (stale reads see them)
            wait_until(lambda: all(
                a.store("counts", stale=True).get(w) == n == b.store("counts", stale=True).get(w)
                for w, n in expected.items()), "standbys caught up")
            # new input: both standbys apply what their active tasks write
            expected += feed(cluster, WORDS, start=50)
            wait_until(lambda: latest_counts(cluster) == dict(expected), "the new counts")
            wait_until(lambda: all(
                a.store("counts", stale=True).get(w) == n == b.store("counts", stale=True).get(w)
                for w, n in expected.items()), "standbys caught up again")
            assert all(x.standby_updated_records() > 0 for x in (a, b) if _standbys(x))
            assert _running(b) & stateful
        # b left: a's standbys become active with nothing left to restore
        wait_until(lambda: _settled([a], 2 * PARTITIONS), "a owns everything")
        assert a.restored_records() == 0
        expected += feed(cluster, WORDS, start=100)
        wait_until(lambda: latest_counts(cluster) == dict(expected), "counts after takeover")
        assert not _standbys(a)  # nowhere else to keep one
    assert APP


def test_a_merge_of_topics_with_different_partition_counts_runs(tmp_path: Path) -> None:
    from streams import Consumed, Produced, StreamsBuilder

    cluster = FakeCluster()
    cluster.create_topic("small", 2)
    cluster.create_topic("big", 3)
    cluster.create_topic("out", 1)
    b = StreamsBuilder()
    (b.stream("small", Consumed(key_serde=S, value_serde=S))
     .merge(b.stream("big", Consumed(key_serde=S, value_serde=S)))
     .to("out", Produced(key_serde=S, value_serde=S)))
    sent = set()
    for topic, parts in (("small", 2), ("big", 3)):
        for p in range(parts):
            cluster.append(topic, p, f"{topic}{p}".encode(), f"{topic}-{p}".encode())
            sent.add(f"{topic}-{p}")
    app = KafkaStreams(b.build(), {
        "application.id": "merge", "bootstrap.servers": "fake:9092", "client.id": "m",
        "state.dir": str(tmp_path), "commit.interval.ms": 50, "poll.ms": 10},
        client_supplier=cluster.supplier())
    app.start()
    try:
        wait_until(lambda: {m.value().decode() for m in cluster.records("out")} == sent,
                   "every record of both topics")
        tasks = app.metadata_for_local_threads()[0].active_tasks
        assert {t.task_id: sorted(t.topic_partitions) for t in tasks} == {
            "0_0": [("big", 0), ("small", 0)], "0_1": [("big", 1), ("small", 1)],
            "0_2": [("big", 2)]}
    finally:
        app.close(timeout=20)


def test_during_a_rolling_upgrade_only_one_version_runs_and_nothing_dies(
        cluster: FakeCluster, tmp_path: Path) -> None:
    from streams import Consumed

    expected = feed(cluster, WORDS * 2)
    cluster.create_topic("extra", 1)
    cluster.create_topic("extra-out", 1)
    # the new version: word count plus a sub-topology of its own
    new_topology = wordcount(lambda b: b.stream("extra", Consumed(key_serde=S, value_serde=S))
                             .to("extra-out"))
    with instance(cluster, tmp_path, "old1") as old1, instance(cluster, tmp_path, "old2") as old2:
        wait_until(lambda: _settled([old1, old2], 2 * PARTITIONS), "the old version settled")
        new = KafkaStreams(new_topology, {
            "application.id": APP, "bootstrap.servers": "fake:9092", "client.id": "new",
            "state.dir": str(tmp_path / "new"), "commit.interval.ms": 50, "poll.ms": 10,
            "statestore.cache.max.bytes": 0}, client_supplier=cluster.supplier())
        new.start()
        try:
            # two old threads against one new: the old version leads, the new one waits
            wait_until(lambda: _settled([old1, old2], 2 * PARTITIONS)
                       and new.state == State.RUNNING and not _running(new), "new waits")
            expected += feed(cluster, WORDS, start=100)
            wait_until(lambda: latest_counts(cluster) == dict(expected), "counts by the old")
        except BaseException:
            new.close(timeout=20)
            raise
    # the old ones are gone: the new version takes every task, its new one included
    try:
        wait_until(lambda: new.state == State.RUNNING and len(_running(new)) == 2 * PARTITIONS + 1,
                   "the new version runs everything")
        expected += feed(cluster, WORDS, start=200)
        wait_until(lambda: latest_counts(cluster) == dict(expected), "counts by the new")
        assert all(th.failure is None for th in new._threads)
    finally:
        new.close(timeout=20)


def _describe_wrongly(monkeypatch: pytest.MonkeyPatch, state: str, times: int) -> list[int]:
    """The fake admin describes the group in ``state`` the next ``times`` times; returns the
    counter of descriptions still to falsify."""
    from types import SimpleNamespace

    from fake_clients import FakeAdmin

    real = FakeAdmin.describe_consumer_groups
    left = [times]

    def wrong(self: FakeAdmin, groups: list[str], request_timeout: float = -1) -> Any:
        out = real(self, groups, request_timeout)
        if left[0] > 0:
            left[0] -= 1
            out[groups[0]].result().state = SimpleNamespace(name=state)
        return out

    monkeypatch.setattr(FakeAdmin, "describe_consumer_groups", wrong)
    return left


def test_a_description_that_contradicts_the_member_makes_it_rejoin(
        cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # after a coordinator moves, the new one may describe the group EMPTY for a while; the
    # member must not wait for a rebalance that may never come
    # more contradictions than one on_assign retries within DESCRIBE_TIMEOUT
    contradictions = _describe_wrongly(monkeypatch, "EMPTY", 4)
    monkeypatch.setattr("streams.runtime.assignor.DESCRIBE_TIMEOUT", 1.0)
    expected = feed(cluster, WORDS)
    with instance(cluster, tmp_path, "i1") as app:
        wait_until(lambda: _settled([app], 2 * PARTITIONS), "the tasks after a rejoin", 40)
        wait_until(lambda: latest_counts(cluster) == dict(expected), "the counts")
        assert contradictions == [0]
        assert cluster.group(APP).generation >= 2, "it rejoined"


def test_a_member_told_a_rebalance_is_under_way_rejoins_if_none_comes(
        cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one description claims a rebalance that never happens
    lies = _describe_wrongly(monkeypatch, "PREPARING_REBALANCE", 1)
    monkeypatch.setattr("streams.runtime.assignor.DESCRIBE_TIMEOUT", 0.5)
    expected = feed(cluster, WORDS)
    with instance(cluster, tmp_path, "i1") as app:
        wait_until(lambda: _settled([app], 2 * PARTITIONS), "the tasks after a rejoin", 40)
        wait_until(lambda: latest_counts(cluster) == dict(expected), "the counts")
        assert lies == [0] and cluster.group(APP).generation >= 2
