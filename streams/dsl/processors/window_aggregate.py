"""Processors behind windowed aggregations: time windows (tumbling, hopping) and sessions.

A record later than its window's end plus grace (by the processor's observed stream time) is
dropped, counted and logged at debug level; it never changes a closed window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from streams.dsl.change import Change
from streams.dsl.processors.aggregate import _StoreBase
from streams.dsl.processors.stateless import drop_record
from streams.dsl.window_specs import SessionWindows, TimeWindows
from streams.processor.record import Record
from streams.processor.window_types import SessionWindow, TimeWindow, Windowed
from streams.state.timestamped import ValueAndTimestamp


def _late(context: Any, node: str, detail: str) -> None:
    # late records are expected in normal operation: counted, logged at debug level only
    drop_record(context, node, f"it is a late record ({detail})", logging.DEBUG)


class _WindowedAggregateBase(_StoreBase):
    """What the time, session and sliding window aggregate processors hold: their store, the
    windows, the user's functions, and the stream time the node has observed."""

    def __init__(self, store_name: str, node: str, windows: Any,
                 initializer: Callable[[], Any] | None, aggregator: Callable[..., Any],
                 with_key: bool) -> None:
        super().__init__(store_name, node)
        self.windows = windows
        self.initializer = initializer  # None: reduce (first value is the aggregate)
        self.aggregator = aggregator
        self.with_key = with_key
        self.observed = -1  # stream time as this node has seen it


class TimeWindowAggregateProcessor(_WindowedAggregateBase):
    """count/reduce/aggregate over TimeWindows; forwards ``Windowed`` keys with Change values
    (from the record cache's flushes when the store is cached)."""

    windows: TimeWindows

    def _flush_listener(self) -> Callable[..., None]:
        return self._window_flushed

    def _window_flushed(self, key: Any, start: int, new: ValueAndTimestamp | None,
                        old: ValueAndTimestamp | None) -> None:
        self._flushed(Windowed(key, TimeWindow(start, start + self.windows.size_ms)), new, old)

    def process(self, record: Record) -> None:
        key, value, ts = record.key, record.value, record.timestamp
        if key is None:  # a None value is aggregated, as Kafka Streams does for windows
            drop_record(self.context, self.node, "its key is None")
            return
        if ts > self.observed:
            self.observed = ts
        close = self.observed - self.windows.grace_ms
        store = self.store
        for start, end in self.windows.windows_for(ts):
            if end <= close:
                _late(self.context, self.node, f"window [{start},{end}) closed at {end + self.windows.grace_ms}")
                continue
            old = store.get(key, start)
            if old is None:
                old_value = None
                new_ts = ts
                if self.initializer is None:
                    new = value
                else:
                    agg = self.initializer()
                    new = self.aggregator(key, value, agg) if self.with_key else self.aggregator(value, agg)
            else:
                old_value = old.value
                new_ts = max(ts, old.timestamp)
                if self.initializer is None:
                    new = self.aggregator(old_value, value)
                else:
                    new = (self.aggregator(key, value, old_value) if self.with_key
                           else self.aggregator(value, old_value))
            store.put(key, ValueAndTimestamp(new, new_ts), start)
            if self.eager:
                self.forward(Record(Windowed(key, TimeWindow(start, end)), Change(new, old_value),
                                    new_ts, record.headers))


class SessionWindowAggregateProcessor(_WindowedAggregateBase):
    """count/reduce/aggregate over SessionWindows: merges overlapping sessions, forwarding a
    deletion for each merged-away session and the new session's aggregate."""

    windows: SessionWindows
    initializer: Callable[[], Any]

    def __init__(self, store_name: str, node: str, windows: SessionWindows,
                 initializer: Callable[[], Any], aggregator: Callable[..., Any],
                 merger: Callable[..., Any], with_key: bool) -> None:
        super().__init__(store_name, node, windows, initializer, aggregator, with_key)
        self.merger = merger
        #: the merger's form, ``(key, a, b)`` or ``(a, b)`` (a cogroup gives each input its own
        #: aggregator, whose form may differ from the merger's)
        self.merger_with_key = with_key

    def process(self, record: Record) -> None:
        key, value, ts = record.key, record.value, record.timestamp
        if key is None:  # a None value is aggregated, as Kafka Streams does for windows
            drop_record(self.context, self.node, "its key is None")
            return
        if ts > self.observed:
            self.observed = ts
        gap = self.windows.gap_ms
        # as Kafka Streams' KStreamSessionWindowAggregate: a session can still merge with
        # records up to one gap after its end, so it closes gap + grace after that
        close = self.observed - self.windows.grace_ms - gap
        merged: list[tuple[Windowed, Any]] = []
        agg = self.initializer()
        start, end = ts, ts
        for session, session_agg in list(self.store.find_sessions(key, ts - gap, ts + gap)):
            merged.append((session, session_agg))
            agg = (self.merger(key, agg, session_agg) if self.merger_with_key
                   else self.merger(agg, session_agg))
            start = min(start, session.window.start)
            end = max(end, session.window.end)
        if end < close:
            _late(self.context, self.node, f"session [{start},{end}] closed")
            return
        headers = record.headers
        if (start, end) != (ts, ts):
            for session, session_agg in merged:
                self.store.remove(session)
                self.forward(Record(session, Change(None, session_agg), session.window.end, headers))
        agg = self.aggregator(key, value, agg) if self.with_key else self.aggregator(value, agg)
        window_key = Windowed(key, SessionWindow(start, end))
        self.store.put(window_key, agg)
        self.forward(Record(window_key, Change(agg, None), end, headers))
