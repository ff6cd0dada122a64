"""A stream thread's side of the placement (``task.assignor=streams``).

The group protocol still runs librdkafka's ``range`` assignor: it keeps the membership, the
generation (which fences zombies' offset commits, transactional ones included) and the
rebalance callbacks. Its partition choice is not used. In ``on_assign`` every thread:

1. describes the group and reads the stream threads of this generation from their client ids
   (:mod:`streams.runtime.group_members`);
2. reads the committed offsets' metadata: the recent owners of every task;
3. computes the whole group's placement (:func:`streams.runtime.placement.place`), the same
   on every member since the inputs are the same, and takes its own tasks' partitions, which
   the thread then ``assign()``\\s in place of range's.

If the description is not of this member's generation (the group is already rebalancing
again), the thread takes no task: the next rebalance follows at once. While instances run
different versions of the topology (a rolling upgrade), only the version most threads run
takes tasks; the others wait, so two versions never process the same partitions.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

from streams.engine.task import TaskId
from streams.errors import KafkaUnavailableError
from streams.runtime.group_members import (
    GroupMember,
    describe_members,
    encode_owners,
    leading_topology,
    owners_from_committed,
)
from streams.runtime.placement import Member, ThreadKey, owners_after, place
from streams.runtime.retries import retrying
from streams.runtime.streams_metadata import GroupView
from streams.runtime.task_manager import TaskManager

log = logging.getLogger(__name__)

#: longest time ``on_assign`` waits for a usable description of the group (seconds)
DESCRIBE_TIMEOUT = 10.0


class StreamsAssignor:
    """Computes one thread's tasks from the group; see the module docstring."""

    def __init__(self, thread_name: str, group: str, me: ThreadKey,
                 admin_factory: Callable[[], Any],
                 task_manager: TaskManager, num_standbys: int, timeout: float,
                 fingerprint: str = "", max_warmups: int = 2) -> None:
        self.thread_name = thread_name
        self.group = group
        self.me = me
        self._admin_factory = admin_factory
        self.admin = admin_factory()
        #: set when this member must rejoin the group to get a usable generation (the thread
        #: does it once out of the rebalance callback)
        self.rejoin_requested = False
        #: monotonic time this member took no task because a rebalance was under way
        self.waiting_since: float | None = None
        self.task_manager = task_manager
        self.num_standbys = num_standbys
        self.max_warmups = max_warmups
        self.timeout = timeout
        #: this instance's topology version (see :func:`leading_topology`)
        self.fingerprint = fingerprint
        #: offset metadata to commit with each of this thread's input partitions
        self.commit_metadata: dict[tuple[str, int], str] = {}
        #: the last placement computed, for the owner metadata
        self.view: GroupView | None = None
        self._tasks: dict[TaskId, list[tuple[str, int]]] = {}
        #: the standby tasks this thread keeps, from the last placement (warm-ups included)
        self.standbys: list[TaskId] = []
        #: the warm-up replicas among them
        self.warmups: list[TaskId] = []
        #: committed offsets of every task's inputs at the last assignment (-1001: none)
        self.committed: dict[tuple[str, int], int] = {}
        #: offsets to commit again with new owners, once out of the rebalance callback
        self._stamps: list[TopicPartition] = []

    def assign(self, consumer: Any, given: list[TopicPartition]
               ) -> dict[TaskId, list[tuple[str, int]]]:
        """This thread's tasks with their input partitions (empty while the group settles)."""
        self.commit_metadata = {}
        self.standbys = []
        self.warmups = []
        self.view = None
        self.waiting_since = None
        members = self._members(consumer, frozenset((tp.topic, tp.partition) for tp in given))
        if members is None:
            return {}
        leading = leading_topology(members)
        if leading != self.fingerprint:
            log.warning("%s: most of group %s runs another version of the topology (fingerprint "
                        "%s, this instance %s): this instance takes no task until the rolling "
                        "upgrade makes its version the one most threads run", self.thread_name,
                        self.group, leading, self.fingerprint)
            return {}
        members = [m for m in members if m.topology == leading]
        tm = self.task_manager
        # the group's metadata and offsets come from the admin client: calls on the consumer
        # itself inside its rebalance callback break confluent-kafka's callback state
        bound = min(self.timeout, DESCRIBE_TIMEOUT)  # the group waits for this callback
        try:
            metadata = retrying("could not read the topic metadata",
                                lambda t: self.admin.list_topics(timeout=t), bound)
            counts = {name: len(md.partitions) for name, md in metadata.topics.items()
                      if name in tm.sub_of_topic and md.error is None}
            tasks = self._tasks = tm.task_partitions(counts)
            wanted = [TopicPartition(t, p) for tps in tasks.values() for t, p in tps]
            committed = retrying(f"could not read the committed offsets of group {self.group}",
                                 lambda t: _answered(self._committed, wanted, t), bound)[0]
        except KafkaUnavailableError as exc:
            log.warning("%s: %s; rejoining the group", self.thread_name, exc)
            self._request_rejoin()
            return {}
        self.committed = {(tp.topic, tp.partition): tp.offset for tp in committed}
        owners = owners_from_committed(
            {(tp.topic, tp.partition): tp.metadata for tp in committed}, tasks)
        threads: dict[str, set[int]] = {}
        servers: dict[str, str | None] = {}
        ready: dict[str, set[TaskId]] = {}
        for m in members:
            # a set: a thread replacing its consumer may briefly be in the group twice
            threads.setdefault(m.process, set()).add(m.thread)
            servers[m.process] = servers.get(m.process) or m.server
            ready.setdefault(m.process, set()).update(m.ready)
        placement = place([Member(p, tuple(ids)) for p, ids in threads.items()], list(tasks),
                          owners, stateful=tm.stateful(tasks), num_standbys=self.num_standbys,
                          caught_up=ready, max_warmups=self.max_warmups)
        self.view = GroupView(placement, servers, tasks, _stores_by_subtopology(tm))
        after = owners_after(placement, owners)
        mine_tasks = {t: tasks[t] for t in placement.active_tasks(self.me)}
        self.warmups = placement.warmup_tasks(self.me)
        self.standbys = sorted({*placement.standby_tasks(self.me), *self.warmups})
        self.commit_metadata = {tp: encode_owners(after[t])
                                for t, tps in mine_tasks.items() for tp in tps}
        self._stamps = self._stamps_for(committed, [t for t in mine_tasks
                                                    if not owners.get(t) or owners[t][0] != self.me])
        _log_placement(self.thread_name, members, mine_tasks, self.standbys, self.warmups)
        return mine_tasks

    def _members(self, consumer: Any, mine: frozenset[tuple[str, int]]
                 ) -> list[GroupMember] | None:
        """The group's stream threads of this generation, or None (no task this time).

        This runs inside the rebalance callback, where the whole group waits for this
        member, so it is bounded (:data:`DESCRIBE_TIMEOUT`), not ``task.timeout.ms``. A
        description that contradicts this member's view (e.g. a coordinator that just moved
        shows the group EMPTY), or one that cannot be had in time, makes the thread rejoin
        (:attr:`rejoin_requested`) with a fresh admin client: waiting would only stall the
        group, since no other rebalance may come."""
        deadline = time.monotonic() + min(self.timeout, DESCRIBE_TIMEOUT)
        while True:
            left = deadline - time.monotonic()
            try:
                found = retrying(
                    f"could not describe group {self.group}",
                    lambda t: _answered(describe_members, self.admin, self.group,
                                        consumer.memberid(), mine, t), max(left, 0.1),
                    on_retry=self._renew_admin)[0]
            except KafkaUnavailableError as exc:
                log.warning("%s: %s; rejoining the group", self.thread_name, exc)
                break
            if found.members is not None:
                return found.members
            if found.rebalancing:
                # the next rebalance brings new callbacks; should none come, the thread
                # rejoins after DESCRIBE_TIMEOUT (see take_rejoin)
                self.waiting_since = time.monotonic()
                return None
            if time.monotonic() + 0.5 > deadline:
                log.warning("%s: group %s describes a state this member is not in; rejoining "
                            "the group", self.thread_name, self.group)
                break
            time.sleep(0.5)
        self._request_rejoin()
        return None

    def _request_rejoin(self) -> None:
        """Have the thread rejoin the group, with a fresh admin client."""
        self._renew_admin()
        self.rejoin_requested = True

    def _renew_admin(self) -> None:
        """A fresh admin client: after the group coordinator moved, librdkafka's admin
        client was seen answering NOT_COORDINATOR for minutes (it keeps asking the old
        coordinator); a new one looks the coordinator up afresh."""
        self.admin = self._admin_factory()

    def _stamps_for(self, committed: list[TopicPartition], taken: list[TaskId]
                    ) -> list[TopicPartition]:
        wanted = {tp for t in taken for tp in self._tasks.get(t, [])}
        return [TopicPartition(tp.topic, tp.partition, tp.offset,
                               metadata=self.commit_metadata[(tp.topic, tp.partition)])
                for tp in committed if (tp.topic, tp.partition) in wanted and tp.offset >= 0]

    def _committed(self, partitions: list[TopicPartition], timeout: float
                   ) -> list[TopicPartition]:
        """The group's committed offsets with their metadata; only stable ones (pending
        transactional offsets are waited for, as a read_committed consumer does)."""
        request = ConsumerGroupTopicPartitions(self.group, partitions)
        futures = self.admin.list_consumer_group_offsets([request], require_stable=True,
                                                         request_timeout=timeout)
        result = futures[self.group].result(timeout=timeout)
        out: list[TopicPartition] = result.topic_partitions
        for tp in out:
            if tp.error is not None:
                raise KafkaException(tp.error)
        return out

    def take_rejoin(self) -> bool:
        """True (once) when this member must rejoin: asked to by :meth:`assign`, or it has
        waited for an announced rebalance longer than :data:`DESCRIBE_TIMEOUT` without new
        callbacks (so the group never stalls with this member idle)."""
        due = self.rejoin_requested or (
            self.waiting_since is not None
            and time.monotonic() - self.waiting_since > DESCRIBE_TIMEOUT)
        if due:
            self.rejoin_requested = False
            self.waiting_since = None
        return due

    @property
    def pending_stamps(self) -> bool:
        """True when :meth:`record_ownership` has something to do."""
        return bool(self._stamps)

    def record_ownership(self, consumer: Any) -> None:
        """Record that this thread now owns the tasks it just took, by committing their
        committed offsets again with the new owners (called from the thread's loop: a
        commit inside a rebalance callback is not safe in confluent-kafka). Without it, a
        task that commits nothing for a while (restoring, or idle) would still name its
        previous owner at the next rebalance and be moved back there. The offsets are
        unchanged, so this is safe under exactly-once too (read_committed reads only stable
        offsets, and no zombie can commit past a new generation). Best effort: a failure
        costs stickiness, not correctness."""
        stamps, self._stamps = self._stamps, []
        if not stamps:
            return
        try:
            consumer.commit(offsets=stamps, asynchronous=False)
        except KafkaException as exc:
            log.info("%s: could not record the new owner of %d partitions (%s); a later "
                     "rebalance may move them back", self.thread_name, len(stamps), exc)


def _answered(call: Any, *args: Any) -> tuple[Any] | None:
    """``(call(*args),)``, or None when the admin request's future timed out (retried)."""
    try:
        return (call(*args),)
    except concurrent.futures.TimeoutError:
        return None


def _stores_by_subtopology(tm: TaskManager) -> dict[int, list[str]]:
    return {s.id: sorted(s.stores) for s in tm.topology.subtopologies() if not s.is_global}


def _log_placement(thread: str, members: list[GroupMember], mine: dict[TaskId, Any],
                   standbys: list[TaskId], warmups: list[TaskId]) -> None:
    processes = sorted({m.process for m in members})
    log.info("%s: placement over %d threads of %d instances: active %s, standby %s%s", thread,
             len(members), len(processes), ", ".join(str(t) for t in sorted(mine)) or "none",
             ", ".join(str(t) for t in standbys) or "none",
             f" (warm-up {', '.join(str(t) for t in warmups)})" if warmups else "")
