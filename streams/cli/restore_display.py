"""Restore progress in ``streams run``: a live display on a terminal, log lines otherwise.

On a terminal, every store being restored gets a progress bar with its records done of the
total, the rate and the time left. Log lines print above the bars. This uses ``rich``, which
already does live displays that share the terminal with logging, so none of that is written
here. Elsewhere (a log file, a container's output) the same figures come as one log line per
store every :data:`PROGRESS_INTERVAL` seconds.
"""

from __future__ import annotations

import logging
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from streams.runtime.restore import RestoreProgress

log = logging.getLogger("streams.cli.run")

#: seconds between two progress lines when the output is no terminal
PROGRESS_INTERVAL = 5.0


def _progress(app: Any) -> list[RestoreProgress]:
    return [p for th in app.threads if th.restorer is not None for p in th.restorer.progress()]


def log_restore_progress(app: Any) -> None:
    """One line per store being restored: records done of the total, rate and time left."""
    for p in _progress(app):
        total = p.restored + p.remaining
        eta = f"about {p.eta:.0f} s left" if p.eta is not None else "starting"
        log.info("restoring store %s of task %s: %d of %d records (%.0f%%), %.0f records/s, "
                 "%s", p.store, p.task, p.restored, total,
                 100.0 * p.restored / total if total else 100.0, p.rate, eta)


class LiveRestoreDisplay:
    """Progress bars of the stores being restored, on ``console``; call :meth:`refresh`
    now and then, and :meth:`close` at the end."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._bars = Progress(TextColumn("restoring {task.description}"), BarColumn(),
                              MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                              TimeRemainingColumn(), console=console, transient=True)
        self._ids: dict[tuple[str, str], TaskID] = {}
        self._shown = False

    def refresh(self, app: Any) -> None:
        """Show the restorations under way now."""
        now = {(p.task, p.store): p for p in _progress(app)}
        for key in [k for k in self._ids if k not in now]:
            self._bars.remove_task(self._ids.pop(key))
        for key, p in now.items():
            total = p.restored + p.remaining
            rate = f"{p.rate:,.0f} records/s"
            if key not in self._ids:
                self._ids[key] = self._bars.add_task(f"{p.store} of task {p.task}",
                                                     total=total, rate=rate)
            self._bars.update(self._ids[key], completed=p.restored, total=total, rate=rate)
        if self._ids and not self._shown:
            self._bars.start()
            self._shown = True
        elif not self._ids and self._shown:
            self._bars.stop()
            self._shown = False

    def close(self) -> None:
        """Take the bars off the terminal."""
        if self._shown:
            self._bars.stop()
            self._shown = False


def terminal_display() -> LiveRestoreDisplay | None:
    """A live display when standard error is a terminal (log lines then go through it, so
    they print above the bars); None otherwise."""
    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    root = logging.getLogger()
    level = root.level
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(RichHandler(console=console, show_path=False))
    root.setLevel(level)
    return LiveRestoreDisplay(console)
