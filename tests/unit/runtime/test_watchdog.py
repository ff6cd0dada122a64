"""The stall watchdog reports a stream thread whose loop stops coming round, once, with its
stack, and reports it again when it makes progress."""

from __future__ import annotations

import logging
import threading

import pytest

from streams.runtime.watchdog import StallWatchdog, log_stacks, thread_stack


class FakeThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self.last_loop = 0.0
        self.rebalancing_since: float | None = None
        self.last_restored = 0.0
        self.alive = True

    def is_alive(self) -> bool:
        return self.alive


def test_a_stalled_thread_is_reported_once_and_again_when_it_resumes(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    t1, t2 = FakeThread("t1"), FakeThread("t2")
    calls: list[tuple[str, float]] = []
    dog = StallWatchdog(lambda: [t1, t2], 5.0, [lambda n, s, st: calls.append((n, s))], "c",
                        clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for step in range(1, 9):  # t2 keeps looping, t1 is stuck
            now[0] = float(step)
            t2.last_loop = now[0]
            dog.check()
        assert calls == [("t1", 6.0)]
        assert dog.stalled == {"t1": 0.0}
        assert "t1 has made no progress for 6.0 s" in caplog.text
        t1.last_loop = 8.5
        now[0] = 9.0
        dog.check()
    assert calls == [("t1", 6.0), ("t1", 0.0)]
    assert dog.stalled == {}
    assert "t1 makes progress again after 9.0 s" in caplog.text


def test_dead_threads_are_not_stalled() -> None:
    t = FakeThread("t")
    t.alive = False
    calls: list[str] = []
    dog = StallWatchdog(lambda: [t], 1.0, [lambda n, s, st: calls.append(n)], "c",
                        clock=lambda: 100.0)
    dog.check()
    assert calls == []


def test_the_stack_of_a_blocked_thread_shows_where_it_waits(
        caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()

    def blocked_in_here() -> None:
        release.wait(10)

    t = threading.Thread(target=blocked_in_here, name="stuck-one")
    t.start()
    try:
        assert "blocked_in_here" in thread_stack(t)
        with caplog.at_level(logging.ERROR):
            log_stacks([t], "not stopped within 1s")
        assert "not stopped within 1s: stuck-one is at:" in caplog.text
        assert "blocked_in_here" in caplog.text
    finally:
        release.set()
        t.join()


def test_a_thread_that_loops_but_stays_in_a_rebalance_is_reported(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    t = FakeThread("t")
    t.rebalancing_since = 0.0
    calls: list[tuple[str, float]] = []
    dog = StallWatchdog(lambda: [t], 5.0, [lambda n, s, st: calls.append((n, s))], "c",
                        clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for step in range(1, 8):
            now[0] = float(step)
            t.last_loop = now[0]  # the loop keeps coming round
            dog.check()
        assert calls == [("t", 6.0)]
        assert "t has been in a rebalance (no tasks running, no records restored) for 6.0 s" in caplog.text
        t.rebalancing_since = None  # assigned and running again
        now[0] = 8.0
        t.last_loop = 8.0
        dog.check()
    assert calls == [("t", 6.0), ("t", 0.0)]


def test_a_rebalance_stall_that_becomes_a_loop_stall_is_not_reported_as_progress(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [6.0]
    t = FakeThread("t")
    t.rebalancing_since = 0.0
    t.last_loop = 5.5
    calls: list[float] = []
    dog = StallWatchdog(lambda: [t], 5.0, [lambda n, s, st: calls.append(s)], "c",
                        clock=lambda: now[0])
    dog.check()  # in a rebalance for 6 s, loop still turning
    now[0] = 11.0  # now the loop has stopped too
    dog.check()
    assert calls == [6.0]
    assert "makes progress again" not in caplog.text


def test_a_long_restoration_that_progresses_is_not_a_stall(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    t = FakeThread("t")
    t.rebalancing_since = 0.0  # restoring from the start
    calls: list[float] = []
    dog = StallWatchdog(lambda: [t], 5.0, [lambda n, s, st: calls.append(s)], "c",
                        clock=lambda: now[0])
    for step in range(1, 30):  # 29 s of restoring, records restored every 2 s
        now[0] = float(step)
        t.last_loop = now[0]
        if step % 2 == 0 and step < 20:
            t.last_restored = now[0]
        dog.check()
    # restoration stopped progressing at 18 s: reported 5 s later, not before
    assert calls == [6.0]
    assert "no records restored) for 6.0 s" in caplog.text
