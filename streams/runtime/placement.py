"""Task placement: which thread of which instance runs each task, and where standbys live.

A pure function of (the group's members, the tasks, each task's recent owners), so every
member of the group computes the same answer on its own and no leader has to publish it
(docs/assignment.md explains how the inputs reach every member).

Rules, in Kafka Streams' spirit:

* **Balanced**: task counts per thread differ by at most one, over all sub-topologies
  together; an instance's share is the sum of its threads' shares. Stateful tasks are
  shared out first, so every instance also gets its share of them.
* **Sticky**: a task stays with its previous owner while that owner is within its share.
  Only as many tasks move as the new shares require.
* **State-aware**: a task that must move goes first to an instance that owned it recently
  (which may still hold its state on disk), then to its rendezvous-hash favourite, so that
  a whole group started afresh lands on the same placement every time.
* **Standbys** on other instances, the first one exactly where the task would go if its
  active instance failed (the placement is deterministic, so that can be computed), so a
  failover finds its state caught up.
* **Warm-ups** (Kafka Streams' KIP-441): a stateful task whose owner is alive moves only to
  an instance that is *caught up* on it (that reported its copy of the state within
  ``acceptable.recovery.lag`` of the changelog). Otherwise it stays where it is, over that
  instance's share for a while, and the instance it should move to gets a *warm-up replica*
  (a standby that exists to catch up), at most ``max.warmup.replicas`` in the group at once.
  Once the warm-up has caught up, its instance says so and rejoins (a probing rebalance), and
  the task moves with nothing left to restore but a short tail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from streams.engine.task import TaskId

#: recent owners remembered per task (the current one first)
OWNER_HISTORY = 3


@dataclass(frozen=True, order=True)
class ThreadKey:
    """One stream thread of one instance: (process id, thread index)."""

    process: str
    thread: int

    def __str__(self) -> str:
        return f"{self.process}/{self.thread}"


@dataclass
class Placement:
    """The result: actives by thread, standbys by thread, for the whole group."""

    active: dict[TaskId, ThreadKey] = field(default_factory=dict)
    standby: dict[TaskId, list[ThreadKey]] = field(default_factory=dict)
    #: warm-up replicas: the thread catching up on a task it is meant to take over
    warmup: dict[TaskId, ThreadKey] = field(default_factory=dict)

    def active_tasks(self, thread: ThreadKey) -> list[TaskId]:
        """The tasks ``thread`` runs, sorted."""
        return sorted(t for t, k in self.active.items() if k == thread)

    def standby_tasks(self, thread: ThreadKey) -> list[TaskId]:
        """The standby tasks ``thread`` keeps up to date, sorted."""
        return sorted(t for t, ks in self.standby.items() if thread in ks)

    def warmup_tasks(self, thread: ThreadKey) -> list[TaskId]:
        """The tasks ``thread`` warms up (keeps as a standby until it is caught up), sorted."""
        return sorted(t for t, k in self.warmup.items() if k == thread)

    def owner_process(self, task: TaskId) -> str | None:
        """The process id of the instance running ``task``, if anyone does."""
        key = self.active.get(task)
        return key.process if key is not None else None


def _score(task: TaskId, bin_name: str) -> int:
    """Rendezvous (highest-random-weight) score of ``task`` on ``bin_name``: stable across
    processes and Python runs (unlike ``hash``). It depends on the partition only, so the
    tasks of one partition number (``0_3``, ``1_3``) favour the same instance and tend to
    stay together, as range placed them (records of one key then stay on one instance)."""
    digest = hashlib.blake2b(f"{task.partition}|{bin_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _quotas(bins: Sequence[str], weights: Mapping[str, int], total: int) -> dict[str, int]:
    """Split ``total`` tasks over ``bins`` in proportion to their weights (thread counts) so
    that per-unit counts differ by at most one. Which units get the remainder is decided by
    a hash, so it does not depend on the order members joined in."""
    units = [(b, i) for b in bins for i in range(weights[b])]
    if not units:
        return {b: 0 for b in bins}
    base, extra = divmod(total, len(units))
    units.sort(key=lambda u: hashlib.blake2b(f"{u[0]}#{u[1]}".encode(),
                                             digest_size=8).digest())
    quota = {b: 0 for b in bins}
    for n, (b, _) in enumerate(units):
        quota[b] += base + (1 if n < extra else 0)
    return quota


def _ranked(task: TaskId, bins: Iterable[str]) -> list[str]:
    """``bins`` in ``task``'s rendezvous preference order."""
    return sorted(bins, key=lambda b: (-_score(task, b), b))


def distribute_by_kind(tasks: Sequence[TaskId], stateful: Collection[TaskId],
                       bins: Sequence[str], weights: Mapping[str, int],
                       owners: Mapping[TaskId, Sequence[str]]) -> dict[TaskId, str]:
    """:func:`distribute` of the stateful tasks first, then of the stateless ones into the
    room left, so every bin gets its share of both (as Kafka Streams' assignor does: one
    instance holding every stateful task would do most of the work) while totals stay
    balanced."""
    hard = [t for t in tasks if t in stateful]
    soft = [t for t in tasks if t not in stateful]
    placed = distribute(hard, bins, weights, owners)
    if not soft or not bins:
        return placed
    held = {b: 0 for b in bins}
    for b in placed.values():
        held[b] += 1
    total = _quotas(bins, weights, len(tasks))
    room = {b: max(total[b] - held[b], 0) for b in bins}
    for _ in range(len(soft) - sum(room.values())):  # a bin took more stateful than its total
        b = min(bins, key=lambda x: ((held[x] + room[x]) / weights[x], x))
        room[b] += 1
    placed.update(distribute(soft, bins, weights, owners, quota=room))
    return placed


def distribute(tasks: Sequence[TaskId], bins: Sequence[str], weights: Mapping[str, int],
               owners: Mapping[TaskId, Sequence[str]], *,
               quota: Mapping[str, int] | None = None) -> dict[TaskId, str]:
    """Place ``tasks`` on ``bins`` (instances, or threads of one instance).

    ``owners[t]`` lists the bins that ran ``t`` recently, most recent first (bins no longer
    present are ignored). ``quota``: how many each bin takes (default: shares by weight).
    Returns a bin for every task. See the module docstring for rules.
    """
    if not bins:
        return {}
    live = set(bins)
    quota = dict(quota) if quota is not None else _quotas(bins, weights, len(tasks))
    ranked = {t: _ranked(t, bins) for t in tasks}
    # 1. sticky: each task stays with its current owner
    placed: dict[TaskId, str] = {}
    held: dict[str, list[TaskId]] = {b: [] for b in bins}
    for t in tasks:
        hist = owners.get(t, ())
        if hist and hist[0] in live:
            placed[t] = hist[0]
            held[hist[0]].append(t)
    # 2. bins over their share release tasks, those wanted elsewhere first: a task an
    #    under-share bin ran recently, then one this bin likes least
    short = {b for b in bins if len(held[b]) < quota[b]}
    for b in bins:
        over = len(held[b]) - quota[b]
        if over <= 0:
            continue

        def release_order(t: TaskId, b: str = b) -> tuple[int, int, int, TaskId]:
            wanted = any(o in short and o != b for o in owners.get(t, ())[1:])
            return (0 if wanted else 1, -ranked[t].index(b), _score(t, b), t)

        for t in sorted(held[b], key=release_order)[:over]:
            held[b].remove(t)
            del placed[t]
    # 3. unplaced tasks go to a bin under its share: a recent owner, else by rendezvous rank
    for t in tasks:
        if t in placed:
            continue
        room = [b for b in bins if len(held[b]) < quota[b]]
        recent = [o for o in owners.get(t, ()) if o in live and o in room]
        choice = recent[0] if recent else min(room, key=ranked[t].index)
        placed[t] = choice
        held[choice].append(t)
    return placed


@dataclass(frozen=True)
class Member:
    """One instance as the placement sees it: its process id and its stream threads, given
    as a count (threads 1..n) or as the thread indices themselves."""

    process: str
    threads: int | tuple[int, ...]

    @property
    def thread_ids(self) -> tuple[int, ...]:
        """The instance's thread indices, sorted."""
        if isinstance(self.threads, int):
            return tuple(range(1, self.threads + 1))
        return tuple(sorted(self.threads))


def place(members: Iterable[Member], tasks: Sequence[TaskId],
          owners: Mapping[TaskId, Sequence[ThreadKey | str]], *,
          stateful: Iterable[TaskId] = (), num_standbys: int = 0,
          caught_up: Mapping[str, Collection[TaskId]] | None = None,
          max_warmups: int = 0) -> Placement:
    """The group's placement. ``owners[t]``: recent owners of ``t``, most recent first, as
    :class:`ThreadKey` (the current owner) or process ids (earlier owners).

    ``caught_up[p]``: the stateful tasks instance ``p`` holds a caught-up copy of. Given, a
    stateful task moves away from a live owner only to an instance caught up on it, and
    ``max_warmups`` warm-up replicas are placed (module docstring); None: every instance
    counts as caught up on everything (no warm-ups)."""
    by_process = {m.process: m for m in members if m.thread_ids}
    processes = sorted(by_process)
    tasks = sorted(tasks)
    stateful = set(stateful)
    proc_owners = {t: _dedup(_process_of(o) for o in hist) for t, hist in owners.items()}
    weights = {p: len(by_process[p].thread_ids) for p in processes}
    on_process = distribute_by_kind(tasks, stateful, processes, weights, proc_owners)
    warm_process: dict[TaskId, str] = {}
    if caught_up is not None:
        warm_process = _hold_for_warmups(on_process, proc_owners, stateful, set(processes),
                                         caught_up, max_warmups)
    out = Placement()
    for p in processes:
        mine = [t for t in tasks if on_process.get(t) == p]
        _to_threads(out.active, p, by_process[p].thread_ids, mine, owners, stateful)
    _place_standbys(out, by_process, processes, tasks, proc_owners, stateful, num_standbys)
    _place_warmups(out, by_process, warm_process)
    return out


def _hold_for_warmups(on_process: dict[TaskId, str], proc_owners: Mapping[TaskId, Sequence[str]],
                      stateful: set[TaskId], live: set[str],
                      caught_up: Mapping[str, Collection[TaskId]],
                      max_warmups: int) -> dict[TaskId, str]:
    """Keep each stateful task that would move to an instance not caught up on it with its
    live owner (changing ``on_process``); returns the warm-ups to place, task -> instance,
    at most ``max_warmups``, in task order."""
    warm: dict[TaskId, str] = {}
    for t in sorted(stateful):
        target = on_process.get(t)
        hist = proc_owners.get(t, ())
        current = hist[0] if hist else None
        if (target is None or current is None or current == target
                or current not in live or t in caught_up.get(target, ())):
            continue  # no live owner to stay with, or no move, or the target is ready
        on_process[t] = current
        if len(warm) < max_warmups:
            warm[t] = target
    return warm


def _place_warmups(out: Placement, by_process: Mapping[str, Member],
                   warm_process: Mapping[TaskId, str]) -> None:
    """Each warm-up on a thread of its instance: the one already keeping the task's standby
    there, else the thread with the fewest standbys and warm-ups."""
    load: dict[ThreadKey, int] = {}
    for keys in out.standby.values():
        for k in keys:
            load[k] = load.get(k, 0) + 1
    for t, p in sorted(warm_process.items()):
        same = [k for k in out.standby.get(t, []) if k.process == p]
        key = same[0] if same else min(
            (ThreadKey(p, i) for i in by_process[p].thread_ids),
            key=lambda k: (load.get(k, 0), k.thread))
        out.warmup[t] = key
        load[key] = load.get(key, 0) + 1


def _process_of(owner: ThreadKey | str) -> str:
    return owner.process if isinstance(owner, ThreadKey) else owner


def _dedup(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for i in items:
        if i not in seen:
            seen.append(i)
    return seen


def _to_threads(out: dict[TaskId, ThreadKey], process: str, threads: tuple[int, ...],
                tasks: list[TaskId], owners: Mapping[TaskId, Sequence[ThreadKey | str]],
                stateful: Collection[TaskId]) -> None:
    """Spread one instance's tasks over its threads, sticky to the thread that ran each."""
    names = [str(i) for i in threads]
    thread_owners = {}
    for t in tasks:
        hist = owners.get(t, ())
        if hist and isinstance(hist[0], ThreadKey) and hist[0].process == process:
            thread_owners[t] = [str(hist[0].thread)]
    for t, name in distribute_by_kind(tasks, stateful, names, {n: 1 for n in names},
                                      thread_owners).items():
        out[t] = ThreadKey(process, int(name))


def _place_standbys(out: Placement, by_process: Mapping[str, Member], processes: list[str],
                    tasks: list[TaskId], proc_owners: Mapping[TaskId, Sequence[str]],
                    stateful: set[TaskId], num_standbys: int) -> None:
    """Standbys for stateful tasks, never on the active's instance. The first goes where the
    task would move if its instance failed now (the same function over the others, with
    this placement as the owners it would see); more go to the instances holding the fewest
    standbys, by rendezvous rank."""
    if num_standbys <= 0 or len(processes) < 2 or not stateful:
        return
    now_owners = {t: [out.active[t].process, *[o for o in proc_owners.get(t, ())
                                                if o != out.active[t].process]][:OWNER_HISTORY]
                  for t in tasks}
    failover: dict[TaskId, str] = {}
    for p in processes:
        if not any(out.active[t].process == p for t in stateful if t in out.active):
            continue
        rest = [q for q in processes if q != p]
        moved = distribute_by_kind(tasks, stateful, rest,
                                   {q: len(by_process[q].thread_ids) for q in rest}, now_owners)
        for t in stateful:
            if t in out.active and out.active[t].process == p:
                failover[t] = moved[t]
    load = {p: 0 for p in processes}
    chosen: dict[TaskId, list[str]] = {}
    for t in sorted(stateful):
        if t not in out.active:
            continue
        picks = [failover[t]] if t in failover else []
        for p in picks:
            load[p] += 1
        ranked = _ranked(t, (p for p in processes if p != out.active[t].process))
        while len(picks) < min(num_standbys, len(processes) - 1):
            p = min((q for q in ranked if q not in picks), key=lambda q: load[q])
            picks.append(p)
            load[p] += 1
        chosen[t] = picks
    # each instance spreads its standbys over its threads round robin, in task order
    for p in processes:
        mine = sorted(t for t, ps in chosen.items() if p in ps)
        ids = by_process[p].thread_ids
        for i, t in enumerate(mine):
            out.standby.setdefault(t, []).append(ThreadKey(p, ids[i % len(ids)]))


def owners_after(placement: Placement, owners: Mapping[TaskId, Sequence[ThreadKey | str]]
                 ) -> dict[TaskId, list[ThreadKey | str]]:
    """The recent-owner lists once ``placement`` is in force: its active thread first, then
    the earlier owners' process ids, at most :data:`OWNER_HISTORY` entries."""
    out: dict[TaskId, list[ThreadKey | str]] = {}
    for t, key in placement.active.items():
        earlier = [p for p in _dedup(_process_of(o) for o in owners.get(t, ())) if p != key.process]
        history: list[ThreadKey | str] = [key, *earlier]
        out[t] = history[:OWNER_HISTORY]
    return out
