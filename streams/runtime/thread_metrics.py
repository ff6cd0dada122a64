"""A stream thread's counters: what it processed, committed and polled, and how long that
took. Plain integers bumped once per loop (not per record), read by the Prometheus collector
(:mod:`streams.serving.prometheus`) when it is scraped."""

from __future__ import annotations

import time


class ThreadMetrics:
    """Counters of one stream thread. Times are in nanoseconds; the maxima are per record
    (a batch's time over its size) for processing, per commit for commits, and are reset by
    whoever reads them (:meth:`take_maxima`)."""

    __slots__ = ("commit_ns", "commit_ns_max", "commits", "polls", "process_ns",
                 "process_ns_max", "processed", "records_lag_max", "started_at")

    def __init__(self) -> None:
        self.processed = 0
        self.commits = 0
        self.polls = 0
        self.process_ns = 0
        self.process_ns_max = 0.0
        self.commit_ns = 0
        self.commit_ns_max = 0
        #: the largest fetched lag of the thread's input partitions, refreshed every second
        self.records_lag_max = 0
        self.started_at = time.monotonic()

    def processed_batch(self, records: int, took_ns: int) -> None:
        """``records`` were processed in ``took_ns`` nanoseconds."""
        self.processed += records
        self.process_ns += took_ns
        per_record = took_ns / records
        if per_record > self.process_ns_max:
            self.process_ns_max = per_record

    def committed(self, took_ns: int) -> None:
        """A commit took ``took_ns`` nanoseconds."""
        self.commits += 1
        self.commit_ns += took_ns
        if took_ns > self.commit_ns_max:
            self.commit_ns_max = took_ns

    def take_maxima(self) -> tuple[float, int]:
        """(process, commit) maxima in nanoseconds since the last call, and reset them."""
        maxima = (self.process_ns_max, self.commit_ns_max)
        self.process_ns_max, self.commit_ns_max = 0.0, 0
        return maxima
