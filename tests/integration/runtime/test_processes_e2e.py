"""``streams run APP --processes 2`` on a real broker: two supervised children share the tasks,
each with its own state directory; one killed with kill -9 is restarted and no count is lost;
SIGTERM stops both cleanly (exit code 0)."""

from __future__ import annotations

import collections
import os
import re
import signal
import time

import pytest
from rt_helpers import make_lines, wait_for

from streams import serdes
from streams.testing import clients

pytestmark = pytest.mark.integration

_STARTED = re.compile(r"started (p\d) \(pid (\d+)\)")
_TABLE = re.compile(r"tasks per process: p0=(\[.*?\]), p1=(\[.*?\])")


def _pids(text: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = collections.defaultdict(list)
    for name, pid in _STARTED.findall(text):
        out[name].append(int(pid))
    return out


def _both_have_tasks(text: str) -> bool:
    tables = _TABLE.findall(text)
    return bool(tables) and all(t != "[]" for t in tables[-1])


def _latest(bootstrap: str, topic: str) -> dict[str, int]:
    return {r.key: r.value for r in clients.consume_all(
        bootstrap, topic, 5.0, key_serde=serdes.String(), value_serde=serdes.Long())}


@pytest.mark.timeout(240)
def test_two_processes_survive_a_kill_9_of_one(worker_factory, topic_factory, kafka_bootstrap,
                                               tmp_path):
    lines_topic = topic_factory("lines", partitions=4)
    counts_topic = topic_factory("counts", partitions=2)
    state = tmp_path / "state"
    w = worker_factory("sup", lines_topic, counts_topic, state_dir=state,
                       extra=("--processes", "2"))
    wait_for(lambda: _both_have_tasks(w.text()), 90, "both children to own tasks")
    assert sorted(os.listdir(state)) == ["process-0", "process-1"]

    expected: collections.Counter[str] = collections.Counter()
    lines, counts = make_lines(200, seed=1)
    clients.produce(kafka_bootstrap, lines_topic, lines)
    expected.update(counts)
    wait_for(lambda: _latest(kafka_bootstrap, counts_topic) == dict(expected), 60,
             "the first counts")

    victim = _pids(w.text())["p1"][-1]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(_pids(w.text())["p1"]) == 2, 30, "the supervisor to restart p1")
    assert "p1 exited (signal SIGKILL)" in w.text()
    for batch in range(2, 6):
        lines, counts = make_lines(200, seed=batch, start=batch * 200)
        clients.produce(kafka_bootstrap, lines_topic, lines)
        expected.update(counts)
        time.sleep(0.3)

    def none_lost() -> bool:
        latest = _latest(kafka_bootstrap, counts_topic)
        return all(latest.get(word, 0) >= n for word, n in expected.items())

    wait_for(none_lost, 90, "every count to reach at least its expected value after kill -9",
             interval=1.0)
    wait_for(lambda: _both_have_tasks(w.text().split("started p1", 2)[-1]), 60,
             "the restarted p1 to own tasks again")
    assert w.terminate(60) == 0, w.text()[-3000:]
    assert "all processes stopped (1 restart(s)); clean" in w.text()
