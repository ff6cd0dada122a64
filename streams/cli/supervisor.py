"""``streams run APP --processes N``: N worker processes of one application, supervised.

Python runs one stream thread's records on one core at a time (the GIL), so more threads in one
process do not add throughput; more processes do. Each child is a plain ``streams run`` of the
same application: its own member of the consumer group, its own threads, and its own state
directory ``<state.dir>/process-<i>`` (kept across restarts, so a restarted child restores only
what its checkpoints miss); with ``--http HOST:PORT`` child ``i`` listens on ``PORT + i``.

The supervisor
- prefixes every line a child writes with ``[p<i>]`` and prints it (one log for all);
- restarts a child that exits while the application is meant to run, after a back-off that
  doubles from 1 s up to 30 s and resets once a child has run for a minute; if a child fails
  five times in a row within 10 s of starting (a bad config, a missing topic), it gives up,
  stops the others and exits 1;
- forwards SIGTERM and SIGINT to every child as SIGTERM and waits ``--shutdown-timeout`` (then
  kills what is left); the exit code is 0 only if every child stopped cleanly;
- keeps which tasks each child runs (from the children's ``tasks:`` log lines) and logs the
  whole table whenever it changes.
"""

from __future__ import annotations

import argparse
import ast
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

log = logging.getLogger("streams.cli.supervisor")

BACKOFF_START, BACKOFF_MAX = 1.0, 30.0
#: a child that ran this long is healthy: its back-off starts over
HEALTHY_AFTER = 60.0
#: a child dying within this long of its start counts as a failed start
QUICK_FAILURE = 10.0
#: consecutive failed starts of one child after which the supervisor gives up
MAX_QUICK_FAILURES = 5
_TASKS_MARK = "tasks: "


@dataclass
class Child:
    """One supervised worker process."""

    index: int
    argv: list[str]
    proc: subprocess.Popen[str] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = BACKOFF_START
    quick_failures: int = 0
    restarts: int = 0
    tasks: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """``p<index>``, the prefix of its log lines."""
        return f"p{self.index}"


def describe_exit(code: int) -> str:
    """``exit code 1`` or ``signal SIGKILL`` for a child's return code."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def tasks_of_line(line: str) -> list[str] | None:
    """The task ids of a child's ``tasks: {thread: [task, ...]}`` line (None for other lines)."""
    at = line.find(_TASKS_MARK)
    if at < 0:
        return None
    try:
        per_thread = ast.literal_eval(line[at + len(_TASKS_MARK):].strip())
    except (ValueError, SyntaxError):
        return None
    if not isinstance(per_thread, dict):
        return None
    return sorted(str(t) for tasks in per_thread.values() for t in tasks)


class Supervisor:
    """Starts, watches, restarts and stops the children; see the module docstring."""

    def __init__(self, argvs: Sequence[list[str]], shutdown_timeout: float,
                 out: IO[str] | None = None, env: dict[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 command: Sequence[str] = (sys.executable, "-m", "streams.cli.main")) -> None:
        """One child per argument list, each appended to ``command``."""
        self.children = [Child(i, list(argv)) for i, argv in enumerate(argvs)]
        self._command = list(command)
        self.shutdown_timeout = shutdown_timeout
        self._out = out or sys.stdout
        self._env = env
        self._clock = clock
        self._lock = threading.Lock()  # one line at a time on the shared output
        self._stop = threading.Event()
        self._gave_up = False
        self._readers: list[threading.Thread] = []

    # ------------------------------------------------------------------ children
    def _spawn(self, child: Child) -> None:
        cmd = [*self._command, *child.argv]
        child.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, bufsize=1, env=self._env,
                                      start_new_session=True)  # Ctrl-C reaches us, not them
        child.started_at = self._clock()
        child.restart_at = None
        log.info("started %s (pid %d)", child.name, child.proc.pid)
        reader = threading.Thread(target=self._pump, args=(child, child.proc),
                                  name=f"supervisor-{child.name}-log", daemon=True)
        reader.start()
        self._readers.append(reader)

    def _pump(self, child: Child, proc: subprocess.Popen[str]) -> None:
        """Copy one child's output, prefixed, and note its task lines."""
        assert proc.stdout is not None
        for line in proc.stdout:
            tasks = tasks_of_line(line)
            with self._lock:
                self._out.write(f"[{child.name}] {line if line.endswith(chr(10)) else line + chr(10)}")
                self._out.flush()
            if tasks is not None and tasks != child.tasks:
                child.tasks = tasks
                self._report_tasks()

    def _report_tasks(self) -> None:
        table = ", ".join(f"{c.name}={c.tasks}" for c in self.children)
        log.info("tasks per process: %s", table)

    def _on_exit(self, child: Child, code: int) -> None:
        now = self._clock()
        ran = now - child.started_at
        child.proc = None
        child.tasks = []
        if ran >= HEALTHY_AFTER:
            child.backoff, child.quick_failures = BACKOFF_START, 0
        elif ran < QUICK_FAILURE:
            child.quick_failures += 1
        if child.quick_failures >= MAX_QUICK_FAILURES:
            log.error("%s failed %d times within %.0f s of starting (last: %s); giving up",
                      child.name, child.quick_failures, QUICK_FAILURE, describe_exit(code))
            self._gave_up = True
            self._stop.set()
            return
        child.restart_at = now + child.backoff
        child.restarts += 1
        log.warning("%s exited (%s) after %.1f s; restarting in %.1f s", child.name,
                    describe_exit(code), ran, child.backoff)
        child.backoff = min(child.backoff * 2, BACKOFF_MAX)

    # ------------------------------------------------------------------ run
    def request_stop(self, signum: int | None = None, frame: Any = None) -> None:
        """Begin a clean shutdown (the signal handler)."""
        if signum is not None:
            log.info("received %s: stopping %d process(es)", signal.Signals(signum).name,
                     len(self.children))
        self._stop.set()

    def run(self, poll: float = 0.2) -> int:
        """Run until asked to stop (or giving up); return the exit code."""
        for child in self.children:
            self._spawn(child)
        while not self._stop.wait(poll):
            now = self._clock()
            for child in self.children:
                if child.proc is not None:
                    code = child.proc.poll()
                    if code is not None:
                        self._on_exit(child, code)
                elif child.restart_at is not None and now >= child.restart_at:
                    self._spawn(child)
        return self._shutdown()

    def _shutdown(self) -> int:
        live = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in live:
            assert child.proc is not None
            child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_timeout + 5
        clean = not self._gave_up
        for child in self.children:
            proc = child.proc
            if proc is None:
                continue
            try:
                code = proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.error("%s did not stop within %.0f s: killing it", child.name,
                          self.shutdown_timeout + 5)
                proc.kill()
                code = proc.wait()
            if code != 0:
                clean = False
                log.error("%s stopped with %s", child.name, describe_exit(code))
        for reader in self._readers:
            reader.join(5)
        restarts = sum(c.restarts for c in self.children)
        log.info("all processes stopped (%d restart(s)); %s", restarts,
                 "clean" if clean else "with failures")
        return 0 if clean else 1


def argv_of(parser: argparse.ArgumentParser, args: argparse.Namespace, command: str,
            skip: frozenset[str]) -> list[str]:
    """The command line that gives ``args`` again (``command`` first), options in ``skip``
    (their ``dest``) left out: what a child of ``--processes`` is started with."""
    argv = [command]
    positionals: list[str] = []
    for action in parser._actions:
        if action.dest in skip or action.dest == "help" or action.dest.startswith("_"):
            continue
        value = getattr(args, action.dest, None)
        if not action.option_strings:
            positionals.append(str(value))
            continue
        flag = action.option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):
            if value:
                argv.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for item in value or []:
                argv += [flag, str(item)]
        elif value is not None and value != action.default:
            argv += [flag, str(value)]
    return argv + positionals


def child_argvs(base: list[str], processes: int, state_dir: str, http: str | None
                ) -> list[list[str]]:
    """The ``run`` arguments of each child: ``base`` plus its own state directory (and HTTP
    port, counting up from ``http``'s)."""
    out = []
    for i in range(processes):
        argv = [*base, "--state-dir", os.path.join(state_dir, f"process-{i}")]
        if http:
            host, _, port = http.rpartition(":")
            argv += ["--http", f"{host}:{int(port) + i}" if host else str(int(port) + i)]
        out.append(argv)
    return out


def supervise(argvs: Sequence[list[str]], shutdown_timeout: float) -> int:
    """Run the children until SIGTERM or Ctrl-C; the exit code of ``streams run``."""
    sup = Supervisor(argvs, shutdown_timeout)
    signal.signal(signal.SIGTERM, sup.request_stop)
    signal.signal(signal.SIGINT, sup.request_stop)
    return sup.run()
