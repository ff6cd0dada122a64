"""The built-in HTTP server on the real broker: every instance answers for 1,000 keys it does
not own with the owner's values, before and after a rebalance; /metrics parses as
Prometheus text and its counters move; /ready is false while a task restores."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rt_helpers import make_lines, wait_for, wait_latest
from test_task_placement import _running, _settled
from wordcount_app import build_topology

from streams import serdes
from streams.runtime.kafka_streams import KafkaStreams
from streams.testing import clients

pytestmark = pytest.mark.integration

PARTITIONS = 6
S = serdes.String()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, Any, float]:
    began = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            body = r.read()
            kind = r.headers.get("Content-Type", "")
            status = r.status
    except urllib.error.HTTPError as exc:
        body, kind, status = exc.read(), "application/json", exc.code
    took = time.perf_counter() - began
    return status, json.loads(body) if "json" in kind else body.decode(), took


def _served(app_factory: Any, topology: Any, **config: Any) -> tuple[KafkaStreams, int]:
    port = _free_port()
    app = app_factory(topology, http_listen=f"127.0.0.1:{port}",
                      application_server=f"127.0.0.1:{port}", **config)
    return app, port


def _ask_for_keys_owned_elsewhere(apps: dict[int, KafkaStreams], expected: dict[str, int]
                                  ) -> list[float]:
    latencies = []
    for port, app in apps.items():
        asked = 0
        for word, count in expected.items():
            owner = app.query_metadata_for_key("counts", word, S).active_host
            if owner.port == port:
                continue
            status, body, took = _get(port, f"/stores/counts/keys/{word}")
            assert status == 200 and body["value"] == count, (port, word, status, body)
            latencies.append(took)
            asked += 1
        assert asked >= len(expected) // 3, asked  # a share of the keys lives elsewhere
    return latencies


@pytest.mark.timeout(300)
def test_every_instance_answers_for_keys_it_does_not_own(
        app_factory: Any, topic_factory: Any, kafka_bootstrap: str) -> None:
    lines_topic = topic_factory("lines", partitions=PARTITIONS)
    counts_topic = topic_factory("counts", partitions=3)
    topology = build_topology(lines_topic, counts_topic)
    words = [f"w{i:04d}" for i in range(1000)]
    clients.produce(kafka_bootstrap, lines_topic, [(w, f"{w} {w}") for w in words])
    expected = {w: 2 for w in words}
    apps = dict(reversed(_served(app_factory, topology)) for _ in range(3))
    for app in apps.values():
        app.start()
    wait_for(lambda: _settled(list(apps.values())), 90, "three instances to settle")
    wait_latest(kafka_bootstrap, counts_topic, expected, timeout=90)
    before = _ask_for_keys_owned_elsewhere(apps, expected)
    gone = next(iter(apps))
    apps.pop(gone).close(30)
    wait_for(lambda: _settled(list(apps.values())), 90, "two instances to settle")
    after = _ask_for_keys_owned_elsewhere(apps, expected)
    q = statistics.quantiles(before + after, n=100)
    print(f"\nforwarded key queries: {len(before)} on 3 instances, {len(after)} on 2 after a "
          f"rebalance; latency p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms")


class _SlowRestore:
    """Slows restoration down, so that /ready can be seen false while it lasts."""

    def on_restore_start(self, *args: Any) -> None:
        pass

    def on_batch_restored(self, *args: Any) -> None:
        time.sleep(0.2)

    def on_restore_end(self, *args: Any) -> None:
        pass


@pytest.mark.timeout(300)
def test_metrics_move_and_ready_waits_for_restoration(
        app_factory: Any, topic_factory: Any, kafka_bootstrap: str) -> None:
    lines_topic = topic_factory("lines", partitions=2)
    counts_topic = topic_factory("counts", partitions=1)
    topology = build_topology(lines_topic, counts_topic)
    lines, expected = make_lines(600, seed=7)
    clients.produce(kafka_bootstrap, lines_topic, lines)
    first, port = _served(app_factory, topology, metrics_recording_level="DEBUG")
    first.start()
    wait_latest(kafka_bootstrap, counts_topic, dict(expected), timeout=90)
    status, text, _ = _get(port, "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    processed = sum(s.value for s in families[
        "kafka_streams_stream_thread_metrics_process"].samples if s.name.endswith("_total"))
    assert processed > 0
    assert "kafka_streams_record_cache_metrics_hit_ratio" in families  # DEBUG level
    more, counts = make_lines(200, seed=8, start=600)
    clients.produce(kafka_bootstrap, lines_topic, more)
    expected.update(counts)
    wait_latest(kafka_bootstrap, counts_topic, dict(expected), timeout=90)
    _, text, _ = _get(port, "/metrics")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert sum(s.value for s in families["kafka_streams_stream_thread_metrics_process"].samples
               if s.name.endswith("_total")) > processed
    first.close(30)

    # a new instance with an empty state directory restores the counts, slowly
    second, port = _served(app_factory, topology, restore_batch_size=20)
    second.set_global_state_restore_listener(_SlowRestore())
    seen: dict[str, Any] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                status, body, _ = _get(port, "/ready")
                if status == 503 and body.get("restoring"):
                    seen.setdefault("restoring", body)
                    _, text, _ = _get(port, "/metrics")
                    if "restore_remaining_records_total{" in text:
                        seen.setdefault("remaining", text)
                elif status == 200 and "restoring" in seen:
                    seen.setdefault("ready", body)
            except OSError:
                pass
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    second.start()
    try:
        wait_for(lambda: "ready" in seen, 120, "/ready to turn true after restoring")
    finally:
        stop.set()
        watcher.join(5)
    assert seen["restoring"]["ready"] is False and seen["restoring"]["restoring"]
    assert "remaining" in seen, "restore_remaining_records_total never showed while restoring"
    assert _running(second) and second.restored_records() > 0
