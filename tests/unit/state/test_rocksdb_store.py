"""RocksDB-specific behaviour: on-disk layout, write batching, persistence, corruption, options."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rocksdict import AccessType, Options, Rdict

from streams.errors import InvalidStateStoreError, StateStoreError
from streams.state.rocksdb import RocksDBKeyValueStore, destroy_store_dir
from streams.state.rocksdb_options import default_rocksdb_options


@pytest.fixture
def open_store(context: Any) -> Iterator[Callable[..., RocksDBKeyValueStore]]:
    made: list[RocksDBKeyValueStore] = []

    def make(name: str = "counts", ctx: Any = None, **kwargs: Any) -> RocksDBKeyValueStore:
        store = RocksDBKeyValueStore(name, **kwargs)
        store.init(ctx or context)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def read_db_directly(path: Path, key: bytes) -> bytes | None:
    """What RocksDB itself holds (WAL + SST), read through a second, read-only instance."""
    db = Rdict(str(path), Options(raw_mode=True), access_type=AccessType.read_only(False))
    try:
        value: bytes | None = db.get(key)
        return value
    finally:
        db.close()


def test_store_lives_in_task_dir_under_its_name(open_store: Any, context: Any) -> None:
    store = open_store("counts")
    assert store.path == context.state_dir / "counts"
    assert (context.state_dir / "counts" / "CURRENT").exists()
    assert store.persistent


def test_pending_writes_visible_before_flush(open_store: Any) -> None:
    store = open_store()
    store.put(b"a", b"1")
    store.put(b"b", b"2")
    store.delete(b"b")
    assert store.get(b"a") == b"1"
    assert store.get(b"b") is None
    assert list(store.range(None, None)) == [(b"a", b"1")]


def test_writes_reach_rocksdb_only_at_flush(open_store: Any) -> None:
    store = open_store()
    store.put(b"a", b"1")
    assert read_db_directly(store.path, b"a") is None
    store.flush()
    assert read_db_directly(store.path, b"a") == b"1"
    store.delete(b"a")
    assert read_db_directly(store.path, b"a") == b"1"
    store.flush()
    assert read_db_directly(store.path, b"a") is None


def test_repeated_updates_collapse_into_one_pending_write(open_store: Any) -> None:
    store = open_store()
    for i in range(1000):
        store.put(b"hot", str(i).encode())
    assert len(store._pending) == 1
    store.flush()
    assert read_db_directly(store.path, b"hot") == b"999"


def test_scan_writes_pending_first(open_store: Any) -> None:
    store = open_store()
    store.put(b"a", b"1")
    assert list(store.prefix_scan(b"a")) == [(b"a", b"1")]
    assert read_db_directly(store.path, b"a") == b"1"


def test_pending_writes_are_bounded(open_store: Any) -> None:
    store = open_store(max_pending_writes=10)
    for i in range(25):
        store.put(bytes([i]), b"x")
    assert len(store._pending) < 10
    assert read_db_directly(store.path, bytes([0])) == b"x"
    assert store.get(bytes([24])) == b"x"


def test_data_survives_close_and_reopen(open_store: Any, context: Any) -> None:
    store = open_store()
    store.put(b"a", b"1")
    store.flush()
    store.put(b"b", b"2")  # close() flushes too
    store.close()
    reopened = open_store()
    assert list(reopened.all()) == [(b"a", b"1"), (b"b", b"2")]


def test_close_releases_the_lock_even_with_open_iterators(open_store: Any) -> None:
    store = open_store()
    store.put_all([(b"a", b"1"), (b"b", b"2")])
    forward, backward = store.all(), store.reverse_range(b"a", b"b")
    next(forward)
    store.close()
    reopened = open_store()  # would fail with "lock hold by current process" if leaked
    assert reopened.get(b"b") == b"2"
    with pytest.raises(InvalidStateStoreError):
        next(forward)
    with pytest.raises(InvalidStateStoreError):
        next(backward)


def test_exhausted_iterator_just_stops(open_store: Any) -> None:
    store = open_store()
    store.put(b"a", b"1")
    it = store.all()
    assert list(it) == [(b"a", b"1")]
    store.close()
    assert list(it) == []


def test_restore_overrides_pending_writes(open_store: Any, context: Any) -> None:
    store = open_store()
    store.put(b"a", b"pending")
    context.restore("counts", [(b"a", b"restored"), (b"b", b"2")])
    assert store.get(b"a") == b"restored"
    assert read_db_directly(store.path, b"b") == b"2"


def test_corrupt_directory_raises_state_store_error(open_store: Any, context: Any) -> None:
    path = context.state_dir / "counts"
    path.mkdir(parents=True)
    (path / "CURRENT").write_text("garbage\n")
    store = RocksDBKeyValueStore("counts")
    with pytest.raises(StateStoreError, match="counts") as info:
        store.init(context)
    assert str(path) in str(info.value)
    assert not store.is_open
    store.destroy()  # wipes the directory even though it never opened
    assert not path.exists()
    rebuilt = open_store()
    assert rebuilt.get(b"a") is None


def test_corrupt_manifest_raises_state_store_error(open_store: Any, context: Any) -> None:
    store = open_store()
    store.put(b"a", b"1")
    store.close()
    gc.collect()
    for manifest in (context.state_dir / "counts").glob("MANIFEST-*"):
        manifest.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(StateStoreError, match="could not open RocksDB state store 'counts'"):
        RocksDBKeyValueStore("counts").init(context)


def test_second_open_of_same_directory_fails(open_store: Any, context: Any) -> None:
    open_store()
    with pytest.raises(StateStoreError, match="counts"):
        RocksDBKeyValueStore("counts").init(context)


def test_destroy_removes_local_state(open_store: Any, context: Any) -> None:
    store = open_store()
    store.put(b"a", b"1")
    store.destroy()
    assert not (context.state_dir / "counts").exists()
    assert open_store().get(b"a") is None
    destroy_store_dir(context.state_dir / "missing")  # no error


def test_needs_a_state_dir(make_context: Any) -> None:
    store = RocksDBKeyValueStore("counts")
    with pytest.raises(StateStoreError, match="needs a state directory"):
        store.init(make_context(state_dir=None))


def test_non_raw_options_are_rejected(context: Any) -> None:
    options = Options()
    options.create_if_missing(True)
    store = RocksDBKeyValueStore("counts", options)
    with pytest.raises(StateStoreError, match="raw_mode"):
        store.init(context)
    assert not store.is_open


def test_config_setter_sees_name_and_options(open_store: Any) -> None:
    calls: list[tuple[str, Any]] = []

    def setter(name: str, options: Options) -> None:
        calls.append((name, options))
        options.set_write_buffer_size(1 << 20)

    store = open_store("tuned", config_setter=setter)
    assert [name for name, _ in calls] == ["tuned"]
    store.put(b"a", b"1")
    assert store.get(b"a") == b"1"


def test_custom_raw_options(open_store: Any) -> None:
    options = default_rocksdb_options()
    store = open_store("custom", options=options)
    store.put(b"\xff", b"\x00")
    store.flush()
    assert store.get(b"\xff") == b"\x00"


@pytest.mark.parametrize("name", ["", ".", "..", "a/b"])
def test_names_that_are_not_directory_names_are_rejected(name: str) -> None:
    with pytest.raises(StateStoreError):
        RocksDBKeyValueStore(name)


def test_flush_without_fsync(open_store: Any) -> None:
    store = open_store(fsync_on_flush=False)
    store.put(b"a", b"1")
    store.flush()
    assert read_db_directly(store.path, b"a") == b"1"
