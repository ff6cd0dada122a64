"""Waiting for started nodes to answer: each node's client port accepts connections, then a
metadata request lists every running node.

A node whose JVM exits meanwhile fails the wait at once. Every failure is an exception built by
the caller's ``fail`` from a one-line reason (the cluster adds its nodes' logs).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from streams.errors import KafkaUnavailableError
from streams.testing import clients
from streams.testing.local_kafka.broker_config import _LOOPBACK

if TYPE_CHECKING:
    from streams.testing.local_kafka.cluster import _Node

__all__ = ["check_alive", "wait_port", "wait_ready"]

#: Turns a reason into the exception to raise.
Fail = Callable[[str], KafkaUnavailableError]


def wait_ready(
    nodes: Sequence[_Node],
    all_nodes: Sequence[_Node],
    deadline: float,
    startup_timeout: float,
    fail: Fail,
) -> None:
    """Wait until each of ``nodes`` accepts connections and metadata lists every running node of
    ``all_nodes``; give up at ``deadline`` (``time.monotonic()``). ``startup_timeout`` is only
    named in the failure reason."""
    for node in nodes:
        wait_port(node, deadline, startup_timeout, fail)
    expected = {n.spec.node_id for n in all_nodes if n.process is not None}
    bootstrap = ",".join(n.spec.bootstrap for n in nodes)
    admin = clients.admin_client(bootstrap)
    last_error = ""
    while True:
        check_alive(nodes, fail)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise fail(
                f"Kafka did not answer a metadata request within {startup_timeout:.0f} s"
                + (f" (last error: {last_error})" if last_error else "")
            )
        try:
            # Short: a squatter on our port accepts connections but never answers, and the
            # JVM's exit must be noticed promptly.
            metadata = admin.list_topics(timeout=min(1.0, max(0.2, remaining)))
            seen = set(metadata.brokers)
            if expected <= seen:
                return
            last_error = f"brokers registered: {sorted(seen)}, expected {sorted(expected)}"
        except Exception as exc:
            last_error = str(exc)
        time.sleep(0.1)


def wait_port(node: _Node, deadline: float, startup_timeout: float, fail: Fail) -> None:
    """Wait until ``node``'s client port accepts a connection; give up at ``deadline``."""
    while True:
        check_alive([node], fail)
        try:
            with socket.create_connection((_LOOPBACK, node.spec.port), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise fail(
                f"Kafka node {node.spec.node_id} did not open {node.spec.bootstrap} within "
                f"{startup_timeout:.0f} s"
            )
        time.sleep(0.05)


def check_alive(nodes: Iterable[_Node], fail: Fail) -> None:
    """Raise ``fail(reason)`` if the JVM of one of ``nodes`` has exited."""
    for node in nodes:
        proc = node.process
        if proc is not None and proc.poll() is not None:
            raise fail(
                f"Kafka node {node.spec.node_id} exited with code {proc.returncode} "
                "during start-up"
            )
