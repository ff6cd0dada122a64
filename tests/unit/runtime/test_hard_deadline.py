"""HardDeadline: a caller-enforced deadline for blocking client calls."""

from __future__ import annotations

import threading
import time

import pytest

from streams.runtime.hard_deadline import CallStuckError, HardDeadline


def test_returns_the_result_and_raises_the_exception_of_the_call() -> None:
    guard = HardDeadline("t")
    assert guard.call(lambda: 42, 5) == 42

    def boom() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        guard.call(boom, 5)
    assert guard.abandoned == 0
    guard.close()


def test_a_stuck_call_is_abandoned_and_the_next_call_gets_a_fresh_helper() -> None:
    guard = HardDeadline("t")
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(CallStuckError, match=r"no answer within 0\.2 s"):
        guard.call(lambda: release.wait(30), 0.2)
    assert time.monotonic() - started < 5
    assert guard.abandoned == 1
    # the stuck helper still holds its call; a new one serves the next
    assert guard.call(lambda: threading.current_thread().name, 5) == "t-calls"
    helpers = [th for th in threading.enumerate() if th.name == "t-calls"]
    assert len(helpers) == 2 and all(th.daemon for th in helpers)
    release.set()
    guard.close()
    for th in helpers:
        th.join(5)
        assert not th.is_alive(), "helpers end once their call returns and they are closed"
