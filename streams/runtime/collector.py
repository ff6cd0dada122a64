"""Where sink nodes and changelogging stores send serialized records.

The runtime's collector wraps a Kafka producer; ``TopologyTestDriver``'s keeps records in memory.
Both implement :class:`RecordCollector`, so the Task code is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Headers = Sequence[tuple[str, bytes | None]]


class RecordCollector(Protocol):
    """Accepts serialized records for a topic; the partition is chosen by key when None."""

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None,
        timestamp: int,
        partition: int | None = None,
    ) -> None:
        """Queue one record for ``topic``."""
        ...

    def partitions_for(self, topic: str) -> int | None:
        """Partition count of ``topic`` if known (used by custom partitioners)."""
        ...
