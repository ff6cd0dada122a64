"""Processors behind the stateless KStream operators.

Each is a small class whose ``process`` calls the user's function and forwards directly to the
bound ``forward`` of its context; per record that is one user call and one Record at most.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from streams.errors import StreamsError
from streams.processor.api import Processor, ProcessorContext
from streams.processor.record import Record

log = logging.getLogger(__name__)


class _Base(Processor):
    forward: Callable[..., None]

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.forward = context.forward


class _SameTime(_Base):
    """Operators whose records keep the input's timestamp and headers: with one child they call
    it directly, so a chain of them costs little more than the user's functions."""

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        same_time = getattr(context, "forward_same_time", None)
        self.forward = same_time() if same_time is not None else context.forward


class FilterProcessor(_SameTime):
    """Forwards records for which ``predicate`` is true (``negate`` flips it)."""

    def __init__(self, predicate: Callable[..., Any], with_key: bool, negate: bool) -> None:
        self.predicate = predicate
        self.with_key = with_key
        self.negate = negate
        if not with_key and not negate:
            self.process = self._process_value  # type: ignore[method-assign]

    def _process_value(self, record: Record) -> None:
        # the common form, without per-record branches
        if self.predicate(record.value):
            self.forward(record)

    def process(self, record: Record) -> None:
        ok = self.predicate(record.key, record.value) if self.with_key else self.predicate(record.value)
        if bool(ok) != self.negate:
            self.forward(record)


class MapValuesProcessor(_SameTime):
    """Replaces the value; the key stays."""

    def __init__(self, mapper: Callable[..., Any], with_key: bool) -> None:
        self.mapper = mapper
        self.with_key = with_key
        if not with_key:
            self.process = self._process_value  # type: ignore[method-assign]

    def _process_value(self, record: Record) -> None:
        self.forward(Record(record.key, self.mapper(record.value), record.timestamp,
                            record.headers))

    def process(self, record: Record) -> None:
        value = self.mapper(record.key, record.value) if self.with_key else self.mapper(record.value)
        self.forward(Record(record.key, value, record.timestamp, record.headers))


class MapProcessor(_SameTime):
    """Replaces key and value: ``mapper(key, value) -> (key, value)``."""

    def __init__(self, mapper: Callable[[Any, Any], Any], node: str) -> None:
        self.mapper = mapper
        self.node = node

    def process(self, record: Record) -> None:
        pair = self.mapper(record.key, record.value)
        try:
            key, value = pair
        except (TypeError, ValueError):
            raise StreamsError(
                f"{self.node}: map function must return a (key, value) pair, got {pair!r}"
            ) from None
        self.forward(Record(key, value, record.timestamp, record.headers))


class FlatMapProcessor(_SameTime):
    """Zero or more (key, value) pairs per record."""

    def __init__(self, mapper: Callable[[Any, Any], Any], node: str) -> None:
        self.mapper = mapper
        self.node = node

    def process(self, record: Record) -> None:
        ts, headers, fwd = record.timestamp, record.headers, self.forward
        for pair in self.mapper(record.key, record.value):
            try:
                key, value = pair
            except (TypeError, ValueError):
                raise StreamsError(
                    f"{self.node}: flat_map function must yield (key, value) pairs, got {pair!r}"
                ) from None
            fwd(Record(key, value, ts, headers))


class FlatMapValuesProcessor(_SameTime):
    """Zero or more values per record, each with the record's key."""

    def __init__(self, mapper: Callable[..., Any], with_key: bool) -> None:
        self.mapper = mapper
        self.with_key = with_key

    def process(self, record: Record) -> None:
        key, ts, headers, fwd = record.key, record.timestamp, record.headers, self.forward
        values = self.mapper(key, record.value) if self.with_key else self.mapper(record.value)
        for value in values:
            fwd(Record(key, value, ts, headers))


class SelectKeyProcessor(_SameTime):
    """Sets a new key computed from the record."""

    def __init__(self, selector: Callable[..., Any], with_key: bool) -> None:
        self.selector = selector
        self.with_key = with_key

    def process(self, record: Record) -> None:
        key = self.selector(record.key, record.value) if self.with_key else self.selector(record.value)
        self.forward(Record(key, record.value, record.timestamp, record.headers))


class PeekProcessor(_SameTime):
    """Calls ``action`` and forwards the record unchanged (``forward=False``: foreach)."""

    def __init__(self, action: Callable[..., Any], with_key: bool, forward: bool) -> None:
        self.action = action
        self.with_key = with_key
        self.passes = forward

    def process(self, record: Record) -> None:
        if self.with_key:
            self.action(record.key, record.value)
        else:
            self.action(record.value)
        if self.passes:
            self.forward(record)


class PassThroughProcessor(_SameTime):
    """Forwards every record (merge, repartition source/sink glue)."""

    def process(self, record: Record) -> None:
        self.forward(record)


class NullKeyFilterProcessor(_SameTime):
    """Drops records with a None key before a repartition topic (they cannot be grouped);
    each drop is logged with its source offset and counted."""

    def __init__(self, node: str) -> None:
        self.node = node

    def process(self, record: Record) -> None:
        if record.key is None:
            drop_record(self.context, self.node, "its key is None and it cannot be repartitioned")
            return
        self.forward(record)


class BranchProcessor(_Base):
    """Sends each record to the first branch whose predicate matches, else to the default."""

    def __init__(self, predicates: list[tuple[Callable[..., Any], bool, str]], default: str | None) -> None:
        self.predicates = predicates
        self.default = default

    def process(self, record: Record) -> None:
        for predicate, with_key, child in self.predicates:
            ok = predicate(record.key, record.value) if with_key else predicate(record.value)
            if ok:
                self.context.forward(record, child)
                return
        if self.default is not None:
            self.context.forward(record, self.default)


def drop_record(context: Any, node: str, reason: str, level: int = logging.WARNING) -> None:
    """Log (at ``level``) and count a record that an operator cannot process (never a silent
    drop)."""
    record_dropped = getattr(context, "record_dropped", None)
    if record_dropped is not None:
        record_dropped(reason, level)
        return
    # a context other than the runtime's (a hand-made one in a test): log at least
    log.log(level, "%s skipped a record because %s (topic=%r, partition=%s, offset=%s)",
            node, reason, context.topic, context.partition, context.offset)


_NO_KEY = object()  # outside process(): a punctuator may forward any key


class FixedKeyProcessorAdapter(Processor):
    """Runs a user Processor for ``process_values``: forwarded records keep the input key."""

    def __init__(self, inner: Processor) -> None:
        self.inner = inner
        self.key: Any = _NO_KEY

    def init(self, context: ProcessorContext) -> None:
        self.inner.init(_FixedKeyContext(context, self))

    def process(self, record: Record) -> None:
        self.key = record.key
        try:
            self.inner.process(record)
        finally:
            self.key = _NO_KEY

    def close(self) -> None:
        self.inner.close()


class _FixedKeyContext:
    def __init__(self, context: ProcessorContext, owner: FixedKeyProcessorAdapter) -> None:
        self._context = context
        self._owner = owner

    def forward(self, record: Record, child: str | None = None) -> None:
        key = self._owner.key
        if key is not _NO_KEY and record.key != key:
            record = record.with_key(key)
        self._context.forward(record, child)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)
