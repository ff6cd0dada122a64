"""Reading the group's members from client ids and the tasks' owners from offset metadata."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from streams.engine.task import TaskId
from streams.runtime.group_members import (
    Described,
    decode_owners,
    describe_members,
    encode_owners,
    member_client_id,
    owners_from_committed,
    parse_member,
)
from streams.runtime.placement import ThreadKey


def test_a_client_id_round_trips_with_an_ipv6_server() -> None:
    cid = member_client_id("app-1-StreamThread-2", "5f0c", 2, "[::1]:8080")
    m = parse_member("m-1", cid, frozenset())
    assert m is not None
    assert (m.process, m.thread, m.server, m.key) == ("5f0c", 2, "[::1]:8080", ThreadKey("5f0c", 2))
    none = parse_member("m-2", member_client_id("t", "p", 1, None), frozenset())
    assert none is not None and none.server is None


def test_the_ready_tasks_round_trip_and_an_older_client_id_has_none() -> None:
    ready = [TaskId(1, 12), TaskId(0, 3)]
    m = parse_member("m", member_client_id("t", "p", 1, None, "ab12", ready), frozenset())
    assert m is not None and m.ready == frozenset(ready) and m.topology == "ab12"
    old = parse_member("m", "t-consumer;pid=p;thread=1;server=;topo=ab12", frozenset())
    assert old is not None and old.ready == frozenset() and old.topology == "ab12"


def test_a_foreign_client_id_is_no_member() -> None:
    assert parse_member("m", "rdkafka", frozenset()) is None
    assert parse_member("m", "", frozenset()) is None


def test_owners_round_trip_and_foreign_metadata_is_ignored() -> None:
    owners = [ThreadKey("p1", 3), "p0", "p9"]
    assert decode_owners(encode_owners(owners)) == owners
    assert decode_owners("") == [] and decode_owners(None) == []
    assert decode_owners("AQAAAYuN") == []  # e.g. Kafka Streams' partition-time metadata


def test_owners_are_read_from_any_partition_of_the_task() -> None:
    t = TaskId(1, 0)
    committed = {("a", 0): None, ("b", 0): encode_owners([ThreadKey("p", 1)])}
    assert owners_from_committed(committed, {t: [("a", 0), ("b", 0)]}) == {t: [ThreadKey("p", 1)]}
    assert owners_from_committed({}, {t: [("a", 0)]}) == {}


class _Admin:
    def __init__(self, state: str, members: list[tuple[str, str, list[tuple[str, int]]]]) -> None:
        self.state = state
        self.members = members

    def describe_consumer_groups(self, groups: list[str], request_timeout: float) -> Any:
        desc = SimpleNamespace(
            state=SimpleNamespace(name=self.state),
            members=[SimpleNamespace(member_id=m, client_id=c, assignment=SimpleNamespace(
                topic_partitions=[SimpleNamespace(topic=t, partition=p) for t, p in tps]))
                for m, c, tps in self.members])
        return {groups[0]: SimpleNamespace(result=lambda timeout: desc)}


def test_describe_lists_the_stream_threads_of_this_generation() -> None:
    admin = _Admin("STABLE", [("m1", member_client_id("x", "p1", 1, "h:1"), [("in", 0)]),
                              ("m2", member_client_id("y", "p2", 1, None), [("in", 1)]),
                              ("m3", "some-tool", [])])
    members = describe_members(admin, "app", "m1", frozenset({("in", 0)}), 5.0).members
    assert members is not None
    assert [(m.process, m.server) for m in members] == [("p1", "h:1"), ("p2", None)]


def test_describe_of_another_generation_or_a_rebalancing_group_is_refused() -> None:
    members = [("m1", member_client_id("x", "p1", 1, None), [("in", 0)])]
    mine = frozenset({("in", 0)})
    # a rebalance under way: its callbacks will come
    assert describe_members(_Admin("PREPARING_REBALANCE", members), "app", "m1", mine,
                            5.0) == Described(None, True)
    # our own entry shows other partitions than the rebalance gave us: the group moved on
    assert describe_members(_Admin("STABLE", members), "app", "m1", frozenset({("in", 1)}),
                            5.0) == Described(None, True)
    # contradictions (a coordinator that just moved shows the group EMPTY; we are not listed):
    # no rebalance may come, so the member must rejoin
    assert describe_members(_Admin("EMPTY", members), "app", "m1", mine,
                            5.0) == Described(None, False)
    assert describe_members(_Admin("STABLE", members), "app", "m9", frozenset(),
                            5.0) == Described(None, False)


def test_the_version_most_threads_run_leads_ties_to_the_smallest_fingerprint() -> None:
    from streams.runtime.group_members import leading_topology

    def m(n: int, topo: str) -> Any:
        return parse_member(f"m{n}", member_client_id("t", f"p{n}", 1, None, topo), frozenset())

    assert leading_topology([m(1, "aa"), m(2, "bb"), m(3, "bb")]) == "bb"
    assert leading_topology([m(1, "bb"), m(2, "aa")]) == "aa"
    assert m(1, "aa").topology == "aa"
    # a client id without the fingerprint still parses (no version: "")
    old = parse_member("m", "t-consumer;pid=p;thread=1;server=", frozenset())
    assert old is not None and old.topology == ""
