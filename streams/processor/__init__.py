"""The Processor API: records, processors, contexts, punctuation, and the window value types."""

from streams.processor.api import (
    STREAM_TIME,
    WALL_CLOCK_TIME,
    Cancellable,
    Processor,
    ProcessorContext,
    ProcessorSupplier,
    PunctuationType,
    Punctuator,
)
from streams.processor.record import Record, RecordMetadata
from streams.processor.window_types import SessionWindow, TimeWindow, Windowed

__all__ = [
    "STREAM_TIME",
    "WALL_CLOCK_TIME",
    "Cancellable",
    "Processor",
    "ProcessorContext",
    "ProcessorSupplier",
    "PunctuationType",
    "Punctuator",
    "Record",
    "RecordMetadata",
    "SessionWindow",
    "TimeWindow",
    "Windowed",
]
