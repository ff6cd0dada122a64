"""What every system of ``python3 -m benchmarks.compare`` shares: the user functions of the four
workloads and the worker command line. Standard library only: the Quix Streams and Faust
workers import it from their own virtual environments (run with ``cwd`` = the repository).

The Java workers (``benchmarks/java``) implement the same functions; keep the two in step.
"""

from __future__ import annotations

import argparse
import os
import signal
import struct
import sys
import time
from typing import Any

WINDOW_MS = 60_000
GRACE_MS = 10_000
LONG = struct.Struct(">q")
WORKLOADS = ("stateless", "wordcount", "windowed", "join")

_first: list[int] = []


def mark_first() -> None:
    """Print ``FIRST <epoch ms>`` once, when the first record reaches user code."""
    if not _first:
        _first.append(int(time.time() * 1000))
        # straight to fd 1: Faust's worker redirects sys.stdout into its logging
        os.write(1, f"FIRST {_first[0]}\n".encode())


def keep(value: str) -> bool:
    """Stateless filter: the amount (last field) is at least 500.00; about half pass."""
    return float(value[value.rindex(",") + 1:]) >= 500.0


def keep_first(value: str) -> bool:
    """:func:`keep` plus :func:`mark_first` (the first user function of the stateless chain)."""
    if not _first:
        mark_first()
    return float(value[value.rindex(",") + 1:]) >= 500.0


def transform(value: str) -> str:
    """Stateless map: ``"id,event,amount"`` -> ``"id,EVENT,amount,length"``."""
    i, event, amount = value.split(",")
    return f"{i},{event.upper()},{amount},{len(value)}"


def split_words(line: str) -> list[str]:
    """Word count: the words of a line (the first user function: marks the start)."""
    if not _first:
        mark_first()
    return line.split()


def window_start(ts_ms: int) -> int:
    return ts_ms - ts_ms % WINDOW_MS


def windowed_key(key: bytes, start_ms: int) -> bytes:
    """Kafka Streams' ``TimeWindowedSerde`` key layout: the key, then the window start."""
    return key + LONG.pack(start_ms)


def join_value(order: str, customer: str) -> str:
    return f"{order}|{customer}"


def parse_args(prog: str, argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog=prog)
    ap.add_argument("workload", choices=WORKLOADS)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--table", help="join: the customers topic")
    ap.add_argument("--app-id", required=True)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--commit-ms", type=int, default=1000)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="system-specific setting (streams config key, consumer setting, ...)")
    a = ap.parse_args(argv)
    a.settings = dict(kv.split("=", 1) for kv in a.set)
    return a


def exit_on_sigterm() -> None:
    """The harness ends a worker with SIGTERM once the output is complete."""

    def handler(signum: int, frame: Any) -> None:
        sys.stdout.flush()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, handler)
