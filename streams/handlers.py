"""Exception handlers: what happens to a record that cannot be deserialized, processed or
written.

Configured with ``default.deserialization.exception.handler``,
``processing.exception.handler`` and ``default.production.exception.handler`` (asked about a
record the producer refuses when it is handed over: too large, say): ``"log_and_fail"`` or
``"fail"`` (the default: stop with an error that names the input record), ``"log_and_continue"``
or ``"continue"`` (log, count and skip it), or an object with a
``handle(error_context, exception) -> Response`` method. With
``errors.dead.letter.queue.topic.name`` set, every skipped record is also written, with its
original bytes and ``__streams.errors.*`` headers, to that topic, so nothing is lost silently.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any

from streams.errors import ConfigError

log = logging.getLogger(__name__)


class Response(enum.Enum):
    """A handler's verdict."""

    CONTINUE = "continue"
    FAIL = "fail"


@dataclass(frozen=True)
class ErrorContext:
    """Where the failing record came from and where it failed."""

    topic: str | None
    partition: int | None
    offset: int | None
    task_id: str
    node: str | None
    key: bytes | None
    value: bytes | None
    headers: Any
    timestamp: int


class LogAndFailExceptionHandler:
    """Log the error and stop processing (the default)."""

    def handle(self, context: ErrorContext, exception: BaseException) -> Response:
        """Always FAIL."""
        log.error(
            "record failed (task=%s, node=%s, topic=%r, partition=%s, offset=%s): %s",
            context.task_id, context.node, context.topic, context.partition, context.offset,
            exception,
        )
        return Response.FAIL


class LogAndContinueExceptionHandler:
    """Log the error, count it, and skip the record."""

    def handle(self, context: ErrorContext, exception: BaseException) -> Response:
        """Always CONTINUE."""
        log.warning(
            "skipping record (task=%s, node=%s, topic=%r, partition=%s, offset=%s): %s",
            context.task_id, context.node, context.topic, context.partition, context.offset,
            exception,
        )
        return Response.CONTINUE


_NAMES: dict[str, type] = {
    "log_and_fail": LogAndFailExceptionHandler,
    "fail": LogAndFailExceptionHandler,
    "LogAndFailExceptionHandler": LogAndFailExceptionHandler,
    "log_and_continue": LogAndContinueExceptionHandler,
    "continue": LogAndContinueExceptionHandler,
    "LogAndContinueExceptionHandler": LogAndContinueExceptionHandler,
}


def resolve_handler(value: Any, key: str) -> Any:
    """Turn a config value into a handler object."""
    if isinstance(value, str):
        cls = _NAMES.get(value) or _NAMES.get(value.rsplit(".", 1)[-1])
        if cls is None:
            raise ConfigError(
                f"invalid value for {key!r}: {value!r}; use 'log_and_fail', 'log_and_continue' "
                "or an object with handle(context, exception)"
            )
        return cls()
    if isinstance(value, type):
        value = value()
    if not hasattr(value, "handle"):
        raise ConfigError(f"invalid value for {key!r}: {value!r} has no handle(context, exception)")
    return value


def dead_letter_headers(context: ErrorContext, exception: BaseException) -> list[tuple[str, bytes | None]]:
    """Headers describing the failure, added to a dead-letter record (Kafka Streams' names)."""
    headers = list(context.headers or [])
    headers.extend(
        [
            ("__streams.errors.exception", type(exception).__qualname__.encode()),
            ("__streams.errors.message", str(exception).encode("utf-8", "replace")),
            ("__streams.errors.topic", (context.topic or "").encode()),
            ("__streams.errors.partition", str(context.partition).encode()),
            ("__streams.errors.offset", str(context.offset).encode()),
            ("__streams.errors.node", (context.node or "").encode()),
        ]
    )
    return headers
