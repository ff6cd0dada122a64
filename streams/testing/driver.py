"""TopologyTestDriver: run a topology without a broker, record by record.

It creates the same :class:`~streams.engine.task.Task` objects a stream thread runs (one per
sub-topology, partition 0), feeds them records you pipe in, captures what sinks produce, and
feeds records written to repartition (or any consumed) topics back in, so multi-sub-topology
apps behave as on a broker. Wall-clock time is mocked and only moves when you advance it.

Example::

    with TopologyTestDriver(topology, {"application.id": "wc"}) as driver:
        lines = driver.create_input_topic("lines", serdes.String(), serdes.String())
        counts = driver.create_output_topic("counts", serdes.String(), serdes.Long())
        lines.pipe_input(None, "a b a")
        assert counts.read_key_values_to_map() == {"a": 2, "b": 1}
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from streams.config import StreamsConfig
from streams.engine.collector import InMemoryCollector, ProducedRecord
from streams.engine.commit import commit_tasks
from streams.engine.message import Message
from streams.engine.task import Task, TaskId
from streams.engine.task_factory import TaskFactory
from streams.errors import StreamsError
from streams.processor.record import Record
from streams.state.cache import ThreadCache
from streams.state.timestamped import PlainValueView, TimestampedKeyValueStoreBuilder
from streams.topology.topology import Topology

#: What the output topics return from ``read_record``: key, value, timestamp, headers.
TestRecord = Record


class NoSuchElementError(StreamsError, LookupError):
    """Reading from an output topic that has no (more) records."""


class TestInputTopic:
    """Pipes records into one input topic. Timestamps default to the topic's current time,
    which starts at ``start_timestamp`` and moves by ``auto_advance_ms`` after each record."""

    __test__ = False  # not a pytest test class

    def __init__(self, driver: TopologyTestDriver, topic: str, key_serde: Any, value_serde: Any,
                 start_timestamp: int, auto_advance_ms: int) -> None:
        self._driver = driver
        self.topic = topic
        self._key_serde = key_serde
        self._value_serde = value_serde
        self._time = start_timestamp
        self._advance = auto_advance_ms

    def _timestamp(self, timestamp: int | None) -> int:
        if timestamp is not None:
            return int(timestamp)
        ts = self._time
        self._time += self._advance
        return ts

    def advance_time(self, ms: int) -> None:
        """Move this topic's current time forward."""
        if ms < 0:
            raise ValueError("advance_time needs a non-negative duration")
        self._time += ms

    def pipe_input(self, key: Any = None, value: Any = None, timestamp: int | None = None,
                   headers: Iterable[tuple[str, bytes | None]] | None = None) -> None:
        """Send one record (``pipe_input(value=v)`` for a keyless one) and process it."""
        hdrs = list(headers) if headers else None
        k = self._key_serde.serialize(self.topic, key, hdrs) if self._key_serde else key
        v = self._value_serde.serialize(self.topic, value, hdrs) if self._value_serde else value
        self._driver._pipe(self.topic, k, v, self._timestamp(timestamp), hdrs)

    def pipe_value_list(self, values: Iterable[Any]) -> None:
        """Send keyless records."""
        for value in values:
            self.pipe_input(None, value)

    def pipe_key_value_list(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        """Send (key, value) pairs."""
        for key, value in pairs:
            self.pipe_input(key, value)

    def pipe_record_list(self, records: Iterable[Record]) -> None:
        """Send records with their own timestamps and headers."""
        for r in records:
            self.pipe_input(r.key, r.value, r.timestamp, r.headers)


class TestOutputTopic:
    """Reads what the topology wrote to one topic, in order; each read consumes."""

    __test__ = False

    def __init__(self, driver: TopologyTestDriver, topic: str, key_serde: Any, value_serde: Any) -> None:
        self._driver = driver
        self.topic = topic
        self._key_serde = key_serde
        self._value_serde = value_serde

    def _records(self) -> list[ProducedRecord]:
        return self._driver._collector.by_topic.get(self.topic, [])

    def _next(self) -> Record:
        pos = self._driver._read_pos.get(self.topic, 0)
        records = self._records()
        if pos >= len(records):
            raise NoSuchElementError(f"output topic {self.topic!r} has no more records")
        self._driver._read_pos[self.topic] = pos + 1
        r = records[pos]
        key = self._key_serde.deserialize(self.topic, r.key, r.headers) if self._key_serde else r.key
        value = (self._value_serde.deserialize(self.topic, r.value, r.headers)
                 if self._value_serde else r.value)
        return Record(key, value, r.timestamp, r.headers)

    def get_queue_size(self) -> int:
        """Records not read yet."""
        return len(self._records()) - self._driver._read_pos.get(self.topic, 0)

    def is_empty(self) -> bool:
        """True when every record has been read."""
        return self.get_queue_size() == 0

    def read_record(self) -> Record:
        """The next record (key, value, timestamp, headers)."""
        return self._next()

    def read_value(self) -> Any:
        """The next record's value."""
        return self._next().value

    def read_key_value(self) -> tuple[Any, Any]:
        """The next record as ``(key, value)``."""
        r = self._next()
        return (r.key, r.value)

    def read_records_to_list(self) -> list[Record]:
        """All remaining records."""
        return [self._next() for _ in range(self.get_queue_size())]

    def read_values_to_list(self) -> list[Any]:
        """All remaining values."""
        return [r.value for r in self.read_records_to_list()]

    def read_key_values_to_list(self) -> list[tuple[Any, Any]]:
        """All remaining ``(key, value)`` pairs."""
        return [(r.key, r.value) for r in self.read_records_to_list()]

    def read_key_values_to_map(self) -> dict[Any, Any]:
        """The latest value per key of the remaining records (a None value removes the key)."""
        out: dict[Any, Any] = {}
        for r in self.read_records_to_list():
            if r.value is None:
                out.pop(r.key, None)
            else:
                out[r.key] = r.value
        return out


class PlainWindowView:
    """Read access to a timestamped window store that returns bare values."""

    def __init__(self, store: Any) -> None:
        self._store = store

    @property
    def name(self) -> str:
        """Store name."""
        return str(self._store.name)

    def get(self, key: Any, window_start: int) -> Any:
        """The value of ``key``'s window starting at ``window_start``, or None."""
        vt = self._store.get(key, window_start)
        return None if vt is None else vt.value

    def fetch(self, key: Any, time_from: int, time_to: int) -> list[tuple[int, Any]]:
        """``(window_start, value)`` of ``key``'s windows starting in ``[time_from, time_to]``."""
        return [(ts, vt.value) for ts, vt in self._store.fetch(key, time_from, time_to)]

    def fetch_all(self, time_from: int, time_to: int) -> list[tuple[Any, Any]]:
        """``(Windowed, value)`` of every window starting in ``[time_from, time_to]``."""
        return [(w, vt.value) for w, vt in self._store.fetch_all(time_from, time_to)]

    def all(self) -> list[tuple[Any, Any]]:
        """``(Windowed, value)`` of every window."""
        return [(w, vt.value) for w, vt in self._store.all()]


class TopologyTestDriver:
    """Runs a topology in-process with a mocked clock; see the module docstring."""

    def __init__(self, topology: Topology, config: Mapping[str, Any] | None = None,
                 initial_wall_clock_time_ms: int | None = None) -> None:
        raw = dict(config.items()) if config is not None else {}
        raw.setdefault("application.id", "topology-test-driver")
        self._own_state_dir: str | None = None
        if "state.dir" not in raw:
            self._own_state_dir = tempfile.mkdtemp(prefix="streams-ttd-")
            raw["state.dir"] = self._own_state_dir
        self.config = StreamsConfig(raw)
        topology.validate(self.config)
        self.topology = topology
        self._wall = (int(time.time() * 1000) if initial_wall_clock_time_ms is None
                      else int(initial_wall_clock_time_ms))
        self._collector = InMemoryCollector()
        self._read_pos: dict[str, int] = {}
        self._offsets: dict[str, int] = {}
        self._tasks: list[Task] = []
        self._task_by_topic: dict[str, Task] = {}
        state_root = Path(self.config["state.dir"]) / self.config["application.id"]
        #: the record cache; flushed after every piped record, as Kafka Streams' driver commits
        self.cache = ThreadCache(self.config["statestore.cache.max.bytes"])
        # the runtime's factory: global tasks first (their stores are every task's), then one
        # task per sub-topology, all for partition 0
        factory = TaskFactory(topology, self.config, self._collector, state_root, self._now,
                              self.cache)
        global_stores: dict[str, Any] = {}
        try:
            for task in factory.global_tasks():
                self._start_task(task, global_stores)
                global_stores.update(task.stores)
            for sub in topology.subtopologies():
                if not sub.is_global:
                    self._start_task(factory.create(TaskId(sub.id, 0)), global_stores)
        except BaseException:
            self.close()
            raise
        self._closed = False
        self._drain()

    def _start_task(self, task: Task, global_stores: dict[str, Any]) -> None:
        """Open the task's stores and initialize its processors (nothing to restore)."""
        task.initialize(global_stores)
        task.init_processors()
        self._tasks.append(task)
        for t in task.source_topics:
            self._task_by_topic[t] = task

    def _now(self) -> int:
        return self._wall

    # ------------------------------------------------------------------ topics
    def create_input_topic(self, topic: str, key_serde: Any = None, value_serde: Any = None, *,
                           start_timestamp: int | None = None,
                           auto_advance_ms: int = 0) -> TestInputTopic:
        """An input topic; serdes None means the value you pipe is already bytes."""
        if topic not in self._task_by_topic:
            raise StreamsError(
                f"topic {topic!r} is not read by the topology (it reads: "
                f"{', '.join(sorted(self._task_by_topic)) or 'nothing'})"
            )
        return TestInputTopic(self, topic, key_serde, value_serde,
                              self._wall if start_timestamp is None else start_timestamp,
                              auto_advance_ms)

    def create_output_topic(self, topic: str, key_serde: Any = None,
                            value_serde: Any = None) -> TestOutputTopic:
        """An output topic reader; serdes None returns raw bytes."""
        return TestOutputTopic(self, topic, key_serde, value_serde)

    def produced_topic_names(self) -> set[str]:
        """Every topic the topology has written to (changelogs and repartition topics too)."""
        return set(self._collector.by_topic)

    # ------------------------------------------------------------------ driving
    def _pipe(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int,
              headers: Any) -> None:
        self._check_open()
        task = self._task_by_topic.get(topic)
        if task is None:
            raise StreamsError(f"topic {topic!r} is not read by the topology")
        offset = self._offsets.get(topic, 0)
        self._offsets[topic] = offset + 1
        task.add_records((topic, 0), [Message(topic, 0, offset, timestamp, key, value, headers)])
        self._drain()

    def _drain(self) -> None:
        """Process until no task has input and no produced record feeds a task."""
        pending = self._collector.pending
        while True:
            worked = False
            for task in self._tasks:
                if task.buffered():
                    task.process()
                    worked = True
                if task.state.caching:
                    task.state.flush_caches()
                if task.commit_requested:
                    # the full commit only when asked (and on close); flushing stores after
                    # every record would fsync RocksDB's log per piped record for nothing
                    commit_tasks([task])
            while pending:
                rec = pending.popleft()
                reader = self._task_by_topic.get(rec.topic)
                if reader is not None:
                    offset = self._offsets.get(rec.topic, 0)
                    self._offsets[rec.topic] = offset + 1
                    reader.add_records((rec.topic, 0), [Message(
                        rec.topic, 0, offset, rec.timestamp, rec.key, rec.value, rec.headers)])
                    worked = True
            if not worked:
                return

    def advance_wall_clock_time(self, ms: int) -> None:
        """Move the mocked wall clock forward and fire due wall-clock punctuators."""
        self._check_open()
        if ms < 0:
            raise ValueError("advance_wall_clock_time needs a non-negative duration")
        self._wall += int(ms)
        for task in self._tasks:
            task.maybe_punctuate_wall_clock(self._wall)
        self._drain()

    # ------------------------------------------------------------------ stores
    def _find_store(self, name: str) -> Any:
        for task in self._tasks:
            store = task.stores.get(name)
            if store is not None:
                return store
        return None

    def get_state_store(self, name: str) -> Any:
        """The store ``name`` as the processors see it, or None."""
        return self._find_store(name)

    def get_key_value_store(self, name: str) -> Any:
        """A key-value store by name; DSL (timestamped) stores are shown with bare values."""
        store = self._find_store(name)
        if store is None:
            return None
        if isinstance(self.topology.stores.get(name), TimestampedKeyValueStoreBuilder):
            return PlainValueView(store)
        return store

    def get_timestamped_key_value_store(self, name: str) -> Any:
        """A DSL store with :class:`ValueAndTimestamp` values, or None."""
        if not isinstance(self.topology.stores.get(name), TimestampedKeyValueStoreBuilder):
            return None
        return self._find_store(name)

    def get_versioned_key_value_store(self, name: str) -> Any:
        """A versioned key-value store (``get(key, as_of)``), or None if ``name`` is not one."""
        from streams.state.versioned_builder import VersionedKeyValueStoreBuilder

        if not isinstance(self.topology.stores.get(name), VersionedKeyValueStoreBuilder):
            return None
        return self._find_store(name)

    def get_window_store(self, name: str) -> Any:
        """A window store by name; DSL (timestamped) stores are shown with bare values:
        ``fetch(key, time_from, time_to)`` yields ``(window_start, value)``."""
        from streams.state.timestamped import TimestampedWindowStoreBuilder

        store = self._find_store(name)
        if store is None:
            return None
        if isinstance(self.topology.stores.get(name), TimestampedWindowStoreBuilder):
            return PlainWindowView(store)
        return store

    def get_session_store(self, name: str) -> Any:
        """A session store by name (``find_sessions``, ``fetch``), or None."""
        return self._find_store(name)

    def get_all_state_stores(self) -> dict[str, Any]:
        """Every store by name."""
        out: dict[str, Any] = {}
        for task in self._tasks:
            out.update(task.stores)
        return out

    # ------------------------------------------------------------------ lifecycle
    def _check_open(self) -> None:
        if getattr(self, "_closed", False):
            raise StreamsError("the TopologyTestDriver is closed")

    def close(self) -> None:
        """Close tasks and stores and remove the driver's temporary state directory."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        first: BaseException | None = None
        for task in self._tasks:
            try:
                task.close()
            except BaseException as exc:
                first = first or exc
        if self._own_state_dir is not None:
            shutil.rmtree(self._own_state_dir, ignore_errors=True)
        if first is not None:
            raise first

    def __enter__(self) -> TopologyTestDriver:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
