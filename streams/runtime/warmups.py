"""Which tasks an instance holds a caught-up copy of, and when a thread says so.

The placement moves a stateful task away from a live owner only to an instance *caught up*
on it: one whose copy of the task's state trails the changelog by at most
``acceptable.recovery.lag`` records (Kafka Streams' KIP-441). Every member must see the same
answer, so it travels in the one input every member reads alike, the group description: a
thread's consumer ``client.id`` lists the tasks it is ready for
(:func:`streams.runtime.group_members.member_client_id`).

* At start, a thread reports the tasks it is caught up on (:func:`ready_tasks`): those
  whose local checkpoint is near the changelog's end (an instance restarted after a clean
  stop gets its tasks back at once and restores only the tail) and those with little state
  at all (so instances started one after another share the work at once).
* A thread given warm-up replicas watches their lag (:class:`WarmupWatch`). When all have
  caught up, or some have and ``probing.rebalance.interval.ms`` has passed since they were
  given, it replaces its consumer with one whose client id reports them: the group
  rebalances (Kafka Streams' probing rebalance) and the tasks move.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path

from confluent_kafka import KafkaException

from streams.engine.task import TaskId
from streams.errors import KafkaUnavailableError, StateStoreError
from streams.state.checkpoint import CHECKPOINT_FILE_NAME, OffsetCheckpoint
from streams.topology.topology import Topology

log = logging.getLogger(__name__)


def local_offsets(state_root: Path, persistent_subs: Collection[int]
                  ) -> dict[TaskId, dict[tuple[str, int], int]]:
    """The checkpointed changelog offsets of every task in ``state_root`` whose
    sub-topology keeps all its logged stores on disk (an in-memory store's state is gone
    after a restart, whatever its checkpoint says)."""
    out: dict[TaskId, dict[tuple[str, int], int]] = {}
    if not state_root.is_dir():
        return out
    for task_dir in sorted(state_root.iterdir()):
        tid = TaskId.parse(task_dir.name)
        if tid is None or tid.subtopology not in persistent_subs:
            continue
        try:
            checkpoint = OffsetCheckpoint(task_dir / CHECKPOINT_FILE_NAME).read()
        except StateStoreError as exc:
            log.info("task %s does not count as caught up: %s", tid, exc)
            continue
        out[tid] = {tp: o for tp, o in checkpoint.items() if tp[1] == tid.partition}
    return out


def ready_tasks(changelogs: Mapping[TaskId, Sequence[tuple[str, int]]],
                ends: Mapping[tuple[str, int], int],
                local: Mapping[TaskId, Mapping[tuple[str, int], int]],
                acceptable_lag: int) -> set[TaskId]:
    """The tasks this instance is caught up on, by Kafka Streams' rule: the records its
    local state lacks (each changelog's end minus the local checkpoint, or minus nothing
    without one) sum to at most ``acceptable_lag``. So a task with little state counts as
    caught up anywhere, as in Kafka Streams. A checkpoint past the end (the changelog was
    deleted or truncated) is not caught up."""
    ready: set[TaskId] = set()
    for tid, tps in changelogs.items():
        have = local.get(tid, {})
        lag = 0
        for tp in tps:
            end = ends.get(tp)
            offset = have.get(tp, 0)
            if end is None or offset > end:
                lag = acceptable_lag + 1
                break
            lag += end - offset
        if lag <= acceptable_lag:
            ready.add(tid)
    return ready


def task_changelogs(topology: Topology, application_id: str,
                    partitions: Callable[[str], int | None]
                    ) -> tuple[dict[TaskId, list[tuple[str, int]]], set[int]]:
    """Every stateful task's changelog partitions (``partitions``: a topic's partition
    count, None if it does not exist), and the sub-topologies whose logged stores are all
    persistent."""
    stores = topology.stores
    out: dict[TaskId, list[tuple[str, int]]] = {}
    persistent: set[int] = set()
    for sub in topology.subtopologies():
        if sub.is_global:
            continue
        logged = [name for name in sub.stores if stores[name].logging_enabled]
        if not logged:
            continue
        if all(stores[name].persistent for name in logged):
            persistent.add(sub.id)
        for name in logged:
            topic = Topology.changelog_topic(application_id, name)
            for p in range(partitions(topic) or 0):
                out.setdefault(TaskId(sub.id, p), []).append((topic, p))
    return out, persistent


def local_ready_tasks(who: str, topology: Topology, application_id: str, state_root: Path,
                      partitions: Callable[[str], int | None],
                      end_offset: Callable[[str, int], int], acceptable_lag: int
                      ) -> set[TaskId]:
    """:func:`ready_tasks` for this instance, read from the cluster and the state
    directory. If the changelogs' ends cannot be read it reports nothing (tasks then come
    through warm-ups), and says so."""
    try:
        changelogs, persistent = task_changelogs(topology, application_id, partitions)
        ends = {tp: end_offset(*tp) for tps in changelogs.values() for tp in tps}
        local = local_offsets(state_root, persistent)
    except (KafkaUnavailableError, KafkaException, OSError) as exc:
        log.warning("%s: could not tell which tasks' state is caught up here (%s); reporting "
                    "none, so stateful tasks come here through warm-up replicas", who, exc)
        return set()
    ready = ready_tasks(changelogs, ends, local, acceptable_lag)
    log.info("%s: caught up (within acceptable.recovery.lag=%d) on %d of %d stateful tasks%s",
             who, acceptable_lag, len(ready), len(changelogs),
             f", with local state for {', '.join(str(t) for t in sorted(set(local) & ready))}"
             if set(local) & ready else "")
    return ready


class WarmupWatch:
    """One thread's warm-up replicas, and when to report the caught-up ones."""

    def __init__(self, acceptable_lag: int, probing_interval: float,
                 reported: Iterable[TaskId] = ()) -> None:
        self.acceptable_lag = acceptable_lag
        self.probing_interval = probing_interval
        #: the tasks the thread's current consumer reports ready
        self.reported: frozenset[TaskId] = frozenset(reported)
        self._warmups: frozenset[TaskId] = frozenset()
        self._since = 0.0

    @property
    def warmups(self) -> frozenset[TaskId]:
        """The warm-ups the last placement gave this thread."""
        return self._warmups

    def assigned(self, warmups: Collection[TaskId], now: float) -> None:
        """A new placement gave the thread ``warmups``."""
        if frozenset(warmups) != self._warmups:
            self._warmups = frozenset(warmups)
            self._since = now

    def due(self, replicas: Collection[TaskId], lag: Callable[[TaskId], int | None],
            now: float) -> frozenset[TaskId] | None:
        """The ready set to report now (every replica, standbys included, within the
        acceptable lag), or None: no warm-up caught up that is not reported yet, or only some
        did and the probing interval has not passed."""
        if not self._warmups:
            return None
        ready = frozenset(t for t in replicas if _within(lag(t), self.acceptable_lag))
        fresh = (self._warmups & ready) - self.reported
        if not fresh:
            return None
        if not self._warmups <= ready and now - self._since < self.probing_interval:
            return None
        return ready


def _within(lag: int | None, acceptable: int) -> bool:
    return lag is not None and lag <= acceptable
