"""Global tables: every instance reads all partitions of each global topic into its own store.

Start-up reads each global topic from the beginning to its current end before any stream
thread starts (so joins see a complete table), then a background thread keeps applying new
records. The same :class:`~streams.engine.task.Task` code processes them.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from streams.config import StreamsConfig
from streams.engine.collector import NoOutputCollector
from streams.engine.task import Task
from streams.engine.task_factory import TaskFactory
from streams.errors import StreamsError
from streams.runtime.client_configs import global_consumer_config
from streams.runtime.client_supplier import ClientSupplier, KafkaClientSupplier
from streams.runtime.offsets import watermarks
from streams.runtime.retries import TransientErrorLog, is_transient, retrying
from streams.topology.topology import Topology

log = logging.getLogger(__name__)


class GlobalStreamThread(threading.Thread):
    """Maintains the global stores of one KafkaStreams instance."""

    def __init__(self, topology: Topology, config: StreamsConfig, state_root: Path,
                 client_id: str, on_error: Callable[[BaseException], None] | None = None,
                 client_supplier: ClientSupplier | None = None) -> None:
        super().__init__(name=f"{client_id}-GlobalStreamThread", daemon=True)
        supplier = client_supplier or KafkaClientSupplier()
        self.config = config
        self.topology = topology
        self._on_error = on_error
        factory = TaskFactory(topology, config, NoOutputCollector(), state_root,
                              lambda: int(time.time() * 1000))
        self._dir = factory.global_dir
        self.tasks: list[Task] = factory.global_tasks()
        self._by_topic = {t: task for task in self.tasks for t in task.source_topics}
        self._consumer = supplier.get_global_consumer(global_consumer_config(config, client_id))
        self._stop_event = threading.Event()  # not _stop: threading.Thread has a _stop() method
        self.failure: BaseException | None = None
        self.stores: dict[str, Any] = {}
        self._transient = TransientErrorLog(log, f"{client_id} global consumer")

    def bootstrap(self, timeout: float = 300.0) -> None:
        """Open the stores and read every global topic up to its current end."""
        # global topics are re-read from the start each time (no global checkpoint yet), so old
        # local files would keep keys whose tombstones were compacted away
        shutil.rmtree(self._dir, ignore_errors=True)
        for task in self.tasks:
            task.initialize()
            task.init_processors()
            self.stores.update(task.stores)
        tps: list[TopicPartition] = []
        ends: dict[tuple[str, int], int] = {}
        api_timeout = self.config["default.api.timeout.ms"] / 1000.0
        for topic in self._by_topic:
            md = retrying(f"could not read the metadata of global topic {topic!r}",
                          partial(self._consumer.list_topics, topic), api_timeout
                          ).topics.get(topic)
            if md is None or md.error is not None:
                raise StreamsError(f"global topic {topic!r} does not exist")
            for p in md.partitions:
                low, high = watermarks(self._consumer, topic, p, api_timeout)
                tps.append(TopicPartition(topic, p, OFFSET_BEGINNING))
                if high > low:
                    ends[(topic, p)] = high
        self._consumer.assign(tps)
        deadline = time.monotonic() + timeout
        pending = dict(ends)
        while pending:
            if time.monotonic() > deadline:
                raise StreamsError(f"global stores did not catch up within {timeout}s "
                                   f"(still reading {sorted(pending)})")
            self._apply(self._consumer.consume(num_messages=10000, timeout=0.2))
            # positions, not last offsets: compaction gaps and transaction markers end topics too
            for tpo in self._consumer.position([TopicPartition(t, p) for t, p in pending]):
                if tpo.offset >= pending[(tpo.topic, tpo.partition)]:
                    del pending[(tpo.topic, tpo.partition)]
        log.info("global stores %s bootstrapped", ", ".join(self.stores) or "(none)")

    def _apply(self, msgs: list[Any]) -> None:
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.code() == err._PARTITION_EOF:
                    continue
                if is_transient(err):  # librdkafka recovers by itself
                    self._transient.seen(err, msg.topic(), msg.partition())
                    continue
                raise StreamsError(f"global consumer error on {msg.topic()}-{msg.partition()}: "
                                   f"{err}")
            task = self._by_topic[msg.topic()]
            task.queue((msg.topic(), msg.partition())).append(msg)
        for task in self.tasks:
            task.process()
            task.prepare_commit()

    def run(self) -> None:
        """Keep the global stores up to date until :meth:`shutdown`."""
        try:
            while not self._stop_event.is_set():
                msgs = self._consumer.consume(num_messages=10000, timeout=0.2)
                if msgs:
                    self._apply(msgs)
        except BaseException as exc:
            self.failure = exc
            log.error("%s failed: %s", self.name, exc, exc_info=exc)
            if self._on_error is not None:
                self._on_error(exc)

    def shutdown(self) -> None:
        """Stop the thread (call :meth:`close` after joining it)."""
        self._stop_event.set()

    def close(self) -> None:
        """Close the stores and the consumer."""
        for task in self.tasks:
            try:
                task.close()
            except Exception as exc:
                log.warning("closing global task %s failed: %s", task.name, exc)
        try:
            self._consumer.close()
        except Exception as exc:
            log.warning("closing the global consumer failed: %s", exc)
