"""Reading broker log files for error messages: their last lines, the error-looking lines a
failed start leaves, and a per-node report combining both with the JVM's own output.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from streams.testing.local_kafka.broker_config import NodeSpec

__all__ = ["node_report"]


def _tail_lines(text: str, n: int) -> str:
    return "\n".join(text.splitlines()[-n:])


def _read_tail(path: Path, n: int, max_bytes: int = 256 * 1024) -> list[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-n:]


_PROBLEM = re.compile(r"\b(ERROR|FATAL)\b|Exception: |^Caused by: |Error: ")


def _problem_lines(path: Path, limit: int = 12) -> list[str]:
    """The first error-looking lines: a failed start logs its cause, then pages of shutdown."""
    found: list[str] = []
    for line in _read_tail(path, 5000, max_bytes=2 * 1024 * 1024):
        if _PROBLEM.search(line):
            found.append(line)
            if len(found) >= limit:
                break
    return found


def node_report(spec: NodeSpec, n: int) -> str:
    """One node's part of a failure message: errors in ``server.log``, its last ``n`` lines,
    and the JVM's stdout/stderr (without our command-line headers)."""
    parts = [f"--- node {spec.node_id} ({spec.bootstrap}) ---"]
    problems = _problem_lines(spec.log_file)
    if problems:
        parts.append("errors in server.log:")
        parts += problems
    parts.append(f"server.log (last {n} lines):")
    parts += _read_tail(spec.log_file, n) or ["(empty)"]
    stdout = [line for line in _read_tail(spec.stdout_file, n) if not line.startswith("===")]
    if stdout:
        parts.append("JVM output:")
        parts += stdout
    return "\n".join(parts)
