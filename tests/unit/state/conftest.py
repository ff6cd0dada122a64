"""Fixtures for the state store tests: a fake StateStoreContext and stores of every kind."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from streams.serdes.base import BaseSerde
from streams.state.api import RestoreCallback
from streams.state.memory import InMemoryKeyValueStore
from streams.state.rocksdb import RocksDBKeyValueStore


@dataclass
class RecordingWriter:
    """ChangelogWriter that remembers every change."""

    changes: list[tuple[str, bytes, bytes | None, int]] = field(default_factory=list)

    def log_change(self, store_name: str, key: bytes, value: bytes | None, timestamp: int) -> None:
        self.changes.append((store_name, key, value, timestamp))


@dataclass
class FakeContext:
    """Minimal StateStoreContext: records registrations, exposes a settable timestamp."""

    state_dir: Path | None = None
    application_id: str = "app"
    task_id: str = "0_0"
    changelog_writer: RecordingWriter | None = None
    timestamp: int = 0
    registered: dict[str, tuple[Any, RestoreCallback]] = field(default_factory=dict)

    def register(self, store: Any, restore: RestoreCallback) -> None:
        self.registered[store.name] = (store, restore)

    def restore(self, name: str, batch: list[tuple[bytes, bytes | None]]) -> None:
        self.registered[name][1](batch)


class Utf8(BaseSerde[str]):
    """Tiny string serde, so these tests do not depend on streams.serdes' own."""

    def _to(self, value: str) -> bytes:
        return value.encode("utf-8")

    def _from(self, data: bytes) -> str:
        return data.decode("utf-8")


class BigEndianLong(BaseSerde[int]):
    """Tiny signed 64-bit big-endian serde (Kafka's LongSerializer format)."""

    def _to(self, value: int) -> bytes:
        return struct.pack(">q", value)

    def _from(self, data: bytes) -> int:
        return int(struct.unpack(">q", data)[0])


StoreFactory = Callable[[str], Any]


@pytest.fixture
def make_context(tmp_path: Path) -> Callable[..., FakeContext]:
    """Factory of contexts; by default the task state dir is under a fresh temporary directory."""

    def make(**kwargs: Any) -> FakeContext:
        kwargs.setdefault("state_dir", tmp_path / "app" / "0_0")
        kwargs.setdefault("changelog_writer", RecordingWriter())
        return FakeContext(**kwargs)

    return make


@pytest.fixture
def context(make_context: Callable[..., FakeContext]) -> FakeContext:
    """A context whose task state dir is a fresh temporary directory."""
    return make_context()


@pytest.fixture
def string_serde() -> Utf8:
    """A UTF-8 string serde."""
    return Utf8()


@pytest.fixture
def long_serde() -> BigEndianLong:
    """A big-endian 64-bit integer serde."""
    return BigEndianLong()


@pytest.fixture(params=["memory", "rocksdb"])
def store_factory(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """Makes closed bytes stores of the parametrized kind; closes whatever it made."""
    made: list[Any] = []

    def make(name: str = "store") -> Any:
        store: Any
        if request.param == "memory":
            store = InMemoryKeyValueStore(name)
        else:
            store = RocksDBKeyValueStore(name)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(store_factory: StoreFactory, context: FakeContext) -> Any:
    """An open bytes store of each kind."""
    s = store_factory("store")
    s.init(context)
    return s
