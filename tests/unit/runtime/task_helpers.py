"""Building blocks for tests that drive a Task directly: messages and a collector."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams import Consumed, Processor, Produced, Record, StreamsBuilder, StreamsConfig, serdes
from streams.engine.message import Message
from streams.engine.task import Task, TaskId

S = serdes.String()


def Msg(topic: str, partition: int, offset: int, ts: int, value: str) -> Message:
    """A consumed record with key ``b"k"`` and ``value`` encoded."""
    return Message(topic, partition, offset, ts, b"k", value.encode())


class Collector:
    """Keeps what a Task sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, int]] = []

    def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Any,
             timestamp: int, partition: int | None = None) -> None:
        self.sent.append((topic, value, timestamp))

    def partitions_for(self, topic: str) -> int | None:
        return None


def two_topic_task(
    tmp_path: Path, config: dict[str, Any] | None = None, wall_clock: Callable[[], int] = lambda: 0,
) -> tuple[Task, Collector, list[tuple[str, int, int]]]:
    """A task of sub-topology (left + right merged -> processor -> out), partition 2."""
    seen: list[tuple[str, int, int]] = []

    class Remember(Processor):
        def process(self, record: Record) -> None:
            md = self.context.record_metadata()
            seen.append((md.topic, md.offset, self.context.current_stream_time_ms()))
            self.context.forward(record)

    b = StreamsBuilder()
    left = b.stream("left", Consumed(key_serde=S, value_serde=S))
    right = b.stream("right", Consumed(key_serde=S, value_serde=S))
    left.merge(right).process_values(Remember).to("out", Produced(key_serde=S, value_serde=S))
    topology = b.build()
    (sub,) = topology.subtopologies()
    collector = Collector()
    task = Task(TaskId(sub.id, 2), topology, sub,
                StreamsConfig({"application.id": "t", "state.dir": str(tmp_path), **(config or {})}),
                collector, wall_clock=wall_clock, state_dir=tmp_path / "0_2")
    task.initialize()
    task.init_processors()
    return task, collector, seen
