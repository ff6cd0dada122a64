"""Processor contexts: one shared per task (what record is being processed), one per node
(who its children and stores are)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams.errors import StreamsError
from streams.processor.api import PunctuationType, Punctuator
from streams.processor.record import Record, RecordMetadata

if TYPE_CHECKING:
    from streams.engine.task import Task

log = logging.getLogger("streams.processor")


class TaskContext:
    """Per-task mutable state describing the record in flight; read by every node's context.

    Plain attributes, because they are written once per record on the hot path.
    """

    __slots__ = (
        "app_config", "application_id", "changelog_writer", "commit_requested", "headers",
        "offset", "partition", "state_dir", "task", "task_id", "timestamp", "topic", "wall_clock",
    )

    def __init__(
        self,
        task: Task,
        task_id: str,
        application_id: str,
        app_config: Mapping[str, Any],
        state_dir: Path | None,
        wall_clock: Callable[[], int],
    ) -> None:
        self.task = task
        self.task_id = task_id
        self.application_id = application_id
        self.app_config = app_config
        self.state_dir = state_dir
        self.wall_clock = wall_clock
        self.changelog_writer: Any = None
        self.topic: str | None = None
        self.partition: int | None = None
        self.offset: int | None = None
        self.timestamp: int = -1
        self.headers: Any = None
        self.commit_requested = False


class NodeContext:
    """The :class:`~streams.processor.ProcessorContext` handed to one processor node."""

    __slots__ = ("_by_name", "_children", "_only", "_shared", "_stores", "node_name")

    def __init__(self, shared: TaskContext, node_name: str, stores: list[str]) -> None:
        self._shared = shared
        self.node_name = node_name
        self._stores = stores
        self._children: list[Callable[[Record], None]] = []
        self._by_name: dict[str, Callable[[Record], None]] = {}
        self._only: Callable[[Record], None] | None = None

    def _wire(self, children: list[tuple[str, Callable[[Record], None]]]) -> None:
        self._children = [fn for _, fn in children]
        self._by_name = dict(children)
        self._only = self._children[0] if len(self._children) == 1 else None

    # -- ProcessorContext ---------------------------------------------------------------
    @property
    def application_id(self) -> str:
        """The ``application.id``."""
        return self._shared.application_id

    @property
    def task_id(self) -> str:
        """The task id, e.g. ``"0_2"``."""
        return self._shared.task_id

    @property
    def app_configs(self) -> Mapping[str, Any]:
        """The application config."""
        return self._shared.app_config

    @property
    def state_dir(self) -> Path | None:
        """The task's state directory (None when the task has no persistent state)."""
        return self._shared.state_dir

    def record_metadata(self) -> RecordMetadata | None:
        """Topic/partition/offset of the input record, or None inside a punctuator."""
        s = self._shared
        if s.topic is None:
            return None
        return RecordMetadata(s.topic, s.partition if s.partition is not None else -1,
                              s.offset if s.offset is not None else -1)

    @property
    def topic(self) -> str | None:
        """Topic of the record being processed."""
        return self._shared.topic

    @property
    def partition(self) -> int | None:
        """Partition of the record being processed."""
        return self._shared.partition

    @property
    def offset(self) -> int | None:
        """Offset of the record being processed."""
        return self._shared.offset

    @property
    def timestamp(self) -> int:
        """Timestamp of the record being processed (or of the punctuation)."""
        return self._shared.timestamp

    @property
    def headers(self) -> Any:
        """Headers of the record being processed."""
        return self._shared.headers

    def forward(self, record: Record, child: str | None = None) -> None:
        """Send ``record`` to all children, or to the child named ``child``."""
        shared = self._shared
        # children see the forwarded record's time and headers; this node gets its own back
        prev_ts, prev_headers = shared.timestamp, shared.headers
        shared.timestamp = record.timestamp
        shared.headers = record.headers
        only = self._only
        if only is not None and child is None:
            only(record)
            shared.timestamp, shared.headers = prev_ts, prev_headers
            return
        if child is None:
            for fn in self._children:
                fn(record)
            shared.timestamp, shared.headers = prev_ts, prev_headers
        else:
            named = self._by_name.get(child)
            if named is None:
                raise StreamsError(
                    f"processor {self.node_name!r} forwarded to {child!r}, which is not one of its "
                    f"children ({', '.join(self._by_name) or 'none'})"
                )
            named(record)
            shared.timestamp, shared.headers = prev_ts, prev_headers

    def forward_same_time(self) -> Callable[..., None]:
        """A forward for processors whose output keeps the input's timestamp and headers
        (the stateless DSL operators): with a single child it is that child itself, since
        there is no record context to switch. Call it as ``forward(record)`` only."""
        return self._only if self._only is not None else self.forward

    def schedule(
        self, interval_ms: int, punctuation_type: PunctuationType, callback: Punctuator
    ) -> Any:
        """Call ``callback(timestamp)`` every ``interval_ms``; returns a cancellable handle."""
        if interval_ms < 1:
            raise StreamsError(f"punctuation interval must be >= 1 ms, got {interval_ms}")
        return self._shared.task.schedule(self.node_name, interval_ms, punctuation_type, callback)

    def get_state_store(self, name: str) -> Any:
        """The store ``name``; only stores connected to this processor (or global ones)."""
        task = self._shared.task
        if name not in self._stores and name not in task.global_store_names:
            raise StreamsError(
                f"processor {self.node_name!r} has no access to state store {name!r}; connect it "
                f"with stores=[{name!r}] (or topology.connect_processor_and_state_stores)"
            )
        return task.get_store(name)

    def commit(self) -> None:
        """Request a commit after the current record."""
        self._shared.commit_requested = True

    def record_dropped(self, reason: str, level: int = logging.WARNING) -> None:
        """Count the record in flight as dropped (the task's ``dropped_records``) and log why,
        naming this node and where the record came from: records are never dropped silently."""
        shared = self._shared
        shared.task.dropped_records += 1
        log.log(level, "%s skipped a record because %s (task=%s, topic=%r, partition=%s, "
                "offset=%s)", self.node_name, reason, shared.task_id, shared.topic,
                shared.partition, shared.offset)

    def current_stream_time_ms(self) -> int:
        """The task's stream time (largest timestamp seen; -1 before any record)."""
        return self._shared.task.stream_time

    def current_system_time_ms(self) -> int:
        """Wall-clock time (the driver's mocked clock in tests)."""
        return self._shared.wall_clock()


class PunctuationSchedule:
    """One scheduled punctuator; also its own cancellable handle."""

    __slots__ = ("callback", "cancelled", "interval", "next_time", "node", "type")

    def __init__(
        self, node: str, interval: int, ptype: PunctuationType, callback: Punctuator, first: int
    ) -> None:
        self.node = node
        self.interval = interval
        self.type = ptype
        self.callback = callback
        self.next_time = first
        self.cancelled = False

    def cancel(self) -> None:
        """Stop this punctuator."""
        self.cancelled = True

    def advance(self, now: int) -> None:
        """Move to the next aligned time after ``now``, skipping missed intervals (no bursts)."""
        nxt = self.next_time + self.interval
        if now >= nxt:
            missed = (now - self.next_time) // self.interval
            nxt = self.next_time + (missed + 1) * self.interval
        self.next_time = nxt
