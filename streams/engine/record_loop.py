"""The per-record loop of a task: the one place a record gets its key, value and timestamp
and goes into the node graph.

For each record :func:`run_records` takes from the task's queues: deserialize key and value
with the source's serdes (a failure goes to the deserialization handler); take the record's
own timestamp, or the source's timestamp extractor's (negative: an error, or for an extractor
a skipped record); advance partition time and stream time; set the record context; call the
source's children, depth-first to the sinks (a failure goes to the processing or production
handler); fire due stream-time punctuators. Per-partition state (the current source, the
partition time) is looked up only when the partition changes: batches come in runs of one
partition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams.engine.partition_group import TopicPartition
from streams.engine.record_errors import invalid_timestamp
from streams.errors import StreamsError
from streams.processor.record import Record
from streams.processor.timestamps import ConsumedRecord

if TYPE_CHECKING:
    from streams.engine.task import Task


def run_records(task: Task, pick: Callable[[], Any], n: int,
                partition_of_all: TopicPartition | None = None) -> int:
    """Take ``n`` records from ``pick`` (fewer if it returns None) through ``task``'s graph;
    returns how many were taken. ``partition_of_all``: every record comes from this one
    partition (the task reads one), so it is not checked per record."""
    ctx, errors, group = task.ctx, task.errors, task.group
    sources = task.graph.sources
    partition_time, consumed = group.partition_time, group.consumed
    stream_schedules = task.punctuation.stream
    check = partition_of_all is None
    topic: Any = None
    partition = offset = -1
    tp: TopicPartition = ("", -1)
    src: Any = None
    key_de: Any = None
    value_de: Any = None
    extractor: Any = None
    children: list[Any] = []
    p_time = -1
    i = -1  # index of the record in hand
    if partition_of_all is not None:
        tp = partition_of_all
        topic, partition = tp
        src = sources[topic]
        key_de, value_de, extractor, children = (src.key_de, src.value_de, src.extractor,
                                                 src.children)
        p_time = partition_time.get(tp, -1)
        ctx.topic, ctx.partition = topic, partition
    try:
        for i in range(n):
            msg = pick()
            if msg is None:
                i -= 1
                break
            if check and (msg.partition() != partition or msg.topic() != topic):
                # batches come in runs of one partition: switch only when it changes
                if i:
                    partition_time[tp] = p_time
                    consumed[tp] = offset
                topic, partition = msg.topic(), msg.partition()
                tp = (topic, partition)
                src = sources[topic]
                key_de, value_de, extractor, children = (src.key_de, src.value_de,
                                                         src.extractor, src.children)
                p_time = partition_time.get(tp, -1)
                ctx.topic, ctx.partition = topic, partition
            offset = msg.offset()
            headers = msg.headers()
            raw_key = msg.key()
            raw_value = msg.value()
            ts = msg.timestamp()[1]
            try:
                key = key_de(topic, raw_key, headers)
                value = value_de(topic, raw_value, headers)
            except Exception as exc:
                errors.on_deserialization_error(exc, src.name, topic, partition, offset,
                                                raw_key, raw_value, headers, ts)
                continue
            if extractor is not None:
                ts = _extract(task, src, topic, partition, offset, ts, key, value, headers,
                              p_time)
                if ts < 0:
                    task.dropped_records += 1
                    continue
            elif ts < 0:
                raise invalid_timestamp(ts, topic, partition, offset, task.name)
            if ts > p_time:
                p_time = ts
                if ts > task.stream_time:
                    task.stream_time = ts
            ctx.offset = offset
            ctx.timestamp = ts
            ctx.headers = headers
            record = Record(key, value, ts, headers)
            try:
                for child in children:
                    child(record)
            except Exception as exc:
                errors.on_processing_error(exc, topic, partition, offset, raw_key,
                                           raw_value, headers, ts)
            if stream_schedules:
                partition_time[tp] = p_time
                if task.punctuation.fire(stream_schedules, task.stream_time):
                    ctx.topic, ctx.partition = topic, partition  # a punctuator cleared them
    finally:
        # taken counts as consumed, failed or not: a failure ends the task anyway
        if i >= 0:
            partition_time[tp] = p_time
            consumed[tp] = offset
    return i + 1


def _extract(task: Task, src: Any, topic: str, partition: int, offset: int, ts: int, key: Any,
             value: Any, headers: Any, p_time: int) -> int:
    """The source's timestamp extractor's verdict (negative: skip the record)."""
    try:
        return int(src.extractor(
            ConsumedRecord(topic, partition, offset, ts, key, value, headers), p_time))
    except StreamsError:
        raise
    except Exception as exc:
        raise StreamsError(
            f"timestamp extractor of source {src.name!r} failed in task {task.name} on "
            f"record (topic={topic!r}, partition={partition}, offset={offset}): "
            f"{type(exc).__name__}: {exc}") from exc
