"""The changelogging layer logs every change, after writing, with the record's timestamp."""

from __future__ import annotations

from typing import Any

import pytest

from streams.state.changelogging import ChangeLoggingKeyValueStore


@pytest.fixture
def logged(store_factory: Any, context: Any) -> ChangeLoggingKeyValueStore:
    store = ChangeLoggingKeyValueStore(store_factory("counts"))
    store.init(context)
    return store


def test_every_change_is_logged_with_its_timestamp(
    logged: ChangeLoggingKeyValueStore, context: Any
) -> None:
    changes = context.changelog_writer.changes
    context.timestamp = 100
    logged.put(b"a", b"1")
    context.timestamp = 200
    logged.put(b"a", None)
    context.timestamp = 300
    logged.put_all([(b"b", b"2"), (b"c", b"3")])
    context.timestamp = 400
    assert logged.delete(b"b") == b"2"
    assert changes == [
        ("counts", b"a", b"1", 100),
        ("counts", b"a", None, 200),
        ("counts", b"b", b"2", 300),
        ("counts", b"c", b"3", 300),
        ("counts", b"b", None, 400),
    ]


def test_put_if_absent_logs_only_when_it_writes(
    logged: ChangeLoggingKeyValueStore, context: Any
) -> None:
    changes = context.changelog_writer.changes
    context.timestamp = 5
    assert logged.put_if_absent(b"a", b"1") is None
    assert logged.put_if_absent(b"a", b"2") == b"1"
    assert changes == [("counts", b"a", b"1", 5)]


def test_the_store_is_written_before_the_change_is_logged(store_factory: Any, context: Any) -> None:
    logged = ChangeLoggingKeyValueStore(store_factory("counts"))

    class CheckingWriter:
        def log_change(
            self, store_name: str, key: bytes, value: bytes | None, timestamp: int
        ) -> None:
            assert logged.get(key) == value

    context.changelog_writer = CheckingWriter()
    logged.init(context)
    logged.put(b"a", b"1")
    logged.put_if_absent(b"b", b"2")
    logged.put_all([(b"c", b"3")])
    logged.delete(b"a")


def test_put_all_accepts_a_generator(logged: ChangeLoggingKeyValueStore, context: Any) -> None:
    logged.put_all((bytes([i]), b"x") for i in range(3))
    assert [c[1] for c in context.changelog_writer.changes] == [b"\x00", b"\x01", b"\x02"]
    assert logged.approximate_num_entries() >= 1


def test_without_a_writer_nothing_is_logged(store_factory: Any, make_context: Any) -> None:
    logged = ChangeLoggingKeyValueStore(store_factory("counts"))
    logged.init(make_context(changelog_writer=None))
    logged.put(b"a", b"1")
    logged.delete(b"a")
    logged.put_if_absent(b"b", b"1")
    assert logged.get(b"b") == b"1"


def test_restoration_is_not_logged(logged: ChangeLoggingKeyValueStore, context: Any) -> None:
    context.restore("counts", [(b"a", b"1")])
    assert logged.get(b"a") == b"1"
    assert context.changelog_writer.changes == []


def test_reads_and_lifecycle_delegate(logged: ChangeLoggingKeyValueStore) -> None:
    logged.put_all([(b"a", b"1"), (b"ab", b"2"), (b"b", b"3")])
    assert logged.name == "counts"
    assert logged.is_open
    assert logged.persistent is logged.inner.persistent
    assert list(logged.range(b"a", b"ab")) == [(b"a", b"1"), (b"ab", b"2")]
    assert [k for k, _ in logged.reverse_range(None, None)] == [b"b", b"ab", b"a"]
    assert [k for k, _ in logged.all()] == [b"a", b"ab", b"b"]
    assert [k for k, _ in logged.reverse_all()] == [b"b", b"ab", b"a"]
    assert [k for k, _ in logged.prefix_scan(b"a")] == [b"a", b"ab"]
    logged.flush()
    logged.close()
    assert not logged.is_open
