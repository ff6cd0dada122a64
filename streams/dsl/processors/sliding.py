"""The processor behind sliding-window aggregations (``windowed_by(SlidingWindows...)``), with
Kafka Streams' semantics (KIP-450, ``KStreamSlidingWindowAggregate``).

A sliding window of time difference ``d`` is ``[start, start + d]``, both ends inclusive, and
exists only where records are. Per key, a record at ``t`` has

* a *left window* ``[t - d, t]``: the window that ends with it;
* a *right window* ``[t + 1, t + 1 + d]``: the window that starts just after it, created only
  once a later record falls into it (an empty window is never created or emitted).

Every distinct set of records that fits within ``d`` is then the content of exactly one window.
The windows are kept in a timestamped window store keyed by their start (window size ``d``);
each stored value carries the largest record timestamp of the window, which is also the
timestamp of the window's results. Records before ``d`` (which would need negative starts) all
go into the window ``[0, d]``, as in Kafka Streams.

A record is dropped as late when even its right window has closed (``t + 1 + d <= stream time -
grace``); otherwise each window it would update or create is skipped (and counted as a dropped
record) if it ended before ``stream time - grace``. As in Kafka Streams the bounds are
inclusive: a window ``[s, e]`` still accepts records while ``e >= stream time - grace``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.dsl.change import Change
from streams.dsl.processors.stateless import drop_record
from streams.dsl.processors.window_aggregate import _late, _WindowedAggregateBase
from streams.dsl.window_specs import SlidingWindows
from streams.processor.record import Record
from streams.processor.window_types import TimeWindow, Windowed
from streams.state.timestamped import ValueAndTimestamp


class SlidingWindowAggregateProcessor(_WindowedAggregateBase):
    """count/reduce/aggregate over SlidingWindows; forwards ``Windowed`` keys (``TimeWindow``
    with ``end = start + time difference``) with Change values.

    ``initializer`` None means reduce: a window's first value is its aggregate and later values
    are combined with ``aggregator(aggregate, value)``. Otherwise ``aggregator`` is
    ``(key, value, aggregate)`` (``with_key``) or ``(value, aggregate)``.

    Records are processed as Kafka Streams does with a store that iterates backwards (its
    in-memory and RocksDB window stores both do): the windows containing the record are updated
    latest start first, then the missing windows are created (the previous record's right
    window, the record's left window, the record's right window).
    """

    windows: SlidingWindows

    def __init__(self, store_name: str, node: str, windows: SlidingWindows,
                 initializer: Callable[[], Any] | None, aggregator: Callable[..., Any],
                 with_key: bool) -> None:
        super().__init__(store_name, node, windows, initializer, aggregator, with_key)
        self.d = windows.time_difference_ms

    # -- entry point --------------------------------------------------------------------

    def process(self, record: Record) -> None:
        key, value, ts = record.key, record.value, record.timestamp
        if key is None or value is None:
            drop_record(self.context, self.node, "its key or value is None")
            return
        if ts > self.observed:
            self.observed = ts
        close = self.observed - self.windows.grace_ms
        if ts + 1 + self.d <= close:
            # every window the record could belong to (up to its right window) has closed
            _late(self.context, self.node, f"sliding windows of a record at {ts} closed "
                                           f"(stream time {self.observed})")
            return
        if ts < self.d:
            self._process_early(record, close)
        else:
            self._process(record, close)

    # -- records at or after the time difference ----------------------------------------

    def _process(self, record: Record, close: int) -> None:
        key, ts, d = record.key, record.timestamp, self.d
        starts: set[int] = set()
        left_agg: ValueAndTimestamp | None = None   # aggregate for a new left window
        right_agg: ValueAndTimestamp | None = None  # aggregate for a new right window
        left_exists = right_exists = False
        previous: int | None = None  # timestamp of the latest earlier record, if needed
        # Windows that can matter start in [t - 2d, t + 1]: the earliest is the left window of a
        # record at t - d, whose right window may have to be created now. Read them all first
        # (latest start first) because the loop writes to the store.
        for start, agg in list(self.store.backward_fetch(key, max(0, ts - 2 * d), ts + 1)):
            starts.add(start)
            end = start + d
            if start == ts + 1:
                right_exists = True
            elif end > ts:
                # holds the record. The latest such window has no record before t (else a
                # later-starting right window would hold t too), so its records are the ones
                # the record's right window [t + 1, t + 1 + d] needs.
                if right_agg is None:
                    right_agg = agg
                self._update(record, start, agg, close)
            elif end == ts:
                left_exists = True
                self._update(record, start, agg, close)
                if agg.timestamp < ts:
                    previous = agg.timestamp
                else:
                    return  # an earlier record at t already created every window needed
            else:
                # the latest window ending before t: its max timestamp is the previous
                # record, and its records are those of the new left window [t - d, t] before
                # t, if that previous record is within d
                left_agg = agg
                previous = agg.timestamp
                break

        if previous is not None:
            prev_right = previous + 1
            if prev_right not in starts and prev_right + d >= ts:
                self._update(record, prev_right, self._fresh(ts), close)
        if not left_exists:
            if left_agg is not None and previous is not None and ts - d <= previous:
                base = ValueAndTimestamp.make(left_agg.value, ts)
            else:
                base = self._fresh(ts)
            self._update(record, ts - d, base, close)
        if not right_exists and right_agg is not None and right_agg.timestamp > ts:
            self._create_right(record, right_agg)

    # -- records before the time difference ---------------------------------------------

    def _process_early(self, record: Record, close: int) -> None:
        """A record at ``t < d``: its left window would start before 0, so the window
        ``[0, d]`` stands for the left windows of all such records."""
        key, ts = record.key, record.timestamp
        starts: set[int] = set()
        combined: ValueAndTimestamp | None = None  # the window [0, d]
        right_agg: ValueAndTimestamp | None = None
        right_exists = False
        previous: int | None = None
        for start, agg in list(self.store.fetch(key, 0, ts + 1)):
            starts.add(start)
            if start == 0:
                combined = agg
                if agg.timestamp < ts:
                    previous = agg.timestamp
            elif start <= ts:
                right_agg = agg  # the last (latest) one wins, as with the backward scan
                self._update(record, start, agg, close)
            else:  # start == ts + 1
                right_exists = True

        # If no other window holds the record, [0, d] can stand for its right window: had
        # [0, d] records both before and after t, a right window of an earlier record would
        # have held t; so if [0, d] has a record after t, all its records are after t.
        if right_agg is None and combined is not None and combined.timestamp > ts:
            right_agg = combined
        if not right_exists and right_agg is not None and right_agg.timestamp > ts:
            self._create_right(record, right_agg)
        if previous is not None and previous + 1 not in starts:
            self._update(record, previous + 1, self._fresh(ts), close)
        self._update(record, 0, combined if combined is not None else self._fresh(ts), close)

    # -- window updates -----------------------------------------------------------------

    def _fresh(self, ts: int) -> ValueAndTimestamp | None:
        """The starting point of a new window: the initializer's value (None for reduce)."""
        if self.initializer is None:
            return None
        return ValueAndTimestamp.make(self.initializer(), ts)

    def _update(self, record: Record, start: int, current: ValueAndTimestamp | None,
                close: int) -> None:
        """Add the record to the window starting at ``start`` (whose value so far is
        ``current``), store and forward it, unless the window has closed."""
        end = start + self.d
        if end < close:
            _late(self.context, self.node, f"sliding window [{start},{end}] closed at "
                                           f"{end + self.windows.grace_ms}")
            return
        key, value, ts = record.key, record.value, record.timestamp
        old = None if current is None else current.value
        if self.initializer is None:
            new = value if old is None else self.aggregator(old, value)
        elif self.with_key:
            new = self.aggregator(key, value, old)
        else:
            new = self.aggregator(value, old)
        new_ts = ts if current is None or old is None else max(ts, current.timestamp)
        self.store.put(key, ValueAndTimestamp.make(new, new_ts), start)
        self.forward(Record(Windowed(key, TimeWindow(start, end)), Change(new, old), new_ts,
                            record.headers))

    def _create_right(self, record: Record, agg: ValueAndTimestamp) -> None:
        """Create the record's right window ``[t + 1, t + 1 + d]`` holding ``agg`` (the later
        records; the record itself is not in it). It cannot be closed: the record was not late."""
        start = record.timestamp + 1
        self.store.put(record.key, agg, start)
        self.forward(Record(Windowed(record.key, TimeWindow(start, start + self.d)),
                            Change(agg.value, None), agg.timestamp, record.headers))
