"""A task's punctuators: stream-time ones fire as the task's stream time passes their next
time (checked after each record), wall-clock ones as the clock does (checked by the thread's
loop, or when the test driver advances its mocked clock)."""

from __future__ import annotations

from collections.abc import Callable

from streams.engine.context import PunctuationSchedule, TaskContext
from streams.processor.api import PunctuationType


class PunctuationQueue:
    """The stream-time and wall-clock schedules of one task."""

    def __init__(self, ctx: TaskContext,
                 on_error: Callable[[Exception, str, int], Exception]) -> None:
        self._ctx = ctx
        self._on_error = on_error
        self.stream: list[PunctuationSchedule] = []
        self.wall: list[PunctuationSchedule] = []

    def schedule(self, node: str, interval: int, ptype: PunctuationType,
                 callback: Callable[[int], None]) -> PunctuationSchedule:
        """Register a punctuator; stream-time ones align to 0, wall-clock ones start at
        now + interval."""
        if ptype == PunctuationType.STREAM_TIME:
            sched = PunctuationSchedule(node, interval, ptype, callback, 0)
            self.stream.append(sched)
        else:
            now = self._ctx.wall_clock()
            sched = PunctuationSchedule(node, interval, ptype, callback, now + interval)
            self.wall.append(sched)
        return sched

    def fire(self, schedules: list[PunctuationSchedule], now: int) -> bool:
        """Run the punctuators of ``schedules`` due at ``now``; True if any ran. A punctuator
        sees no record in flight (topic, partition and offset None; timestamp ``now``)."""
        fired = False
        for sched in list(schedules):
            if sched.cancelled:
                schedules.remove(sched)
                continue
            if now >= sched.next_time:
                ctx = self._ctx
                ctx.topic = ctx.partition = ctx.offset = None
                ctx.timestamp = now
                ctx.headers = None
                try:
                    sched.callback(now)
                except Exception as exc:
                    raise self._on_error(exc, sched.node, now) from exc
                sched.advance(now)
                fired = True
        return fired
