"""The commit protocol, in Kafka Streams' order, for stream threads and the test driver alike.

1. every task flushes its record caches (cached updates go downstream and to the changelog),
   then its stores (RocksDB writes its pending batch): :meth:`Task.prepare_commit`;
2. the output is written: the producer flushed (at-least-once), or left to the transaction's
   commit (exactly-once);
3. the input offsets are committed: to the group (at-least-once), or in the transaction with
   everything written since the last commit (exactly-once);
4. each task's checkpoint records how far its changelogs are reflected in local state
   (at-least-once; under exactly-once only on a clean close).

A step that fails raises, and what follows does not happen: offsets are never committed past
output that was not written, nor checkpoints past offsets that were not committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from streams.engine.partition_group import TopicPartition
from streams.engine.task import Task


def _nothing() -> None:
    return None


def commit_tasks(tasks: Iterable[Task], *,
                 write_output: Callable[[], None] = _nothing,
                 commit_offsets: Callable[[dict[TopicPartition, int]], None] | None = None,
                 write_checkpoints: Callable[[], None] = _nothing) -> dict[TopicPartition, int]:
    """Run the commit protocol over ``tasks``; returns the offsets committed (the next
    offset to read per input partition)."""
    offsets: dict[TopicPartition, int] = {}
    for task in tasks:
        offsets.update(task.prepare_commit())
    write_output()
    if commit_offsets is not None:
        commit_offsets(offsets)
    write_checkpoints()
    return offsets
