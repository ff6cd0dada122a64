"""The three-node cluster of the fault scenarios: its health, who leads what, process states."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from streams.testing import clients
from streams.testing.local_kafka import LocalKafka


def process_state(pid: int) -> str:
    """The one-letter state of a process from ``/proc`` (``T`` when stopped), ``?`` if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "?"
    return stat.rsplit(")", 1)[1].split()[0]


def ensure_cluster_healthy(kafka: LocalKafka, timeout: float = 120.0) -> None:
    """Resume paused nodes, start stopped ones, and wait until every partition of every topic
    (internal ones included) has a leader and all three replicas in sync."""
    for node in range(kafka.size):
        kafka.resume_node(node)
    for node in range(kafka.size):
        if not kafka.is_running(node):
            kafka.start_node(node, timeout=timeout)
    admin = clients.admin_client(kafka.bootstrap_servers)
    deadline = time.monotonic() + timeout
    behind: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            metadata = admin.list_topics(timeout=10)
        except Exception as exc:
            behind = {"metadata": str(exc)}
            time.sleep(0.5)
            continue
        behind = {}
        if len(metadata.brokers) != kafka.size:
            behind["brokers"] = sorted(metadata.brokers)
        for name, topic in metadata.topics.items():
            for p, part in topic.partitions.items():
                if part.leader < 0 or len(part.isrs) < len(part.replicas):
                    behind[f"{name}-{p}"] = {"leader": part.leader, "isr": part.isrs}
        if not behind:
            return
        time.sleep(0.5)
    raise AssertionError(
        f"the cluster did not get healthy again within {timeout:.0f}s (all nodes up, every "
        f"partition fully in sync); behind: {dict(itertools.islice(behind.items(), 12))}"
    )


def partition_leaders(bootstrap: str, topics: Iterable[str]) -> dict[str, dict[int, int]]:
    """Leader node per partition of each topic."""
    return {t: {p: m.leader for p, m in clients.topic_partitions(bootstrap, t).items()}
            for t in topics}


def group_coordinator(bootstrap: str, group: str, timeout: float = 30.0) -> int:
    """Node id of the group coordinator of ``group`` (retried while the group is loading)."""
    admin = clients.admin_client(bootstrap)
    deadline = time.monotonic() + timeout
    while True:
        try:
            description = admin.describe_consumer_groups([group])[group].result(10)
            if description.coordinator is not None and description.coordinator.id >= 0:
                return int(description.coordinator.id)
        except Exception as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"could not find the coordinator of {group}: {exc}") from exc
        if time.monotonic() > deadline:
            raise AssertionError(f"could not find the coordinator of {group}")
        time.sleep(0.5)
