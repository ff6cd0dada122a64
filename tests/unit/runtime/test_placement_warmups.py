"""Warm-up replicas in the placement (Kafka Streams' KIP-441): a stateful task leaves a live
owner only for an instance caught up on it; otherwise a warm-up replica catches up first.
Checked on fixed cases and over many generated membership histories."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from streams.engine.task import TaskId
from streams.runtime.placement import Member, Placement, ThreadKey, owners_after, place


def _tasks(*partition_counts: int) -> list[TaskId]:
    return [TaskId(s, p) for s, n in enumerate(partition_counts) for p in range(n)]


def _per_process(pl: Placement) -> Counter[str]:
    return Counter(k.process for k in pl.active.values())


def test_a_new_instance_warms_up_before_it_takes_stateful_tasks() -> None:
    tasks = _tasks(6, 6)
    stateful = [t for t in tasks if t.subtopology == 1]
    two = [Member("a", 1), Member("b", 1)]
    first = place(two, tasks, {}, stateful=stateful, caught_up={}, max_warmups=2)
    owners = owners_after(first, {})
    three = [*two, Member("c", 1)]
    pl = place(three, tasks, owners, stateful=stateful, caught_up={}, max_warmups=2)
    # stateless tasks move at once; stateful ones stay with their owners, two warm on c
    assert all(pl.active[t] == first.active[t] for t in stateful)
    assert any(pl.active[t].process == "c" for t in tasks if t not in stateful)
    assert len(pl.warmup) == 2 and {k.process for k in pl.warmup.values()} == {"c"}
    # once c reports them caught up, exactly those move to c
    ready = {"c": set(pl.warmup)}
    after = place(three, tasks, owners_after(pl, owners), stateful=stateful, caught_up=ready,
                  max_warmups=2)
    moved = {t for t in stateful if after.active[t] != pl.active[t]}
    assert moved == set(pl.warmup) and all(after.active[t].process == "c" for t in moved)


def test_a_caught_up_target_takes_the_task_without_a_warmup() -> None:
    tasks = _tasks(4)
    owners = owners_after(place([Member("a", 1)], tasks, {}), {})
    members = [Member("a", 1), Member("b", 1)]
    pl = place(members, tasks, owners, stateful=tasks, caught_up={"b": set(tasks)},
               max_warmups=2)
    assert _per_process(pl) == {"a": 2, "b": 2} and not pl.warmup


def test_a_dead_owners_tasks_move_at_once() -> None:
    tasks = _tasks(6)
    members = [Member("a", 1), Member("b", 1), Member("c", 1)]
    owners = owners_after(place(members, tasks, {}, stateful=tasks, num_standbys=1), {})
    pl = place(members[:2], tasks, owners, stateful=tasks, num_standbys=1, caught_up={},
               max_warmups=2)
    assert set(pl.active) == set(tasks) and not pl.warmup
    assert {k.process for k in pl.active.values()} == {"a", "b"}


def test_none_means_no_warmups_at_all() -> None:
    tasks = _tasks(6)
    owners = owners_after(place([Member("a", 1)], tasks, {}), {})
    members = [Member("a", 1), Member("b", 1)]
    pl = place(members, tasks, owners, stateful=tasks, caught_up=None, max_warmups=2)
    assert _per_process(pl) == {"a": 3, "b": 3} and not pl.warmup


def test_a_warmup_shares_the_thread_of_an_existing_standby() -> None:
    tasks = _tasks(4)
    owners = owners_after(place([Member("a", 1), Member("b", 1)], tasks, {}), {})
    members = [Member("a", 1), Member("b", 1), Member("c", 3)]
    pl = place(members, tasks, owners, stateful=tasks, num_standbys=2, caught_up={},
               max_warmups=4)
    for t, key in pl.warmup.items():
        same = [k for k in pl.standby.get(t, []) if k.process == key.process]
        if same:
            assert key == same[0]


@pytest.mark.parametrize("seed", range(60))
def test_warmup_invariants_over_a_random_membership_history(seed: int) -> None:
    rnd = random.Random(seed)
    tasks = _tasks(*(rnd.randint(1, 8) for _ in range(rnd.randint(1, 3))))
    stateful = {t for t in tasks if rnd.random() < 0.7}
    standbys = rnd.randint(0, 2)
    max_warmups = rnd.randint(1, 3)
    pool = [Member(f"proc-{i}-{rnd.random()}", rnd.randint(1, 3)) for i in range(5)]
    members = pool[:rnd.randint(1, 3)]
    owners: dict[TaskId, list[ThreadKey | str]] = {}
    caught: dict[str, set[TaskId]] = {}
    previous: Placement | None = None
    for _ in range(30):
        pl = place(members, tasks, owners, stateful=stateful, num_standbys=standbys,
                   caught_up=caught, max_warmups=max_warmups)
        live = {m.process for m in members}
        assert set(pl.active) == set(tasks)
        assert {k.process for k in pl.active.values()} <= live
        assert len(pl.warmup) <= max_warmups
        for t, key in pl.warmup.items():
            assert t in stateful and key.process in live
            assert key.process != pl.active[t].process
            assert key.thread in next(m.thread_ids for m in members if m.process == key.process)
        if previous is not None:
            for t in stateful:
                before, now = previous.active[t].process, pl.active[t].process
                if before in live and now != before:
                    # a stateful task left a live owner only for a caught-up instance
                    assert t in caught.get(now, set()), (t, before, now)
        owners = owners_after(pl, owners)
        previous = pl
        # warm-ups catch up between rebalances (each instance reports its whole set)
        for t, key in pl.warmup.items():
            caught.setdefault(key.process, set()).add(t)
        change = rnd.random()
        outside = [m for m in pool if m not in members]
        if change < 0.25 and outside:
            members = [*members, rnd.choice(outside)]
        elif change < 0.45 and len(members) > 1:
            leaving = rnd.choice(members)
            members = [m for m in members if m is not leaving]
            caught.pop(leaving.process, None)  # restarts with nothing reported
    # with membership still, rounds of warm-ups converge on the balanced placement
    for _ in range(len(tasks) + 2):
        pl = place(members, tasks, owners, stateful=stateful, num_standbys=standbys,
                   caught_up=caught, max_warmups=max_warmups)
        if not pl.warmup:
            break
        owners = owners_after(pl, owners)
        for t, key in pl.warmup.items():
            caught.setdefault(key.process, set()).add(t)
    assert not pl.warmup
    per_thread = Counter(pl.active.values())
    counts = [per_thread.get(ThreadKey(m.process, i), 0) for m in members for i in m.thread_ids]
    assert max(counts) - min(counts) <= 1, counts
