"""Broker JVM processes: starting them in their own process group that dies with us,
signalling and terminating them, and cleaning up after runs (stopping clusters still running at
interpreter exit, removing data directories of runs that were killed).

The JVM runs in its own process group and, on Linux, is told to die with its parent
(``PR_SET_PDEATHSIG``), so even ``kill -9`` of the Python process leaves no broker behind.
The parent is the *thread* that started it: start brokers from a long-lived thread (the main
thread in pytest and the CLI).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.testing.local_kafka.cluster import LocalKafka

__all__ = ["sweep_stale_data_dirs"]

_DATA_DIR_PREFIX = "streams-kafka-"
_OWNER_FILE = "owner.pid"


_libc: Any = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - exotic libc
        _libc = None

_PR_SET_PDEATHSIG = 1


def _child_setup(parent_pid: int) -> Callable[[], None]:
    """``preexec_fn``: make the child die with us, even when we are SIGKILLed."""

    def setup() -> None:
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            # The parent may already be gone between fork and prctl; then nobody would stop us.
            if os.getppid() != parent_pid:
                os._exit(1)

    return setup


def _popen(cmd: Sequence[str], *, cwd: Path, output: Path) -> subprocess.Popen[bytes]:
    with open(output, "ab") as out:
        return subprocess.Popen(
            list(cmd),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Own process group: a terminal's Ctrl-C reaches only us, and we stop the broker in
            # order (and can signal the whole group).
            start_new_session=True,
            preexec_fn=_child_setup(os.getpid()),
        )


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _terminate(
    procs: Sequence[subprocess.Popen[bytes]],
    timeout: float,
    timeouts: Mapping[int, float] | None = None,
) -> None:
    """SIGTERM every process group, wait up to ``timeout`` (per pid: ``timeouts``), then
    SIGKILL what is left."""
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    started = time.monotonic()
    for proc in procs:
        limit = (timeouts or {}).get(proc.pid, timeout)
        remaining = max(0.0, started + limit - time.monotonic())
        try:
            proc.wait(remaining)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


_RUNNING: set[LocalKafka] = set()
_RUNNING_LOCK = threading.Lock()


@atexit.register
def _stop_all_at_exit() -> None:
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for kafka in running:
        with contextlib.suppress(Exception):
            kafka.stop()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_data_dirs(parent: Path | None = None) -> list[Path]:
    """Remove data directories of earlier runs whose owning Python process no longer exists.

    They appear only when a run was SIGKILLed (the broker then dies with it, but nobody is left
    to delete its files). Returns the removed directories.
    """
    parent = parent or Path(tempfile.gettempdir())
    removed = []
    for candidate in parent.glob(f"{_DATA_DIR_PREFIX}*"):
        owner = candidate / _OWNER_FILE
        try:
            pid = int(owner.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if not _pid_alive(pid):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed
