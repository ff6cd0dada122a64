"""A librdkafka ``logger`` that says each thing once and remembers what went wrong.

Without a ``logger`` setting librdkafka writes its log to stderr from its own threads: against
an unreachable cluster that is a ``Connect to ... failed`` line every second or so, for as long
as the client lives. :class:`CollapsingClientLog` forwards the first occurrence of each distinct
line to Python logging, counts the repeats, and keeps the distinct warnings and errors so that
the exception raised in the end can say what the client saw.

Example::

    log = CollapsingClientLog("start-up admin")
    admin = AdminClient({"bootstrap.servers": servers, "logger": log})
    ...
    admin.poll(0)          # librdkafka hands a client's log lines over when it is polled
    print(log.problems())  # ['127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: ...']
"""

from __future__ import annotations

import logging
import re
from typing import Any

#: where forwarded client log lines go (one per distinct line)
log = logging.getLogger("streams.runtime.librdkafka")

# parts of a line that change between otherwise identical repeats
_VARYING = re.compile(r"after \d+ms|\(\d+ identical error\(s\) suppressed\)|\d+ms")
# librdkafka's "[thrd:...]: " prefix names its internal thread: noise in an error message
_THREAD_PREFIX = re.compile(r"^\[thrd:[^\]]*\]:\s*")


class CollapsingClientLog:
    """Stands in for a :class:`logging.Logger` as a confluent-kafka client's ``logger``."""

    def __init__(self, client: str, max_level: int = logging.WARNING) -> None:
        #: what the lines are about, e.g. ``"start-up admin"``
        self.client = client
        # a client's connection trouble is reported by the exception raised in the end; the
        # first occurrence is a hint while waiting, not an error of its own
        self._max_level = max_level
        self._counts: dict[str, int] = {}
        self._text: dict[str, str] = {}
        self._problems: list[str] = []

    def log(self, level: int, msg: str, *args: Any, **kwargs: Any) -> None:
        """Called by confluent-kafka as ``log(level, "%s [%s] %s", facility, name, text)``."""
        try:
            line = msg % args if args else str(msg)
        except (TypeError, ValueError):
            line = " ".join([str(msg), *map(str, args)])
        text = _THREAD_PREFIX.sub("", str(args[-1])) if len(args) == 3 else line
        key = _VARYING.sub("", text)
        seen = self._counts.get(key, 0)
        self._counts[key] = seen + 1
        if seen:
            return
        self._text[key] = text
        if level >= logging.WARNING:
            self._problems.append(key)
        log.log(min(level, self._max_level), "%s: %s", self.client, line)

    def problems(self, limit: int = 3) -> list[str]:
        """The last ``limit`` distinct warning/error lines, each with its repeat count."""
        out = []
        for key in self._problems[-limit:]:
            n = self._counts[key]
            out.append(self._text[key] + (f" (x{n})" if n > 1 else ""))
        return out

    def repeats(self) -> int:
        """Lines not forwarded because they repeated an earlier one."""
        return sum(n - 1 for n in self._counts.values())
