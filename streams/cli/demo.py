"""``streams demo``: word count on a real Kafka broker, start to finish.

Starts a local Apache Kafka broker (or uses ``$KAFKA_BOOTSTRAP_SERVERS``), creates the topics of
``examples/wordcount.py``, starts that application as a worker process (``streams run``), feeds it
sample text, prints the counts live as they arrive on the output topic, checks the final counts
against counts computed here, then stops the worker and the broker.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from streams.errors import KafkaUnavailableError, StreamsError
from streams.testing import clients
from streams.testing.local_kafka import LocalKafka

#: The text the demo feeds, a few lines at a time.
SAMPLE_TEXT = """\
all streams flow to the sea yet the sea is not full
a table is a stream at rest and a stream is a table in motion
every record has a key and the key picks the partition
state stores remember what the stream has seen
changelogs make the stores durable and the stores make the counts fast
the same key lands in the same partition every time
scale out by starting the same application again
""".splitlines()

APP_SPEC = "examples.wordcount:build_topology"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``demo`` on the ``streams`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run the word-count demo against a real (local) Kafka broker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None,
        help="use this cluster instead of starting one (default: $KAFKA_BOOTSTRAP_SERVERS)",
    )
    parser.add_argument("--partitions", type=int, default=3, help="partitions of the demo topics")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for the final counts (default 120)")
    return parser


@contextlib.contextmanager
def demo_cluster(bootstrap_servers: str | None, out: TextIO) -> Iterator[str]:
    """Yield a ``bootstrap.servers``: the given one, or a local broker stopped afterwards."""
    if bootstrap_servers:
        print(f"using Kafka at {bootstrap_servers}", file=out)
        yield bootstrap_servers
        return
    print("starting a local Apache Kafka broker...", file=out, flush=True)
    with LocalKafka() as kafka:
        print(f"Kafka {kafka.version} is up at {kafka.bootstrap_servers} "
              f"(started in {kafka.startup_seconds:.1f} s)", file=out, flush=True)
        yield kafka.bootstrap_servers
    print("stopped the broker and removed its data", file=out)


def repo_root() -> Path:
    """The checkout holding ``examples/`` (the demo runs from an editable install)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "examples" / "wordcount.py").exists():
        raise StreamsError(
            f"examples/wordcount.py not found under {root}; run the demo from a checkout "
            "installed with `pip install -e .`"
        )
    return root


def app_topics(root: Path) -> tuple[str, str]:
    """The word-count app's input and output topics, read from its topology."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from streams.cli.app_loader import load_target

    topology, _ = load_target(APP_SPEC)
    internal = set(topology.internal_topics)
    sources = [t for s in topology.subtopologies() for t in s.source_topics if t not in internal]
    sinks = [t for s in topology.subtopologies() for t in s.sink_topics if t not in internal]
    if len(sources) != 1 or len(sinks) != 1:
        raise StreamsError(f"{APP_SPEC} should read one topic and write one; it reads {sources} "
                           f"and writes {sinks}")
    return sources[0], sinks[0]


def start_worker(root: Path, bootstrap: str, app_id: str, state_dir: str, log: TextIO) -> subprocess.Popen[bytes]:
    """``streams run`` the word-count app as a separate worker process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "streams.cli.main", "run", APP_SPEC,
           "--bootstrap-servers", bootstrap, "--application-id", app_id, "--state-dir", state_dir,
           "--set", "commit.interval.ms=200", "--set", "consumer.session.timeout.ms=6000",
           # the input topic may hold lines from earlier demo runs: count only this run's
           "--set", "auto.offset.reset=latest"]
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)


def show(counts: dict[str, int], out: TextIO, top: int = 8) -> None:
    """Print the most frequent words so far."""
    best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    print("  " + "  ".join(f"{w}={n}" for w, n in best), file=out, flush=True)


def word_count(bootstrap: str, partitions: int, timeout: float, out: TextIO) -> bool:
    """Run the demo against ``bootstrap``; True when the final counts are exact."""
    from confluent_kafka import Consumer

    from streams import serdes

    root = repo_root()
    source, sink = app_topics(root)
    split = _splitter()
    run_id = uuid.uuid4().hex[:8]
    app_id = f"wordcount-demo-{run_id}"
    for topic in (source, sink):
        with contextlib.suppress(Exception):
            clients.create_topic(bootstrap, topic, partitions=partitions)
    expected: Counter[str] = Counter()
    counts: dict[str, int] = {}
    strings, longs = serdes.String(), serdes.Long()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"demo-reader-{run_id}",
                         "auto.offset.reset": "latest", "enable.auto.commit": False})
    consumer.subscribe([sink])
    with tempfile.TemporaryDirectory(prefix="streams-demo-") as state_dir, \
            open(Path(state_dir) / "worker.log", "w+b") as log_file:
        log = open(log_file.fileno(), "w", closefd=False)  # noqa: SIM115
        worker = start_worker(root, bootstrap, app_id, state_dir, log)
        print(f"started worker `streams run {APP_SPEC}` (pid {worker.pid}, application.id "
              f"{app_id}); reading {source}, writing {sink}", file=out, flush=True)
        ok = False
        try:
            # let the reader join before any output exists, so it sees every count
            deadline = time.monotonic() + 30
            while not consumer.assignment() and time.monotonic() < deadline:
                consumer.poll(0.2)
            _wait_running(worker, log_file, 60)
            print("worker is RUNNING", file=out, flush=True)
            for i in range(0, len(SAMPLE_TEXT), 2):
                chunk = SAMPLE_TEXT[i:i + 2]
                clients.produce(bootstrap, source, [(None, line) for line in chunk],
                                value_serde=strings)
                for line in chunk:
                    expected.update(split(line))
                print(f"> {' / '.join(chunk)}", file=out, flush=True)
                _read(consumer, sink, counts, strings, longs, 1.0)
                show(counts, out)
            deadline = time.monotonic() + timeout
            while counts != dict(expected) and time.monotonic() < deadline:
                if worker.poll() is not None:
                    break
                _read(consumer, sink, counts, strings, longs, 0.5)
            ok = counts == dict(expected)
            print("final counts:", file=out)
            show(counts, out, top=len(counts))
            if ok:
                print(f"demo finished: all {len(expected)} word counts match the counts computed "
                      "from the input", file=out)
            else:
                missing = {w: (counts.get(w), n) for w, n in expected.items() if counts.get(w) != n}
                print(f"counts differ (word: (got, expected)): {missing}", file=sys.stderr)
        finally:
            consumer.close()
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(60)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
            print(f"worker stopped (exit code {worker.returncode})", file=out)
            log.flush()
            if not ok or worker.returncode not in (0, None):
                log_file.seek(0)
                tail = log_file.read().decode("utf-8", "replace").splitlines()[-30:]
                print("worker log (last lines):\n" + "\n".join(tail), file=sys.stderr)
        return ok and worker.returncode == 0


def _splitter() -> Any:
    """The example's own word splitter, so expected counts follow the same rules."""
    import importlib

    return importlib.import_module(APP_SPEC.split(":")[0]).split_words


def _wait_running(worker: subprocess.Popen[bytes], log_file: Any, timeout: float) -> None:
    """Block until the worker logs its transition to RUNNING."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise StreamsError(f"the worker exited early with code {worker.returncode}")
        with open(log_file.name, "rb") as f:
            if b"-> RUNNING" in f.read():
                return
        time.sleep(0.2)
    raise StreamsError(f"the worker did not reach RUNNING within {timeout:.0f}s")


def _read(consumer: Any, topic: str, counts: dict[str, int], keys: Any, values: Any,
          seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for msg in consumer.consume(500, 0.1):
            if msg.error() is None:
                counts[keys.deserialize(topic, msg.key())] = values.deserialize(topic, msg.value())


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when the counts are exact, 1 otherwise."""
    from streams.cli.local_kafka import stop_on_signals

    out = sys.stdout
    with stop_on_signals():
        try:
            with demo_cluster(args.bootstrap_servers, out) as bootstrap:
                ok = word_count(bootstrap, args.partitions, args.timeout, out)
        except KafkaUnavailableError as exc:
            print(f"streams demo: Kafka is unavailable: {exc}", file=sys.stderr)
            return 1
        except StreamsError as exc:
            print(f"streams demo: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    return 0 if ok else 1
