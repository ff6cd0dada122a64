"""Blocking client calls with a deadline the caller enforces itself.

librdkafka's ``send_offsets_to_transaction`` takes a timeout but waits for its answer
without one: when the group coordinator's broker dies or freezes, the request waits for the
coordinator's broker to change state, which can take a minute or more (librdkafka issues
#5456 and #5511, open as of librdkafka 2.16). A C call cannot be interrupted from Python, so
:class:`HardDeadline` runs such a call on a helper thread (confluent-kafka releases the GIL
while it blocks) and stops waiting when the deadline passes. The call is then abandoned: the
helper thread keeps the client until the call returns, and the caller must stop using that
client (for a transactional producer: replace it, which fences the abandoned one).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class CallStuckError(Exception):
    """A call did not return within its hard deadline and was abandoned."""


class _Pending:
    """One call handed to the helper thread, and its outcome."""

    __slots__ = ("call", "done", "error", "result")

    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


def _serve(inbox: queue.SimpleQueue[_Pending | None]) -> None:
    """The helper thread: run calls until told to stop (None)."""
    while True:
        pending = inbox.get()
        if pending is None:
            return
        try:
            pending.result = pending.call()
        except BaseException as exc:  # handed back to the waiting caller
            pending.error = exc
        pending.done.set()


class HardDeadline:
    """Runs calls on one helper thread, giving up on a call after its deadline.

    A stuck helper is left behind with its call (it exits once the call returns); the next
    call starts a fresh helper. Helpers are daemon threads, so an abandoned call never keeps
    the process from exiting.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._inbox: queue.SimpleQueue[_Pending | None] | None = None
        #: calls abandoned so far (for logs and tests)
        self.abandoned = 0

    def call(self, call: Callable[[], T], deadline: float) -> T:
        """``call()``'s result or exception; :class:`CallStuckError` if it has not returned
        after ``deadline`` seconds."""
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = queue.SimpleQueue()
            threading.Thread(target=_serve, args=(inbox,), daemon=True,
                             name=f"{self._name}-calls").start()
        pending = _Pending(call)
        inbox.put(pending)
        if not pending.done.wait(deadline):
            self.abandoned += 1
            inbox.put(None)  # the stuck helper exits once its call returns
            self._inbox = None
            raise CallStuckError(f"no answer within {deadline:.1f} s")
        if pending.error is not None:
            raise pending.error
        result: T = pending.result
        return result

    def close(self) -> None:
        """Let the helper thread end."""
        if self._inbox is not None:
            self._inbox.put(None)
            self._inbox = None
