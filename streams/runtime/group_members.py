"""What the placement needs to know about the group, read from Kafka itself.

librdkafka runs no partition assignor written in Python and carries no user data in the
group protocol, so the inputs of :func:`streams.runtime.placement.place` travel elsewhere:

* **who is in the group**: each stream thread's consumer ``client.id`` ends in
  ``;pid=<process id>;thread=<n>;server=<host:port>;topo=<fingerprint>;ready=<tasks>``, and
  a description of the group (admin API) lists every member's client id. It is read once the
  group is stable, right after the rebalance, so every member sees the same generation's
  members. ``ready`` lists the tasks the thread's instance held a caught-up copy of when the
  consumer was created (warm-ups: a thread whose warm-ups caught up replaces its consumer
  with one that says so, see :mod:`streams.runtime.warmups`);
* **who ran each task lately**: every offset commit carries, as the offset's metadata
  string, the task's recent owners (``streams1:<pid>/<thread>,<pid>,...``), so the
  committed offsets, which every member reads after the revocation commits, say where each
  task's state lives.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.engine.task import TaskId
from streams.runtime.placement import ThreadKey

log = logging.getLogger(__name__)

_MEMBER = re.compile(r";pid=(?P<pid>[^;]+);thread=(?P<thread>\d+);server=(?P<server>[^;]*)"
                     r"(?:;topo=(?P<topo>[0-9a-f]*))?(?:;ready=(?P<ready>[0-9_.]*))?$")
_OWNERS_PREFIX = "streams1:"


@dataclass(frozen=True)
class GroupMember:
    """One stream thread in the group, as its client id describes it."""

    member_id: str
    process: str
    thread: int
    server: str | None
    #: fingerprint of the topology it runs (members running another version take no tasks)
    topology: str
    #: the partitions the group protocol's own assignor gave it (only used to recognise
    #: that a description belongs to the generation the member is in)
    partitions: frozenset[tuple[str, int]]
    #: tasks its instance held a caught-up copy of when it joined (see the module docstring)
    ready: frozenset[TaskId] = frozenset()

    @property
    def key(self) -> ThreadKey:
        """The thread as the placement names it."""
        return ThreadKey(self.process, self.thread)


def member_client_id(thread_name: str, process: str, thread: int, server: str | None,
                     topology: str = "", ready: Iterable[TaskId] = ()) -> str:
    """The main consumer's ``client.id``: readable in broker logs, parseable by the others."""
    return (f"{thread_name}-consumer;pid={process};thread={thread};server={server or ''}"
            f";topo={topology};ready={'.'.join(str(t) for t in sorted(ready))}")


def _ready_tasks(text: str | None) -> frozenset[TaskId]:
    tasks = (TaskId.parse(part) for part in (text or "").split("."))
    return frozenset(t for t in tasks if t is not None)


def parse_member(member_id: str, client_id: str,
                 partitions: frozenset[tuple[str, int]]) -> GroupMember | None:
    """The member a client id describes, or None for a consumer that is no stream thread."""
    m = _MEMBER.search(client_id or "")
    if m is None:
        return None
    return GroupMember(member_id, m["pid"], int(m["thread"]), m["server"] or None,
                       m["topo"] or "", partitions, _ready_tasks(m["ready"]))


@dataclass(frozen=True)
class Described:
    """A group description as the placement reads it."""

    #: the stream threads of this member's generation; None when the description is not of it
    members: list[GroupMember] | None
    #: when ``members`` is None: True if a rebalance is under way or the group has moved on
    #: (the next rebalance brings this member new callbacks); False if the description
    #: contradicts this member's view (after a coordinator moved, say): it must rejoin
    rebalancing: bool = False


def describe_members(admin: Any, group: str, my_member_id: str,
                     my_partitions: frozenset[tuple[str, int]], timeout: float) -> Described:
    """The stream threads of the group's current generation (see :class:`Described`)."""
    future = admin.describe_consumer_groups([group], request_timeout=timeout)[group]
    description = future.result(timeout=timeout)
    state = str(getattr(description.state, "name", description.state)).upper()
    if "STABLE" not in state:
        rebalancing = "REBALANC" in state  # PREPARING_/COMPLETING_REBALANCE
        log.info("group %s is %s, not stable", group, state)
        return Described(None, rebalancing)
    members: list[GroupMember] = []
    mine: GroupMember | None = None
    for d in description.members:
        assignment = getattr(d, "assignment", None)
        tps = getattr(assignment, "topic_partitions", None) or []
        member = parse_member(d.member_id, d.client_id,
                              frozenset((tp.topic, tp.partition) for tp in tps))
        if member is None:
            log.warning("group %s has a member that is no stream thread (client.id %r); it is "
                        "given no tasks", group, d.client_id)
            continue
        members.append(member)
        if d.member_id == my_member_id:
            mine = member
    if mine is None:
        log.info("group %s does not list this member", group)
        return Described(None, False)
    if mine.partitions != my_partitions:
        log.info("the description of group %s is of a later generation", group)
        return Described(None, True)
    return Described(members)


def leading_topology(members: Sequence[GroupMember]) -> str:
    """The topology version the group runs while versions are mixed (a rolling upgrade): the
    one most threads run, ties going to the smallest fingerprint. Every member computes the
    same answer from the same description."""
    counts: dict[str, int] = {}
    for m in members:
        counts[m.topology] = counts.get(m.topology, 0) + 1
    return min(counts, key=lambda fp: (-counts[fp], fp))


def topology_fingerprint(description: str) -> str:
    """A short, stable fingerprint of a topology's description."""
    return hashlib.blake2b(description.encode(), digest_size=6).hexdigest()


def encode_owners(owners: Sequence[ThreadKey | str]) -> str:
    """A task's recent owners as an offset's metadata string."""
    parts = [str(o) for o in owners]
    return _OWNERS_PREFIX + ",".join(parts)


def decode_owners(metadata: str | None) -> list[ThreadKey | str]:
    """The recent owners an offset's metadata names ([] for metadata written by others)."""
    if not metadata or not metadata.startswith(_OWNERS_PREFIX):
        return []
    out: list[ThreadKey | str] = []
    for n, part in enumerate(metadata[len(_OWNERS_PREFIX):].split(",")):
        if not part:
            continue
        process, _, thread = part.rpartition("/")
        if n == 0 and process and thread.isdigit():
            out.append(ThreadKey(process, int(thread)))
        else:
            out.append(part)
    return out


def owners_from_committed(committed: Mapping[tuple[str, int], str | None],
                          task_partitions: Mapping[TaskId, Sequence[tuple[str, int]]]
                          ) -> dict[TaskId, list[ThreadKey | str]]:
    """Each task's recent owners, from the metadata committed with its input offsets. The
    partitions of one task are committed together, so any of them tells; the first that
    carries owners is taken."""
    out: dict[TaskId, list[ThreadKey | str]] = {}
    for task, tps in task_partitions.items():
        for tp in tps:
            owners = decode_owners(committed.get(tp))
            if owners:
                out[task] = owners
                break
    return out
