"""The Processor API: records, processors, contexts and punctuation."""

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
]
