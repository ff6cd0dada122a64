"""The lifecycle states of a stream thread."""

from __future__ import annotations

import enum


class ThreadState(enum.Enum):
    """Lifecycle of a stream thread (Kafka Streams' StreamThread.State)."""

    CREATED = "CREATED"
    STARTING = "STARTING"
    PARTITIONS_REVOKED = "PARTITIONS_REVOKED"
    PARTITIONS_ASSIGNED = "PARTITIONS_ASSIGNED"
    RUNNING = "RUNNING"
    PENDING_SHUTDOWN = "PENDING_SHUTDOWN"
    DEAD = "DEAD"
