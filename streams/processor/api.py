"""The Processor API: write your own processing step, with state and punctuation.

Example::

    class Dedupe(Processor):
        def init(self, context):
            self.context = context
            self.seen = context.get_state_store("seen")

        def process(self, record):
            if self.seen.get(record.key) is None:
                self.seen.put(record.key, record.value)
                self.context.forward(record)

    builder.stream("in").process(Dedupe, stores=["seen"]).to("out")
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from streams.processor.record import Record, RecordMetadata


class PunctuationType(enum.Enum):
    """What drives a punctuator: the task's stream time, or the wall clock."""

    STREAM_TIME = "stream_time"
    WALL_CLOCK_TIME = "wall_clock_time"


STREAM_TIME = PunctuationType.STREAM_TIME
WALL_CLOCK_TIME = PunctuationType.WALL_CLOCK_TIME

#: A punctuator callback receives the time (ms) at which it fires.
Punctuator = Callable[[int], None]


class Cancellable(Protocol):
    """Handle returned by :meth:`ProcessorContext.schedule`."""

    def cancel(self) -> None:
        """Stop the punctuator from firing again."""
        ...


class ProcessorContext(Protocol):
    """What a processor sees of its task; one context per processor node."""

    @property
    def application_id(self) -> str:
        """The ``application.id``."""
        ...

    @property
    def task_id(self) -> str:
        """The task id, e.g. ``"0_2"``."""
        ...

    @property
    def app_configs(self) -> Mapping[str, Any]:
        """The application config."""
        ...

    def record_metadata(self) -> RecordMetadata | None:
        """Topic, partition and offset of the input record being processed (None in a punctuator)."""
        ...

    @property
    def topic(self) -> str | None:
        """Topic of the record being processed."""
        ...

    @property
    def partition(self) -> int | None:
        """Partition of the record being processed."""
        ...

    @property
    def offset(self) -> int | None:
        """Offset of the record being processed."""
        ...

    @property
    def timestamp(self) -> int:
        """Timestamp of the record being processed (or the punctuation time)."""
        ...

    @property
    def headers(self) -> Any:
        """Headers of the record being processed (None in a punctuation)."""
        ...

    def forward(self, record: Record, child: str | None = None) -> None:
        """Send ``record`` to every child node, or only to the child named ``child``."""
        ...

    def schedule(
        self, interval_ms: int, punctuation_type: PunctuationType, callback: Punctuator
    ) -> Cancellable:
        """Call ``callback(timestamp)`` every ``interval_ms`` of stream or wall-clock time."""
        ...

    def get_state_store(self, name: str) -> Any:
        """The store ``name``; the processor must have been connected to it."""
        ...

    def commit(self) -> None:
        """Ask for a commit as soon as possible (after the current record)."""
        ...

    def current_stream_time_ms(self) -> int:
        """The task's stream time: the largest record timestamp seen so far."""
        ...

    def current_system_time_ms(self) -> int:
        """Wall-clock time as the task sees it (mocked by TopologyTestDriver)."""
        ...


class Processor:
    """Base class for a processing step. Override :meth:`process`; :meth:`init` and
    :meth:`close` are optional.

    A new instance is created for every task, so instance attributes are per-partition state.
    """

    def init(self, context: ProcessorContext) -> None:
        """Called once before the first record, with this node's context."""
        self.context = context

    def process(self, record: Record) -> None:
        """Handle one record; use ``self.context.forward`` to emit."""
        raise NotImplementedError

    def close(self) -> None:
        """Called once when the task closes."""


#: Something that makes a new Processor for each task: a Processor subclass or a factory.
ProcessorSupplier = Callable[[], Processor]
