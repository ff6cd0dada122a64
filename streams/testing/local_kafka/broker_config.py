"""A node's layout and configuration: its ports and files (:class:`NodeSpec`), its rendered
``server.properties`` and log4j2 config, the KRaft cluster id, and free loopback ports.

Pure functions (apart from probing ports), unit tested without a broker.
"""

from __future__ import annotations

import base64
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "NodeSpec",
    "broker_properties",
    "free_ports",
    "generate_cluster_id",
    "plan_nodes",
    "render_log4j2_config",
    "render_properties",
]

_LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class NodeSpec:
    """One combined broker+controller node: its id, ports and private directory."""

    node_id: int
    port: int
    controller_port: int
    directory: Path

    @property
    def bootstrap(self) -> str:
        """``host:port`` of this node's client listener."""
        return f"{_LOOPBACK}:{self.port}"

    @property
    def data_dir(self) -> Path:
        """``log.dirs`` (which also holds the KRaft metadata log)."""
        return self.directory / "data"

    @property
    def config_file(self) -> Path:
        """The rendered ``server.properties``."""
        return self.directory / "server.properties"

    @property
    def log4j_file(self) -> Path:
        """The rendered log4j2 configuration."""
        return self.directory / "log4j2.properties"

    @property
    def log_file(self) -> Path:
        """The broker's own log (written by log4j2)."""
        return self.directory / "server.log"

    @property
    def stdout_file(self) -> Path:
        """JVM stdout/stderr: crashes before logging is up and JVM warnings end up here."""
        return self.directory / "stdout.log"


def broker_properties(
    node: NodeSpec,
    voters: Sequence[NodeSpec],
    overrides: Mapping[str, object] | None = None,
) -> dict[str, str]:
    """``server.properties`` for ``node`` in a cluster whose controller quorum is ``voters``.

    Internal topics get replication factor ``min(3, nodes)`` and, from three nodes on,
    min.insync.replicas 2, so a one-node cluster works and a three-node one tolerates a loss.
    Topics are never auto-created: tests create them explicitly, as production should.
    ``overrides`` win over everything (values are turned into strings; ``True`` -> ``"true"``).
    """
    size = len(voters)
    replication = min(3, size)
    min_isr = 2 if size >= 3 else 1
    quorum = ",".join(f"{v.node_id}@{_LOOPBACK}:{v.controller_port}" for v in voters)
    props: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node.node_id,
        "controller.quorum.voters": quorum,
        "listeners": f"PLAINTEXT://{_LOOPBACK}:{node.port},CONTROLLER://{_LOOPBACK}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{_LOOPBACK}:{node.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(node.data_dir),
        # Topics must be created explicitly, like in production; a typo fails fast instead of
        # silently creating a one-partition topic.
        "auto.create.topics.enable": False,
        "num.partitions": 1,
        "default.replication.factor": replication,
        "min.insync.replicas": 1,
        "offsets.topic.replication.factor": replication,
        # 50 partitions (the default) make the first consumer group noticeably slower to join.
        "offsets.topic.num.partitions": 5,
        "transaction.state.log.replication.factor": replication,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": 5,
        "share.coordinator.state.topic.replication.factor": replication,
        "share.coordinator.state.topic.min.isr": min_isr,
        "share.coordinator.state.topic.num.partitions": 5,
        "group.initial.rebalance.delay.ms": 0,
        "group.streams.initial.rebalance.delay.ms": 0,
        # A crashed node is fenced, and a restarted one may re-register (the controller refuses
        # while the old session lives), after seconds instead of the 9 s default.
        "broker.heartbeat.interval.ms": 500,
        "broker.session.timeout.ms": 4000,
        "replica.lag.time.max.ms": 10000,
        # The 128 MiB default would take a quarter of the small heap of every node.
        "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
        "num.network.threads": 2,
        "num.io.threads": 4,
        "background.threads": 4,
    }
    if overrides:
        props.update(overrides)
    return {key: _property_value(value) for key, value in props.items()}


def _property_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_properties(props: Mapping[str, str]) -> str:
    """Java ``.properties`` text; backslashes and key separators are escaped."""
    lines = ["# written by streams.testing.local_kafka"]
    for key, value in props.items():
        safe_key = key.replace("\\", "\\\\").replace("=", "\\=").replace(":", "\\:")
        safe_value = value.replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f"{safe_key}={safe_value}")
    return "\n".join(lines) + "\n"


def render_log4j2_config(log_file: Path, level: str = "INFO") -> str:
    """log4j2 properties sending every broker log line to ``log_file``.

    The shutdown hook is off because Kafka logs during its own shutdown hook and log4j would
    otherwise complain; with immediate flush nothing is lost.
    """
    path = str(log_file).replace("\\", "\\\\")
    return f"""# written by streams.testing.local_kafka
status = warn
shutdownHook = disable
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {path}
appender.file.immediateFlush = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = FILE
# Each component dumps its ~400 config values at start-up; they bury the interesting lines.
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def generate_cluster_id() -> str:
    """A random KRaft cluster id: 16 random bytes, URL-safe base64 without padding.

    Like Kafka's ``Uuid.randomUuid()`` it never starts with ``-`` (which CLI parsers would take
    for an option).
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((_LOOPBACK, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def plan_nodes(size: int, requested_port: int | None, root: Path) -> list[NodeSpec]:
    """Ports and directories of ``size`` nodes under ``root``.

    Client ports are ``requested_port + i`` when given, free ports otherwise; controller ports
    are always free ones.
    """
    ports = free_ports(size * 2)
    if requested_port is not None:
        client_ports = [requested_port + i for i in range(size)]
        controller_ports = [p for p in ports if p not in client_ports][:size]
        if len(controller_ports) < size:
            controller_ports = free_ports(size)
    else:
        client_ports, controller_ports = ports[:size], ports[size:]
    return [
        NodeSpec(
            node_id=i,
            port=client_ports[i],
            controller_port=controller_ports[i],
            directory=root / f"node-{i}",
        )
        for i in range(size)
    ]
