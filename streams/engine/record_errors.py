"""What a task does with a record that fails: ask the handler, skip and dead-letter it, or stop
with an error that names the record.

Three handlers decide (see :mod:`streams.handlers`): the deserialization handler for a key or
value a source cannot read, the production handler for a record the producer refuses when a
sink hands it over (:class:`~streams.errors.ProductionError`), the processing handler for
anything else a processor raises. ``CONTINUE`` counts the record as dropped and, with
``errors.dead.letter.queue.topic.name``, writes its original bytes with ``__streams.errors.*``
headers to the dead-letter topic; ``FAIL`` raises an error naming topic, partition, offset,
task and node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.config import StreamsConfig
from streams.engine.collector import RecordCollector
from streams.errors import ProcessorError, ProductionError, SerializationError, StreamsError
from streams.handlers import ErrorContext, Response, dead_letter_headers, resolve_handler


def invalid_timestamp(ts: int, topic: str | None, partition: int | None, offset: int | None,
                      task: str) -> StreamsError:
    """The error for a record whose own timestamp is negative (no extractor to fix it)."""
    return StreamsError(
        f"record has invalid (negative) timestamp {ts} (topic={topic!r}, partition={partition}, "
        f"offset={offset}, task={task}); set default.timestamp.extractor to "
        "LogAndSkipOnInvalidTimestamp or UsePartitionTimeOnInvalidTimestamp to carry on"
    )


class RecordErrors:
    """One task's error handling; see the module docstring."""

    def __init__(self, task_name: str, config: StreamsConfig, collector: RecordCollector,
                 owner_of: dict[int, str], on_dropped: Callable[[], None]) -> None:
        self._task = task_name
        self._collector = collector
        self._owner_of = owner_of
        self._on_dropped = on_dropped
        self._deser = resolve_handler(config["default.deserialization.exception.handler"],
                                      "default.deserialization.exception.handler")
        self._proc = resolve_handler(config["processing.exception.handler"],
                                     "processing.exception.handler")
        self._prod = resolve_handler(config["default.production.exception.handler"],
                                     "default.production.exception.handler")
        self._dlq: str | None = config.get("errors.dead.letter.queue.topic.name")

    def failing_node(self, exc: BaseException) -> str:
        """The innermost processor or sink in ``exc``'s traceback. Walking the traceback costs
        nothing until a record fails, where tracking the current node would cost a store per
        node per record."""
        name = "?"
        tb = exc.__traceback__
        owners = self._owner_of
        while tb is not None:
            owner = tb.tb_frame.f_locals.get("self")
            if owner is not None and id(owner) in owners:
                name = owners[id(owner)]
            tb = tb.tb_next
        return name

    def _skip(self, ectx: ErrorContext, exc: BaseException) -> None:
        self._on_dropped()
        if self._dlq:
            self._collector.send(self._dlq, ectx.key, ectx.value, dead_letter_headers(ectx, exc),
                                 ectx.timestamp, None)

    def on_deserialization_error(self, exc: Exception, node: str, topic: str, partition: int,
                                 offset: int, key: bytes | None, value: bytes | None,
                                 headers: Any, ts: int) -> None:
        """Skip the record (handler says CONTINUE) or raise a SerializationError naming it."""
        ectx = ErrorContext(topic, partition, offset, self._task, node, key, value, headers, ts)
        if self._deser.handle(ectx, exc) == Response.CONTINUE:
            self._skip(ectx, exc)
            return
        if isinstance(exc, SerializationError):
            raise exc.with_location(topic=topic, partition=partition,
                                    offset=offset) from exc.__cause__
        raise SerializationError(f"source {node!r} could not deserialize record: {exc}",
                                 topic=topic, partition=partition, offset=offset) from exc

    def on_processing_error(self, exc: Exception, topic: str | None, partition: int | None,
                            offset: int | None, key: bytes | None, value: bytes | None,
                            headers: Any, ts: int) -> None:
        """Skip the record (handler says CONTINUE) or raise a ProcessorError naming it. A
        ProcessorError raised on purpose always propagates."""
        if isinstance(exc, ProcessorError):
            raise exc
        node = self.failing_node(exc)
        ectx = ErrorContext(topic, partition, offset, self._task, node, key, value, headers, ts)
        # a record the producer refused (too large, say) is the production handler's to judge
        handler = self._prod if isinstance(exc, ProductionError) else self._proc
        if handler.handle(ectx, exc) == Response.CONTINUE:
            self._skip(ectx, exc)
            return
        raise ProcessorError(
            f"processor {node!r} failed in task {self._task} on record (topic={topic!r}, "
            f"partition={partition}, offset={offset}): {type(exc).__name__}: {exc}"
        ) from exc

    def punctuator_failed(self, exc: Exception, node: str, now: int) -> ProcessorError:
        """The error for a punctuator that raised (punctuators have no handler)."""
        return ProcessorError(
            f"punctuator of processor {node!r} (failing node {self.failing_node(exc)!r}) in "
            f"task {self._task} failed at time {now}: {type(exc).__name__}: {exc}"
        )
