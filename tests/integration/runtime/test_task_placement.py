"""The streams placement on the real broker: owner metadata that agrees with the actual owners
for every key on every instance, before and after a rebalance; a restarted instance getting its
tasks back; a scale-out that moves few tasks; standbys that make a kill -9 cheap."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import pytest
from rt_helpers import make_lines, stable_assignment, wait_for, wait_latest
from wordcount_app import build_topology

from streams import serdes
from streams.runtime.kafka_streams import KafkaStreams, State
from streams.runtime.streams_metadata import HostInfo
from streams.testing import clients

pytestmark = pytest.mark.integration

PARTITIONS = 6
ALL_TASKS = {f"{s}_{p}" for s in (0, 1) for p in range(PARTITIONS)}
S = serdes.String()


def _running(app: KafkaStreams) -> set[str]:
    return {str(t) for th in app.threads if th.task_manager for t in th.task_manager.running}


def _settled(apps: list[KafkaStreams]) -> bool:
    if any(a.state != State.RUNNING for a in apps):
        return False
    owned = [_running(a) for a in apps]
    return all(owned) and sum(map(len, owned)) == len(ALL_TASKS) == len(set().union(*owned))


def _check_owners(apps: dict[str, KafkaStreams], expected: dict[str, int]) -> None:
    """Every instance names the same owner for every word, and that owner holds its count."""
    by_host = {HostInfo.parse(a.config["application.server"]): a for a in apps.values()}
    for word, count in expected.items():
        answers = {a.query_metadata_for_key("counts", word, S) for a in apps.values()}
        assert len(answers) == 1, (word, answers)
        meta = answers.pop()
        owner = by_host[meta.active_host]
        assert f"1_{meta.partition}" in _running(owner), (word, meta)
        assert owner.store("counts").get(word) == count, word


@pytest.mark.timeout(240)
def test_every_instance_agrees_on_the_owner_of_1000_keys(app_factory: Any, topic_factory: Any,
                                                         kafka_bootstrap: str) -> None:
    lines_topic = topic_factory("lines", partitions=PARTITIONS)
    counts_topic = topic_factory("counts", partitions=3)
    words = [f"w{i:04d}" for i in range(1000)]
    clients.produce(kafka_bootstrap, lines_topic, [(w, w) for w in words])
    expected = {w: 1 for w in words}
    apps = {}
    for n in (1, 2, 3):
        apps[f"i{n}"] = app_factory(build_topology(lines_topic, counts_topic),
                                    application_server=f"127.0.0.1:{18080 + n}")
        apps[f"i{n}"].start()
    wait_for(lambda: _settled(list(apps.values())), 90, "three instances to settle")
    assert sorted(len(_running(a)) for a in apps.values()) == [4, 4, 4]
    wait_latest(kafka_bootstrap, counts_topic, expected, timeout=90)
    _check_owners(apps, expected)
    clients_seen = [a.metadata_for_all_streams_clients() for a in apps.values()]
    assert all(c == clients_seen[0] for c in clients_seen) and len(clients_seen[0]) == 3

    apps.pop("i3").close(30)
    wait_for(lambda: _settled(list(apps.values())), 90, "two instances to settle")
    _check_owners(apps, expected)


@pytest.mark.timeout(240)
def test_a_restarted_instance_gets_its_tasks_back_and_restores_the_tail(
        app_factory: Any, topic_factory: Any, kafka_bootstrap: str, tmp_path: Path) -> None:
    lines_topic = topic_factory("lines", partitions=PARTITIONS)
    counts_topic = topic_factory("counts", partitions=3)
    topology = build_topology(lines_topic, counts_topic)
    lines, expected = make_lines(300, seed=1)
    clients.produce(kafka_bootstrap, lines_topic, lines)
    a, b = app_factory(topology), app_factory(topology)
    c = app_factory(topology, state_dir=tmp_path / "state-c")
    for app in (a, b, c):
        app.start()
    wait_for(lambda: _settled([a, b, c]), 90, "three instances to settle")
    wait_latest(kafka_bootstrap, counts_topic, dict(expected), timeout=90)
    before = {"a": _running(a), "b": _running(b), "c": _running(c)}
    c.close(30)
    wait_for(lambda: _settled([a, b]), 90, "two instances to take over")
    assert before["a"] <= _running(a) and before["b"] <= _running(b)
    more, counts = make_lines(50, seed=2, start=300)
    clients.produce(kafka_bootstrap, lines_topic, more)
    expected.update(counts)
    wait_latest(kafka_bootstrap, counts_topic, dict(expected), timeout=90)
    again = app_factory(topology, state_dir=tmp_path / "state-c")
    again.start()
    wait_for(lambda: _settled([a, b, again]), 90, "c to come back")
    assert _running(again) == before["c"]
    assert _running(a) == before["a"] and _running(b) == before["b"]
    # only what the others wrote to c's changelogs while it was away is restored
    assert again.process_id == c.process_id
    assert again.restored_records() <= sum(counts.values())


@pytest.mark.timeout(300)
def test_scale_out_moves_only_the_new_share_and_others_keep_running(
        app_factory: Any, topic_factory: Any, kafka_bootstrap: str) -> None:
    lines_topic = topic_factory("lines", partitions=PARTITIONS)
    counts_topic = topic_factory("counts", partitions=3)
    topology = build_topology(lines_topic, counts_topic)
    cfg = {"commit_interval_ms": 1000}
    a, b = app_factory(topology, **cfg), app_factory(topology, **cfg)
    a.start()
    b.start()
    wait_for(lambda: _settled([a, b]), 90, "two instances to settle")
    before = {"a": _running(a), "b": _running(b)}
    # steady input; sample each task's progress (last processed offset) every 20 ms
    gaps: dict[str, float] = {}
    last_move: dict[str, tuple[float, Any]] = {}

    def sample() -> None:
        now = time.monotonic()
        for app in (a, b):
            for th in app.threads:
                tm = th.task_manager
                for tid, task in list(tm.running.items()) if tm else []:
                    consumed = dict(task.group.consumed)
                    seen = last_move.get(str(tid))
                    if seen is None or seen[1] != consumed:
                        if seen is not None:
                            gaps[str(tid)] = max(gaps.get(str(tid), 0.0), now - seen[0])
                        last_move[str(tid)] = (now, consumed)

    expected: dict[str, int] = {}
    c: KafkaStreams | None = None
    for batch in range(60):
        lines, counts = make_lines(40, seed=batch, start=batch * 40)
        clients.produce(kafka_bootstrap, lines_topic, lines)
        for w, n in counts.items():
            expected[w] = expected.get(w, 0) + n
        if batch == 15:
            c = app_factory(topology, **cfg)
            c.start()
        for _ in range(5):
            sample()
            time.sleep(0.02)
    assert c is not None
    wait_for(lambda: _settled([a, b, c]), 90, "three instances to settle")
    moved = (before["a"] - _running(a)) | (before["b"] - _running(b))
    assert moved == _running(c)
    assert len(moved) <= math.ceil(len(ALL_TASKS) / 3) + 1
    wait_latest(kafka_bootstrap, counts_topic, expected, timeout=90)
    stayed = (before["a"] & _running(a)) | (before["b"] & _running(b))
    longest = max(gaps.get(t, 0.0) for t in stayed)
    print(f"scale-out 2 -> 3: {len(moved)} of {len(ALL_TASKS)} tasks moved; longest pause of a "
          f"task that stayed: {longest:.2f} s (commit.interval.ms=1000)")
    assert longest < 2 * 1.0 + 3.0, gaps  # 2 x commit.interval.ms, plus slack for this machine


@pytest.mark.timeout(240)
def test_a_static_member_restarted_within_the_session_timeout_moves_nothing(
        app_factory: Any, topic_factory: Any, kafka_bootstrap: str, tmp_path: Path) -> None:
    lines_topic = topic_factory("lines", partitions=PARTITIONS)
    counts_topic = topic_factory("counts", partitions=3)
    topology = build_topology(lines_topic, counts_topic)

    def static(name: str, **extra: Any) -> KafkaStreams:
        return app_factory(topology, **{"consumer.group.instance.id": f"node-{name}",
                                        "consumer.session.timeout.ms": 30000}, **extra)

    a, b = static("a"), static("b")
    c = static("c", state_dir=tmp_path / "state-c")
    for app in (a, b, c):
        app.start()
    wait_for(lambda: _settled([a, b, c]), 90, "three static members to settle")
    before = {"a": _running(a), "b": _running(b), "c": _running(c)}
    rebalances: list[str] = []
    for name, app in (("a", a), ("b", b)):
        app.set_state_listener(lambda new, old, name=name: rebalances.append(name)
                               if new == State.REBALANCING else None)
    c.close(30)  # a static member does not leave the group: nobody rebalances
    again = static("c", state_dir=tmp_path / "state-c")
    again.start()
    wait_for(lambda: _settled([a, b, again]), 60, "the restarted member to take its tasks up")
    assert _running(again) == before["c"]
    assert _running(a) == before["a"] and _running(b) == before["b"]
    assert rebalances == [], rebalances


_RESTORED_LINE = re.compile(r"store \S+ of task (\S+) restored: (\d+) records")
_STANDBY_LINE = re.compile(r": standby tasks (.*)$")


@pytest.mark.timeout(240)
def test_after_a_kill_9_the_standby_takes_over_without_a_full_restore(
        worker_factory: Any, topic_factory: Any, kafka_bootstrap: str) -> None:
    lines_topic = topic_factory("lines", partitions=PARTITIONS)
    counts_topic = topic_factory("counts", partitions=3)
    extra = ("-s", "num.standby.replicas=1")
    a = worker_factory("a", lines_topic, counts_topic, extra=extra)
    b = worker_factory("b", lines_topic, counts_topic, extra=extra)
    wait_for(lambda: stable_assignment([a, b], ALL_TASKS), 90, "two workers to settle")
    lines, expected = make_lines(600, seed=3)
    clients.produce(kafka_bootstrap, lines_topic, lines)
    wait_latest(kafka_bootstrap, counts_topic, dict(expected), timeout=90)
    victim = {t for t in (b.assigned() or set()) if t.startswith("1_")}
    standbys = [m.group(1) for line in a.lines() if (m := _STANDBY_LINE.search(line))]
    assert victim and standbys and victim == set(standbys[-1].split(", ")), (victim, standbys)
    time.sleep(2.0)  # the standbys apply the last changelog records
    seen = len(a.lines())
    b.kill()
    wait_for(lambda: a.assigned() == ALL_TASKS and a.state() == "RUNNING", 60,
             "the survivor to take every task over")
    restored = {}
    for line in a.lines()[seen:]:
        if (m := _RESTORED_LINE.search(line)):
            restored[m.group(1)] = restored.get(m.group(1), 0) + int(m.group(2))
    full = sum(expected.values())  # changelog records a full restore would read, at least
    print(f"kill -9 with a standby: restored {restored} after the kill (full store: "
          f"~{full} changelog records)")
    assert sum(restored.values()) < full // 10, restored
    more, counts = make_lines(100, seed=4, start=600)
    clients.produce(kafka_bootstrap, lines_topic, more)
    expected.update(counts)
    latest = wait_for(lambda: (lambda got: got if all(got.get(w, 0) >= n
                                                       for w, n in expected.items()) else None)(
        {r.key: r.value for r in clients.consume_all(
            kafka_bootstrap, counts_topic, key_serde=S, value_serde=serdes.Long())}),
        60, "counts after the takeover (at-least-once: none lost)")
    assert latest
