"""``streams local-kafka``: run a real Apache Kafka broker on loopback until Ctrl-C / SIGTERM.

Prints ``bootstrap.servers=127.0.0.1:PORT`` on stdout once the broker answers (progress goes to
stderr, so ``streams local-kafka | head -1`` gives just the address), then waits. On SIGINT,
SIGTERM or SIGHUP it stops the broker, deletes its data and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from streams.errors import KafkaUnavailableError
from streams.testing.local_kafka import LocalKafka

_HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread by the first SIGINT/SIGTERM/SIGHUP."""


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn the first SIGINT/SIGTERM/SIGHUP into :class:`Terminated`; ignore later ones.

    SIGTERM would otherwise kill Python without running any cleanup, and a second Ctrl-C would
    interrupt the cleanup itself; either way a data directory would be left behind.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal fired
        if fired:
            print("already stopping, please wait...", file=sys.stderr, flush=True)
            return
        fired = True
        raise Terminated(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in _HANDLED}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` from ``--config`` into a dict; raises ``ValueError`` on a bad item."""
    result: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--config expects KEY=VALUE, got {item!r}")
        result[key.strip()] = value.strip()
    return result


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``local-kafka`` on the ``streams`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "local-kafka",
        help="run a local Apache Kafka broker (KRaft) until Ctrl-C",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--nodes", type=int, default=1, help="number of nodes (default 1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="client port of node 0 (node i gets PORT+i); default: a free port",
    )
    parser.add_argument(
        "--kafka-version",
        default=None,
        help="Kafka version (default: $STREAMS_KAFKA_VERSION or the built-in default)",
    )
    parser.add_argument(
        "-c",
        "--config",
        action="append",
        metavar="KEY=VALUE",
        help="broker config override, repeatable (e.g. -c auto.create.topics.enable=true)",
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=60.0, help="seconds to wait for start-up"
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the data directory after stopping"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Start the broker, print its address, and block until a signal arrives."""
    try:
        overrides = parse_overrides(args.config)
    except ValueError as exc:
        print(f"streams local-kafka: {exc}", file=sys.stderr)
        return 2
    kafka = LocalKafka(
        nodes=args.nodes,
        port=args.port,
        version=args.kafka_version,
        broker_config=overrides,
        startup_timeout=args.startup_timeout,
        keep_data=True if args.keep_data else None,
    )
    with stop_on_signals():
        try:
            print(
                f"starting Apache Kafka {kafka.version} ({args.nodes} node(s))...",
                file=sys.stderr,
                flush=True,
            )
            kafka.start()
            pids = ", ".join(str(p) for p in kafka.pids)
            print(
                f"Kafka {kafka.version} is up in {kafka.startup_seconds:.1f} s "
                f"(pids {pids}; data in {kafka.data_dir}). Press Ctrl-C to stop.",
                file=sys.stderr,
                flush=True,
            )
            print(f"bootstrap.servers={kafka.bootstrap_servers}", flush=True)
            return _wait(kafka)
        except KafkaUnavailableError as exc:
            print(f"streams local-kafka: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt as exc:
            print(f"stopping Kafka ({exc or 'interrupted'})...", file=sys.stderr, flush=True)
            kafka.stop()
            print("stopped", file=sys.stderr, flush=True)
            return 0
        finally:
            kafka.stop()


def _wait(kafka: LocalKafka) -> int:
    """Sleep until interrupted; a node that dies on its own is an error (exit 1)."""
    while True:
        time.sleep(0.5)
        for spec, pid in zip(kafka.node_specs, kafka.pids):
            if pid is None or not kafka.is_running(spec.node_id):
                print(
                    f"Kafka node {spec.node_id} exited unexpectedly; its log ends with:\n"
                    f"{kafka.log_tail(40, node=spec.node_id)}",
                    file=sys.stderr,
                )
                return 1
