"""Helpers for the runtime's broker tests: in-process apps, worker processes, output checks.

Imported by ``conftest.py`` (fixtures) and by the tests (``from rt_helpers import ...``); a
uniquely named module, since ``conftest`` is a name every test directory uses.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streams import serdes
from streams.runtime.kafka_streams import KafkaStreams
from streams.testing import clients
from streams.topology.topology import Topology

APPS_DIR = Path(__file__).resolve().parent / "apps"
REPO = Path(__file__).resolve().parents[3]
if str(APPS_DIR) not in sys.path:
    sys.path.insert(0, str(APPS_DIR))  # tests import wordcount_app like the workers do

WORDS = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "kiwi", "lemon", "mango",
         "nut", "olive", "pear", "quince", "rasp", "sloe"]

#: Settings that keep rebalances and commits quick on a one-broker test cluster.
FAST = {
    "commit.interval.ms": 200,
    "consumer.session.timeout.ms": 6000,
    "consumer.heartbeat.interval.ms": 1000,
    "poll.ms": 50,
}


def make_lines(n: int, seed: int, start: int = 0) -> tuple[list[tuple[str, str]], collections.Counter[str]]:
    """``n`` keyed lines of 1-4 words and the word counts they hold."""
    rng = random.Random(seed)
    lines = []
    counts: collections.Counter[str] = collections.Counter()
    for i in range(start, start + n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 4))]
        counts.update(words)
        lines.append((f"line-{i}", " ".join(words)))
    return lines, counts


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def latest_values(bootstrap: str, topic: str, value_serde: Any = None) -> dict[str, Any]:
    """The last value per key in ``topic`` (keys as str; values via ``value_serde``)."""
    latest: dict[str, Any] = {}
    for r in clients.consume_all(bootstrap, topic, key_serde=serdes.String(),
                                 value_serde=value_serde or serdes.Long()):
        latest[r.key] = r.value
    return latest


def wait_latest(bootstrap: str, topic: str, expected: dict[str, Any], timeout: float = 60.0,
                value_serde: Any = None) -> dict[str, Any]:
    """Wait until the latest value per key in ``topic`` equals ``expected``; returns it."""
    deadline = time.monotonic() + timeout
    latest: dict[str, Any] = {}
    while time.monotonic() < deadline:
        latest = latest_values(bootstrap, topic, value_serde)
        if latest == expected:
            return latest
        time.sleep(0.3)
    diff = {k: (latest.get(k), expected.get(k)) for k in set(latest) | set(expected)
            if latest.get(k) != expected.get(k)}
    raise AssertionError(f"{topic}: latest values differ from expected after {timeout:.0f}s; "
                         f"(got, expected) per key: {diff}")


def app_id_for(request: pytest.FixtureRequest) -> str:
    """A unique, topic-name-safe application id named after the test."""
    base = re.sub(r"[^a-zA-Z0-9._-]+", "-", request.node.name).strip("-")[:60]
    return f"rt-{base}-{uuid.uuid4().hex[:8]}"


def delete_internal_topics(bootstrap: str, app_id: str) -> None:
    """Best effort: drop ``<app_id>-*`` topics so the session broker stays small."""
    with contextlib.suppress(Exception):
        admin = clients.admin_client(bootstrap)
        names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(f"{app_id}-")]
        if names:
            for fut in admin.delete_topics(names, operation_timeout=10).values():
                with contextlib.suppress(Exception):
                    fut.result(10)


class AppFactory:
    """Makes in-process KafkaStreams apps with test settings; closes them all afterwards."""

    def __init__(self, bootstrap: str, app_id: str, tmp_path: Path) -> None:
        self.bootstrap = bootstrap
        self.app_id = app_id
        self.tmp_path = tmp_path
        self.apps: list[KafkaStreams] = []

    def __call__(self, topology: Topology, state_dir: str | Path | None = None,
                 **config: Any) -> KafkaStreams:
        cfg: dict[str, Any] = {
            "application.id": self.app_id,
            "bootstrap.servers": self.bootstrap,
            "state.dir": str(state_dir or self.tmp_path / f"state-{len(self.apps)}"),
            **FAST,
        }
        cfg.update({k.replace("_", "."): v for k, v in config.items()})
        app = KafkaStreams(topology, cfg)
        self.apps.append(app)
        return app

    def close_all(self) -> None:
        for app in self.apps:
            with contextlib.suppress(Exception):
                app.close(30)
        self.apps.clear()
        gc.collect()  # a closed app's Kafka clients go with it, not at the end of the session


# ---------------------------------------------------------------------- worker processes
_ASSIGNED = re.compile(r": assigned tasks (.*) \(\d+ restoring\)$")
_TRANSITION = re.compile(r"state transition from (\w+) to (\w+)")
_RESTORED = re.compile(r"store (\S+) of task (\S+) restored: (\d+) records")


class Worker:
    """One ``streams run`` process; its output goes to a log file that the test reads."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def lines(self) -> list[str]:
        return self.text().splitlines()

    def assigned(self) -> set[str] | None:
        """Tasks of the last assignment this worker logged (None before the first)."""
        last: set[str] | None = None
        for line in self.lines():
            m = _ASSIGNED.search(line)
            if m:
                last = set() if m.group(1) == "none" else set(m.group(1).split(", "))
        return last

    def state(self) -> str | None:
        """The client state it logged last."""
        last = None
        for line in self.lines():
            m = _TRANSITION.search(line)
            if m:
                last = m.group(2)
        return last

    def restored(self) -> dict[str, int]:
        """Records restored per task, from the restore log lines."""
        out: dict[str, int] = {}
        for line in self.lines():
            m = _RESTORED.search(line)
            if m:
                out[m.group(2)] = out.get(m.group(2), 0) + int(m.group(3))
        return out

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait for the clean shutdown; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no commit, no checkpoint, no leave-group."""
        self.proc.kill()
        self.proc.wait(10)


class WorkerFactory:
    """Starts ``python -m streams.cli.main run wordcount_app:topology`` processes."""

    def __init__(self, bootstrap: str, app_id: str, tmp_path: Path) -> None:
        self.bootstrap = bootstrap
        self.app_id = app_id
        self.tmp_path = tmp_path
        self.workers: list[Worker] = []

    def __call__(self, name: str, input_topic: str, output_topic: str,
                 state_dir: Path | None = None, extra: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> Worker:
        """Start worker ``name``; ``env`` adds to its environment."""
        state = state_dir or self.tmp_path / f"state-{name}"
        log = self.tmp_path / f"worker-{name}.log"
        extra_env = env or {}
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("STREAMS_") or k in ("STREAMS_KAFKA_VERSION", "STREAMS_KAFKA_CACHE")}
        env.update(extra_env)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(APPS_DIR), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
        env["WORDCOUNT_INPUT"] = input_topic
        env["WORDCOUNT_OUTPUT"] = output_topic
        cmd = [
            sys.executable, "-m", "streams.cli.main", "run", "wordcount_app:topology",
            "--bootstrap-servers", self.bootstrap, "--application-id", self.app_id,
            "--state-dir", str(state), "--shutdown-timeout", "30",
            "-s", "consumer.session.timeout.ms=6000", "-s", "consumer.heartbeat.interval.ms=1000",
            "-s", "commit.interval.ms=500", "-s", "poll.ms=50", *extra,
        ]
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        worker = Worker(name, proc, log)
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        stop_workers(self.workers)


def stop_workers(workers: list[Worker]) -> None:
    """SIGTERM every worker still alive, then make sure each one is gone (SIGKILL after 30 s)."""
    for w in workers:
        if w.alive:
            w.proc.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.proc.wait(30)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait(10)


def dump_logs(workers: list[Worker]) -> None:
    """The tail of every worker's log on stderr (for a failed test's report)."""
    for w in workers:
        sys.stderr.write(f"----- worker {w.name} log -----\n{w.text()[-6000:]}\n")


def assert_clean_shutdown(workers: list[Worker]) -> None:
    """Every worker is still running, and exits 0 on SIGTERM after saying so."""
    for w in workers:
        assert w.alive, w.text()[-3000:]
        assert w.terminate(40) == 0, w.text()[-3000:]
        assert "received SIGTERM: shutting down" in w.text()


def stable_assignment(workers: list[Worker], all_tasks: set[str]) -> dict[str, set[str]] | None:
    """The workers' assignments once every one is RUNNING with a non-empty share and together
    they own every task exactly once; None while that is not (yet) so."""
    shares: dict[str, set[str]] = {}
    for w in workers:
        a = w.assigned()
        if not a or w.state() != "RUNNING":
            return None
        shares[w.name] = a
    union: set[str] = set()
    for a in shares.values():
        if union & a:
            return None
        union |= a
    return shares if union == all_tasks else None


#: ``streams run`` settings that turn the record cache off, for tests that check every update
NO_CACHE = ("-s", "statestore.cache.max.bytes=0")


def start_example_worker(name: str, app_spec: str, app_id: str, bootstrap: str, tmp_path: Path,
                         env_overrides: dict[str, str], state_dir: Path | None = None,
                         extra: tuple[str, ...] = ()) -> Worker:
    """One ``streams run <app_spec>`` process for an example app, logging to a file; the
    example's topic names come from ``env_overrides``; ``extra`` adds CLI arguments."""
    log = tmp_path / f"worker-{name}.log"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("STREAMS_") or k in ("STREAMS_KAFKA_VERSION", "STREAMS_KAFKA_CACHE")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(env_overrides)
    cmd = [
        sys.executable, "-m", "streams.cli.main", "run", app_spec,
        "--bootstrap-servers", bootstrap, "--application-id", app_id,
        "--state-dir", str(state_dir or tmp_path / f"state-{name}"), "--shutdown-timeout", "30",
        "-s", "commit.interval.ms=200", "-s", "consumer.session.timeout.ms=6000",
        "-s", "consumer.heartbeat.interval.ms=1000", "-s", "poll.ms=50", *extra,
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Worker(name, proc, log)


def committed(bootstrap: str, group: str, topic: str, ends: dict[int, int]) -> bool:
    """True once ``group`` has committed at least ``ends[p]`` on every partition of ``topic``."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    admin = clients.admin_client(bootstrap)
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in ends])
    try:
        result = admin.list_consumer_group_offsets([request])[group].result(10)
    except Exception:
        return False
    offsets = {tp.partition: tp.offset for tp in result.topic_partitions}
    return all(offsets.get(p, -1) >= end for p, end in ends.items() if end > 0)


def committed_and_ends(bootstrap: str, group: str, topic: str,
                       partitions: int) -> tuple[list[int], list[int]]:
    """(committed offset of ``group``, end offset) per partition of ``topic``."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False, "logger": clients._quiet_logger()})
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        committed = [max(tp.offset, 0) for tp in c.committed(tps, timeout=10)]
        ends = [c.get_watermark_offsets(tp, timeout=10, cached=False)[1] for tp in tps]
        return committed, ends
    finally:
        c.close()
