"""Versioned key-value stores (KIP-889): put codes, reads as of a time, history retention,
restoration from the changelog and reopening on disk, for both suppliers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streams.errors import StateStoreError
from streams.serdes import String
from streams.state import Stores, VersionedRecord
from streams.state.versioned import (
    PUT_RETURN_CODE_NOT_PUT,
    PUT_RETURN_CODE_VALID_TO_UNDEFINED,
    VersionedKeyValueStore,
    decode_history,
    encode_history,
)

FakeContext = Any
Utf8 = String

KINDS = ["in_memory", "rocksdb"]


def _supplier(kind: str, name: str, retention: int) -> Any:
    if kind == "in_memory":
        return Stores.in_memory_versioned_key_value_store(name, retention)
    return Stores.persistent_versioned_key_value_store(name, retention)


def _open(kind: str, ctx: FakeContext, retention: int = 100, name: str = "v"
          ) -> VersionedKeyValueStore[str, str]:
    store = Stores.versioned_key_value_store_builder(
        _supplier(kind, name, retention), Utf8(), Utf8()).build()
    store.init(ctx)
    return store


@pytest.mark.parametrize("kind", KINDS)
def test_put_codes_and_reads_as_of(kind: str, make_context: Callable[..., FakeContext]) -> None:
    s = _open(kind, make_context())
    assert s.put("k", "v10", 10) == PUT_RETURN_CODE_VALID_TO_UNDEFINED
    assert s.put("k", "v30", 30) == PUT_RETURN_CODE_VALID_TO_UNDEFINED
    assert s.put("k", "v20", 20) == 30  # out of order: valid until the next newer version
    assert s.put("k", "v5", 5) == 10
    assert s.get("k") == VersionedRecord("v30", 30, None)
    assert s.get("k", 4) is None
    assert s.get("k", 5) == VersionedRecord("v5", 5, 10)
    assert s.get("k", 19) == VersionedRecord("v10", 10, 20)
    assert s.get("k", 25) == VersionedRecord("v20", 20, 30)
    assert s.get("k", 1000) == VersionedRecord("v30", 30, None)
    assert s.get("other") is None
    # the same timestamp replaces the version's value, and keeps its validity
    assert s.put("k", "v20b", 20) == 30
    assert s.get("k", 21) == VersionedRecord("v20b", 20, 30)


@pytest.mark.parametrize("kind", KINDS)
def test_tombstones_and_delete(kind: str, make_context: Callable[..., FakeContext]) -> None:
    s = _open(kind, make_context())
    s.put("k", "a", 10)
    assert s.delete("k", 20) == VersionedRecord("a", 10, None)
    assert s.get("k") is None
    assert s.get("k", 15) == VersionedRecord("a", 10, 20)
    assert s.get("k", 25) is None
    s.put("k", "b", 30)
    assert s.get("k") == VersionedRecord("b", 30, None)
    # a delete in the past returns what was valid then, and ends it there
    assert s.delete("k", 12) == VersionedRecord("a", 10, 20)
    assert s.get("k", 11) == VersionedRecord("a", 10, 12)
    assert s.get("k", 13) is None


@pytest.mark.parametrize("kind", KINDS)
def test_history_retention(kind: str, make_context: Callable[..., FakeContext]) -> None:
    s = _open(kind, make_context(), retention=50)
    s.put("k", "v0", 0)
    s.put("k", "v40", 40)
    s.put("x", "x100", 100)  # stream time 100: reads before 50 are out of reach
    assert s.observed_stream_time == 100
    assert s.put("k", "too-old", 49) == PUT_RETURN_CODE_NOT_PUT
    # an expired read gets only a latest version valid then: v40 is k's latest
    assert s.get("k", 49) == VersionedRecord("v40", 40, None)
    assert s.get("k", 39) is None  # v0 was valid then, but that is history
    assert s.get("x", 49) is None
    assert s.put("k", "v40b", 40) == PUT_RETURN_CODE_NOT_PUT  # 40 < 100 - 50: refused
    assert s.get("k", 40) == VersionedRecord("v40", 40, None)
    assert s.get("k", 50) == VersionedRecord("v40", 40, None)
    assert s.put("k", "v60", 60) == PUT_RETURN_CODE_VALID_TO_UNDEFINED
    # v0 (valid until 40 < 50) is gone from the history; v40 is still reachable as of 50..59
    assert [r.timestamp for r in s.versions("k")] == [60, 40]
    assert s.get("k", 55) == VersionedRecord("v40", 40, 60)
    assert s.delete("k", 10) is None  # an expired delete changes nothing
    assert s.get("k") == VersionedRecord("v60", 60, None)
    # the latest version never expires: an expired read it is valid for still gets it
    assert s.get("x", 10) is None
    assert s.get("y", 49) is None
    s.put("w", "w60", 60)
    s.put("x", "x200", 200)
    assert s.get("w", 140) == VersionedRecord("w60", 60, None)
    s.delete("w", 200)
    assert s.get("w", 140) is None


def test_zero_retention_keeps_only_the_latest(make_context: Callable[..., FakeContext]) -> None:
    s = _open("in_memory", make_context(), retention=0)
    s.put("k", "a", 10)
    s.put("k", "b", 20)
    assert [r.value for r in s.versions("k")] == ["b"]
    assert s.put("k", "late", 15) == PUT_RETURN_CODE_NOT_PUT
    assert s.get("k", 20) == VersionedRecord("b", 20, None)


def test_restores_every_version_and_stream_time_from_the_changelog(
        make_context: Callable[..., FakeContext]) -> None:
    ctx = make_context()
    s = _open("in_memory", ctx, retention=50)
    s.put("k", "a", 10)
    s.put("k", "b", 30)
    s.put("k", "c", 20)
    s.put("z", "z", 70)
    s.flush()  # writes the observed stream time
    assert ctx.changelog_writer is not None
    # a compacted changelog keeps the last record per key: that is enough
    last: dict[bytes, bytes | None] = {}
    for _, key, value, _ts in ctx.changelog_writer.changes:
        last[key] = value
    fresh_ctx = make_context()
    fresh = _open("in_memory", fresh_ctx, retention=50)
    fresh_ctx.restore("v", list(last.items()))
    assert fresh.observed_stream_time == 70
    assert list(fresh.versions("k")) == list(s.versions("k"))
    assert fresh.get("k", 25) == VersionedRecord("c", 20, 30)
    assert fresh.put("k", "old", 19) == PUT_RETURN_CODE_NOT_PUT  # 19 < 70 - 50


def test_rocksdb_store_reopens_with_its_history(make_context: Callable[..., FakeContext]) -> None:
    ctx = make_context()
    s = _open("rocksdb", ctx, retention=100)
    s.put("k", "a", 10)
    s.put("k", "b", 20)
    s.close()
    again = _open("rocksdb", make_context(state_dir=ctx.state_dir))
    assert again.get("k", 15) == VersionedRecord("a", 10, 20)
    assert again.observed_stream_time == 20
    again.close()


def test_history_codec_round_trips() -> None:
    versions: list[tuple[int, bytes | None]] = [(30, b"c"), (20, None), (10, b""), (0, b"xyz")]
    assert decode_history(encode_history(versions)) == versions


def test_builder_rejects_caching_and_bad_retention() -> None:
    builder = Stores.versioned_key_value_store_builder(
        Stores.in_memory_versioned_key_value_store("v", 10), Utf8(), Utf8())
    assert builder.store_type == "versioned_key_value"
    with pytest.raises(StateStoreError, match="caching"):
        builder.with_caching_enabled()
    with pytest.raises(StateStoreError, match="history_retention_ms"):
        Stores.persistent_versioned_key_value_store("v", -1)
    with pytest.raises(StateStoreError, match="segment_interval_ms"):
        Stores.persistent_versioned_key_value_store("v", 10, segment_interval_ms=0)
