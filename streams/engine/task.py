"""A Task runs one sub-topology for one partition number: ``TaskId(1, 3)`` is ``"1_3"``.

The same class serves the runtime's stream threads and ``TopologyTestDriver``. Records come in
as message objects (confluent-kafka's ``Message``, or :class:`~streams.engine.message.Message`)
into the task's :class:`~streams.engine.partition_group.PartitionGroup`; :meth:`Task.process`
takes them in order, deserializes them with their source's serdes, gives them a timestamp and
pushes them depth-first through the node graph (:mod:`streams.engine.graph`). Sinks and
changelogging stores hand bytes to a :class:`~streams.engine.collector.RecordCollector`.
Failures go to :class:`~streams.engine.record_errors.RecordErrors`.
"""

from __future__ import annotations

import logging
import sys
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from streams.config import StreamsConfig
from streams.engine.collector import RecordCollector
from streams.engine.context import PunctuationSchedule, TaskContext
from streams.engine.graph import build_graph, default_serdes
from streams.engine.partition_group import PartitionGroup, TopicPartition
from streams.engine.punctuation import PunctuationQueue
from streams.engine.record_errors import RecordErrors
from streams.engine.record_loop import run_records
from streams.engine.state_manager import TaskStateManager
from streams.errors import ProcessorError, StreamsError
from streams.processor.api import PunctuationType
from streams.state.cache import ThreadCache
from streams.topology.nodes import SubTopology
from streams.topology.topology import Topology

log = logging.getLogger(__name__)


class TaskId(NamedTuple):
    """(sub-topology, partition); ``str()`` gives Kafka Streams' ``"1_3"`` form."""

    subtopology: int
    partition: int

    def __str__(self) -> str:
        return (f"{self.subtopology}_{self.partition}" if self.partition >= 0
                else f"global_{self.subtopology}")

    @classmethod
    def parse(cls, text: str) -> TaskId | None:
        """The task ``"1_3"`` names (the inverse of ``str()``), or None for other text."""
        sub, _, partition = text.partition("_")
        if sub.isdigit() and partition.isdigit():
            return cls(int(sub), int(partition))
        return None


class Task:
    """One sub-topology instantiated for one partition (or the global sub-topology)."""

    def __init__(self, task_id: TaskId, topology: Topology, subtopology: SubTopology,
                 config: StreamsConfig, collector: RecordCollector, *,
                 wall_clock: Callable[[], int], state_dir: Path | None = None,
                 cache: ThreadCache | None = None) -> None:
        self.id = task_id
        self.name = str(task_id)
        self.subtopology = subtopology
        self.topology = topology
        self.config = config
        self.collector = collector
        app_id: str = config["application.id"]
        self.application_id = app_id
        self.stream_time = -1
        self.dropped_records = 0
        #: records processed (counted by the task manager, per batch, for the metrics)
        self.processed = 0
        self.ctx = TaskContext(self, self.name, app_id, config, state_dir, wall_clock)
        self.global_store_names = topology.global_stores
        builders = {s: topology.stores[s] for s in subtopology.stores}
        changelogs = {s: Topology.changelog_topic(app_id, s) for s, b in builders.items()
                      if b.logging_enabled}
        self.state = TaskStateManager(self.ctx, builders, changelogs, task_id.partition,
                                      collector, lambda: default_serdes(config), cache)
        self.ctx.changelog_writer = self.state.changelog_writer
        self._global_stores: dict[str, Any] = {}
        self.graph = build_graph(topology, subtopology, config, self.ctx, collector,
                                 lambda t: topology.resolve_topic(t, app_id))
        self.errors = RecordErrors(self.name, config, collector, self.graph.owner_of,
                                   self._dropped)
        self.group = PartitionGroup(self.name, set(self.graph.sources),
                                    config["max.task.idle.ms"], wall_clock)
        self.punctuation = PunctuationQueue(self.ctx, self.errors.punctuator_failed)
        self.initialized = False
        self.closed = False
        #: changelog offsets read from the task's checkpoint file when it was created
        self.checkpoint: dict[TopicPartition, int] = {}
        #: stores whose contents are kept and only need the changelog's tail from
        #: :attr:`checkpoint`: persistent stores whose directories existed before the task
        #: opened them, or every store of a standby turned into this active task
        self.stores_existed: set[str] = set()

    def _dropped(self) -> None:
        self.dropped_records += 1

    # ------------------------------------------------------------------ lifecycle
    @property
    def source_topics(self) -> list[str]:
        """Kafka topic names this task reads."""
        return list(self.graph.sources)

    def initialize(self, global_stores: dict[str, Any] | None = None) -> None:
        """Open stores (registered for restore by the caller afterwards)."""
        self._global_stores = dict(global_stores or {})
        self.state.init_stores()
        self.initialized = True

    def init_processors(self) -> None:
        """Call every processor's ``init`` (after stores are restored)."""
        for name, processor, ctx in self.graph.processors:
            try:
                processor.init(ctx)
            except StreamsError:
                raise
            except Exception as exc:
                raise ProcessorError(
                    f"processor {name!r} of task {self.name} failed in init(): {exc}") from exc

    def get_store(self, name: str) -> Any:
        """The typed store ``name`` of this task (or a global store)."""
        store = self.state.stores.get(name)
        if store is None:
            store = self._global_stores.get(name)
        if store is None:
            raise StreamsError(f"task {self.name} has no state store {name!r}")
        return store

    @property
    def stores(self) -> dict[str, Any]:
        """This task's own stores by name."""
        return self.state.stores

    # ------------------------------------------------------------------ input
    def add_records(self, partition: TopicPartition, messages: Iterable[Any]) -> int:
        """Buffer messages of one input partition; returns the partition's buffered count."""
        q = self.group.queue(partition)
        q.extend(messages)
        return len(q)

    def queue(self, partition: TopicPartition) -> deque[Any]:
        """The buffer of one input partition (the stream thread appends to it directly)."""
        return self.group.queue(partition)

    def source_partitions(self) -> list[TopicPartition]:
        """The input partitions this task has queues for."""
        return list(self.group.queues)

    def buffered(self) -> int:
        """Records waiting in this task's queues."""
        return self.group.buffered()

    def buffered_for(self, partition: TopicPartition) -> int:
        """Records waiting for one partition."""
        return self.group.buffered_for(partition)

    @property
    def waiting(self) -> bool:
        """True when the last :meth:`process` stopped to wait for data of an empty input."""
        return self.group.waiting

    @property
    def lag_of(self) -> Callable[[TopicPartition], int] | None:
        """The fetched lag of an input partition (see PartitionGroup.lag_of)."""
        return self.group.lag_of

    @lag_of.setter
    def lag_of(self, lag_of: Callable[[TopicPartition], int] | None) -> None:
        self.group.lag_of = lag_of

    @property
    def enforced_processing(self) -> int:
        """Times processing went ahead with an input empty."""
        return self.group.enforced_processing

    # ------------------------------------------------------------------ processing
    def process(self, max_records: int = sys.maxsize) -> int:
        """Process up to ``max_records`` buffered records; returns how many were taken.

        One input partition: its queue in order. Several: :meth:`PartitionGroup.pick`."""
        group = self.group
        group.start_pass()
        queues = group.queues
        if len(queues) == 1:
            ((tp, q),) = queues.items()
            return run_records(self, q.popleft, min(len(q), max_records), tp)
        return run_records(self, group.pick, max_records)

    # ------------------------------------------------------------------ punctuation
    def schedule(self, node: str, interval: int, ptype: PunctuationType,
                 callback: Callable[[int], None]) -> PunctuationSchedule:
        """Register a punctuator (see :class:`PunctuationQueue`)."""
        return self.punctuation.schedule(node, interval, ptype, callback)

    def maybe_punctuate_stream_time(self) -> bool:
        """Fire stream-time punctuators whose time has come; True if any fired."""
        if self.stream_time < 0 or not self.punctuation.stream:
            return False
        return self.punctuation.fire(self.punctuation.stream, self.stream_time)

    def maybe_punctuate_wall_clock(self, now: int | None = None) -> bool:
        """Fire wall-clock punctuators whose time has come; True if any fired."""
        if not self.punctuation.wall:
            return False
        return self.punctuation.fire(self.punctuation.wall,
                                     self.ctx.wall_clock() if now is None else now)

    # ------------------------------------------------------------------ commit / close
    @property
    def commit_requested(self) -> bool:
        """True when a processor called ``context.commit()``."""
        return self.ctx.commit_requested

    def prepare_commit(self) -> dict[TopicPartition, int]:
        """Flush caches and stores; the offsets to commit (next offset to read, per input
        partition). Step one of the commit protocol (:mod:`streams.engine.commit`)."""
        self.state.flush()
        self.ctx.commit_requested = False
        return {tp: off + 1 for tp, off in self.group.consumed.items()}

    def consumed_offsets(self) -> dict[TopicPartition, int]:
        """Last processed offset per input partition."""
        return dict(self.group.consumed)

    def close_dirty(self) -> None:
        """Close without flushing: uncommitted store writes are discarded where the store can,
        so local state matches the last commit; errors are logged, not raised."""
        if self.closed:
            return
        self.state.discard_pending()
        try:
            self.close()
        except BaseException as exc:
            log.warning("task %s: dirty close failed: %s", self.name, exc)

    def close(self) -> None:
        """Close processors then stores; the first error is re-raised after all are closed."""
        if self.closed:
            return
        # cached updates go downstream while the processors are still open
        self.state.flush_caches()
        self.closed = True
        first: BaseException | None = None
        for name, processor, _ in self.graph.processors:
            try:
                processor.close()
            except BaseException as exc:
                log.error("processor %r of task %s failed in close(): %s", name, self.name, exc)
                first = first or exc
        try:
            self.state.close()
        except BaseException as exc:
            first = first or exc
        self.group.clear()
        if first is not None:
            raise first
