"""Kafka Streams' metrics in Prometheus' text format, read from the runtime at scrape time.

The stream threads keep plain counters (records processed, commits, polls, time spent); this
collector turns them into Kafka Streams' metric names when Prometheus scrapes, so recording
costs the hot path nothing but those counters. Names follow what the Prometheus JMX exporter
makes of Kafka Streams' MBeans: group and metric name, dashes as underscores, e.g.
``kafka_streams_stream_thread_metrics_process_rate{thread_id=...}``.

Rates and averages cover the time since the previous scrape (the first: since the thread
started); maxima too, and are reset by the scrape. ``metrics.recording.level``: ``INFO``
gives the client, thread, restore and consumer-lag metrics and dropped records; ``DEBUG``
(and ``TRACE``) adds per-task process metrics and the record cache's hit ratio, as in Kafka
Streams.

Use it with the built-in server (``/metrics``) or register :class:`StreamsCollector` in a
registry of your own::

    registry = prometheus_client.CollectorRegistry()
    registry.register(StreamsCollector(app))
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_THREAD = "kafka_streams_stream_thread_metrics_"
_TASK = "kafka_streams_stream_task_metrics_"
_CLIENT = "kafka_streams_stream_metrics_"
_CACHE = "kafka_streams_record_cache_metrics_"
_LAG = "kafka_consumer_fetch_manager_metrics_records_lag_max"


class StreamsCollector(Collector):
    """Collects one :class:`~streams.runtime.kafka_streams.KafkaStreams`' metrics."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.debug = str(app.config["metrics.recording.level"]).upper() in ("DEBUG", "TRACE")
        #: per thread name: (monotonic time, processed, commits, polls, process ns, commit ns)
        self._last: dict[str, tuple[float, int, int, int, int, int]] = {}
        self._last_tasks: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        """One scrape (Prometheus' collector protocol)."""
        with self._lock:
            yield from self._client()
            threads = list(self.app.threads)
            yield from self._threads(threads)
            yield from self._tasks(threads)
            yield from self._restores(threads)

    def _client(self) -> Iterator[Metric]:
        labels = ["client_id"]
        cid = [self.app.client_id]
        state = GaugeMetricFamily(_CLIENT + "state", "The client's state (1 for the current "
                                  "one).", labels=[*labels, "state"])
        state.add_metric([*cid, self.app.state.value], 1)
        alive = GaugeMetricFamily(_CLIENT + "alive_stream_threads",
                                  "Stream threads alive.", labels=labels)
        alive.add_metric(cid, sum(1 for t in self.app.threads if t.is_alive()))
        yield state
        yield alive

    def _threads(self, threads: list[Any]) -> Iterator[Metric]:
        labels = ["client_id", "thread_id"]
        names = [("process", "Records processed"), ("commit", "Commits"), ("poll", "Polls")]
        totals = {n: CounterMetricFamily(_THREAD + n, f"{h} by the thread.", labels=labels)
                  for n, h in names}
        rates = {n: GaugeMetricFamily(_THREAD + n + "_rate", f"{h} per second.", labels=labels)
                 for n, h in names}
        latency = {f"{n}_latency_{k}": GaugeMetricFamily(
            f"{_THREAD}{n}_latency_{k}", f"{k} {what} latency (ms).", labels=labels)
            for n, what in (("process", "per-record processing"), ("commit", "commit"))
            for k in ("avg", "max")}
        lag = GaugeMetricFamily(_LAG, "The largest lag of the thread's input partitions "
                                "(records on the broker not yet fetched).", labels=labels)
        hit = GaugeMetricFamily(_CACHE + "hit_ratio", "Record cache look-ups answered by the "
                                "cache, of all (since start).", labels=labels)
        now = time.monotonic()
        for th in threads:
            key = [self.app.client_id, th.name]
            m = th.metrics
            counts = (m.processed, m.commits, m.polls)
            then = self._last.get(th.name, (m.started_at, 0, 0, 0, 0, 0))
            span = max(now - then[0], 1e-9)
            for (n, _), count, before in zip(names, counts, then[1:4], strict=True):
                totals[n].add_metric(key, count)
                rates[n].add_metric(key, (count - before) / span)
            done = counts[0] - then[1]
            latency["process_latency_avg"].add_metric(
                key, (m.process_ns - then[4]) / done / 1e6 if done else 0.0)
            commits = counts[1] - then[2]
            latency["commit_latency_avg"].add_metric(
                key, (m.commit_ns - then[5]) / commits / 1e6 if commits else 0.0)
            process_max, commit_max = m.take_maxima()
            latency["process_latency_max"].add_metric(key, process_max / 1e6)
            latency["commit_latency_max"].add_metric(key, commit_max / 1e6)
            self._last[th.name] = (now, *counts, m.process_ns, m.commit_ns)
            lag.add_metric(key, m.records_lag_max)
            cache = th.task_manager.factory.cache if th.task_manager is not None else None
            if self.debug and cache is not None:
                looked = cache.hits + cache.misses
                hit.add_metric(key, cache.hits / looked if looked else 0.0)
        yield from totals.values()
        yield from rates.values()
        yield from latency.values()
        yield lag
        if self.debug:
            yield hit

    def _tasks(self, threads: list[Any]) -> Iterator[Metric]:
        labels = ["client_id", "thread_id", "task_id"]
        dropped = CounterMetricFamily(_TASK + "dropped_records", "Records dropped (skipped by "
                                      "a handler, late, or without a key where one is needed).",
                                      labels=labels)
        total = CounterMetricFamily(_TASK + "process", "Records processed by the task.",
                                    labels=labels)
        rate = GaugeMetricFamily(_TASK + "process_rate", "Records the task processed per "
                                 "second.", labels=labels)
        now = time.monotonic()
        for th in threads:
            tm = th.task_manager
            for tid, task in list(tm.tasks.items()) if tm is not None else []:
                key = [self.app.client_id, th.name, str(tid)]
                dropped.add_metric(key, task.dropped_records)
                if self.debug:
                    then, before = self._last_tasks.get((th.name, str(tid)),
                                                        (th.metrics.started_at, 0))
                    total.add_metric(key, task.processed)
                    rate.add_metric(key, (task.processed - before) / max(now - then, 1e-9))
                    self._last_tasks[(th.name, str(tid))] = (now, task.processed)
        yield dropped
        if self.debug:
            yield total
            yield rate

    def _restores(self, threads: list[Any]) -> Iterator[Metric]:
        labels = ["client_id", "thread_id", "task_id", "store"]
        remaining = GaugeMetricFamily(_TASK + "restore_remaining_records_total",
                                      "Changelog records left to restore.", labels=labels)
        rate = GaugeMetricFamily(_TASK + "restore_rate", "Records restored per second.",
                                 labels=labels)
        eta = GaugeMetricFamily(_TASK + "restore_eta_seconds", "Seconds left at the rate so "
                                "far (not a Kafka Streams metric).", labels=labels)
        restored = CounterMetricFamily(_THREAD + "restore", "Records restored by the thread "
                                       "(active tasks).", labels=["client_id", "thread_id"])
        for th in threads:
            if th.restorer is None:
                continue
            restored.add_metric([self.app.client_id, th.name],
                                sum(th.restorer.restored_records.values()))
            for p in th.restorer.progress():
                key = [self.app.client_id, th.name, p.task, p.store]
                remaining.add_metric(key, p.remaining)
                rate.add_metric(key, p.rate)
                if p.eta is not None:
                    eta.add_metric(key, p.eta)
        yield from (remaining, rate, eta, restored)


def metrics_text(registry: CollectorRegistry) -> bytes:
    """The registry's metrics in Prometheus' text format."""
    return generate_latest(registry)


def registry_for(app: Any) -> CollectorRegistry:
    """A registry holding only ``app``'s metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StreamsCollector(app))
    return registry
