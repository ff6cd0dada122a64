"""The built-in HTTP server on three instances over the in-memory cluster: every instance
answers for every key (forwarding to the owner), pages through all entries, reports health
and readiness, and refuses bad requests with a 4xx and a reason."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fake_kafka import FakeCluster
from test_placement_on_fake_kafka import _running, _settled
from test_runtime_on_fake_kafka import (
    PARTITIONS,
    WORDS,
    feed,
    instance,
    latest_counts,
    wait_until,
)

from streams.runtime.kafka_streams import KafkaStreams


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str, token: str | None = None, method: str = "GET"
        ) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            kind = response.headers.get("Content-Type", "")
            return response.status, json.loads(body) if "json" in kind else body.decode()
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def three(cluster: FakeCluster, tmp_path: Path) -> Iterator[dict[int, KafkaStreams]]:
    ports = [_free_port() for _ in range(3)]
    with ExitStack() as stack:
        apps = {p: stack.enter_context(instance(
            cluster, tmp_path, f"i{p}", **{"http.listen": f"127.0.0.1:{p}",
                                           "application.server": f"127.0.0.1:{p}"}))
                for p in ports}
        yield apps


def test_every_instance_answers_for_every_key(cluster: FakeCluster,
                                              three: dict[int, KafkaStreams]) -> None:
    expected = feed(cluster, WORDS * 2)
    wait_until(lambda: _settled(list(three.values()), 2 * PARTITIONS), "a settled placement")
    wait_until(lambda: latest_counts(cluster) == dict(expected), "the counts")
    forwarded = 0
    for port, app in three.items():
        for word, count in expected.items():
            status, body = get(port, f"/stores/counts/keys/{word}")
            assert (status, body["value"], body["key"]) == (200, count, word), (port, body)
            meta = app.query_metadata_for_key("counts", word, app.topology.stores["counts"]
                                              .key_serde)
            forwarded += meta.active_host.port != port
    assert forwarded > 0  # some answers came from another instance
    # every entry, three at a time, through one instance
    seen: dict[str, int] = {}
    after = ""
    port = next(iter(three))
    for _ in range(20):
        status, body = get(port, f"/stores/counts/all?limit=3{after}")
        assert status == 200 and len(body["entries"]) <= 3
        seen.update((e["key"], e["value"]) for e in body["entries"])
        if body["next"] is None:
            break
        after = f"&after={body['next']}"
    assert seen == dict(expected)
    status, body = get(port, "/stores/counts/range?from=b&to=d&limit=100")
    assert status == 200
    assert {e["key"]: e["value"] for e in body["entries"]} == {
        w: n for w, n in expected.items() if "b" <= w <= "d"}


def test_health_readiness_and_topology(cluster: FakeCluster,
                                       three: dict[int, KafkaStreams]) -> None:
    feed(cluster, WORDS)
    wait_until(lambda: _settled(list(three.values()), 2 * PARTITIONS), "a settled placement")
    port = next(iter(three))
    assert get(port, "/health") == (200, {"state": "RUNNING"})
    wait_until(lambda: get(port, "/ready")[0] == 200, "ready")
    status, text = get(port, "/topology")
    assert status == 200 and "Sub-topology: 1" in text
    status, text = get(port, "/topology?format=mermaid")
    assert status == 200 and text.startswith("flowchart")


def test_bad_requests_get_a_4xx_with_a_reason(cluster: FakeCluster,
                                              three: dict[int, KafkaStreams]) -> None:
    feed(cluster, WORDS)
    wait_until(lambda: _settled(list(three.values()), 2 * PARTITIONS), "a settled placement")
    wait_until(lambda: bool(latest_counts(cluster)), "some counts")
    port = next(iter(three))
    cases = {
        "/stores/nope/keys/a": (404, "no state store named 'nope'"),
        "/stores/counts/keys/never-seen": (404, "not found"),
        "/stores/counts/all?limit=0": (400, "limit must be between"),
        "/stores/counts/all?limit=x": (400, "limit must be an integer"),
        "/stores/counts/range?from=a": (400, "needs both from and to"),
        "/nowhere": (404, "no route"),
    }
    for path, (status, reason) in cases.items():
        got, body = get(port, path)
        assert got == status and reason in body["error"], (path, got, body)
    got, body = get(port, "/stores/counts/keys/a", method="POST")
    assert got == 405 and "only GET" in body["error"]


def test_an_unreachable_owner_is_named(cluster: FakeCluster,
                                       three: dict[int, KafkaStreams]) -> None:
    expected = feed(cluster, WORDS)
    wait_until(lambda: _settled(list(three.values()), 2 * PARTITIONS), "a settled placement")
    wait_until(lambda: latest_counts(cluster) == dict(expected), "the counts")
    ports = list(three)
    silent = three[ports[0]]
    assert silent._http is not None and _running(silent)
    silent._http.stop()  # the instance runs on, its server does not answer
    serde = silent.topology.stores["counts"].key_serde
    word = next(w for w in expected
                if silent.query_metadata_for_key("counts", w, serde).active_host.port == ports[0])
    status, body = get(ports[1], f"/stores/counts/keys/{word}")
    assert status == 503 and body["owner"] == f"127.0.0.1:{ports[0]}", body
    assert "unreachable" in body["error"]


def test_a_token_is_required_except_for_health(cluster: FakeCluster, tmp_path: Path) -> None:
    port = _free_port()
    feed(cluster, WORDS)
    with instance(cluster, tmp_path, "solo", **{"http.listen": str(port),
                                                 "http.auth.token": "s3cret"}) as app:
        wait_until(lambda: _settled([app], 2 * PARTITIONS), "running")
        wait_until(lambda: bool(latest_counts(cluster)), "some counts")
        assert get(port, "/stores/counts/keys/a")[0] == 401
        assert get(port, "/stores/counts/keys/a", token="wrong")[0] == 401
        status, body = get(port, "/stores/counts/keys/a", token="s3cret")
        assert status == 200 and body["value"] == latest_counts(cluster)["a"]
        assert get(port, "/health")[0] == 200


def test_metrics_use_kafka_streams_names_and_move(cluster: FakeCluster, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    port = _free_port()

    def scrape() -> dict[str, float]:
        status, text = get(port, "/metrics")
        assert status == 200
        return {s.name + str(sorted(s.labels.items())): s.value
                for f in text_string_to_metric_families(text) for s in f.samples}

    def total(samples: dict[str, float], name: str) -> float:
        return sum(v for k, v in samples.items() if k.startswith(name + "["))

    expected = feed(cluster, WORDS)
    with instance(cluster, tmp_path, "m", **{"http.listen": str(port),
                                              "metrics.recording.level": "debug"}) as app:
        wait_until(lambda: _settled([app], 2 * PARTITIONS), "running")
        wait_until(lambda: latest_counts(cluster) == dict(expected), "the counts")
        first = scrape()
        for name in ("kafka_streams_stream_thread_metrics_process_total",
                     "kafka_streams_stream_thread_metrics_process_rate",
                     "kafka_streams_stream_thread_metrics_process_latency_avg",
                     "kafka_streams_stream_thread_metrics_commit_total",
                     "kafka_streams_stream_thread_metrics_poll_total",
                     "kafka_streams_stream_task_metrics_dropped_records_total",
                     "kafka_streams_stream_task_metrics_process_total",
                     "kafka_consumer_fetch_manager_metrics_records_lag_max",
                     "kafka_streams_record_cache_metrics_hit_ratio",
                     "kafka_streams_stream_metrics_alive_stream_threads"):
            assert any(k.startswith(name + "[") for k in first), name
        assert first["kafka_streams_stream_metrics_state[('client_id', 'm'), "
                     "('state', 'RUNNING')]"] == 1
        processed = total(first, "kafka_streams_stream_thread_metrics_process_total")
        assert processed == sum(expected.values()) + len(WORDS)  # words, and the lines
        expected += feed(cluster, WORDS, start=50)
        wait_until(lambda: latest_counts(cluster) == dict(expected), "more counts")
        later = scrape()
        assert total(later, "kafka_streams_stream_thread_metrics_process_total") > processed
        assert total(later, "kafka_streams_stream_thread_metrics_commit_total") >= total(
            first, "kafka_streams_stream_thread_metrics_commit_total")


def test_a_window_store_answers_a_keys_windows_with_start_and_end(cluster: FakeCluster,
                                                                   tmp_path: Path) -> None:
    from streams import Consumed, Grouped, Materialized, StreamsBuilder, TimeWindows, serdes

    S = serdes.String()
    b = StreamsBuilder()
    (b.stream("lines", Consumed(key_serde=S, value_serde=S))
     .flat_map_values(str.split)
     .group_by(lambda k, w: w, Grouped(key_serde=S, value_serde=S))
     .windowed_by(TimeWindows.of_size_with_no_grace(1000)).count(Materialized(name="wc")))
    port = _free_port()
    feed(cluster, ["a b", "a"])  # timestamps 1000 and 1001
    with instance(cluster, tmp_path, "w", topology=b.build(),
                  **{"http.listen": str(port)}) as app:
        wait_until(lambda: _settled([app], 2 * PARTITIONS), "running")
        wait_until(lambda: get(port, "/stores/wc/keys/a?from=0&to=5000")[1].get("windows"),
                   "the window of a")
        status, body = get(port, "/stores/wc/keys/a?from=0&to=5000")
        assert status == 200 and body["windows"] == [{"start": 1000, "end": 2000, "value": 2}]
        assert get(port, "/stores/wc/all")[0] == 400  # windows are queried by key
