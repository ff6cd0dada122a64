"""Session stores: one behavioural suite for both kinds, then RocksDB specifics, the changelogging
and typed layers, and the builders."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from streams.errors import InvalidStateStoreError, StateStoreError
from streams.processor.window_types import MAX_TIMESTAMP, SessionWindow, Windowed
from streams.state.changelogging_window import ChangeLoggingSessionStore
from streams.state.session_bytes_store import (
    InMemorySessionStore,
    RocksDBSessionStore,
    session_store_key,
    split_session_store_key,
)
from streams.state.typed_window import SessionStore
from streams.state.window_store_builders import (
    InMemorySessionBytesStoreSupplier,
    RocksDBSessionBytesStoreSupplier,
    SessionBytesStoreSupplier,
    in_memory_session_store,
    persistent_session_store,
    session_store_builder,
)

RETENTION = 100_000  # segment interval 60 000

SessionFactory = Callable[..., Any]


@pytest.fixture(params=["memory", "rocksdb"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def session_class(kind: str) -> type[Any]:
    return InMemorySessionStore if kind == "memory" else RocksDBSessionStore


@pytest.fixture
def make_session(kind: str, context: Any) -> Iterator[SessionFactory]:
    """Makes open session stores of the parametrized kind; closes whatever it made."""
    made: list[Any] = []

    def make(
        name: str = "sess", retention_ms: int = RETENTION, ctx: Any = None, **kwargs: Any
    ) -> Any:
        store = session_class(kind)(name, retention_ms, **kwargs)
        store.init(ctx or context)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_session: SessionFactory) -> Any:
    return make_session()


# -- behaviour shared by both kinds --------------------------------------------------------------


def test_flags(store: Any, kind: str) -> None:
    assert store.name == "sess" and store.is_open
    assert store.persistent is (kind == "rocksdb")
    assert store.retention_ms == RETENTION
    assert store.segment_interval_ms == 60_000


def test_layout_helpers() -> None:
    key = session_store_key(b"k", 3, 7)
    assert key == b"k" + struct.pack(">qq", 7, 3)  # end first, then start
    assert split_session_store_key(key) == (b"k", 3, 7)
    with pytest.raises(StateStoreError, match="fewer"):
        split_session_store_key(b"short")


def test_put_fetch_session_remove(store: Any) -> None:
    assert store.put(b"k", 10, 20, b"agg") == session_store_key(b"k", 10, 20)
    assert store.fetch_session(b"k", 10, 20) == b"agg"
    assert store.fetch_session(b"k", 10, 21) is None
    store.put(b"k", 10, 20, b"agg2")
    assert store.fetch_session(b"k", 10, 20) == b"agg2"
    assert store.remove(b"k", 10, 20) == session_store_key(b"k", 10, 20)
    assert store.fetch_session(b"k", 10, 20) is None
    store.put(b"k", 30, 30, b"one-record session")
    store.put(b"k", 30, 30, None)
    assert list(store.fetch(b"k")) == []


def test_find_sessions_semantics(store: Any) -> None:
    sessions = [(0, 10), (5, 30), (20, 25), (40, 50), (60_000, 61_000), (70_000, 70_000)]
    for s, e in sessions:
        store.put(b"k", s, e, b"%d-%d" % (s, e))
    store.put(b"other", 20, 25, b"x")

    def found(earliest_end: int, latest_start: int) -> list[tuple[int, int]]:
        return [(s, e) for s, e, _ in store.find_sessions(b"k", earliest_end, latest_start)]

    # end >= earliest_end and start <= latest_start, ordered by end then start
    assert found(25, 40) == [(20, 25), (5, 30), (40, 50)]
    assert found(11, 19) == [(5, 30)]
    assert found(0, MAX_TIMESTAMP) == [
        (0, 10),
        (20, 25),
        (5, 30),
        (40, 50),
        (60_000, 61_000),
        (70_000, 70_000),
    ]
    assert found(70_000, 70_000) == [(70_000, 70_000)]
    assert found(51, 59_999) == []
    assert found(0, -1) == []
    backward = [(s, e) for s, e, _ in store.backward_find_sessions(b"k", 0, MAX_TIMESTAMP)]
    assert backward == found(0, MAX_TIMESTAMP)[::-1]
    assert [(s, e) for s, e, _ in store.fetch(b"k")] == found(0, MAX_TIMESTAMP)
    assert [(s, e) for s, e, _ in store.backward_fetch(b"k")] == backward
    assert list(store.fetch(b"nobody")) == []


def test_find_sessions_ignores_keys_that_extend_the_key(store: Any) -> None:
    tricky = b"a" + struct.pack(">q", 100)  # its store keys fall in b"a"'s byte ranges
    store.put(tricky, 0, 5, b"tricky")
    store.put(b"a", 0, 200, b"a")
    store.put(b"ab", 0, 200, b"ab")
    assert list(store.find_sessions(b"a", 0, 1_000)) == [(0, 200, b"a")]
    assert list(store.fetch(tricky)) == [(0, 5, b"tricky")]


def test_range_reads(store: Any) -> None:
    for key in (b"a", b"b", b"c"):
        store.put(key, 0, 10, key + b"1")
        store.put(key, 100, 110, key + b"2")
    got = [(k, s, e) for k, s, e, _ in store.find_sessions_range(b"b", b"c", 50, 200)]
    assert got == [(b"b", 100, 110), (b"c", 100, 110)]
    got = [(k, s) for k, s, _, _ in store.find_sessions_range(None, b"a", 0, 50)]
    assert got == [(b"a", 0)]
    assert len(list(store.fetch_range(None, None))) == 6
    assert [k for k, _, _, _ in store.fetch_range(b"c", None)] == [b"c", b"c"]
    assert list(store.fetch_range(b"c", b"a")) == []
    forward = list(store.fetch_range(b"a", b"c"))
    assert list(store.backward_fetch_range(b"a", b"c")) == forward[::-1]
    assert (
        list(store.backward_find_sessions_range(b"a", b"c", 0, 50))
        == list(store.find_sessions_range(b"a", b"c", 0, 50))[::-1]
    )
    assert list(store.all()) == forward
    assert list(store.backward_all()) == forward[::-1]


def test_range_finds_prefixes_of_key_to(store: Any) -> None:
    big = 1 << 56
    store.put(b"a", big, big, b"A")
    store.put(b"a\x00", big, big, b"A0")
    assert sorted(v for *_, v in store.fetch_range(b"a", b"a\x00")) == [b"A", b"A0"]


def test_retention_uses_session_end(store: Any) -> None:
    store.put(b"k", 0, 10_000, b"old")
    store.put(b"k", 5_000, 50_000, b"long")
    store.put(b"k", 100_000, 110_000, b"new")  # stream time 110 000, min live 10 001
    assert store.observed_stream_time == 110_000
    assert [(s, e) for s, e, _ in store.fetch(b"k")] == [(5_000, 50_000), (100_000, 110_000)]
    assert store.fetch_session(b"k", 0, 10_000) is None
    assert store.put(b"k", 0, 10_000, b"late") is None  # expired: skipped
    assert store.expired_record_count == 1
    assert store.put(b"k", 0, 10_001, b"just live") is not None
    store.put(b"k", 200_000, 200_000, b"x")  # min live 100 001: segment 0 dropped
    assert store.segment_ids == [1, 3]
    assert [(s, e) for s, e, _ in store.fetch(b"k")] == [(100_000, 110_000), (200_000, 200_000)]


def test_invalid_sessions_raise(store: Any) -> None:
    with pytest.raises(StateStoreError, match="start <= end"):
        store.put(b"k", 10, 5, b"x")
    with pytest.raises(StateStoreError, match="start <= end"):
        store.put(b"k", -1, 5, b"x")


def test_remove_of_absent_session_creates_nothing(store: Any) -> None:
    assert store.remove(b"k", 0, 5) == session_store_key(b"k", 0, 5)
    assert store.segment_ids == []


def test_closed_store_raises(make_session: SessionFactory) -> None:
    store = make_session()
    store.put(b"k", 0, 1, b"v")
    it = store.fetch(b"k")
    store.close()
    for call in (
        lambda: store.put(b"k", 0, 1, b"v"),
        lambda: store.fetch_session(b"k", 0, 1),
        lambda: store.find_sessions(b"k", 0, 1),
        lambda: store.fetch_range(None, None),
        lambda: list(it),
    ):
        with pytest.raises(InvalidStateStoreError):
            call()


def test_restore(make_session: SessionFactory, context: Any) -> None:
    store = make_session()
    restore = context.registered["sess"][1]
    restore(
        [
            (session_store_key(b"a", 0, 100), b"1"),
            (session_store_key(b"a", 0, 100), None),
            (session_store_key(b"a", 0, 200), b"2"),
            (session_store_key(b"b", 0, 300), b"expired by the batch"),
            (session_store_key(b"b", 400, 100_500), b"3"),
        ]
    )
    assert store.observed_stream_time == 100_500
    assert list(store.all()) == [(b"b", 400, 100_500, b"3")]
    with pytest.raises(StateStoreError, match="shorter"):
        restore([(b"x", b"1")])


def test_merge_flow(store: Any) -> None:
    """How a session aggregation uses the store: find overlapping sessions, remove, put merged."""
    gap = 10

    def add(t: int) -> None:
        start, end, count = t, t, 1
        for s, e, v in list(store.find_sessions(b"k", t - gap, t + gap)):
            store.remove(b"k", s, e)
            start, end, count = min(start, s), max(end, e), count + int(v)
        store.put(b"k", start, end, b"%d" % count)

    for t in (0, 5, 30, 12, 50, 21):
        add(t)
    assert list(store.fetch(b"k")) == [(0, 30, b"5"), (50, 50, b"1")]


def test_random_operations_match_a_model(make_session: SessionFactory) -> None:
    store = make_session(retention_ms=150_000, segment_interval_ms=20_000)
    rnd = random.Random(5)
    keys = [b"", b"a", b"a\x00", b"b", b"a" + struct.pack(">q", 7)]
    model: dict[tuple[bytes, int, int], bytes] = {}
    stream_time = -1
    for step in range(1_500):
        key = rnd.choice(keys)
        if rnd.random() < 0.7:
            end = max(0, stream_time - rnd.randrange(170_000))
        else:
            end = max(0, stream_time) + rnd.randrange(5_000)
        start = max(0, end - rnd.randrange(30_000))
        value = None if rnd.random() < 0.15 else str(step).encode()
        stream_time = max(stream_time, end)
        min_live = stream_time - 150_000 + 1
        assert (store.put(key, start, end, value) is None) == (end < min_live)
        if end >= min_live:
            if value is None:
                model.pop((key, start, end), None)
            else:
                model[(key, start, end)] = value
        if step % 50 == 0:
            live = {kse: v for kse, v in model.items() if kse[2] >= min_live}
            earliest_end = rnd.randrange(max(1, stream_time))
            latest_start = earliest_end + rnd.randrange(60_000)
            k = rnd.choice(keys)
            expected = sorted(
                ((e, s), v)
                for (k2, s, e), v in live.items()
                if k2 == k and e >= earliest_end and s <= latest_start
            )
            got = [((e, s), v) for s, e, v in store.find_sessions(k, earliest_end, latest_start)]
            assert got == expected
            kf, kt = sorted((rnd.choice(keys), rnd.choice(keys)))
            got_range = sorted(store.find_sessions_range(kf, kt, earliest_end, latest_start))
            assert got_range == sorted(
                (k2, s, e, v)
                for (k2, s, e), v in live.items()
                if kf <= k2 <= kt and e >= earliest_end and s <= latest_start
            )
            assert sorted(store.all()) == sorted((k2, s, e, v) for (k2, s, e), v in live.items())


# -- RocksDB specifics ---------------------------------------------------------------------------


def test_rocksdb_layout_reopen_and_destroy(make_context: Any) -> None:
    ctx = make_context()
    store = RocksDBSessionStore("sess", RETENTION)
    store.init(ctx)
    store.put(b"k", 0, 1_000, b"a")
    store.put(b"k", 60_000, 61_000, b"b")
    assert store.path == ctx.state_dir / "sess"
    assert sorted(p.name for p in store.path.iterdir()) == ["sess.0", "sess.60000"]
    store.close()
    again = RocksDBSessionStore("sess", RETENTION)
    again.init(make_context(state_dir=ctx.state_dir))
    assert list(again.fetch(b"k")) == [(0, 1_000, b"a"), (60_000, 61_000, b"b")]
    assert again.observed_stream_time == 60_000
    again.put(b"k", 0, 2_000, b"pending")
    again.discard_pending()
    assert again.fetch_session(b"k", 0, 2_000) is None
    again.destroy()
    assert not (ctx.state_dir / "sess").exists()


# -- changelogging layer ---------------------------------------------------------------------------


def test_changes_are_logged_with_kafka_streams_keys(kind: str, context: Any) -> None:
    logged = ChangeLoggingSessionStore(session_class(kind)("sess", RETENTION))
    logged.init(context)
    changes = context.changelog_writer.changes
    context.timestamp = 9
    logged.put(b"k", 1, 5, b"v")
    logged.remove(b"k", 1, 5)
    logged.put(b"k", 200_000, 200_000, b"w")
    logged.put(b"k", 1, 5, b"late")  # expired: skipped and not logged
    assert changes == [
        ("sess", b"k" + struct.pack(">qq", 5, 1), b"v", 9),
        ("sess", b"k" + struct.pack(">qq", 5, 1), None, 9),
        ("sess", b"k" + struct.pack(">qq", 200_000, 200_000), b"w", 9),
    ]
    assert list(logged.find_sessions(b"k", 0, MAX_TIMESTAMP)) == [(200_000, 200_000, b"w")]
    assert logged.retention_ms == RETENTION and logged.is_open and logged.inner.is_open
    logged.close()


def test_changelog_round_trips_into_a_fresh_store(
    kind: str, make_context: Any, make_session: SessionFactory
) -> None:
    ctx = make_context()
    logged = ChangeLoggingSessionStore(session_class(kind)("sess", RETENTION))
    logged.init(ctx)
    for i in range(6):
        logged.put(b"k%d" % (i % 2), i, i + 10, b"%d" % i)
    logged.remove(b"k0", 2, 12)
    expected = list(logged.all())
    logged.close()
    fresh_ctx = make_context(state_dir=ctx.state_dir.parent / "other")
    fresh = make_session(ctx=fresh_ctx)
    fresh_ctx.restore("sess", [(k, v) for _, k, v, _ in ctx.changelog_writer.changes])
    assert list(fresh.all()) == expected


# -- typed layer -----------------------------------------------------------------------------------


@pytest.fixture
def typed(kind: str, context: Any, string_serde: Any, long_serde: Any) -> Iterator[Any]:
    store: SessionStore[str, int] = SessionStore(
        ChangeLoggingSessionStore(session_class(kind)("sessions", RETENTION)),
        string_serde,
        long_serde,
    )
    store.init(context)
    yield store
    store.close()


def test_typed_session_store(typed: Any, context: Any) -> None:
    a1 = Windowed("alice", SessionWindow(0, 10))
    a2 = Windowed("alice", SessionWindow(50, 60))
    b1 = Windowed("bob", SessionWindow(5, 5))
    typed.put(a1, 2)
    typed.put(a2, 3)
    typed.put(b1, 1)
    assert typed.serde_topic == "app-sessions-changelog"
    assert typed.retention_ms == RETENTION and typed.name == "sessions" and typed.is_open
    assert typed.fetch_session("alice", 0, 10) == 2
    assert typed.fetch_session(None, 0, 10) is None
    assert list(typed.find_sessions("alice", 5, 55)) == [(a1, 2), (a2, 3)]
    assert list(typed.backward_find_sessions("alice", 5, 55)) == [(a2, 3), (a1, 2)]
    assert list(typed.fetch("alice")) == [(a1, 2), (a2, 3)]
    assert list(typed.backward_fetch("alice")) == [(a2, 3), (a1, 2)]
    assert list(typed.find_sessions_range("alice", "bob", 0, 5)) == [(a1, 2), (b1, 1)]
    assert list(typed.backward_find_sessions_range(None, None, 0, 5)) == [(b1, 1), (a1, 2)]
    assert list(typed.fetch_range("b", None)) == [(b1, 1)]
    assert list(typed.backward_fetch_range(None, None)) == [(b1, 1), (a2, 3), (a1, 2)]
    assert list(typed.all()) == [(a1, 2), (a2, 3), (b1, 1)]
    assert list(typed.backward_all()) == [(b1, 1), (a2, 3), (a1, 2)]
    typed.remove(a1)
    typed.put(a2, None)
    assert list(typed.fetch("alice")) == []
    assert [c[1] for c in context.changelog_writer.changes][-2:] == [
        b"alice" + struct.pack(">qq", 10, 0),
        b"alice" + struct.pack(">qq", 60, 50),
    ]
    with pytest.raises(StateStoreError, match="None keys"):
        typed.put(Windowed(None, SessionWindow(0, 1)), 1)
    typed.flush()
    typed.close()
    with pytest.raises(InvalidStateStoreError):
        typed.find_sessions("alice", 0, 1)


# -- suppliers and builders ------------------------------------------------------------------------


def test_suppliers() -> None:
    mem = in_memory_session_store("s", RETENTION)
    assert isinstance(mem, InMemorySessionBytesStoreSupplier)
    assert isinstance(mem, SessionBytesStoreSupplier)
    assert (mem.name, mem.persistent, mem.retention_ms, mem.segment_interval_ms) == (
        "s",
        False,
        RETENTION,
        60_000,
    )
    assert isinstance(mem.get(), InMemorySessionStore) and mem.get() is not mem.get()
    rocks = persistent_session_store("s", RETENTION, segment_interval_ms=5_000)
    assert isinstance(rocks, RocksDBSessionBytesStoreSupplier)
    assert rocks.persistent and rocks.metrics_scope == "rocksdb-session"
    assert isinstance(rocks.get(), RocksDBSessionStore)
    assert rocks.get().segment_interval_ms == 5_000
    with pytest.raises(StateStoreError, match="negative"):
        in_memory_session_store("s", -1)
    with pytest.raises(StateStoreError):
        persistent_session_store("s", RETENTION, segment_interval_ms=0)


def test_builder(context: Any, string_serde: Any, long_serde: Any) -> None:
    builder = session_store_builder(in_memory_session_store("s", 1_000))
    assert builder.store_type == "session"
    assert builder.name == "s" and not builder.persistent and builder.logging_enabled
    assert builder.log_config == {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(1_000 + 86_400_000),
    }
    with pytest.raises(StateStoreError, match="no key serde"):
        builder.build()
    filled = builder.with_default_serdes(string_serde, long_serde)
    store = filled.build()
    assert isinstance(store, SessionStore)
    assert isinstance(store.inner, ChangeLoggingSessionStore)
    assert isinstance(filled.with_logging_disabled().build().inner, InMemorySessionStore)
    assert builder.supplier.name == "s"
    assert "s" in repr(builder)
