"""``streams demo``: a round trip through a real Kafka broker, start to finish.

Starts a local Apache Kafka broker (or uses ``$KAFKA_BOOTSTRAP_SERVERS``), creates a topic,
produces a few keyed text records, reads them back, prints them, and stops everything.

This is a placeholder: once the runtime exists it becomes the word-count demo.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from streams.errors import KafkaUnavailableError, StreamsError
from streams.testing import clients
from streams.testing.kafka import LocalKafka

#: The records the demo writes: (key, value) text pairs.
DEMO_LINES: list[tuple[str, str]] = [
    ("alice", "all streams flow to the sea"),
    ("bob", "a table is a stream at rest"),
    ("carol", "every record has a key"),
    ("alice", "keys pick the partition"),
    ("dave", "state stores remember"),
    ("bob", "changelogs make them durable"),
    ("carol", "the same key lands in the same partition"),
    ("erin", "hello kafka"),
]


class _Utf8:
    """UTF-8 text serde, used only if :mod:`streams.serdes` cannot provide ``String``."""

    def serialize(self, topic: str, value: str | None, headers: Any = None) -> bytes | None:
        return None if value is None else value.encode("utf-8")

    def deserialize(self, topic: str, data: bytes | None, headers: Any = None) -> str | None:
        return None if data is None else data.decode("utf-8")


def string_serde() -> Any:
    """``serdes.String()`` when available, else a plain UTF-8 serde."""
    try:
        from streams import serdes

        return serdes.String()
    except (ImportError, AttributeError):
        return _Utf8()


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``demo`` on the ``streams`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run a short demo against a real (local) Kafka broker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None,
        help="use this cluster instead of starting one (default: $KAFKA_BOOTSTRAP_SERVERS)",
    )
    parser.add_argument("--partitions", type=int, default=3, help="partitions of the demo topic")
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
        print(
            f"Kafka {kafka.version} is up at {kafka.bootstrap_servers} "
            f"(started in {kafka.startup_seconds:.1f} s)",
            file=out,
            flush=True,
        )
        yield kafka.bootstrap_servers
    print("stopped the broker and removed its data", file=out)


def round_trip(
    bootstrap_servers: str,
    out: TextIO,
    *,
    lines: Sequence[tuple[str, str]] = DEMO_LINES,
    partitions: int = 3,
) -> list[clients.ConsumedRecord]:
    """Create a topic, write ``lines``, read them back and print them; the topic is deleted."""
    serde = string_serde()
    topic = f"streams-demo-{uuid.uuid4().hex[:8]}"
    clients.create_topic(bootstrap_servers, topic, partitions=partitions)
    print(f"created topic {topic} with {partitions} partitions", file=out)
    try:
        clients.produce(bootstrap_servers, topic, lines, key_serde=serde, value_serde=serde)
        print(f"produced {len(lines)} records", file=out)
        records = clients.consume(
            bootstrap_servers, topic, len(lines), key_serde=serde, value_serde=serde
        )
    finally:
        with contextlib.suppress(Exception):
            clients.delete_topic(bootstrap_servers, topic)
    print(f"consumed {len(records)} records:", file=out)
    width = max(len(str(r.key)) for r in records) if records else 0
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        print(
            f"  partition {r.partition} offset {r.offset}  {r.key!s:<{width}}  {r.value}", file=out
        )
    _check(lines, records)
    return records


def _check(lines: Sequence[tuple[str, str]], records: Sequence[clients.ConsumedRecord]) -> None:
    sent = sorted(lines)
    received = sorted((r.key, r.value) for r in records)
    if sent != received:
        raise StreamsError(f"demo round trip mismatch: sent {sent}, received {received}")
    partitions_by_key: dict[Any, set[int]] = {}
    for r in records:
        partitions_by_key.setdefault(r.key, set()).add(r.partition)
    split = {k: p for k, p in partitions_by_key.items() if len(p) > 1}
    if split:
        raise StreamsError(f"keys spread over several partitions: {split}")


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 on success, 1 if Kafka is unavailable or the round trip fails."""
    from streams.cli.local_kafka import stop_on_signals

    out = sys.stdout
    with stop_on_signals():
        try:
            with demo_cluster(args.bootstrap_servers, out) as bootstrap:
                round_trip(bootstrap, out, partitions=args.partitions)
        except KafkaUnavailableError as exc:
            print(f"streams demo: Kafka is unavailable: {exc}", file=sys.stderr)
            return 1
        except StreamsError as exc:
            print(f"streams demo: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    print("demo finished: every record came back, each key in one partition", file=out)
    return 0
