"""Latency of key queries through the built-in HTTP server: three in-process instances of a
word count, every key asked of every instance, answered locally or forwarded one hop to the
owner; p50/p99/max per kind, after warm-up.

    python3 -m benchmarks.http_query_bench [--keys 1000] [--rounds 3]

Starts its own local broker unless ``KAFKA_BOOTSTRAP_SERVERS`` is set.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration" /
                       "runtime" / "apps"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quantiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return (f"p50 {q[49] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms, "
            f"max {max(samples) * 1000:.2f} ms ({len(samples)} queries)")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(prog="python3 -m benchmarks.http_query_bench")
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds after one warm-up round")
    args = ap.parse_args(argv)
    from wordcount_app import build_topology

    from streams import serdes
    from streams.runtime.kafka_streams import KafkaStreams, State
    from streams.testing import clients

    kafka: Any = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        from streams.testing.local_kafka import LocalKafka

        kafka = LocalKafka().start()
        bootstrap = kafka.bootstrap_servers
    tag = uuid.uuid4().hex[:6]
    lines, counts = f"bench-lines-{tag}", f"bench-counts-{tag}"
    clients.create_topic(bootstrap, lines, partitions=6)
    clients.create_topic(bootstrap, counts, partitions=3)
    words = [f"w{i:05d}" for i in range(args.keys)]
    clients.produce(bootstrap, lines, [(w, w) for w in words])
    state = Path(tempfile.mkdtemp(prefix="http-bench-"))
    apps: dict[int, KafkaStreams] = {}
    try:
        for n in range(3):
            port = _free_port()
            apps[port] = KafkaStreams(build_topology(lines, counts), {
                "application.id": f"http-bench-{tag}", "bootstrap.servers": bootstrap,
                "state.dir": str(state / str(n)), "commit.interval.ms": 200,
                "http.listen": f"127.0.0.1:{port}", "application.server": f"127.0.0.1:{port}"})
            apps[port].start()
        deadline = time.monotonic() + 120
        while not all(a.state == State.RUNNING for a in apps.values()) or sum(
                len(a.local_tasks().get(t.name, [])) for a in apps.values()
                for t in a.threads) != 12:
            if time.monotonic() > deadline:
                raise SystemExit("the instances did not settle within 120 s")
            time.sleep(0.2)
        local: list[float] = []
        forwarded: list[float] = []
        for round_ in range(args.rounds + 1):
            for port, app in apps.items():
                for w in words:
                    owner = app.query_metadata_for_key("counts", w, serdes.String()).active_host
                    began = time.perf_counter()
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stores/counts/keys/{w}",
                                                timeout=10) as r:
                        r.read()
                    took = time.perf_counter() - began
                    if round_ > 0:  # the first round warms up
                        (local if owner.port == port else forwarded).append(took)
        print(f"local:     {_quantiles(local)}")
        print(f"forwarded: {_quantiles(forwarded)}")
    finally:
        for app in apps.values():
            app.close(30)
        if kafka is not None:
            kafka.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
