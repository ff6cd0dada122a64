"""``streams reset`` on a real broker: a word count is reset and recounts its input from the
start, to the same counts (not doubled: its changelog and local state went with the reset)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions
from rt_helpers import make_lines, wait_for, wait_latest
from wordcount_app import build_topology

from streams import serdes
from streams.cli.main import main
from streams.testing import clients

pytestmark = pytest.mark.integration


def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """The group's committed offsets."""
    admin = clients.admin_client(bootstrap)
    result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
    return {(tp.topic, tp.partition): tp.offset for tp in result.result(30).topic_partitions}


def app_topics(bootstrap: str, app_id: str) -> set[str]:
    """Topics named ``<app_id>-...``: the application's internal topics."""
    names = clients.admin_client(bootstrap).list_topics(timeout=30).topics
    return {t for t in names if t.startswith(f"{app_id}-")}


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The end offset of each partition of ``topic``."""
    return {r.partition: r.offset + 1 for r in clients.consume_all(bootstrap, topic)}


def latest_after(bootstrap: str, topic: str, marks: dict[int, int]) -> dict[str, Any]:
    """Last count per word among the records written after ``marks`` (partition -> offset)."""
    latest: dict[str, Any] = {}
    for r in clients.consume_all(bootstrap, topic, key_serde=serdes.String(),
                                 value_serde=serdes.Long()):
        if r.offset >= marks.get(r.partition, 0):
            latest[r.key] = r.value
    return latest


def reset(*argv: str) -> int:
    return main(["reset", *argv])


@pytest.mark.timeout(240)
def test_reset_reprocesses_from_the_start(app_factory: Any, topic_factory: Any,
                                          kafka_bootstrap: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    lines_topic = topic_factory("lines", partitions=2)
    counts_topic = topic_factory("counts", partitions=1)
    app_id = app_factory.app_id
    state_dir = tmp_path / "state"
    common = [app_id, "--bootstrap-servers", kafka_bootstrap, "--state-dir", str(state_dir)]
    lines, expected = make_lines(300, seed=7)
    clients.produce(kafka_bootstrap, lines_topic, lines)

    app = app_factory(build_topology(lines_topic, counts_topic), state_dir=state_dir)
    app.start()
    wait_latest(kafka_bootstrap, counts_topic, dict(expected))
    internal = app_topics(kafka_bootstrap, app_id)
    assert internal == {f"{app_id}-counts-changelog", f"{app_id}-counts-repartition",
                        f"{app_id}-control"}

    # refused while the application runs: nothing deleted
    assert reset(*common) == 1
    err = capsys.readouterr().err
    assert f"consumer group {app_id!r} has 1 active member(s)" in err
    assert "stop every instance" in err
    assert app_topics(kafka_bootstrap, app_id) == internal

    assert app.close(30)
    before = committed(kafka_bootstrap, app_id)
    assert before[(lines_topic, 0)] + before[(lines_topic, 1)] == 300
    assert any(t.endswith("-repartition") for t, _ in before)
    state_root = state_dir / app_id
    local = sorted(p.name for p in state_root.iterdir())
    assert any(name[0].isdigit() for name in local), local  # task directories

    # a dry run prints the plan and changes nothing
    assert reset(*common, "--dry-run") == 0
    out = capsys.readouterr().out
    assert f"{lines_topic} partition 0: {before[(lines_topic, 0)]} -> 0" in out
    assert all(t in out for t in internal)
    assert "Dry run: nothing was changed." in out
    assert committed(kafka_bootstrap, app_id) == before
    assert app_topics(kafka_bootstrap, app_id) == internal
    assert sorted(p.name for p in state_root.iterdir()) == local

    # the reset
    assert reset(*common) == 0
    out = capsys.readouterr().out
    assert "reset 2 partition(s) of 1 input topic(s)" in out
    assert "deleted 3 internal topic(s)" in out
    assert committed(kafka_bootstrap, app_id) == {(lines_topic, 0): 0, (lines_topic, 1): 0}
    assert app_topics(kafka_bootstrap, app_id) == set()
    assert [p.name for p in state_root.iterdir()] == [".lock"]

    # a restart counts the input again from the start, to the same counts
    marks = end_offsets(kafka_bootstrap, counts_topic)
    again = app_factory(build_topology(lines_topic, counts_topic), state_dir=state_dir)
    again.start()
    got: dict[str, Any] = {}

    def recounted() -> bool:
        got.clear()
        got.update(latest_after(kafka_bootstrap, counts_topic, marks))
        return got == dict(expected) or any(got.get(w, 0) > n for w, n in expected.items())

    wait_for(recounted, 90, "the recount after the reset")
    assert got == dict(expected), "counts after the reset differ (doubled?)"
    # and stay so: a doubled count would show up once the whole input is processed
    assert again.close(30)
    assert latest_after(kafka_bootstrap, counts_topic, marks) == dict(expected)
    assert committed(kafka_bootstrap, app_id)[(lines_topic, 0)] == before[(lines_topic, 0)]
