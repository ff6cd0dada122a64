"""The ``--processes`` supervisor with stand-in children (tiny Python scripts): prefixed logs,
the tasks table, restart after a crash with back-off, giving up on a child that cannot start,
SIGTERM forwarded and the exit code; and the child command lines built from ``run``'s
arguments."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time

import pytest

from streams.cli import supervisor as sup_mod
from streams.cli.supervisor import Supervisor, argv_of, child_argvs, describe_exit, tasks_of_line

# a stand-in child: prints its tasks, then runs until SIGTERM (exit 0) or its marker file says
# to crash
CHILD = r"""
import os, signal, sys, time
name, marker = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGTERM, lambda *a: (print(name, "stopping", flush=True), sys.exit(0)))
print(f"INFO streams.cli.run: tasks: {{'t1': ['0_{name[-1]}']}}", flush=True)
while True:
    if os.path.exists(marker + "." + name):
        os.remove(marker + "." + name)
        print(name, "crashing", flush=True)
        os._exit(3)
    time.sleep(0.05)
"""


def _start(tmp_path, names, **kw) -> tuple[Supervisor, io.StringIO, threading.Thread, dict]:
    out = io.StringIO()
    marker = str(tmp_path / "crash")
    sup = Supervisor([[n, marker] for n in names], shutdown_timeout=5, out=out,
                     command=[sys.executable, "-c", CHILD], **kw)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", sup.run(poll=0.05)))
    thread.start()
    return sup, out, thread, result


def _wait(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_restarts_a_crashed_child_and_stops_all_cleanly(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(sup_mod, "BACKOFF_START", 0.2)
    caplog.set_level("INFO", logger="streams.cli.supervisor")
    sup, out, thread, result = _start(tmp_path, ["c0", "c1"])
    _wait(lambda: all(c.tasks for c in sup.children))
    assert [c.tasks for c in sup.children] == [["0_0"], ["0_1"]]
    first_pid = sup.children[1].proc.pid
    (tmp_path / "crash.c1").touch()
    _wait(lambda: sup.children[1].restarts == 1 and sup.children[1].proc is not None
          and sup.children[1].proc.pid != first_pid and sup.children[1].tasks)
    sup.request_stop()
    thread.join(20)
    assert result["code"] == 0
    text = out.getvalue()
    assert "[p1] c1 crashing" in text and "[p0] c0 stopping" in text and "[p1] c1 stopping" in text
    assert "p1 exited (exit code 3)" in caplog.text
    assert "tasks per process: p0=['0_0'], p1=['0_1']" in caplog.text


def test_gives_up_on_a_child_that_keeps_failing_at_start(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sup_mod, "BACKOFF_START", 0.01)
    out = io.StringIO()
    sup = Supervisor([["x"]], shutdown_timeout=5, out=out,
                     command=[sys.executable, "-c", "import sys; print('bad config'); sys.exit(1)"])
    code = sup.run(poll=0.02)
    assert code == 1
    assert sup.children[0].quick_failures == sup_mod.MAX_QUICK_FAILURES
    assert out.getvalue().count("[p0] bad config") == sup_mod.MAX_QUICK_FAILURES


def test_a_child_that_fails_to_stop_cleanly_fails_the_exit_code(tmp_path) -> None:
    script = ("import signal, sys, time\n"
              "signal.signal(signal.SIGTERM, lambda *a: sys.exit(2))\n"
              "print('up', flush=True)\n"
              "time.sleep(60)\n")
    out = io.StringIO()
    sup = Supervisor([[]], shutdown_timeout=5, out=out, command=[sys.executable, "-c", script])
    threading.Timer(1.0, sup.request_stop).start()
    assert sup.run(poll=0.05) == 1


@pytest.mark.parametrize(("code", "text"), [(1, "exit code 1"), (-9, "signal SIGKILL")])
def test_describe_exit(code: int, text: str) -> None:
    assert describe_exit(code) == text


def test_tasks_of_line() -> None:
    assert tasks_of_line("2026 INFO streams.cli.run: tasks: {'a': ['1_0', '0_0'], 'b': []}") \
        == ["0_0", "1_0"]
    assert tasks_of_line("state RUNNING -> REBALANCING") is None
    assert tasks_of_line("tasks: not a dict") is None


def test_child_command_lines_repeat_the_run_arguments() -> None:
    import argparse

    from streams.cli import run as run_cmd

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    run_parser = run_cmd.add_parser(sub)
    args = parser.parse_args(["run", "examples.wordcount:app", "--bootstrap-servers", "h:1",
                              "-s", "a=1", "-s", "b=2", "--processes", "2", "--http", "8080",
                              "--state-dir", "/s"])
    base = argv_of(run_parser, args, "run", frozenset({"processes", "state_dir", "http"}))
    assert base[0] == "run" and base[-1] == "examples.wordcount:app"
    assert base[base.index("--bootstrap-servers") + 1] == "h:1"
    assert [base[i + 1] for i, a in enumerate(base) if a == "--set"] == ["a=1", "b=2"]
    assert "--processes" not in base and "--http" not in base
    argvs = child_argvs(base, 2, "/s", "127.0.0.1:8080")
    assert argvs[1][-4:] == ["--state-dir", os.path.join("/s", "process-1"),
                             "--http", "127.0.0.1:8081"]
    # the children parse back to the same settings
    again = parser.parse_args(argvs[0])
    assert again.set == ["a=1", "b=2"] and again.state_dir == os.path.join("/s", "process-0")
    assert again.processes == 1


def test_sigterm_handler_is_the_supervisors(tmp_path, monkeypatch) -> None:
    installed: dict = {}
    monkeypatch.setattr(signal, "signal", lambda s, h: installed.setdefault(s, h))
    monkeypatch.setattr(Supervisor, "run", lambda self, poll=0.2: 0)
    assert sup_mod.supervise([["x"]], 1) == 0
    assert set(installed) == {signal.SIGTERM, signal.SIGINT}
