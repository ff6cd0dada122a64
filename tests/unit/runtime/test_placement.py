"""The placement function over many generated membership histories: balance, stickiness,
state-aware moves and standby placement, checked after every change."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from streams.engine.task import TaskId
from streams.runtime.placement import (
    Member,
    Placement,
    ThreadKey,
    owners_after,
    place,
)


def _tasks(*partition_counts: int) -> list[TaskId]:
    return [TaskId(s, p) for s, n in enumerate(partition_counts) for p in range(n)]


def _check_balanced(pl: Placement, members: list[Member], tasks: list[TaskId]) -> None:
    assert set(pl.active) == set(tasks)
    per_thread = Counter(pl.active.values())
    counts = [per_thread.get(ThreadKey(m.process, i), 0)
              for m in members for i in m.thread_ids]
    assert max(counts) - min(counts) <= 1, counts
    assert all(k.thread in next(m.thread_ids for m in members if m.process == k.process)
               for k in pl.active.values())


def _check_standbys(pl: Placement, members: list[Member], stateful: list[TaskId], n: int) -> None:
    want = min(n, len(members) - 1)
    for t in stateful:
        holders = [k.process for k in pl.standby.get(t, [])]
        assert len(holders) == len(set(holders)) == want, (t, holders)
        assert pl.active[t].process not in holders
    for t in set(pl.standby) - set(stateful):
        pytest.fail(f"stateless task {t} got a standby")


def test_three_instances_share_twelve_tasks_four_each() -> None:
    members = [Member("a", 1), Member("b", 1), Member("c", 1)]
    pl = place(members, _tasks(6, 6), {})
    assert sorted(Counter(k.process for k in pl.active.values()).values()) == [4, 4, 4]


def test_the_answer_does_not_depend_on_input_order() -> None:
    members = [Member(f"p{i}", 1 + i % 3) for i in range(5)]
    tasks = _tasks(7, 3, 5)
    first = place(members, tasks, {}, stateful=tasks, num_standbys=2)
    again = place(list(reversed(members)), list(reversed(tasks)), {}, stateful=tasks,
                  num_standbys=2)
    assert first == again


def test_threads_are_balanced_across_sub_topologies() -> None:
    members = [Member("a", 2), Member("b", 1)]
    pl = place(members, _tasks(5, 2), {})
    _check_balanced(pl, members, _tasks(5, 2))


def test_a_task_stays_with_its_thread_when_nothing_changes() -> None:
    members = [Member("a", 2), Member("b", 3)]
    tasks = _tasks(8, 8)
    pl = place(members, tasks, {})
    again = place(members, tasks, owners_after(pl, {}))
    assert again.active == pl.active


def test_a_task_with_a_stale_owner_goes_back_to_the_recent_owner() -> None:
    members = [Member("a", 1), Member("b", 1)]
    tasks = _tasks(2)
    # b ran both tasks lately, a ran 0_1 before that: a gets 0_1, the one it holds state for
    pl = place(members, tasks, {TaskId(0, 0): [ThreadKey("b", 1)],
                                TaskId(0, 1): [ThreadKey("b", 1), "a"]})
    assert pl.active[TaskId(0, 1)].process == "a"
    assert pl.active[TaskId(0, 0)].process == "b"


@pytest.mark.parametrize("seed", range(40))
def test_scale_out_two_to_three_moves_no_more_than_the_new_share(seed: int) -> None:
    rnd = random.Random(seed)
    ids = [f"proc-{rnd.random()}" for _ in range(3)]
    tasks = _tasks(6, 6)
    two = [Member(ids[0], 1), Member(ids[1], 1)]
    before = place(two, tasks, {})
    after = place([*two, Member(ids[2], 1)], tasks, owners_after(before, {}))
    moved = [t for t in tasks if before.active[t].process != after.active[t].process]
    assert len(moved) <= math.ceil(len(tasks) / 3) + 1
    assert all(after.active[t].process == ids[2] for t in moved)


@pytest.mark.parametrize("seed", range(40))
def test_an_instance_that_returns_gets_its_tasks_back(seed: int) -> None:
    rnd = random.Random(seed)
    members = [Member(f"proc-{rnd.random()}", rnd.randint(1, 2)) for _ in range(3)]
    tasks = _tasks(6, 6, 3)
    start = place(members, tasks, {})
    owners = owners_after(start, {})
    gone = members[rnd.randrange(3)]
    rest = [m for m in members if m is not gone]
    without = place(rest, tasks, owners)
    owners = owners_after(without, owners)
    back = place(members, tasks, owners)
    had = {t for t, k in start.active.items() if k.process == gone.process}
    assert {t for t, k in back.active.items() if k.process == gone.process} == had


@pytest.mark.parametrize("seed", range(40))
def test_the_first_standby_is_where_the_task_fails_over_to(seed: int) -> None:
    rnd = random.Random(seed)
    members = [Member(f"proc-{rnd.random()}", rnd.randint(1, 3)) for _ in range(rnd.randint(2, 5))]
    tasks = _tasks(rnd.randint(1, 8), rnd.randint(1, 8))
    stateful = [t for t in tasks if t.subtopology == 1]
    pl = place(members, tasks, {}, stateful=stateful, num_standbys=1)
    _check_standbys(pl, members, stateful, 1)
    owners = owners_after(pl, {})
    victim = members[rnd.randrange(len(members))]
    after = place([m for m in members if m is not victim], tasks, owners, stateful=stateful,
                  num_standbys=1)
    for t in stateful:
        if pl.active[t].process == victim.process:
            assert after.active[t].process == pl.standby[t][0].process


@pytest.mark.parametrize("seed", range(60))
def test_invariants_hold_over_a_random_membership_history(seed: int) -> None:
    rnd = random.Random(seed)
    tasks = _tasks(*(rnd.randint(1, 9) for _ in range(rnd.randint(1, 3))))
    stateful = [t for t in tasks if rnd.random() < 0.6]
    standbys = rnd.randint(0, 2)
    pool = [Member(f"proc-{i}-{rnd.random()}", rnd.randint(1, 3)) for i in range(6)]
    members = pool[:rnd.randint(1, 3)]
    owners: dict[TaskId, list[ThreadKey | str]] = {}
    previous: Placement | None = None
    for _ in range(25):
        pl = place(members, tasks, owners, stateful=stateful, num_standbys=standbys)
        _check_balanced(pl, members, tasks)
        _check_standbys(pl, members, stateful, standbys)
        if previous is not None:
            # nothing moves between two computations over the same members
            assert place(members, tasks, owners, stateful=stateful,
                         num_standbys=standbys).active == pl.active
        owners = owners_after(pl, owners)
        previous = pl
        change = rnd.random()
        outside = [m for m in pool if m not in members]
        if change < 0.4 and outside:
            joining = rnd.choice(outside)
            members = [*members, joining]
            after = place(members, tasks, owners, stateful=stateful, num_standbys=standbys)
            moved = [t for t in tasks if pl.active[t].process != after.active[t].process]
            share = math.ceil(len(tasks) * len(joining.thread_ids)
                              / sum(len(m.thread_ids) for m in members))
            # the joiner's share moves, plus at most one task per instance for the remainder
            assert len(moved) <= share + len(members), (len(moved), share)
        elif change < 0.8 and len(members) > 1:
            leaving = rnd.choice(members)
            members = [m for m in members if m is not leaving]
            after = place(members, tasks, owners, stateful=stateful, num_standbys=standbys)
            orphaned = [t for t in tasks if pl.active[t].process == leaving.process]
            moved = [t for t in tasks if pl.active[t].process != after.active[t].process]
            assert len(moved) <= len(orphaned) + len(members), (len(moved), len(orphaned))


@pytest.mark.parametrize("seed", range(20))
def test_stateful_tasks_are_shared_out_like_the_others(seed: int) -> None:
    rnd = random.Random(seed)
    tasks = _tasks(4, 4)
    stateful = [t for t in tasks if t.subtopology == 1]
    first, second = Member(f"a-{rnd.random()}", 1), Member(f"b-{rnd.random()}", 1)
    owners: dict[TaskId, list[ThreadKey | str]] = {
        t: [ThreadKey(first.process, 1), *([second.process] if t in stateful else [])]
        for t in tasks}  # the joiner ran every stateful task once: it "wants" all of them
    members = [first, second]
    pl = place(members, tasks, owners, stateful=stateful)
    _check_balanced(pl, members, tasks)
    per = Counter(pl.active[t].process for t in stateful)
    assert sorted(per.values()) == [2, 2], per


def test_threads_keep_their_indices_when_one_was_replaced() -> None:
    members = [Member("a", (1, 3)), Member("b", 1)]
    pl = place(members, _tasks(6), {})
    assert {k for k in pl.active.values() if k.process == "a"} == {ThreadKey("a", 1),
                                                                   ThreadKey("a", 3)}
    _check_balanced(pl, members, _tasks(6))
