"""Reporting stream threads that stop making progress, instead of letting them hang quietly.

Each stream thread stamps ``last_loop`` every time its loop comes round (once per polled
batch, not per record). The watchdog looks at the stamps once a second; a live thread whose
stamp is older than ``thread.stall.warning.ms`` is reported once per stall: a warning with the
thread's current stack (so the call it is stuck in is visible) and a call to the stall
listener. When the loop comes round again, that is logged too.

A thread whose loop runs but that has been in a rebalance (no assignment yet, or restoring)
for as long is reported the same way: it polls, yet nothing reaches its tasks. Restoring a
large store is progress, though: a thread that restored records within the limit is not
reported however long its restoration takes.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Protocol

log = logging.getLogger(__name__)

#: ``listener(thread_name, seconds_without_progress, stack)``; seconds is 0.0 when it resumes
StallListener = Callable[[str, float, str], None]


class Watched(Protocol):
    """What the watchdog needs of a stream thread."""

    name: str
    last_loop: float
    #: monotonic time the thread entered a rebalance (None while RUNNING or stopping)
    rebalancing_since: float | None
    @property
    def last_restored(self) -> float:
        """Monotonic time the thread last restored changelog records (0.0: never)."""
        ...

    def is_alive(self) -> bool:
        """True while the thread runs."""
        ...


def thread_stack(thread: threading.Thread) -> str:
    """The current Python stack of ``thread`` as text (empty when it is not running)."""
    frame = sys._current_frames().get(thread.ident or -1)
    return "".join(traceback.format_stack(frame)) if frame is not None else ""


def log_stacks(threads: Iterable[threading.Thread], why: str) -> None:
    """Log the stack of each thread that is still alive, saying ``why``."""
    for t in threads:
        if t.is_alive():
            log.error("%s: %s is at:\n%s", why, t.name, thread_stack(t) or "(no Python frame)")


class StallWatchdog(threading.Thread):
    """Checks the stream threads' loop stamps once a second; see the module docstring."""

    def __init__(self, threads: Callable[[], list[Watched]], limit_s: float,
                 listeners: list[StallListener], client_id: str, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name=f"{client_id}-StallWatchdog", daemon=True)
        self._threads = threads
        self._limit = limit_s
        self._listeners = listeners
        self._interval = interval
        self._clock = clock
        self._stop_event = threading.Event()
        #: thread name -> the loop stamp it was reported stalled at
        self.stalled: dict[str, float] = {}

    def stop(self) -> None:
        """End the watchdog (it is a daemon; this is for a tidy close)."""
        self._stop_event.set()

    def run(self) -> None:
        """Check every ``interval`` seconds until stopped."""
        while not self._stop_event.wait(self._interval):
            self.check()

    def check(self) -> None:
        """Report threads that stalled since the last check, and those that resumed."""
        now = self._clock()
        for t in self._threads():
            if not t.is_alive():
                self.stalled.pop(t.name, None)
                continue
            # stalled: the loop stopped, or it runs but the thread stays in a rebalance
            since = t.rebalancing_since
            if since is not None:
                since = max(since, t.last_restored)
            loop_stuck = now - t.last_loop > self._limit
            stuck = loop_stuck or (since is not None and now - since > self._limit)
            reported = self.stalled.get(t.name)
            if reported is not None and not stuck:
                del self.stalled[t.name]
                log.warning("%s makes progress again after %.1f s", t.name, now - reported)
                self._notify(t.name, 0.0, "")
            elif reported is None and stuck:
                if loop_stuck or since is None:
                    stamp, what = t.last_loop, "has made no progress"
                else:
                    stamp, what = since, ("has been in a rebalance (no tasks running, no "
                                          "records restored)")
                self.stalled[t.name] = stamp
                stack = thread_stack(t) if isinstance(t, threading.Thread) else ""
                log.error("%s %s for %.1f s (thread.stall.warning.ms=%d); it is at:\n%s",
                          t.name, what, now - stamp, int(self._limit * 1000),
                          stack or "(no Python frame)")
                self._notify(t.name, now - stamp, stack)

    def _notify(self, name: str, seconds: float, stack: str) -> None:
        for listener in self._listeners:
            try:
                listener(name, seconds, stack)
            except Exception as exc:
                log.error("stall listener failed: %s", exc)
