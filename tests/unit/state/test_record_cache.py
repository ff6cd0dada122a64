"""The record cache: a write-back cache in front of a typed key-value store.

First the store on its own (what reaches the store below and its changelog, and when), then
what it changes in DSL topologies run by TopologyTestDriver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import BigEndianLong, FakeContext, Utf8

from streams import Consumed, Materialized, Produced, StreamsBuilder, serdes
from streams.engine.message import Message
from streams.errors import StateStoreError
from streams.state.cache import ENTRY_OVERHEAD, ThreadCache
from streams.state.caching_key_value import CachingKeyValueStore
from streams.state.caching_window import CachingWindowStore
from streams.state.changelogging import ChangeLoggingKeyValueStore
from streams.state.changelogging_window import ChangeLoggingWindowStore
from streams.state.memory import InMemoryKeyValueStore
from streams.state.typed import KeyValueStore
from streams.state.typed_window import WindowStore
from streams.testing import TopologyTestDriver

Flushed = list[tuple[Any, Any, Any, int, Any]]


class Opened:
    """The layer below the cache, opened by the store above: a second typed view over it
    must not open it again."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def init(self, context: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def with_cache(context: FakeContext, cache: ThreadCache) -> FakeContext:
    """``context`` as a task gives it to a store: the thread's cache and the record context."""
    context.topic, context.partition, context.offset, context.headers = None, None, None, None
    context.cache = cache  # type: ignore[attr-defined]
    context.record_context = context  # type: ignore[attr-defined]
    return context


def cached_store(
    context: FakeContext, max_bytes: int = 1 << 20, cache: ThreadCache | None = None,
) -> tuple[KeyValueStore[str, int], KeyValueStore[str, int], Flushed]:
    """A typed store over caching(changelogging(in-memory)) as the builder stacks it, a typed
    view of the layer below the cache, and a listener that records what it gets together with
    the record context it sees. ``store.inner`` is the caching layer."""
    below_bytes = ChangeLoggingKeyValueStore(InMemoryKeyValueStore("counts"))
    store: KeyValueStore[str, int] = KeyValueStore(
        CachingKeyValueStore(below_bytes), Utf8(), BigEndianLong())
    store.init(with_cache(context, cache or ThreadCache(max_bytes)))
    below: KeyValueStore[str, int] = KeyValueStore(Opened(below_bytes), Utf8(), BigEndianLong())
    below.init(context)
    flushed: Flushed = []
    store.set_flush_listener(
        lambda k, new, old: flushed.append((k, new, old, context.timestamp, context.offset)))
    return store, below, flushed


def at(context: FakeContext, timestamp: int, offset: int) -> None:
    context.timestamp, context.offset = timestamp, offset


def test_writes_stay_in_the_cache_until_flushed(make_context: Callable[..., FakeContext]) -> None:
    context = make_context()
    store, below, flushed = cached_store(context)
    at(context, 10, 0)
    store.put("a", 1)
    at(context, 11, 1)
    store.put("b", 1)
    at(context, 12, 2)
    store.put("a", 2)
    assert store.get("a") == 2 and store.get("b") == 1
    assert below.get("a") is None  # nothing reached the store below...
    assert context.changelog_writer.changes == []  # ...nor its changelog
    assert store.inner.dirty_entries == 2
    at(context, 99, 50)  # the commit happens in some other record's context
    store.flush()
    # one write per key, in the order of the last update, each in its own update's context
    assert flushed == [("b", 1, None, 11, 1), ("a", 2, None, 12, 2)]
    assert [(k, ts) for _, k, _, ts in context.changelog_writer.changes] == [(b"b", 11), (b"a", 12)]
    assert below.get("a") == 2
    assert (context.timestamp, context.offset) == (99, 50)  # restored after the flush
    # the old value handed on is the one the store below had
    at(context, 13, 3)
    store.put("a", 3)
    store.put("a", 4)
    store.flush()
    assert flushed[-1] == ("a", 4, 2, 13, 3)
    assert store.inner.dirty_entries == 0 and store.inner.cached_entries == 2  # kept, clean, for reads


def test_deletes_are_cached_too(make_context: Callable[..., FakeContext]) -> None:
    context = make_context()
    store, below, flushed = cached_store(context)
    store.put("a", 1)
    store.flush()
    assert store.delete("a") == 1
    assert store.get("a") is None
    assert below.get("a") == 1
    store.put("never", 5)
    store.delete("never")  # written and deleted between two flushes: nothing to tell
    store.flush()
    assert flushed == [("a", 1, None, 0, None), ("a", None, 1, 0, None)]
    assert below.get("a") is None
    assert [v for _, _, v, _ in context.changelog_writer.changes] == [
        b"\x00" * 7 + b"\x01", None, None]


def test_reads_return_fresh_values(make_context: Callable[..., FakeContext]) -> None:
    context = make_context()
    store: KeyValueStore[str, list[int]] = KeyValueStore(
        CachingKeyValueStore(InMemoryKeyValueStore("lists")), Utf8(), serdes.Json())
    store.init(with_cache(context, ThreadCache(1 << 20)))
    store.put("a", [1])
    got = store.get("a")
    got.append(2)  # changing what was read changes nothing until it is put back
    assert store.get("a") == [1]


def test_a_full_cache_evicts_the_least_recently_used_entries(
        make_context: Callable[..., FakeContext]) -> None:
    context = make_context()
    entry = len("a") + 8 + ENTRY_OVERHEAD  # key, value, overhead
    cache = ThreadCache(3 * entry)
    store, below, flushed = cached_store(context, cache=cache)
    for i, key in enumerate("abc"):
        at(context, i, i)
        store.put(key, i)
    assert flushed == [] and cache.size == 3 * entry
    store.get("a")  # a is now the most recently used: b goes first
    at(context, 3, 3)
    store.put("d", 3)
    assert flushed == [("b", 1, None, 1, 1)]
    assert below.get("b") == 1 and store.inner.cached_entries == 3
    assert cache.evictions == 1 and cache.size == 3 * entry
    store.flush()
    assert [f[0] for f in flushed] == ["b", "a", "c", "d"]


def test_stores_share_their_threads_budget(make_context: Callable[..., FakeContext]) -> None:
    entry = len("a") + 8 + ENTRY_OVERHEAD
    cache = ThreadCache(2 * entry)
    one, _, flushed_one = cached_store(make_context(), cache=cache)
    two, _, flushed_two = cached_store(make_context(), cache=cache)
    one.put("a", 1)
    one.put("b", 2)
    two.put("c", 3)  # over budget: the store being written gives up its oldest entry
    assert flushed_one == [] and [f[0] for f in flushed_two] == ["c"]
    assert cache.size == 2 * entry
    one.inner.discard()
    assert cache.size == 0 and one.get("a") is None


def test_scans_merge_the_cache_over_the_store(make_context: Callable[..., FakeContext]) -> None:
    context = make_context()
    store, _, _ = cached_store(context)
    for key, value in [("a", 1), ("c", 3), ("e", 5), ("ex", 6)]:
        store.put(key, value)
    store.flush()
    store.put("b", 2)  # only in the cache
    store.put("c", 30)  # newer in the cache
    store.delete("e")  # deleted in the cache
    assert list(store.all()) == [("a", 1), ("b", 2), ("c", 30), ("ex", 6)]
    assert list(store.reverse_all()) == [("ex", 6), ("c", 30), ("b", 2), ("a", 1)]
    assert list(store.range("b", "e")) == [("b", 2), ("c", 30)]
    assert list(store.reverse_range("a", "c")) == [("c", 30), ("b", 2), ("a", 1)]
    assert list(store.prefix_scan("e")) == [("ex", 6)]
    assert store.put_if_absent("b", 9) == 2 and store.get("b") == 2


def test_close_writes_what_is_left_and_none_keys_are_refused(
        make_context: Callable[..., FakeContext]) -> None:
    context = make_context()
    store, below, flushed = cached_store(context)
    with pytest.raises(StateStoreError, match="None keys"):
        store.put(None, 1)
    store.put("a", 1)
    store.close()
    assert flushed == []  # not forwarded: the processors are closed by then
    assert [k for _, k, _, _ in context.changelog_writer.changes] == [b"a"]
    assert not below.is_open


# --------------------------------------------------------------------------- in topologies
def counts(materialized: Materialized | None = None) -> Any:
    s = serdes.String()
    b = StreamsBuilder()
    (b.stream("words", Consumed(key_serde=s, value_serde=s))
     .group_by_key()
     .count(materialized or Materialized(name="counts"))
     .to_stream()
     .to("out", Produced(key_serde=s, value_serde=serdes.Long())))
    return b.build()


def run_batch(topology: Any, config: dict[str, Any]) -> tuple[list[Any], list[Any], Any]:
    """Words a, b, a as one batch, as a stream thread hands a task what it consumed (the
    driver's pipe_input flushes the cache after every record)."""
    with TopologyTestDriver(topology, {"application.id": "app", **config}) as d:
        task = d._task_by_topic["words"]
        task.add_records(("words", 0), [
            Message("words", 0, i, 10 + i, k.encode(), b"x", None) for i, k in enumerate("aba")])
        d._drain()
        s = serdes.String()
        out = d.create_output_topic("out", s, serdes.Long()).read_records_to_list()
        changelog = d.create_output_topic("app-counts-changelog").read_records_to_list()
        return out, changelog, d.cache


def test_a_count_forwards_each_key_once_per_flush() -> None:
    out, changelog, cache = run_batch(counts(), {})
    assert [(r.key, r.value, r.timestamp) for r in out] == [("b", 1, 11), ("a", 2, 12)]
    assert len(changelog) == 2
    assert cache.flushes >= 1


@pytest.mark.parametrize("config, materialized", [
    ({"statestore.cache.max.bytes": 0}, None),
    ({}, Materialized(name="counts").with_caching_disabled()),
    ({"statestore.cache.max.bytes": 1}, None),  # too small to hold anything: evicts at once
])
def test_without_a_cache_every_update_is_forwarded(config: dict[str, Any],
                                                   materialized: Materialized | None) -> None:
    out, changelog, _ = run_batch(counts(materialized), config)
    assert [(r.key, r.value, r.timestamp) for r in out] == [("a", 1, 10), ("b", 1, 11), ("a", 2, 12)]
    assert len(changelog) == 3


def test_a_processor_api_store_built_with_caching_is_written_behind() -> None:
    from streams import Processor, Record, Topology
    from streams.state.stores import Stores

    s = serdes.String()

    class Tally(Processor):
        def init(self, context: Any) -> None:
            super().init(context)
            self.store = context.get_state_store("tally")

        def process(self, record: Record) -> None:
            for word in record.value.split():
                self.store.put(word, (self.store.get(word) or 0) + 1)

    topology = Topology()
    topology.add_source("src", ["in"], key_serde=s, value_serde=s)
    topology.add_processor("tally-node", Tally, "src")
    topology.add_state_store(Stores.key_value_store_builder(
        Stores.in_memory_key_value_store("tally"), s, serdes.Long()).with_caching_enabled(),
        "tally-node")
    with TopologyTestDriver(topology, {"application.id": "app"}) as d:
        d.create_input_topic("in", s, s).pipe_input("k", "x y x x")
        assert d.get_key_value_store("tally").get("x") == 3
        changelog = d.create_output_topic("app-tally-changelog", s, serdes.Long())
        assert changelog.read_key_values_to_list() == [("y", 1), ("x", 3)]


# --------------------------------------------------------------------------- window stores
def cached_window_store(context: FakeContext, segment_ms: int = 100,
                        ) -> tuple[WindowStore[str, int], WindowStore[str, int], list[Any]]:
    from streams.state.window_bytes_store import InMemoryWindowStore

    below_bytes = ChangeLoggingWindowStore(
        InMemoryWindowStore("wins", 10_000, 10, segment_interval_ms=segment_ms))
    store: WindowStore[str, int] = WindowStore(CachingWindowStore(below_bytes), Utf8(),
                                               BigEndianLong())
    store.init(with_cache(context, ThreadCache(1 << 20)))
    typed: WindowStore[str, int] = WindowStore(Opened(below_bytes), Utf8(),  # type: ignore[arg-type]
                                               BigEndianLong())
    typed.init(context)
    flushed: list[Any] = []
    store.set_flush_listener(
        lambda k, start, new, old: flushed.append((k, start, new, old, context.timestamp)))
    return store, typed, flushed


def test_window_writes_stay_cached_and_flush_once_per_window(
        make_context: Callable[..., FakeContext]) -> None:
    context = make_context()
    store, below, flushed = cached_window_store(context)
    at(context, 5, 0)
    store.put("a", 1, 0)
    at(context, 7, 1)
    store.put("a", 2, 0)
    store.put("a", 1, 10)
    assert store.get("a", 0) == 2 and below.get("a", 0) is None
    store.flush()
    assert flushed == [("a", 0, 2, None, 7), ("a", 10, 1, None, 7)]
    assert below.get("a", 0) == 2 and store.inner.cached_entries == 0  # not kept: windows expire
    store.put("a", 3, 0)
    store.flush()
    assert flushed[-1] == ("a", 0, 3, 2, 7)


def test_window_scans_merge_the_cache_in_the_stores_order(
        make_context: Callable[..., FakeContext]) -> None:
    context = make_context()
    store, below, _ = cached_window_store(context, segment_ms=100)
    for key, start, value in [("b", 0, 1), ("a", 150, 2), ("b", 160, 3)]:
        below.put(key, value, start)
    store.put("a", 20, 10)     # only cached, segment 0
    store.put("b", 30, 160)    # newer than the store's
    store.put("c", 4, 200)     # only cached, segment 2
    expected_all = [(W("a", 10), 20), (W("b", 0), 1), (W("a", 150), 2), (W("b", 160), 30),
                    (W("c", 200), 4)]
    assert list(store.all()) == expected_all
    assert list(store.backward_all()) == expected_all[::-1]
    assert list(store.fetch_all(10, 160)) == [(W("a", 10), 20), (W("a", 150), 2),
                                              (W("b", 160), 30)]
    assert list(store.fetch_range("a", "b", 0, 150)) == expected_all[:3]
    assert list(store.fetch("b", 0, 1000)) == [(0, 1), (160, 30)]
    assert list(store.backward_fetch("a", 0, 1000)) == [(150, 2), (10, 20)]
    store.put("b", None, 0)  # a cached deletion hides the stored window
    assert list(store.fetch("b", 0, 1000)) == [(160, 30)]
    # after the flush the store alone gives the same answers
    store.flush()
    assert list(below.all()) == [(W("a", 10), 20), (W("a", 150), 2), (W("b", 160), 30),
                                 (W("c", 200), 4)]


def W(key: str, start: int) -> Any:
    from streams.processor.window_types import TimeWindow, Windowed

    return Windowed(key, TimeWindow(start, start + 10))


def windowed_counts(materialized: Materialized) -> Any:
    from streams import TimeWindows
    from streams.serdes import TimeWindowedSerde

    s = serdes.String()
    b = StreamsBuilder()
    (b.stream("words", Consumed(key_serde=s, value_serde=s))
     .group_by_key()
     .windowed_by(TimeWindows.of_size_and_grace(100, 100))
     .count(materialized)
     .to_stream()
     .to("out", Produced(key_serde=TimeWindowedSerde(s, 100), value_serde=serdes.Long())))
    return b.build()


@pytest.mark.parametrize("caching", [True, False])
def test_a_windowed_count_forwards_each_window_once_per_flush(caching: bool) -> None:
    from streams.serdes import TimeWindowedSerde

    with TopologyTestDriver(windowed_counts(Materialized(name="counts", caching=caching)),
                            {"application.id": "app"}) as d:
        task = d._task_by_topic["words"]
        task.add_records(("words", 0), [
            Message("words", 0, i, ts, k.encode(), b"x", None)
            for i, (k, ts) in enumerate([("a", 10), ("b", 20), ("a", 30), ("a", 120)])])
        d._drain()
        out = d.create_output_topic("out", TimeWindowedSerde(serdes.String(), 100),
                                    serdes.Long()).read_records_to_list()
        got = [(r.key.key, r.key.window.start, r.value, r.timestamp) for r in out]
        assert dict(d.get_window_store("counts").fetch("a", 0, 200)) == {0: 2, 100: 1}
    if caching:
        assert got == [("b", 0, 1, 20), ("a", 0, 2, 30), ("a", 100, 1, 120)]
    else:
        assert got == [("a", 0, 1, 10), ("b", 0, 1, 20), ("a", 0, 2, 30), ("a", 100, 1, 120)]
