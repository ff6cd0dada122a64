"""A Task runs one sub-topology for one partition number: ``TaskId(1, 3)`` is ``"1_3"``.

The same class serves the runtime's stream threads and ``TopologyTestDriver``: records come in
as Kafka message objects (``topic()``, ``partition()``, ``offset()``, ``timestamp()``, ``key()``,
``value()``, ``headers()``, as confluent-kafka's ``Message``), are buffered per partition,
picked in timestamp order across partitions, deserialized by their source node, and pushed
depth-first through the processor graph. Sinks and changelogging stores hand bytes to a
:class:`~streams.runtime.collector.RecordCollector`.
"""

from __future__ import annotations

import logging
import sys
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from streams.config import StreamsConfig
from streams.errors import ProcessorError, ProductionError, SerializationError, StreamsError
from streams.handlers import ErrorContext, Response, dead_letter_headers, resolve_handler
from streams.processor.api import Processor, PunctuationType
from streams.processor.record import Record
from streams.processor.timestamps import ConsumedRecord, resolve_extractor
from streams.runtime.collector import RecordCollector
from streams.runtime.context import NodeContext, PunctuationSchedule, TaskContext
from streams.runtime.state_manager import TaskStateManager
from streams.state.cache import ThreadCache
from streams.topology.nodes import ProcessorNode, SinkNode, SourceNode, SubTopology
from streams.topology.topology import Topology

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]


class TaskId(NamedTuple):
    """(sub-topology, partition); ``str()`` gives Kafka Streams' ``"1_3"`` form."""

    subtopology: int
    partition: int

    def __str__(self) -> str:
        return f"{self.subtopology}_{self.partition}" if self.partition >= 0 else f"global_{self.subtopology}"

    @classmethod
    def parse(cls, text: str) -> TaskId:
        """Inverse of ``str()`` for stream tasks."""
        sub, _, part = text.partition("_")
        return cls(int(sub), int(part))


def _default_serdes(config: StreamsConfig) -> tuple[Any, Any]:
    from streams.serdes import Bytes

    key = config.get("default.key.serde") or Bytes()
    value = config.get("default.value.serde") or Bytes()
    return key, value


def resolve_serde(serde: Any, default: Any, defaults: tuple[Any, Any]) -> Any:
    """A node's serde: its own, with any wrapped inner serde filled from the config defaults,
    or the config default when it has none."""
    if serde is None:
        return default
    with_defaults = getattr(serde, "with_defaults", None)
    return with_defaults(*defaults) if with_defaults is not None else serde


class _Source:
    __slots__ = ("children", "extractor", "key_de", "name", "topics", "value_de")

    def __init__(self, name: str, topics: list[str], key_de: Any, value_de: Any, extractor: Any) -> None:
        self.name = name
        self.topics = topics
        self.key_de = key_de
        self.value_de = value_de
        self.extractor = extractor
        self.children: list[Callable[[Record], None]] = []


class _Sink:
    """Serializes and sends; one per sink node per task."""

    __slots__ = ("_collector", "_extractor", "_key_ser", "_partitioner", "_resolve", "_send",
                 "_topic", "_value_ser", "name", "process")

    def __init__(
        self, node: SinkNode, topic: str | None, key_serde: Any, value_serde: Any,
        collector: RecordCollector, resolve: Callable[[str], str],
    ) -> None:
        self.name = node.name
        self._topic = topic
        self._extractor = node.topic_extractor
        self._partitioner = node.partitioner
        self._key_ser = key_serde.serialize
        self._value_ser = value_serde.serialize
        self._collector = collector
        self._resolve = resolve
        self._send = collector.send
        #: what the parent node calls per record
        self.process: Callable[[Record], None] = (
            self._process_fixed if topic is not None and self._partitioner is None
            else self._process_any)

    def _process_fixed(self, record: Record) -> None:
        # the common sink: one topic, default partitioning
        topic: str = self._topic  # type: ignore[assignment]
        headers = record.headers
        self._send(topic, self._key_ser(topic, record.key, headers),
                   self._value_ser(topic, record.value, headers), headers, record.timestamp, None)

    def _process_any(self, record: Record) -> None:
        topic = self._topic
        if topic is None:
            assert self._extractor is not None
            chosen = self._extractor(record.key, record.value, record)
            if not chosen:
                raise StreamsError(f"sink {self.name!r}: topic extractor returned {chosen!r}")
            topic = self._resolve(chosen)
        headers = record.headers
        key = self._key_ser(topic, record.key, headers)
        value = self._value_ser(topic, record.value, headers)
        partition = None
        if self._partitioner is not None:
            count = self._collector.partitions_for(topic)
            if count is not None:
                partition = self._partitioner(topic, record.key, record.value, count)
        self._collector.send(topic, key, value, headers, record.timestamp, partition)


class Task:
    """One sub-topology instantiated for one partition (or the global sub-topology)."""

    def __init__(
        self,
        task_id: TaskId,
        topology: Topology,
        subtopology: SubTopology,
        config: StreamsConfig,
        collector: RecordCollector,
        *,
        wall_clock: Callable[[], int],
        state_dir: Path | None = None,
        cache: ThreadCache | None = None,
    ) -> None:
        self.id = task_id
        self.name = str(task_id)
        self.subtopology = subtopology
        self.topology = topology
        self.config = config
        self.collector = collector
        app_id: str = config["application.id"]
        self.application_id = app_id
        self.stream_time = -1
        self.ctx = TaskContext(self, self.name, app_id, config, state_dir, wall_clock)
        self._resolve = lambda t: topology.resolve_topic(t, app_id)
        self._deser_handler = resolve_handler(
            config["default.deserialization.exception.handler"],
            "default.deserialization.exception.handler",
        )
        self._proc_handler = resolve_handler(
            config["processing.exception.handler"], "processing.exception.handler"
        )
        self._prod_handler = resolve_handler(
            config["default.production.exception.handler"],
            "default.production.exception.handler",
        )
        self._dlq_topic: str | None = config.get("errors.dead.letter.queue.topic.name")
        default_extractor = resolve_extractor(config.get("default.timestamp.extractor"))

        self.global_store_names = topology.global_stores
        builders = {s: topology.stores[s] for s in subtopology.stores}
        changelogs = {
            s: Topology.changelog_topic(app_id, s)
            for s, b in builders.items()
            if getattr(b, "logging_enabled", False)
        }
        self.state = TaskStateManager(
            self.ctx, builders, changelogs, task_id.partition, collector,
            lambda: _default_serdes(config), cache,
        )
        self.ctx.changelog_writer = self.state.changelog_writer
        self._global_stores: dict[str, Any] = {}

        defaults = _default_serdes(config)
        key_default, value_default = defaults
        self._sources: dict[str, _Source] = {}
        self._processors: list[tuple[str, Processor, NodeContext]] = []
        self._owner_of: dict[int, str] = {}  # id(processor or sink) -> node name, for errors
        callables: dict[str, Callable[[Record], None]] = {}
        contexts: dict[str, NodeContext] = {}
        for name in subtopology.nodes:
            node = topology.nodes[name]
            if isinstance(node, SourceNode):
                extractor = (
                    resolve_extractor(node.timestamp_extractor)
                    if node.timestamp_extractor is not None
                    else default_extractor
                )
                src = _Source(
                    name, [self._resolve(t) for t in node.topics],
                    resolve_serde(node.key_serde, key_default, defaults).deserialize,
                    resolve_serde(node.value_serde, value_default, defaults).deserialize,
                    extractor,
                )
                for t in src.topics:
                    self._sources[t] = src
            elif isinstance(node, ProcessorNode):
                processor = node.supplier()
                if not hasattr(processor, "process"):
                    raise StreamsError(
                        f"processor node {name!r}: supplier returned {processor!r}, which has no "
                        "process(record) method"
                    )
                ctx = NodeContext(self.ctx, name, list(node.stores))
                contexts[name] = ctx
                self._processors.append((name, processor, ctx))
                self._owner_of[id(processor)] = name
                callables[name] = processor.process
            else:
                sink = _Sink(
                    node,
                    self._resolve(node.topic) if node.topic is not None else None,
                    resolve_serde(node.key_serde, key_default, defaults),
                    resolve_serde(node.value_serde, value_default, defaults),
                    collector,
                    self._resolve,
                )
                self._owner_of[id(sink)] = name
                callables[name] = sink.process
        for name in subtopology.nodes:
            node = topology.nodes[name]
            if isinstance(node, SourceNode):
                self._sources[self._resolve(node.topics[0])].children = [
                    callables[c] for c in node.children
                ]
            elif isinstance(node, ProcessorNode):
                contexts[name]._wire([(c, callables[c]) for c in node.children])

        self._queues: dict[TopicPartition, deque[Any]] = {}
        self._partition_time: dict[TopicPartition, int] = {}
        self._consumed: dict[TopicPartition, int] = {}
        self._stream_schedules: list[PunctuationSchedule] = []
        self._wall_schedules: list[PunctuationSchedule] = []
        self.dropped_records = 0
        self._idle_ms: int = config["max.task.idle.ms"]
        #: the fetched lag of an input partition (0: caught up, -1: not known yet); None, as in
        #: the test driver, means every input is always caught up
        self.lag_of: Callable[[TopicPartition], int] | None = None
        # wall-clock time until which an empty, caught-up input is waited for (max.task.idle.ms)
        self._idle_deadlines: dict[TopicPartition, int] = {}
        #: True when the last :meth:`process` stopped to wait for data of an empty input
        self.waiting = False
        #: times processing went ahead with an input empty (Kafka Streams' enforced processing)
        self.enforced_processing = 0
        self.initialized = False
        self.closed = False
        #: changelog offsets read from the task's checkpoint file when it was created
        self.checkpoint: dict[TopicPartition, int] = {}
        #: persistent stores whose directories existed before the task opened them
        self.stores_existed: set[str] = set()

    # ------------------------------------------------------------------ lifecycle
    @property
    def source_topics(self) -> list[str]:
        """Kafka topic names this task reads."""
        return list(self._sources)

    def initialize(self, global_stores: dict[str, Any] | None = None) -> None:
        """Open stores (registered for restore by the caller afterwards), then init processors."""
        self._global_stores = dict(global_stores or {})
        self.state.init_stores()
        self.initialized = True

    def init_processors(self) -> None:
        """Call every processor's ``init`` (after stores are restored)."""
        for name, processor, ctx in self._processors:
            try:
                processor.init(ctx)
            except StreamsError:
                raise
            except Exception as exc:
                raise ProcessorError(
                    f"processor {name!r} of task {self.name} failed in init(): {exc}"
                ) from exc

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
        q = self.queue(partition)
        q.extend(messages)
        return len(q)

    def queue(self, partition: TopicPartition) -> deque[Any]:
        """The buffer of one input partition (the stream thread appends to it directly)."""
        q = self._queues.get(partition)
        if q is None:
            if partition[0] not in self._sources:
                raise StreamsError(
                    f"task {self.name} got records of {partition[0]!r}, which it does not read"
                )
            q = self._queues[partition] = deque()
        return q

    def source_partitions(self) -> list[TopicPartition]:
        """The input partitions this task has queues for."""
        return list(self._queues)

    def buffered(self) -> int:
        """Records waiting in this task's queues."""
        return sum(len(q) for q in self._queues.values())

    def buffered_for(self, partition: TopicPartition) -> int:
        """Records waiting for one partition."""
        q = self._queues.get(partition)
        return len(q) if q is not None else 0

    def _next_queue(self, cleared: set[TopicPartition]) -> deque[Any] | None:
        # Smallest head timestamp first, so joins see inputs in time order; ties keep insertion
        # order. An empty input not yet cleared in this call must be allowed to stay behind.
        best: deque[Any] | None = None
        best_ts = 0
        empty: list[TopicPartition] | None = None
        for tp, q in self._queues.items():
            if q:
                ts = q[0].timestamp()[1]
                if best is None or ts < best_ts:
                    best, best_ts = q, ts
            elif tp not in cleared:
                if empty is None:
                    empty = [tp]
                else:
                    empty.append(tp)
        if empty is None:
            if self._idle_deadlines:  # every input has records: idling starts over
                self._idle_deadlines.clear()
        elif best is not None and not self._may_leave_behind(empty, cleared):
            self.waiting = True
            return None
        return best

    def _may_leave_behind(self, empty: list[TopicPartition], cleared: set[TopicPartition]) -> bool:
        """Kafka Streams' ``max.task.idle.ms``: process while ``empty`` inputs have no records
        buffered only if none has records on the broker not fetched yet and, when the setting
        is positive, each has stayed empty that long."""
        lag_of = self.lag_of
        idle = self._idle_ms
        if lag_of is None or idle < 0:
            cleared.update(empty)
            return True
        deadlines = self._idle_deadlines
        if deadlines:
            for tp in [tp for tp in deadlines if self._queues.get(tp)]:
                del deadlines[tp]
        now = -1
        for tp in empty:
            lag = lag_of(tp)
            if lag != 0:
                # data for it is on the broker, or its end is not known yet: wait for the fetch
                deadlines.pop(tp, None)
                return False
            if idle > 0:
                if now < 0:
                    now = self.ctx.wall_clock()
                deadline = deadlines.setdefault(tp, now + idle)
                if now < deadline:
                    return False
        cleared.update(empty)
        self.enforced_processing += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug("task %s: processing with empty inputs %s (caught up; max.task.idle.ms=%d)",
                      self.name, ", ".join(f"{t}-{p}" for t, p in empty), idle)
        return True

    def process(self, max_records: int = sys.maxsize) -> int:
        """Process up to ``max_records`` buffered records; returns how many were taken."""
        queues = self._queues
        if len(queues) == 1 and not self._stream_schedules:
            ((tp, q),) = queues.items()
            src = self._sources[tp[0]]
            if src.extractor is None:
                return self._process_single(tp, q, src, min(len(q), max_records))
        done = 0
        one = next(iter(queues.values())) if len(queues) == 1 else None
        step = self._process_one
        self.waiting = False
        cleared: set[TopicPartition] = set()
        while done < max_records:
            head = one if one is not None else self._next_queue(cleared)
            if not head:
                break
            step(head.popleft())
            done += 1
            if self._stream_schedules:
                self.maybe_punctuate_stream_time()
        return done

    def _process_single(self, tp: TopicPartition, q: deque[Any], src: _Source, n: int) -> int:
        """The common case, one input partition and the record's own timestamp: the same steps
        as :meth:`_process_one`, with the per-batch lookups hoisted out of the loop."""
        if n <= 0:
            return 0
        topic, partition = tp
        key_de, value_de, children = src.key_de, src.value_de, src.children
        ctx = self.ctx
        ctx.topic = topic
        ctx.partition = partition
        popleft = q.popleft
        stream_time = self.stream_time
        partition_time = self._partition_time.get(tp, -1)
        last = -1
        done = 0
        try:
            for _ in range(n):
                msg = popleft()
                offset = msg.offset()
                headers = msg.headers()
                raw_key = msg.key()
                raw_value = msg.value()
                ts = msg.timestamp()[1]
                done += 1
                last = offset
                try:
                    key = key_de(topic, raw_key, headers)
                    value = value_de(topic, raw_value, headers)
                except Exception as exc:
                    self._on_deserialization_error(exc, src.name, topic, partition, offset,
                                                   raw_key, raw_value, headers, ts)
                    continue
                if ts < 0:
                    raise StreamsError(
                        f"record has invalid (negative) timestamp {ts} (topic={topic!r}, "
                        f"partition={partition}, offset={offset}, task={self.name}); set "
                        "default.timestamp.extractor to LogAndSkipOnInvalidTimestamp or "
                        "UsePartitionTimeOnInvalidTimestamp to carry on"
                    )
                if ts > partition_time:
                    partition_time = ts
                    if ts > stream_time:
                        stream_time = self.stream_time = ts
                ctx.offset = offset
                ctx.timestamp = ts
                ctx.headers = headers
                record = Record(key, value, ts, headers)
                try:
                    for child in children:
                        child(record)
                except Exception as exc:
                    self._on_processing_error(exc, topic, partition, offset, raw_key, raw_value,
                                              headers, ts)
        finally:
            if last >= 0:
                self._consumed[tp] = last
            self._partition_time[tp] = partition_time
        return done

    def _process_one(self, msg: Any) -> None:
        topic = msg.topic()
        partition = msg.partition()
        offset = msg.offset()
        src = self._sources[topic]
        headers = msg.headers()
        raw_key = msg.key()
        raw_value = msg.value()
        ts = msg.timestamp()[1]
        try:
            key = src.key_de(topic, raw_key, headers)
            value = src.value_de(topic, raw_value, headers)
        except Exception as exc:
            self._consumed[(topic, partition)] = offset
            self._on_deserialization_error(exc, src.name, topic, partition, offset, raw_key,
                                           raw_value, headers, ts)
            return
        tp = (topic, partition)
        if src.extractor is not None:
            try:
                ts = src.extractor(
                    ConsumedRecord(topic, partition, offset, ts, key, value, headers),
                    self._partition_time.get(tp, -1),
                )
            except StreamsError:
                raise
            except Exception as exc:
                raise StreamsError(
                    f"timestamp extractor of source {src.name!r} failed in task {self.name} on "
                    f"record (topic={topic!r}, partition={partition}, offset={offset}): "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if ts < 0:
                self._consumed[tp] = offset
                self.dropped_records += 1
                return
        elif ts < 0:
            raise StreamsError(
                f"record has invalid (negative) timestamp {ts} (topic={topic!r}, "
                f"partition={partition}, offset={offset}, task={self.name}); set "
                "default.timestamp.extractor to LogAndSkipOnInvalidTimestamp or "
                "UsePartitionTimeOnInvalidTimestamp to carry on"
            )
        if ts > self._partition_time.get(tp, -1):
            self._partition_time[tp] = ts
        if ts > self.stream_time:
            self.stream_time = ts
        ctx = self.ctx
        ctx.topic = topic
        ctx.partition = partition
        ctx.offset = offset
        ctx.timestamp = ts
        ctx.headers = headers
        record = Record(key, value, ts, headers)
        try:
            for child in src.children:
                child(record)
        except Exception as exc:
            self._consumed[tp] = offset
            self._on_processing_error(exc, topic, partition, offset, raw_key, raw_value, headers, ts)
            return
        self._consumed[tp] = offset

    # ------------------------------------------------------------------ errors
    def _failing_node(self, exc: BaseException) -> str:
        name = "?"
        tb = exc.__traceback__
        owners = self._owner_of
        while tb is not None:
            owner = tb.tb_frame.f_locals.get("self")
            if owner is not None and id(owner) in owners:
                name = owners[id(owner)]
            tb = tb.tb_next
        return name

    def _dead_letter(self, ectx: ErrorContext, exc: BaseException) -> None:
        if self._dlq_topic:
            self.collector.send(
                self._dlq_topic, ectx.key, ectx.value, dead_letter_headers(ectx, exc),
                ectx.timestamp, None,
            )

    def _on_deserialization_error(
        self, exc: Exception, node: str, topic: str, partition: int, offset: int,
        key: bytes | None, value: bytes | None, headers: Any, ts: int,
    ) -> None:
        ectx = ErrorContext(topic, partition, offset, self.name, node, key, value, headers, ts)
        if self._deser_handler.handle(ectx, exc) == Response.CONTINUE:
            self.dropped_records += 1
            self._dead_letter(ectx, exc)
            return
        if isinstance(exc, SerializationError):
            raise exc.with_location(topic=topic, partition=partition, offset=offset) from exc.__cause__
        raise SerializationError(
            f"source {node!r} could not deserialize record: {exc}",
            topic=topic, partition=partition, offset=offset,
        ) from exc

    def _on_processing_error(
        self, exc: Exception, topic: str | None, partition: int | None, offset: int | None,
        key: bytes | None, value: bytes | None, headers: Any, ts: int,
    ) -> None:
        node = self._failing_node(exc)
        ectx = ErrorContext(topic, partition, offset, self.name, node, key, value, headers, ts)
        if isinstance(exc, ProcessorError):
            raise exc
        # a record the producer refused (too large, say) is the production handler's to judge
        handler = self._prod_handler if isinstance(exc, ProductionError) else self._proc_handler
        if handler.handle(ectx, exc) == Response.CONTINUE:
            self.dropped_records += 1
            self._dead_letter(ectx, exc)
            return
        raise ProcessorError(
            f"processor {node!r} failed in task {self.name} on record (topic={topic!r}, "
            f"partition={partition}, offset={offset}): {type(exc).__name__}: {exc}"
        ) from exc

    # ------------------------------------------------------------------ punctuation
    def schedule(
        self, node: str, interval: int, ptype: PunctuationType, callback: Callable[[int], None]
    ) -> PunctuationSchedule:
        """Register a punctuator; stream-time ones align to 0, wall-clock ones start at now+interval."""
        if ptype == PunctuationType.STREAM_TIME:
            sched = PunctuationSchedule(node, interval, ptype, callback, 0)
            self._stream_schedules.append(sched)
        else:
            now = self.ctx.wall_clock()
            sched = PunctuationSchedule(node, interval, ptype, callback, now + interval)
            self._wall_schedules.append(sched)
        return sched

    def _punctuate(self, schedules: list[PunctuationSchedule], now: int) -> bool:
        fired = False
        for sched in list(schedules):
            if sched.cancelled:
                schedules.remove(sched)
                continue
            if now >= sched.next_time:
                ctx = self.ctx
                ctx.topic = ctx.partition = ctx.offset = None
                ctx.timestamp = now
                ctx.headers = None
                try:
                    sched.callback(now)
                except Exception as exc:
                    node = self._failing_node(exc)
                    raise ProcessorError(
                        f"punctuator of processor {sched.node!r} (failing node {node!r}) in task "
                        f"{self.name} failed at time {now}: {type(exc).__name__}: {exc}"
                    ) from exc
                sched.advance(now)
                fired = True
        return fired

    def maybe_punctuate_stream_time(self) -> bool:
        """Fire stream-time punctuators whose time has come; True if any fired."""
        if self.stream_time < 0 or not self._stream_schedules:
            return False
        return self._punctuate(self._stream_schedules, self.stream_time)

    def maybe_punctuate_wall_clock(self, now: int | None = None) -> bool:
        """Fire wall-clock punctuators whose time has come; True if any fired."""
        if not self._wall_schedules:
            return False
        return self._punctuate(self._wall_schedules, self.ctx.wall_clock() if now is None else now)

    # ------------------------------------------------------------------ commit / close
    @property
    def commit_requested(self) -> bool:
        """True when a processor called ``context.commit()``."""
        return self.ctx.commit_requested

    def prepare_commit(self) -> dict[TopicPartition, int]:
        """Flush stores and return the offsets to commit (next offset to read, per partition)."""
        self.state.flush()
        self.ctx.commit_requested = False
        return {tp: off + 1 for tp, off in self._consumed.items()}

    def consumed_offsets(self) -> dict[TopicPartition, int]:
        """Last processed offset per input partition."""
        return dict(self._consumed)

    def close_dirty(self) -> None:
        """Close without flushing: uncommitted store writes are discarded where the store can,
        so local state matches the last commit; errors are logged, not raised."""
        if self.closed:
            return
        self.state.discard_caches()
        for bytes_store, _ in self.state.registered.values():
            discard = getattr(bytes_store, "discard_pending", None)
            if discard is not None:
                try:
                    discard()
                except Exception as exc:
                    log.warning("task %s: discarding pending writes failed: %s", self.name, exc)
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
        for name, processor, _ in self._processors:
            try:
                processor.close()
            except BaseException as exc:
                log.error("processor %r of task %s failed in close(): %s", name, self.name, exc)
                first = first or exc
        try:
            self.state.close()
        except BaseException as exc:
            first = first or exc
        self._queues.clear()
        if first is not None:
            raise first
