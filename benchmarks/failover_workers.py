"""Process and Kafka plumbing for :mod:`benchmarks.failover_bench`.

Holds the ``streams run`` worker processes and the parsing of their logs (:class:`Worker`,
:func:`start_worker`, :func:`stop_workers`, :func:`stable`) and the Kafka helpers the benchmark
drives them with: writing the input keys (:func:`produce_keys`), committed and end offsets
(:class:`Offsets`), the trickle producer thread (:class:`Trickle`), the output watcher thread
(:class:`OutputWatcher`) and reading the latest count per key (:func:`latest_counts`). The run
logic, the report and ``main`` stay in :mod:`benchmarks.failover_bench`.
"""

from __future__ import annotations

import collections
import datetime as _dt
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PARTITIONS = 6
SESSION_TIMEOUT_MS = 10_000
HEARTBEAT_MS = 1_000
COMMIT_INTERVAL_MS = 1_000
REPO = Path(__file__).resolve().parent.parent
ALL_TASKS = [f"0_{p}" for p in range(PARTITIONS)]


# --------------------------------------------------------------------------------------------
# Worker processes and their logs

_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ \S+: (.*)$")
_ASSIGNED = re.compile(r": assigned tasks (.*) \((\d+) restoring\)$")
_STANDBY = re.compile(r": standby tasks (.*)$")
TRANSITION = re.compile(r"state transition from (\w+) to (\w+)")
RESTORED = re.compile(r"store (\S+) of task (\S+) restored: (\d+) records from \S+ in ([\d.]+)s")


def _tasks(text: str) -> set[str]:
    return set() if text == "none" else set(text.split(", "))


@dataclass
class LogLine:
    ts: float  # epoch seconds (the worker's local-time asctime)
    text: str
    offset: int  # byte offset of the line in the log file


class Worker:
    """One ``streams run`` process; stdout and stderr go to its log file."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], log: Path, state_dir: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log
        self.state_dir = state_dir

    def lines(self, since: int = 0) -> list[LogLine]:
        """Log lines (with a timestamp) starting at byte offset ``since``."""
        out: list[LogLine] = []
        with open(self.log, "rb") as f:
            f.seek(since)
            offset = since
            for raw in f:
                m = _LINE.match(raw.decode(errors="replace").rstrip("\n"))
                if m:
                    ts = _dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                    out.append(LogLine(ts, m.group(2), offset))
                offset += len(raw)
        return out

    def size(self) -> int:
        return self.log.stat().st_size

    def _last_tasks(self, pattern: re.Pattern[str], until: int | None) -> set[str] | None:
        """The tasks of the last line matching ``pattern`` (before byte ``until``)."""
        last: set[str] | None = None
        for ln in self.lines():
            if until is not None and ln.offset >= until:
                break
            m = pattern.search(ln.text)
            if m:
                last = _tasks(m.group(1))
        return last

    def assigned(self, until: int | None = None) -> set[str] | None:
        """The last assignment logged (before byte ``until``); None before the first."""
        return self._last_tasks(_ASSIGNED, until)

    def standbys(self, until: int | None = None) -> set[str]:
        """The standby tasks of the last ``standby tasks`` line (before byte ``until``)."""
        return self._last_tasks(_STANDBY, until) or set()

    def state(self) -> str | None:
        last = None
        for ln in self.lines():
            m = TRANSITION.search(ln.text)
            if m:
                last = m.group(2)
        return last

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class RunSpec:
    standbys: int
    app_id: str
    input_topic: str
    output_topic: str
    #: records earlier runs' trickles wrote to the shared input topic, per key
    earlier: collections.Counter[str] = field(default_factory=collections.Counter)


def start_worker(name: str, spec: RunSpec, bootstrap: str, workdir: Path) -> Worker:
    state_dir = workdir / f"{spec.app_id}-state-{name}"
    log = workdir / f"{spec.app_id}-{name}.log"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("STREAMS_") or k in ("STREAMS_KAFKA_VERSION", "STREAMS_KAFKA_CACHE")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["FAILOVER_INPUT"] = spec.input_topic
    env["FAILOVER_OUTPUT"] = spec.output_topic
    cmd = [
        sys.executable, "-m", "streams.cli.main", "run", "benchmarks.failover_bench:topology",
        "--bootstrap-servers", bootstrap, "--application-id", spec.app_id,
        "--state-dir", str(state_dir), "--shutdown-timeout", "30",
        "-s", f"num.standby.replicas={spec.standbys}",
        "-s", f"consumer.session.timeout.ms={SESSION_TIMEOUT_MS}",
        "-s", f"consumer.heartbeat.interval.ms={HEARTBEAT_MS}",
        "-s", f"commit.interval.ms={COMMIT_INTERVAL_MS}",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Worker(name, proc, log, state_dir)


def stop_workers(workers: Iterable[Worker]) -> dict[str, int | None]:
    """SIGTERM every live worker, wait (SIGKILL after 40 s); exit codes by name."""
    ws = list(workers)
    for w in ws:
        if w.alive:
            w.proc.send_signal(signal.SIGTERM)
    codes: dict[str, int | None] = {}
    for w in ws:
        try:
            codes[w.name] = w.proc.wait(40)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait(10)
            codes[w.name] = None
    return codes


def stable(workers: list[Worker]) -> dict[str, set[str]] | None:
    """Shares of the workers once all are RUNNING, each with tasks, covering every task once."""
    shares: dict[str, set[str]] = {}
    for w in workers:
        if not w.alive:
            raise RuntimeError(f"worker {w.name} exited with {w.proc.returncode}")
        a = w.assigned()
        if not a or w.state() != "RUNNING":
            return None
        shares[w.name] = a
    union: set[str] = set()
    for a in shares.values():
        if union & a:
            return None
        union |= a
    return shares if union == set(ALL_TASKS) else None


# --------------------------------------------------------------------------------------------
# Kafka helpers


def produce_keys(bootstrap: str, topic: str, keys: int) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1_000_000,
                  "queue.buffering.max.messages": 1_000_000, "partitioner": "murmur2_random"})
    for i in range(keys):
        k = f"k{i:06d}".encode()
        while True:
            try:
                p.produce(topic, k, k)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10_000 == 0:
            p.poll(0)
    if p.flush(120):
        raise RuntimeError(f"input to {topic} not fully acknowledged")


class Offsets:
    """Committed offsets of a group and end offsets, through one idle consumer."""

    def __init__(self, bootstrap: str, group: str) -> None:
        from confluent_kafka import Consumer

        from streams.testing.clients import _quiet_logger

        self._c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                            "enable.auto.commit": False, "logger": _quiet_logger()})

    def ends(self, topic: str, partitions: int = PARTITIONS) -> list[int]:
        from confluent_kafka import TopicPartition

        return [self._c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
                for p in range(partitions)]

    def lag(self, topic: str) -> int:
        from confluent_kafka import TopicPartition

        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        committed = [max(tp.offset, 0) for tp in self._c.committed(tps, timeout=10)]
        return sum(max(0, e - c) for e, c in zip(self.ends(topic), committed, strict=True))

    def close(self) -> None:
        self._c.close()


class Trickle(threading.Thread):
    """Writes ``rate`` records/s to random existing keys until stopped; counts what it wrote."""

    def __init__(self, bootstrap: str, topic: str, keys: int, rate: int, seed: int) -> None:
        super().__init__(daemon=True, name="trickle")
        from confluent_kafka import Producer

        self._p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                            "partitioner": "murmur2_random"})
        self._topic = topic
        self._keys = keys
        self._rate = rate
        self._rng = random.Random(seed)
        self.stop_event = threading.Event()
        self.written: collections.Counter[str] = collections.Counter()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            tick = 0.05
            per_tick = max(1, round(self._rate * tick))
            nxt = time.monotonic()
            while not self.stop_event.is_set():
                for _ in range(per_tick):
                    k = f"k{self._rng.randrange(self._keys):06d}"
                    self._p.produce(self._topic, k.encode(), k.encode())
                    self.written[k] += 1
                self._p.poll(0)
                nxt += tick
                time.sleep(max(0.0, nxt - time.monotonic()))
            if self._p.flush(60):
                raise RuntimeError("trickle records not all acknowledged")
        except BaseException as exc:  # reported by the orchestrator
            self.error = exc


class OutputWatcher(threading.Thread):
    """Reads the output topic from given offsets on; keeps (partition of key, append time ms)."""

    def __init__(self, bootstrap: str, topic: str, start: list[int]) -> None:
        super().__init__(daemon=True, name="output-watcher")
        from confluent_kafka import Consumer, TopicPartition

        from streams.testing.clients import _quiet_logger

        self._c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"failover-watch-{uuid.uuid4()}",
                            "enable.auto.commit": False, "fetch.wait.max.ms": 50,
                            "logger": _quiet_logger()})
        self._c.assign([TopicPartition(topic, p, off) for p, off in enumerate(start)])
        self.stop_event = threading.Event()
        self.records: list[tuple[int, float]] = []
        self.mismatched = 0  # records whose topic partition is not the key's murmur2 partition
        self.error: BaseException | None = None

    def run(self) -> None:
        from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME

        from streams.testing.murmur2 import murmur2_partition

        try:
            while not self.stop_event.is_set():
                for msg in self._c.consume(1000, 0.2):
                    if msg.error() is not None:
                        continue
                    kind, ts = msg.timestamp()
                    if kind != TIMESTAMP_LOG_APPEND_TIME:
                        raise RuntimeError("output topic is not LogAppendTime")
                    part = murmur2_partition(msg.key() or b"", PARTITIONS)
                    if part != msg.partition():
                        self.mismatched += 1
                    self.records.append((part, ts / 1000.0))
        except BaseException as exc:
            self.error = exc
        finally:
            self._c.close()

    def first_after(self, t: float) -> dict[int, float]:
        """The first append time after ``t`` per partition."""
        first: dict[int, float] = {}
        for part, ts in list(self.records):
            if ts > t and (part not in first or ts < first[part]):
                first[part] = ts
        return first


def latest_counts(bootstrap: str, topic: str) -> dict[str, int]:
    """The last value per key in the output topic."""
    from streams import serdes
    from streams.testing import clients

    latest: dict[str, int] = {}
    for r in clients.consume_all(bootstrap, topic, key_serde=serdes.String(), value_serde=serdes.Long()):
        latest[r.key] = r.value
    return latest
