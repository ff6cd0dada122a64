"""The typed KeyValueStore wrapper and the read-only view, over both bytes stores."""

from __future__ import annotations

from typing import Any

import pytest

from streams.errors import InvalidStateStoreError, StateStoreError
from streams.serdes.base import BaseSerde, Headers
from streams.state.typed import KeyValueStore, ReadOnlyKeyValueStoreView


@pytest.fixture
def typed(
    store_factory: Any, context: Any, string_serde: Any, long_serde: Any
) -> KeyValueStore[str, int]:
    store: KeyValueStore[str, int] = KeyValueStore(
        store_factory("counts"), string_serde, long_serde
    )
    store.init(context)
    return store


class TopicRecorder(BaseSerde[str]):
    """String serde that remembers the topics it was called with."""

    def __init__(self) -> None:
        self.topics: set[str] = set()

    def serialize(
        self, topic: str, value: str | None, headers: Headers | None = None
    ) -> bytes | None:
        self.topics.add(topic)
        return super().serialize(topic, value, headers)

    def deserialize(
        self, topic: str, data: bytes | None, headers: Headers | None = None
    ) -> str | None:
        self.topics.add(topic)
        return super().deserialize(topic, data, headers)

    def _to(self, value: str) -> bytes:
        return value.encode()

    def _from(self, data: bytes) -> str:
        return data.decode()


def test_round_trips(typed: KeyValueStore[str, int]) -> None:
    assert typed.get("alice") is None
    typed.put("alice", 3)
    typed.put("bob", -1)
    assert typed.get("alice") == 3
    assert typed.get("bob") == -1
    assert typed.put_if_absent("alice", 9) == 3
    assert typed.put_if_absent("carol", 7) is None
    assert typed.get("carol") == 7
    assert typed.delete("bob") == -1
    assert typed.delete("bob") is None
    typed.put("carol", None)
    assert typed.get("carol") is None
    typed.put_all([("x", 1), ("y", 2), ("x", None)])
    assert list(typed.all()) == [("alice", 3), ("y", 2)]
    # RocksDB's estimate discounts deletes heavily, so only the in-memory count is exact
    assert typed.approximate_num_entries() >= (0 if typed.persistent else 2)


def test_scans_are_typed_and_ordered_by_serialized_key(typed: KeyValueStore[str, int]) -> None:
    for i, name in enumerate(["user-b", "user-a", "admin", "user-c", "zed"]):
        typed.put(name, i)
    assert [k for k, _ in typed.all()] == ["admin", "user-a", "user-b", "user-c", "zed"]
    assert [k for k, _ in typed.reverse_all()] == ["zed", "user-c", "user-b", "user-a", "admin"]
    assert list(typed.range("user-a", "user-b")) == [("user-a", 1), ("user-b", 0)]
    assert list(typed.reverse_range("user-a", "user-b")) == [("user-b", 0), ("user-a", 1)]
    assert [k for k, _ in typed.range(None, "b")] == ["admin"]
    assert [k for k, _ in typed.reverse_range("user-c", None)] == ["zed", "user-c"]
    assert [k for k, _ in typed.prefix_scan("user-")] == ["user-a", "user-b", "user-c"]


def test_prefix_scan_with_prefix_serde(
    store_factory: Any, context: Any, long_serde: Any, string_serde: Any
) -> None:
    store: KeyValueStore[int, str] = KeyValueStore(store_factory("by-id"), long_serde, string_serde)
    store.init(context)
    for i in (1, 2, 256, 257, 1 << 40):
        store.put(i, str(i))
    # keys 256 and 257 share their first seven bytes
    assert [k for k, _ in store.prefix_scan(b"\x00\x00\x00\x00\x00\x00\x01", _Raw())] == [256, 257]


class _Raw(BaseSerde[bytes]):
    def _to(self, value: bytes) -> bytes:
        return value

    def _from(self, data: bytes) -> bytes:
        return data


def test_serde_topic_is_the_changelog_topic(
    store_factory: Any, make_context: Any, long_serde: Any
) -> None:
    recorder = TopicRecorder()
    store: KeyValueStore[str, int] = KeyValueStore(store_factory("counts"), recorder, long_serde)
    store.init(make_context(application_id="wordcount"))
    store.put("a", 1)
    list(store.all())
    assert recorder.topics == {"wordcount-counts-changelog"}
    assert store.serde_topic == "wordcount-counts-changelog"


def test_iterator_snapshot_is_taken_at_call_time(typed: KeyValueStore[str, int]) -> None:
    typed.put("a", 1)
    it = typed.all()  # not yet advanced
    typed.put("b", 2)
    assert list(it) == [("a", 1)]


def test_none_key_is_rejected(typed: KeyValueStore[str, int]) -> None:
    with pytest.raises(StateStoreError, match="None keys"):
        typed.put(None, 1)  # type: ignore[arg-type]
    assert typed.get(None) is None  # type: ignore[arg-type]


def test_properties(typed: KeyValueStore[str, int], string_serde: Any, long_serde: Any) -> None:
    assert typed.name == "counts"
    assert typed.is_open
    assert typed.key_serde is string_serde
    assert typed.value_serde is long_serde
    assert typed.persistent is typed.inner.persistent
    typed.flush()


def test_closed_or_uninitialized_store_raises(
    store_factory: Any, context: Any, string_serde: Any, long_serde: Any
) -> None:
    store: KeyValueStore[str, int] = KeyValueStore(
        store_factory("counts"), string_serde, long_serde
    )
    with pytest.raises(InvalidStateStoreError, match="not initialized"):
        store.get("a")
    store.init(context)
    store.put("a", 1)
    store.close()
    assert not store.is_open
    with pytest.raises(InvalidStateStoreError, match="closed"):
        store.get("a")
    with pytest.raises(InvalidStateStoreError, match="closed"):
        store.put("a", 2)
    with pytest.raises(InvalidStateStoreError, match="closed"):
        store.range(None, None)


def test_missing_serde_is_rejected(store_factory: Any, string_serde: Any) -> None:
    with pytest.raises(StateStoreError, match="serde"):
        KeyValueStore(store_factory("counts"), string_serde, None)  # type: ignore[arg-type]


def test_read_only_view_reads(typed: KeyValueStore[str, int]) -> None:
    typed.put_all([("a", 1), ("b", 2), ("c", 3)])
    view = ReadOnlyKeyValueStoreView(typed)
    assert view.name == "counts"
    assert view.get("b") == 2
    assert list(view.range("a", "b")) == [("a", 1), ("b", 2)]
    assert list(view.reverse_range("b", "c")) == [("c", 3), ("b", 2)]
    assert [k for k, _ in view.all()] == ["a", "b", "c"]
    assert [k for k, _ in view.reverse_all()] == ["c", "b", "a"]
    assert list(view.prefix_scan("c")) == [("c", 3)]
    assert view.approximate_num_entries() >= 1


def test_read_only_view_refuses_writes(typed: KeyValueStore[str, int]) -> None:
    view = ReadOnlyKeyValueStoreView(typed)
    for call in (
        lambda: view.put("a", 1),
        lambda: view.put_if_absent("a", 1),
        lambda: view.put_all([("a", 1)]),
        lambda: view.delete("a"),
    ):
        with pytest.raises(InvalidStateStoreError, match="read-only"):
            call()
    assert typed.get("a") is None


def test_read_only_view_of_closed_store_raises(typed: KeyValueStore[str, int]) -> None:
    view = ReadOnlyKeyValueStoreView(typed)
    typed.close()
    with pytest.raises(InvalidStateStoreError, match="not open"):
        view.get("a")
    with pytest.raises(InvalidStateStoreError, match="not open"):
        view.all()
