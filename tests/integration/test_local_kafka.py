"""The local Kafka launcher against a real broker: round trips, clean stops, CLI, failures."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.errors import KafkaUnavailableError, StreamsError
from streams.testing import clients
from streams.testing.local_kafka import LocalKafka, sweep_stale_data_dirs
from streams.testing.murmur2 import murmur2_partition
from streams.testing.pytest_plugin import TopicFactory

REPO = Path(__file__).resolve().parents[2]


def _gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def _wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.1)
    return False


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "streams.cli.main", *args]


@pytest.mark.timeout(300)
def test_keyed_round_trip_over_three_partitions(
    topic_factory: TopicFactory,
    kafka_produce: Callable[..., list[clients.DeliveredRecord]],
    kafka_consume_all: Callable[..., list[clients.ConsumedRecord]],
) -> None:
    topic = topic_factory("round-trip", partitions=3)
    records = [(f"key-{i % 37}", f"value-{i}") for i in range(1000)]

    delivered = kafka_produce(topic, records)
    consumed = kafka_consume_all(topic)

    assert len(delivered) == len(consumed) == 1000
    assert sorted((r.key, r.value) for r in consumed) == sorted(
        (k.encode(), v.encode()) for k, v in records
    )
    partitions_of: dict[bytes, set[int]] = defaultdict(set)
    for r in consumed:
        partitions_of[r.key].add(r.partition)
    assert all(len(p) == 1 for p in partitions_of.values()), "a key landed in two partitions"
    # Where the producer said it put each key, where a Java client would put it, and where we
    # found it are all the same partition.
    for d in delivered:
        assert d.key is not None
        assert partitions_of[d.key] == {d.partition} == {murmur2_partition(d.key, 3)}
    assert {p for ps in partitions_of.values() for p in ps} == {0, 1, 2}
    # Per key, records come back in the order they were produced.
    in_log_order = sorted(consumed, key=lambda r: (r.partition, r.offset))
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for r in in_log_order:
        by_key[r.key].append(int(r.value.split(b"-")[1]))
    assert all(seq == sorted(seq) for seq in by_key.values())


@pytest.mark.timeout(300)
def test_topic_helpers_and_log_tail(local_kafka: LocalKafka) -> None:
    name = f"helpers-{os.getpid()}-{time.monotonic_ns()}"
    local_kafka.create_topic(name, partitions=2, config={"cleanup.policy": "compact"})
    try:
        assert sorted(clients.topic_partitions(local_kafka.bootstrap_servers, name)) == [0, 1]
        with pytest.raises(StreamsError, match=name):
            local_kafka.create_topic(name)
        local_kafka.produce(name, {"a": "1", "b": None})
        got = {r.key: r.value for r in local_kafka.consume(name, 2)}
        assert got == {b"a": b"1", b"b": None}
        with pytest.raises(TimeoutError, match="read only 2 of 3"):
            local_kafka.consume(name, 3, timeout=3.0)
    finally:
        local_kafka.delete_topic(name)
    assert clients.topic_partitions(local_kafka.bootstrap_servers, name) == {}
    local_kafka.delete_topic(name)  # deleting a missing topic is fine
    # the tail is the broker's own log: a header per node, then its latest lines (which
    # lines depends on what ran before on this shared broker, so check the shape)
    tail = local_kafka.log_tail(200)
    assert tail.startswith("--- node 0 ---")
    assert " INFO " in tail and len(tail.splitlines()) > 10


@pytest.mark.timeout(300)
def test_context_manager_stops_the_jvm_and_removes_the_data_dir() -> None:
    with LocalKafka() as kafka:
        pid = kafka.pids[0]
        data_dir = kafka.data_dir
        assert pid is not None and not _gone(pid)
        assert (data_dir / "node-0" / "data" / "meta.properties").is_file()
        assert (data_dir / "node-0" / "server.log").stat().st_size > 0
        metadata = clients.admin_client(kafka.bootstrap_servers).list_topics(timeout=10)
        assert list(metadata.brokers) == [0]
    assert _gone(pid)
    assert not data_dir.exists()
    assert not kafka.is_running()


@pytest.mark.timeout(300)
def test_port_clash_fails_with_the_broker_log() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        kafka = LocalKafka(port=port, startup_timeout=30)
        with pytest.raises(KafkaUnavailableError) as info:
            kafka.start()
    message = str(info.value)
    assert "Address already in use" in message
    assert "server.log" in message
    assert not kafka.is_running()


@pytest.mark.timeout(300)
def test_cli_local_kafka_prints_address_and_stops_on_sigint() -> None:
    proc = subprocess.Popen(
        _cli("local-kafka"),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        match = re.fullmatch(r"bootstrap\.servers=(127\.0\.0\.1:\d+)\n", line)
        assert match, f"unexpected first line {line!r}"
        metadata = clients.admin_client(match.group(1)).list_topics(timeout=10)
        assert len(metadata.brokers) == 1
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    started = re.search(r"pids ([\d, ]+); data in (\S+)\)", err)
    assert started, err
    pids = [int(p) for p in started.group(1).split(", ")]
    data_dir = Path(started.group(2))
    assert all(_gone(pid) for pid in pids)
    assert not data_dir.exists()
    assert "stopped" in err


@pytest.mark.timeout(300)
def test_broker_dies_with_its_python_parent_even_on_sigkill(tmp_path: Path) -> None:
    script = (
        "import time\n"
        "from streams.testing.local_kafka import LocalKafka\n"
        "k = LocalKafka().start()\n"
        "print(k.pids[0], k.data_dir, flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        pid_text, data_dir_text = proc.stdout.readline().split()
        jvm = int(pid_text)
        assert not _gone(jvm)
    finally:
        proc.kill()
        proc.wait()
    assert _wait_gone(jvm), "the broker outlived its SIGKILLed parent"
    # Nobody could delete the data dir; the next launcher start sweeps it.
    data_dir = Path(data_dir_text)
    assert data_dir.exists()
    assert data_dir in sweep_stale_data_dirs(data_dir.parent)
    assert not data_dir.exists()


@pytest.mark.timeout(300)
def test_cli_demo_against_the_session_broker(kafka_bootstrap: str) -> None:
    proc = subprocess.run(
        _cli("demo", "--bootstrap-servers", kafka_bootstrap),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    # the word-count worker ran as its own process, reached RUNNING, and every final count
    # matched the counts the demo computed from its input (the demo exits 1 otherwise)
    assert "worker is RUNNING" in proc.stdout
    match = re.search(r"demo finished: all (\d+) word counts match", proc.stdout)
    assert match is not None and int(match.group(1)) > 10, proc.stdout
    assert "worker stopped (exit code 0)" in proc.stdout
