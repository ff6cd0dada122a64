"""What a fault scenario found: each worker's end state from its process and log, and the
scenario's report."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from rt_helpers import Worker

_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ")
_TRANSITION = re.compile(r"state transition from (\w+) to (\w+)")
_ERROR_LINE = re.compile(r" (ERROR|CRITICAL) |^Traceback|^\w[\w.]*(Error|Exception)\b")

#: One entry per finished scenario, for the terminal summary (see ``conftest.py``).
REPORTS: list[FaultReport] = []


def _log_time(line: str) -> float | None:
    m = _LOG_TIME.match(line)
    if not m:
        return None
    stamp = datetime.datetime.strptime(f"{m.group(1)},{m.group(2)}", "%Y-%m-%d %H:%M:%S,%f")
    return stamp.timestamp()


@dataclass
class WorkerView:
    """What one worker's process and log say at the end of a scenario."""

    name: str
    alive: bool
    exit_code: int | None
    state: str | None
    state_since: float | None
    last_running: float | None
    errors: list[str]
    tail: list[str]
    tasks: set[str] | None
    client_tail: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, worker: Worker) -> WorkerView:
        """Read ``worker``'s process status and log."""
        lines = worker.lines()
        state = since = last_running = None
        for line in lines:
            m = _TRANSITION.search(line)
            if m:
                state, since = m.group(2), _log_time(line)
                if state == "RUNNING":
                    last_running = since
        errors = [line for line in lines if _ERROR_LINE.search(line)]
        # librdkafka's own lines (``%4|...|FAIL|...``) would crowd out the streams log
        ours = [line for line in lines if not line.startswith("%")]
        theirs = [line for line in lines if line.startswith("%")]
        return cls(worker.name, worker.alive, worker.proc.poll(), state, since, last_running,
                   errors, ours[-35:], worker.assigned(), theirs[-4:])


@dataclass
class FaultReport:
    """The outcome of one scenario, as printed and as shown in the terminal summary."""

    scenario: str
    seconds: float
    stall: float
    stall_at: float
    append_stall: float | None
    faults: list[str]
    lines: int
    words: int
    output_records: int
    workers: dict[str, str]
    #: workers that exited on their own (the test neither killed nor stopped them)
    died: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def summary(self) -> str:
        """One line for the terminal summary and the docs."""
        append = ("-" if self.append_stall is None else f"{self.append_stall:.1f}s")
        return (f"{self.scenario}: {'PASS' if self.passed else 'FAIL'} in {self.seconds:.0f}s; "
                f"longest output stall {self.stall:.1f}s (read_committed reader, from "
                f"t+{self.stall_at:.1f}s), {append} by broker append time; "
                f"{self.lines} lines, {self.words} words, {self.output_records} output records; "
                f"workers that died: {', '.join(self.died) or 'none'}; "
                f"faults: {'; '.join(self.faults) or '-'}")
