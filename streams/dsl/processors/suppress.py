"""The processor behind ``KTable.suppress`` (Kafka Streams' ``KTableSuppressProcessorSupplier``)
and the value getter of a suppressed table.

The processor buffers table updates in a suppression buffer store
(:mod:`streams.dsl.processors.suppression_buffer`) and emits them when their time comes, or
early when the buffer is full.
"""

from __future__ import annotations

from typing import Any

from streams.dsl.getters import Get, GetterFactory
from streams.dsl.processors.stateless import _Base, drop_record
from streams.dsl.processors.suppression_buffer import Eviction, SuppressionBuffer
from streams.errors import ProcessorError, StreamsError
from streams.processor.api import ProcessorContext
from streams.processor.record import Record
from streams.state.timestamped import ValueAndTimestamp

__all__ = [
    "UNKNOWN_TIMESTAMP",
    "KTableSuppressProcessor",
    "SuppressionBufferFullError",
    "suppressed_getter",
]

#: Kafka Streams' RecordQueue.UNKNOWN: the timestamp of a value read through the suppressed
#: table's view when the key is buffered (only the value is known).
UNKNOWN_TIMESTAMP = -1


class SuppressionBufferFullError(ProcessorError):
    """A strict suppression buffer (``shut_down_when_full``) exceeded its limits.

    A :class:`~streams.errors.ProcessorError`, so no processing exception handler turns it
    into a skipped record: the task stops, as Kafka Streams shuts the application down.
    """


class KTableSuppressProcessor(_Base):
    """Buffers table updates and emits them when their time comes (Kafka Streams'
    ``KTableSuppressProcessor``).

    Stream time is the largest timestamp this node has seen. After buffering each update, every
    entry whose buffer time is ``<= stream time - suppress_duration_ms`` is emitted, oldest
    first; then, if the buffer is over ``record_limit``/``byte_limit``, the oldest entries are
    emitted early (``shut_down=False``) or :class:`SuppressionBufferFullError` is raised.
    ``window_end_time`` buffers by the windowed key's window end (final results) instead of by
    record timestamp; ``drop_tombstones`` drops emitted deletions (safe only for final results,
    where nothing was emitted for the key before). ``by_window`` emits the windows that close
    at once by (end, start), as Kafka Streams' emit-on-window-close does (its window stores are
    scanned in time order), instead of the buffer's (end, key) order, which
    ``Suppressed.until_window_closes`` keeps.
    """

    def __init__(self, node: str, store_name: str, suppress_duration_ms: int,
                 window_end_time: bool, record_limit: int | None, byte_limit: int | None,
                 shut_down: bool, drop_tombstones: bool, by_window: bool = False) -> None:
        self.node = node
        self.store_name = store_name
        self.duration = suppress_duration_ms
        self.window_end_time = window_end_time
        self.record_limit = record_limit
        self.byte_limit = byte_limit
        self.shut_down = shut_down
        self.drop_tombstones = drop_tombstones
        self.by_window = by_window
        self.observed = -1

    def init(self, context: ProcessorContext) -> None:
        """Look up the buffer store."""
        super().init(context)
        self.buffer: SuppressionBuffer = context.get_state_store(self.store_name)

    def process(self, record: Record) -> None:
        """Buffer the update, then emit what is due."""
        key = record.key
        if key is None:
            drop_record(self.context, self.node, "a table update needs a key and it is None")
            return
        ts = record.timestamp
        if ts > self.observed:
            self.observed = ts
        if self.window_end_time:
            window = getattr(key, "window", None)
            if window is None:
                raise StreamsError(f"{self.node}: Suppressed.until_window_closes needs Windowed "
                                   f"keys, got {key!r}")
            buffer_time = window.end
        else:
            buffer_time = ts
        self.buffer.put(buffer_time, key, record.value, ts, record.headers)
        self._enforce()

    def _over_capacity(self) -> bool:
        buf = self.buffer
        return ((self.record_limit is not None and buf.num_records > self.record_limit)
                or (self.byte_limit is not None and buf.buffer_size > self.byte_limit))

    def _enforce(self) -> None:
        buf = self.buffer
        expiry = self.observed - self.duration
        if self.by_window:
            closed: list[Eviction] = []
            buf.evict_while(lambda: buf.min_timestamp <= expiry, closed.append)
            closed.sort(key=lambda e: (e.key.window.end, e.key.window.start))  # stable
            for eviction in closed:
                self._emit(eviction)
        else:
            buf.evict_while(lambda: buf.min_timestamp <= expiry, self._emit)
        if self._over_capacity():
            if not self.shut_down:
                buf.evict_while(self._over_capacity, self._emit)
                return
            raise SuppressionBufferFullError(
                f"{self.node} buffer exceeded its max capacity. Currently "
                f"[{buf.num_records}/{self._show(self.record_limit)}] records and "
                f"[{buf.buffer_size}/{self._show(self.byte_limit)}] bytes (suppression buffer "
                f"{self.store_name!r}, configured to shut down when full)"
            )

    @staticmethod
    def _show(limit: int | None) -> str:
        return "unbounded" if limit is None else str(limit)

    def _emit(self, eviction: Eviction) -> None:
        if eviction.value.new is None and self.drop_tombstones:
            return
        self.forward(Record(eviction.key, eviction.value, eviction.timestamp, eviction.headers))


def suppressed_getter(parent: GetterFactory, store: str) -> GetterFactory:
    """How joins read a suppressed table: a buffered key reads the value downstream last saw
    (with an unknown timestamp, -1), any other key reads through to the parent table."""
    stores, make_parent = parent

    def make(ctx: ProcessorContext) -> Get:
        get = make_parent(ctx)
        buffer: SuppressionBuffer = ctx.get_state_store(store)

        def view(key: Any) -> ValueAndTimestamp | None:
            buffered, prior = buffer.prior_value(key)
            if buffered:
                return ValueAndTimestamp.make(prior, UNKNOWN_TIMESTAMP)
            return get(key)

        return view

    return (store, *(s for s in stores if s != store)), make
