"""Window stores: one behavioural suite for both kinds, then RocksDB specifics, the changelogging
and typed layers, and the builders."""

from __future__ import annotations

import random
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.errors import InvalidStateStoreError, StateStoreError
from streams.processor.window_types import MAX_TIMESTAMP, TimeWindow, Windowed
from streams.state.changelogging_window import ChangeLoggingWindowStore
from streams.state.segmented_store import default_segment_interval, range_upper_bound
from streams.state.typed_window import WindowStore
from streams.state.window_bytes_store import (
    InMemoryWindowStore,
    RocksDBWindowStore,
    split_window_store_key,
    window_store_key,
)
from streams.state.window_store_builders import (
    InMemoryWindowBytesStoreSupplier,
    RocksDBWindowBytesStoreSupplier,
    WindowBytesStoreSupplier,
    in_memory_window_store,
    persistent_window_store,
    window_store_builder,
)

RETENTION = 100_000
SIZE = 10_000
INTERVAL = 60_000  # default_segment_interval(RETENTION)

WindowFactory = Callable[..., Any]


@pytest.fixture(params=["memory", "rocksdb"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_window(kind: str, context: Any) -> Iterator[WindowFactory]:
    """Makes open window stores of the parametrized kind; closes whatever it made."""
    made: list[Any] = []

    def make(
        name: str = "win",
        retention_ms: int = RETENTION,
        window_size_ms: int = SIZE,
        retain_duplicates: bool = False,
        ctx: Any = None,
        **kwargs: Any,
    ) -> Any:
        cls = InMemoryWindowStore if kind == "memory" else RocksDBWindowStore
        store = cls(name, retention_ms, window_size_ms, retain_duplicates, **kwargs)
        store.init(ctx or context)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_window: WindowFactory) -> Any:
    return make_window()


def ts_values(items: Any) -> list[tuple[int, bytes]]:
    return list(items)


# -- behaviour shared by both kinds --------------------------------------------------------------


def test_flags(store: Any, kind: str) -> None:
    assert store.name == "win"
    assert store.is_open
    assert store.persistent is (kind == "rocksdb")
    assert store.retention_ms == RETENTION
    assert store.window_size_ms == SIZE
    assert store.segment_interval_ms == INTERVAL == default_segment_interval(RETENTION)
    assert store.retain_duplicates is False
    assert store.observed_stream_time == -1


def test_default_segment_interval_has_a_floor() -> None:
    assert default_segment_interval(10_000) == 60_000
    assert default_segment_interval(86_400_000) == 43_200_000


def test_put_get_overwrite_delete(store: Any) -> None:
    assert store.get(b"k", 0) is None
    assert store.put(b"k", b"1", 0) == b"k" + bytes(8) + bytes(4)
    assert store.get(b"k", 0) == b"1"
    store.put(b"k", b"2", 0)
    assert store.get(b"k", 0) == b"2"
    assert store.get(b"k", 1) is None
    store.put(b"k", None, 0)
    assert store.get(b"k", 0) is None
    assert list(store.all()) == []


def test_empty_value_is_a_value(store: Any) -> None:
    store.put(b"k", b"", 5)
    assert store.get(b"k", 5) == b""
    assert list(store.fetch(b"k", 0, 10)) == [(5, b"")]


def test_fetch_is_inclusive_and_ordered_across_segments(store: Any) -> None:
    times = [0, 10_000, 59_999, 60_000, 70_000, 119_999, 120_000]
    shuffled = times[:]
    random.Random(3).shuffle(shuffled)
    for t in shuffled:
        store.put(b"k", str(t).encode(), t)
    store.put(b"other", b"x", 60_000)
    # Stream time 120 000, retention 100 000: windows from 20 001 on are live.
    live = [t for t in times if t >= 20_001]
    assert ts_values(store.fetch(b"k", 0, MAX_TIMESTAMP)) == [(t, str(t).encode()) for t in live]
    assert ts_values(store.backward_fetch(b"k", 0, MAX_TIMESTAMP)) == [
        (t, str(t).encode()) for t in reversed(live)
    ]
    assert [t for t, _ in store.fetch(b"k", 59_999, 70_000)] == [59_999, 60_000, 70_000]
    assert [t for t, _ in store.fetch(b"k", 60_000, 60_000)] == [60_000]
    assert [t for t, _ in store.fetch(b"k", 60_001, 69_999)] == []
    assert list(store.fetch(b"k", 70_000, 60_000)) == []  # from > to
    assert list(store.fetch(b"nope", 0, MAX_TIMESTAMP)) == []


def test_fetch_ignores_keys_that_extend_the_key(store: Any) -> None:
    # b"a" + 8 bytes spelling timestamp 5: its store keys fall inside the byte range of a fetch
    # of b"a" over [0, 10], and must be filtered out by length.
    tricky = b"a" + struct.pack(">q", 5)
    store.put(tricky, b"tricky", 7)
    store.put(b"a", b"a", 7)
    store.put(b"ab", b"ab", 7)
    store.put(b"", b"empty", 7)
    assert list(store.fetch(b"a", 0, 10)) == [(7, b"a")]
    assert list(store.fetch(tricky, 0, 10)) == [(7, b"tricky")]
    assert list(store.fetch(b"", 0, 10)) == [(7, b"empty")]
    assert store.get(b"a", 7) == b"a"


def test_fetch_range_key_bounds(store: Any) -> None:
    for key in [b"a", b"b", b"c", b"d"]:
        for t in (1_000, 2_000):
            store.put(key, key + str(t).encode(), t)
    got = [(k, t) for k, t, _ in store.fetch_range(b"b", b"c", 0, 5_000)]
    assert got == [(b"b", 1_000), (b"b", 2_000), (b"c", 1_000), (b"c", 2_000)]
    assert [(k, t) for k, t, _ in store.fetch_range(b"b", b"c", 2_000, 2_000)] == [
        (b"b", 2_000),
        (b"c", 2_000),
    ]
    assert [k for k, _, _ in store.fetch_range(None, b"a", 0, 5_000)] == [b"a", b"a"]
    assert [k for k, _, _ in store.fetch_range(b"d", None, 0, 5_000)] == [b"d", b"d"]
    assert len(list(store.fetch_range(None, None, 0, 5_000))) == 8
    assert list(store.fetch_range(b"c", b"b", 0, 5_000)) == []  # from > to: empty
    assert list(store.fetch_range(b"bb", b"bc", 0, 5_000)) == []
    forward = list(store.fetch_range(b"a", b"d", 0, 5_000))
    assert list(store.backward_fetch_range(b"a", b"d", 0, 5_000)) == forward[::-1]


def test_fetch_range_finds_prefixes_of_key_to_with_large_timestamps(store: Any) -> None:
    # The store key of b"a" at 2**56 is b"a\x01..." and sorts after b"a\x00" + any suffix: a
    # naive upper bound of key_to + max suffix would miss it.
    t = 1 << 56
    store.put(b"a", b"A", t)
    store.put(b"a\x00", b"A0", t)
    store.put(b"a\x01", b"A1", t)
    got = [(k, v) for k, _, v in store.fetch_range(b"a", b"a\x00", 0, MAX_TIMESTAMP)]
    assert sorted(got) == [(b"a", b"A"), (b"a\x00", b"A0")]
    assert [k for k, _, _ in store.fetch_range(None, b"a", 0, MAX_TIMESTAMP)] == [b"a"]
    assert range_upper_bound(b"a\x00", b"\x01") == b"a\x01"


def test_fetch_all_and_all(store: Any) -> None:
    store.put(b"b", b"1", 1_000)
    store.put(b"a", b"2", 2_000)
    store.put(b"a", b"3", 70_000)  # second segment
    assert list(store.fetch_all(0, 2_000)) == [(b"a", 2_000, b"2"), (b"b", 1_000, b"1")]
    assert list(store.fetch_all(1_500, 80_000)) == [(b"a", 2_000, b"2"), (b"a", 70_000, b"3")]
    # Segment by segment, then key, then time.
    everything = [(b"a", 2_000, b"2"), (b"b", 1_000, b"1"), (b"a", 70_000, b"3")]
    assert list(store.all()) == everything
    assert list(store.backward_all()) == everything[::-1]
    assert list(store.backward_fetch_all(0, MAX_TIMESTAMP)) == everything[::-1]
    assert list(store.fetch_all(5, 4)) == []


def test_expired_puts_are_skipped_and_reads_hide_expired_records(store: Any) -> None:
    store.put(b"k", b"old", 10_000)
    assert store.put(b"k", b"new", 110_000) is not None  # min live = 10 001
    assert store.observed_stream_time == 110_000
    assert store.get(b"k", 10_000) is None  # still in a live segment, but expired
    assert list(store.fetch(b"k", 0, MAX_TIMESTAMP)) == [(110_000, b"new")]
    assert list(store.all()) == [(b"k", 110_000, b"new")]
    # A put at or before stream time - retention is a no-op (Kafka Streams: expired segment).
    assert store.put(b"k", b"late", 10_000) is None
    assert store.put(b"k", b"late", 10_001) is not None
    assert store.expired_record_count == 1
    assert [t for t, _ in store.fetch(b"k", 0, MAX_TIMESTAMP)] == [10_001, 110_000]


def test_whole_segments_are_dropped_as_stream_time_advances(store: Any) -> None:
    for t in (0, 60_000, 120_000):
        store.put(b"k", b"v", t)
    assert store.segment_ids == [0, 1, 2]
    store.put(b"k", b"v", 179_999)  # min live 80 000: segment 0 (0..59 999) is expired
    assert store.segment_ids == [1, 2]
    store.put(b"k", b"v", 220_000)  # min live 120 001: segment 1 goes too
    assert store.segment_ids == [2, 3]
    assert [t for t, _ in store.fetch(b"k", 0, MAX_TIMESTAMP)] == [179_999, 220_000]


def test_delete_of_a_window_in_no_segment_creates_nothing(store: Any) -> None:
    assert store.put(b"k", None, 5_000) == window_store_key(b"k", 5_000)
    assert store.segment_ids == []


def test_out_of_order_record_creates_an_older_live_segment(store: Any) -> None:
    store.put(b"k", b"new", 90_000)
    store.put(b"k", b"older", 20_000)
    assert store.segment_ids == [0, 1]
    assert [t for t, _ in store.fetch(b"k", 0, MAX_TIMESTAMP)] == [20_000, 90_000]


def test_negative_timestamps(store: Any) -> None:
    with pytest.raises(StateStoreError, match="negative"):
        store.put(b"k", b"v", -1)
    store.put(b"k", b"v", 0)
    assert list(store.fetch(b"k", -100, 100)) == [(0, b"v")]
    assert store.get(b"k", -1) is None
    assert list(store.fetch(b"k", -100, -1)) == []


def test_retain_duplicates_keeps_every_put(make_window: WindowFactory) -> None:
    store = make_window(retain_duplicates=True)
    assert store.retain_duplicates
    k1 = store.put(b"k", b"1", 100)
    k2 = store.put(b"k", b"2", 100)
    k3 = store.put(b"k", b"1", 100)
    assert [split_window_store_key(k)[2] for k in (k1, k2, k3)] == [1, 2, 3]
    assert store.put(b"k", None, 100) is None  # no-op with duplicates
    store.put(b"k", b"3", 50)
    assert list(store.fetch(b"k", 0, 200)) == [(50, b"3"), (100, b"1"), (100, b"2"), (100, b"1")]
    assert list(store.backward_fetch(b"k", 0, 200)) == [
        (100, b"1"),
        (100, b"2"),
        (100, b"1"),
        (50, b"3"),
    ]
    assert store.get(b"k", 100) == b"1"  # the first one put
    assert len(list(store.all())) == 4


def test_iterators_survive_writes_that_drop_segments(store: Any) -> None:
    for t in (0, 30_000, 60_000, 90_000):
        store.put(b"k", str(t).encode(), t)
    it = store.fetch(b"k", 0, MAX_TIMESTAMP)
    assert next(it) == (0, b"0")
    store.put(b"k", b"late", 200_000)  # drops segment 0 while `it` is reading it
    assert store.segment_ids == [1, 3]
    # The iteration of the dropped segment just ends; the iterator goes on with the segments
    # that existed when it was created (so it does not see the new segment 3).
    assert list(it) == [(60_000, b"60000"), (90_000, b"90000")]
    all_it = store.all()
    store.put(b"k", b"x", 200_001)
    assert [t for _, t, _ in all_it] == [200_000, 200_001]


def test_reads_from_another_thread_see_the_same_data(store: Any) -> None:
    """Interactive queries read from other threads (RocksDB: pending writes not flushed)."""
    for t in (0, 30_000, 70_000):
        store.put(b"k", str(t).encode(), t)
        store.put(b"j", b"j", t)
    store.flush()
    store.put(b"k", b"pending", 80_000)  # RocksDB: still in the pending dict
    got: list[Any] = []

    def read() -> None:
        got.append((list(store.fetch(b"k", 0, MAX_TIMESTAMP)), list(store.all())))

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert got == [
        (
            [(0, b"0"), (30_000, b"30000"), (70_000, b"70000"), (80_000, b"pending")],
            [
                (b"j", 0, b"j"),
                (b"j", 30_000, b"j"),
                (b"k", 0, b"0"),
                (b"k", 30_000, b"30000"),
                (b"j", 70_000, b"j"),
                (b"k", 70_000, b"70000"),
                (b"k", 80_000, b"pending"),
            ],
        )
    ]


def test_closed_store_raises(make_window: WindowFactory) -> None:
    store = make_window()
    store.put(b"k", b"v", 0)
    it = store.fetch(b"k", 0, 10)
    store.close()
    assert not store.is_open
    for call in (
        lambda: store.put(b"k", b"v", 0),
        lambda: store.get(b"k", 0),
        lambda: store.fetch(b"k", 0, 10),
        lambda: store.fetch_range(None, None, 0, 10),
        lambda: store.all(),
        lambda: list(it),
    ):
        with pytest.raises(InvalidStateStoreError):
            call()
    store.close()  # idempotent


def test_init_twice_raises(store: Any, context: Any) -> None:
    with pytest.raises(StateStoreError, match="already open"):
        store.init(context)


def test_flush_keeps_data(store: Any) -> None:
    store.put(b"k", b"v", 1)
    store.flush()
    assert store.get(b"k", 1) == b"v"


def test_restore_applies_changelog_records(make_window: WindowFactory, context: Any) -> None:
    store = make_window()
    restore = context.registered["win"][1]
    restore(
        [
            (window_store_key(b"a", 1_000), b"1"),
            (window_store_key(b"b", 2_000), b"2"),
            (window_store_key(b"a", 1_000), None),
            (window_store_key(b"c", 500), b"expired by the batch"),
            (window_store_key(b"c", 100_600), b"3"),
            (window_store_key(b"d", 5), None),  # tombstone of nothing
        ]
    )
    assert store.observed_stream_time == 100_600
    assert list(store.all()) == [(b"b", 2_000, b"2"), (b"c", 100_600, b"3")]
    restore([])
    with pytest.raises(StateStoreError, match="shorter"):
        restore([(b"short", b"x")])


def test_restored_duplicates_are_not_overwritten_by_new_ones(
    make_window: WindowFactory, context: Any
) -> None:
    store = make_window(retain_duplicates=True)
    context.registered["win"][1](
        [(window_store_key(b"k", 10, 1), b"1"), (window_store_key(b"k", 10, 2), b"2")]
    )
    store.put(b"k", b"3", 10)
    assert [v for _, v in store.fetch(b"k", 0, 20)] == [b"1", b"2", b"3"]


def test_random_operations_match_a_model(make_window: WindowFactory) -> None:
    """Differential test against a dict model, with retention and multi-segment ranges."""
    store = make_window(retention_ms=150_000, segment_interval_ms=20_000)
    rnd = random.Random(11)
    keys = [b"", b"a", b"a\x00", b"ab", b"b", b"\xff", b"a" + struct.pack(">q", 3)]
    model: dict[tuple[bytes, int], bytes] = {}
    stream_time = -1
    for step in range(1_500):
        key = rnd.choice(keys)
        if rnd.random() < 0.7:
            t = max(0, stream_time - rnd.randrange(170_000))
        else:
            t = max(0, stream_time) + rnd.randrange(5_000)
        value = None if rnd.random() < 0.15 else str(step).encode()
        stream_time = max(stream_time, t)
        min_live = stream_time - 150_000 + 1
        wrote = store.put(key, value, t)
        assert (wrote is None) == (t < min_live)
        if t >= min_live:
            if value is None:
                model.pop((key, t), None)
            else:
                model[(key, t)] = value
        if step % 50 == 0:
            live = {kt: v for kt, v in model.items() if kt[1] >= min_live}
            lo = rnd.randrange(max(1, stream_time))
            hi = lo + rnd.randrange(100_000)
            k = rnd.choice(keys)
            expected = sorted((t2, v) for (k2, t2), v in live.items() if k2 == k and lo <= t2 <= hi)
            assert list(store.fetch(k, lo, hi)) == expected
            assert list(store.backward_fetch(k, lo, hi)) == expected[::-1]
            kf, kt_ = sorted((rnd.choice(keys), rnd.choice(keys)))
            got = sorted(store.fetch_range(kf, kt_, lo, hi))
            assert got == sorted(
                (k2, t2, v) for (k2, t2), v in live.items() if kf <= k2 <= kt_ and lo <= t2 <= hi
            )
            assert sorted(store.all()) == sorted((k2, t2, v) for (k2, t2), v in live.items())
            for (k2, t2), v in list(live.items())[:20]:
                assert store.get(k2, t2) == v


# -- RocksDB specifics ---------------------------------------------------------------------------


@pytest.fixture
def rocks(context: Any) -> Iterator[Callable[..., RocksDBWindowStore]]:
    made: list[RocksDBWindowStore] = []

    def make(name: str = "win", ctx: Any = None, **kwargs: Any) -> RocksDBWindowStore:
        kwargs.setdefault("retention_ms", RETENTION)
        kwargs.setdefault("window_size_ms", SIZE)
        store = RocksDBWindowStore(name, **kwargs)
        store.init(ctx or context)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def test_rocksdb_segments_are_directories_named_by_start(rocks: Any, context: Any) -> None:
    store = rocks()
    store.put(b"k", b"v", 5)
    store.put(b"k", b"v", 65_000)
    store.flush()
    assert store.path == context.state_dir / "win"
    assert sorted(p.name for p in store.path.iterdir()) == ["win.0", "win.60000"]
    assert (store.path / "win.60000" / "CURRENT").exists()
    store.put(b"k", b"v", 170_000)  # min live 70 001: segment 0 dropped, directory removed
    assert sorted(p.name for p in store.path.iterdir()) == ["win.120000", "win.60000"]


def test_rocksdb_reads_see_pending_writes(rocks: Any) -> None:
    store = rocks(max_pending_writes=1_000)
    store.put(b"k", b"1", 5)
    store.put(b"k", b"2", 6)
    store.put(b"k", None, 6)
    assert store.get(b"k", 5) == b"1"
    assert list(store.fetch(b"k", 0, 10)) == [(5, b"1")]


def test_rocksdb_reopen_keeps_data_and_a_lower_bound_of_stream_time(
    rocks: Any, make_context: Any
) -> None:
    ctx = make_context()
    store = rocks(ctx=ctx)
    store.put(b"k", b"a", 10_000)
    store.put(b"k", b"b", 130_000)
    store.close()
    again = rocks(ctx=make_context(state_dir=ctx.state_dir))
    # Stream time is not persisted: it restarts at the start of the newest segment.
    assert again.observed_stream_time == 120_000
    assert again.segment_ids == [0, 2]
    # 10 000 was already expired (min live 30 001) and stays hidden (min live 20 001 now).
    assert list(again.fetch(b"k", 0, MAX_TIMESTAMP)) == [(130_000, b"b")]
    assert again.get(b"k", 130_000) == b"b"


def test_rocksdb_reopen_drops_segments_expired_by_the_lower_bound(
    rocks: Any, make_context: Any
) -> None:
    ctx = make_context()
    store = rocks(ctx=ctx, segment_interval_ms=10_000)
    store.put(b"k", b"a", 5_000)
    store.put(b"k", b"b", 100_000)
    store.put(b"k", b"c", 240_000)  # drops everything before 140 001 (segment 14 stays)
    assert store.segment_ids == [24]
    store.close()
    again = rocks(ctx=make_context(state_dir=ctx.state_dir), segment_interval_ms=10_000)
    assert again.segment_ids == [24]
    assert list(again.all()) == [(b"k", 240_000, b"c")]


def test_rocksdb_changed_segment_interval_is_refused(rocks: Any, make_context: Any) -> None:
    ctx = make_context()
    store = rocks(ctx=ctx, segment_interval_ms=50_000)
    store.put(b"k", b"v", 50_000)
    store.close()
    with pytest.raises(StateStoreError, match="interval changed"):
        RocksDBWindowStore("win", RETENTION, SIZE, segment_interval_ms=60_000).init(
            make_context(state_dir=ctx.state_dir)
        )


def test_rocksdb_ignores_foreign_entries(rocks: Any, context: Any) -> None:
    (context.state_dir / "win").mkdir(parents=True)
    (context.state_dir / "win" / "notes.txt").write_text("x")
    (context.state_dir / "win" / "win.abc").mkdir()
    store = rocks()
    assert store.segment_ids == []


def test_rocksdb_discard_pending_and_destroy(rocks: Any, make_context: Any) -> None:
    ctx = make_context()
    store = rocks(ctx=ctx)
    store.put(b"k", b"kept", 1)
    store.flush()
    store.put(b"k", b"lost", 2)
    store.discard_pending()
    store.close()
    store.discard_pending()  # closed: nothing to do
    again = rocks(ctx=make_context(state_dir=ctx.state_dir))
    assert list(again.fetch(b"k", 0, 10)) == [(1, b"kept")]
    again.destroy()
    assert not (ctx.state_dir / "win").exists()


def test_rocksdb_needs_a_state_dir(make_context: Any) -> None:
    with pytest.raises(StateStoreError, match="state directory"):
        RocksDBWindowStore("win", RETENTION, SIZE).init(make_context(state_dir=None))


def test_rocksdb_config_setter_runs_once_per_store(rocks: Any) -> None:
    calls: list[str] = []
    store = rocks(config_setter=lambda name, options: calls.append(name))
    store.put(b"k", b"v", 1)
    store.put(b"k", b"v", 61_000)
    assert calls == ["win"]


def test_in_memory_store_leaves_nothing_on_disk(context: Any) -> None:
    store = InMemoryWindowStore("win", RETENTION, SIZE)
    store.init(context)
    store.put(b"k", b"v", 1)
    store.close()
    assert not (Path(context.state_dir) / "win").exists()


def test_invalid_arguments() -> None:
    with pytest.raises(StateStoreError):
        InMemoryWindowStore("", RETENTION, SIZE)
    with pytest.raises(StateStoreError):
        InMemoryWindowStore("w", -1, SIZE)
    with pytest.raises(StateStoreError):
        InMemoryWindowStore("w", RETENTION, -1)
    with pytest.raises(StateStoreError):
        InMemoryWindowStore("w", RETENTION, SIZE, segment_interval_ms=0)


# -- changelogging layer ---------------------------------------------------------------------------


def test_changes_are_logged_with_kafka_streams_keys(kind: str, context: Any) -> None:
    cls = InMemoryWindowStore if kind == "memory" else RocksDBWindowStore
    logged = ChangeLoggingWindowStore(cls("win", RETENTION, SIZE))
    logged.init(context)
    changes = context.changelog_writer.changes
    context.timestamp = 42
    logged.put(b"k", b"1", 1_000)
    context.timestamp = 43
    logged.put(b"k", None, 1_000)
    logged.put(b"k", b"2", 200_000)
    logged.put(b"k", b"late", 1_000)  # expired: skipped, not logged
    assert changes == [
        ("win", b"k" + struct.pack(">qi", 1_000, 0), b"1", 42),
        ("win", b"k" + struct.pack(">qi", 1_000, 0), None, 43),
        ("win", b"k" + struct.pack(">qi", 200_000, 0), b"2", 43),
    ]
    assert logged.get(b"k", 200_000) == b"2"
    assert logged.inner.is_open and logged.is_open
    assert logged.retention_ms == RETENTION and logged.window_size_ms == SIZE
    logged.close()


def test_changelog_round_trips_into_a_fresh_store(
    make_window: WindowFactory, make_context: Any, kind: str
) -> None:
    ctx = make_context()
    cls = InMemoryWindowStore if kind == "memory" else RocksDBWindowStore
    logged = ChangeLoggingWindowStore(cls("dups", RETENTION, SIZE, True))
    logged.init(ctx)
    for i in range(5):
        logged.put(b"k%d" % (i % 2), b"%d" % i, 1_000 * (i % 3))
    assert logged.put(b"k0", None, 0) is None  # duplicates: ignored and not logged
    expected = list(logged.all())
    logged.close()
    fresh_ctx = make_context(state_dir=ctx.state_dir.parent / "other")
    fresh = make_window(name="dups", retain_duplicates=True, ctx=fresh_ctx)
    fresh_ctx.restore("dups", [(k, v) for _, k, v, _ in ctx.changelog_writer.changes])
    assert list(fresh.all()) == expected


def test_logging_without_writer(make_context: Any) -> None:
    logged = ChangeLoggingWindowStore(InMemoryWindowStore("w2", RETENTION, SIZE))
    logged.init(make_context(changelog_writer=None))
    assert logged.put(b"k", b"v", 1) is not None
    assert list(logged.fetch(b"k", 0, 5)) == [(1, b"v")]


# -- typed layer -----------------------------------------------------------------------------------


@pytest.fixture
def typed(kind: str, context: Any, string_serde: Any, long_serde: Any) -> Iterator[Any]:
    cls = InMemoryWindowStore if kind == "memory" else RocksDBWindowStore
    store: WindowStore[str, int] = WindowStore(
        ChangeLoggingWindowStore(cls("counts", RETENTION, SIZE)), string_serde, long_serde
    )
    store.init(context)
    yield store
    store.close()


def test_typed_single_key_reads_return_timestamp_and_value(typed: Any) -> None:
    typed.put("alice", 1, 0)
    typed.put("alice", 2, 10_000)
    typed.put("bob", 3, 10_000)
    assert typed.get("alice", 10_000) == 2
    assert typed.get("alice", 5) is None
    assert list(typed.fetch("alice", 0, 20_000)) == [(0, 1), (10_000, 2)]
    assert list(typed.backward_fetch("alice", 0, 20_000)) == [(10_000, 2), (0, 1)]
    typed.put("alice", None, 0)
    assert list(typed.fetch("alice", 0, 20_000)) == [(10_000, 2)]


def test_typed_range_reads_return_windowed_keys(typed: Any) -> None:
    typed.put("alice", 1, 0)
    typed.put("bob", 3, 10_000)
    w = Windowed("alice", TimeWindow(0, SIZE))
    b = Windowed("bob", TimeWindow(10_000, 10_000 + SIZE))
    assert list(typed.fetch_range("a", "b", 0, 20_000)) == [(w, 1)]
    assert list(typed.fetch_range(None, None, 0, 20_000)) == [(w, 1), (b, 3)]
    assert list(typed.backward_fetch_range("alice", "bob", 0, 20_000)) == [(b, 3), (w, 1)]
    assert list(typed.fetch_all(5_000, 20_000)) == [(b, 3)]
    assert list(typed.backward_fetch_all(0, 20_000)) == [(b, 3), (w, 1)]
    assert list(typed.all()) == [(w, 1), (b, 3)]
    assert list(typed.backward_all()) == [(b, 3), (w, 1)]


def test_typed_store_properties_and_logging(typed: Any, context: Any) -> None:
    assert typed.name == "counts"
    assert typed.serde_topic == "app-counts-changelog"
    assert typed.window_size_ms == SIZE and typed.retention_ms == RETENTION
    assert typed.retain_duplicates is False
    assert typed.is_open
    context.timestamp = 7
    typed.put("a", 1, 0)
    assert context.changelog_writer.changes == [
        ("counts", b"a" + bytes(12), struct.pack(">q", 1), 7)
    ]
    with pytest.raises(StateStoreError, match="None keys"):
        typed.put(None, 1, 0)
    assert typed.get(None, 0) is None
    typed.flush()
    typed.close()
    assert not typed.is_open
    with pytest.raises(InvalidStateStoreError):
        typed.put("a", 1, 0)
    with pytest.raises(InvalidStateStoreError):
        typed.fetch("a", 0, 1)


def test_typed_store_needs_serdes(string_serde: Any) -> None:
    with pytest.raises(StateStoreError, match="serde"):
        WindowStore(InMemoryWindowStore("w", RETENTION, SIZE), string_serde, None)  # type: ignore[arg-type]


def test_window_end_is_capped(context: Any, string_serde: Any, long_serde: Any) -> None:
    store: WindowStore[str, int] = WindowStore(
        InMemoryWindowStore("w", MAX_TIMESTAMP, 1_000), string_serde, long_serde
    )
    store.init(context)
    store.put("k", 1, MAX_TIMESTAMP - 10)
    [(windowed, _)] = list(store.all())
    assert windowed.window == TimeWindow(MAX_TIMESTAMP - 10, MAX_TIMESTAMP)
    store.close()


# -- suppliers and builders ------------------------------------------------------------------------


def test_suppliers() -> None:
    mem = in_memory_window_store("w", RETENTION, SIZE)
    assert isinstance(mem, InMemoryWindowBytesStoreSupplier)
    assert isinstance(mem, WindowBytesStoreSupplier)
    assert (mem.name, mem.persistent, mem.retention_ms, mem.window_size_ms) == (
        "w",
        False,
        RETENTION,
        SIZE,
    )
    assert mem.segment_interval_ms == INTERVAL and not mem.retain_duplicates
    assert mem.metrics_scope == "in-memory-window"
    first, second = mem.get(), mem.get()
    assert isinstance(first, InMemoryWindowStore) and first is not second
    rocks = persistent_window_store("w", RETENTION, SIZE, True, segment_interval_ms=1_000)
    assert isinstance(rocks, RocksDBWindowBytesStoreSupplier)
    assert not isinstance(rocks, InMemoryWindowBytesStoreSupplier)
    assert rocks.persistent and rocks.retain_duplicates and rocks.segment_interval_ms == 1_000
    made = rocks.get()
    assert isinstance(made, RocksDBWindowStore)
    assert made.segment_interval_ms == 1_000 and made.retain_duplicates
    assert "w" in repr(rocks) and "w" in repr(mem)


@pytest.mark.parametrize(
    ("retention", "size", "match"),
    [(-1, 0, "negative"), (10, -1, "negative"), (10, 20, "no smaller"), (1.5, 1, "int")],
)
def test_supplier_validation(retention: Any, size: Any, match: str) -> None:
    with pytest.raises(StateStoreError, match=match):
        in_memory_window_store("w", retention, size)


def test_supplier_rejects_illegal_names() -> None:
    with pytest.raises(StateStoreError):
        persistent_window_store("a/b", RETENTION, SIZE)


def test_builder_shape_and_changelog_config(string_serde: Any, long_serde: Any) -> None:
    builder = window_store_builder(
        persistent_window_store("w", RETENTION, SIZE), string_serde, long_serde
    )
    assert builder.store_type == "window"
    assert builder.name == "w" and builder.persistent and builder.logging_enabled
    assert builder.key_serde is string_serde and builder.value_serde is long_serde
    assert builder.window_size_ms == SIZE and builder.retention_ms == RETENTION
    assert builder.log_config == {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(RETENTION + 86_400_000),
    }
    assert builder.with_logging_enabled({"min.insync.replicas": 2, "retention.ms": "1"}) is builder
    assert builder.log_config == {
        "cleanup.policy": "compact,delete",
        "min.insync.replicas": "2",
        "retention.ms": str(RETENTION + 86_400_000),  # computed from the store: always wins
    }
    assert builder.with_caching_enabled().caching_enabled
    assert not builder.with_caching_disabled().caching_enabled
    assert not builder.with_logging_disabled().logging_enabled
    assert "w" in repr(builder)


def test_builder_builds_the_layers(context: Any, string_serde: Any, long_serde: Any) -> None:
    builder = window_store_builder(
        in_memory_window_store("w", RETENTION, SIZE), string_serde, long_serde
    )
    store = builder.build()
    assert isinstance(store, WindowStore)
    assert isinstance(store.inner, ChangeLoggingWindowStore)
    assert isinstance(store.inner.inner, InMemoryWindowStore)
    unlogged = builder.with_logging_disabled().build()
    assert isinstance(unlogged.inner, InMemoryWindowStore)
    assert builder.build() is not builder.build()


def test_builder_default_serdes_and_missing_serdes(string_serde: Any, long_serde: Any) -> None:
    builder = window_store_builder(in_memory_window_store("w", RETENTION, SIZE))
    with pytest.raises(StateStoreError, match="no key serde"):
        builder.build()
    filled = builder.with_default_serdes(string_serde, long_serde)
    assert filled is not builder and builder.key_serde is None
    assert filled.key_serde is string_serde and filled.value_serde is long_serde
    assert isinstance(filled.build(), WindowStore)
    only_key = window_store_builder(in_memory_window_store("w", RETENTION, SIZE), string_serde)
    with pytest.raises(StateStoreError, match="no value serde"):
        only_key.build()


def test_builder_keeps_caching_off_with_duplicates() -> None:
    builder = window_store_builder(in_memory_window_store("j", RETENTION, SIZE, True))
    assert builder.retain_duplicates
    assert not builder.with_caching_enabled().caching_enabled
