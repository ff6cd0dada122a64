"""The Stores factory, suppliers and KeyValueStoreBuilder."""

from __future__ import annotations

from typing import Any

import pytest

from streams.errors import StateStoreError
from streams.state import (
    ChangeLoggingKeyValueStore,
    InMemoryKeyValueStore,
    KeyValueBytesStoreSupplier,
    KeyValueStore,
    KeyValueStoreBuilder,
    RocksDBKeyValueStore,
    Stores,
)


def test_in_memory_supplier() -> None:
    supplier = Stores.in_memory_key_value_store("seen")
    assert supplier.name == "seen"
    assert supplier.persistent is False
    assert supplier.metrics_scope == "in-memory"
    first, second = supplier.get(), supplier.get()
    assert isinstance(first, InMemoryKeyValueStore)
    assert first is not second
    assert isinstance(supplier, KeyValueBytesStoreSupplier)


def test_persistent_supplier() -> None:
    supplier = Stores.persistent_key_value_store("counts")
    assert supplier.name == "counts"
    assert supplier.persistent is True
    assert supplier.metrics_scope == "rocksdb"
    first, second = supplier.get(), supplier.get()
    assert isinstance(first, RocksDBKeyValueStore)
    assert first is not second


@pytest.mark.parametrize("name", ["", "has space", "a/b", "..", "ü", "x" * 201])
def test_illegal_names_are_rejected(name: str) -> None:
    with pytest.raises(StateStoreError, match="invalid state store name"):
        Stores.in_memory_key_value_store(name)


def test_builder_defaults(string_serde: Any, long_serde: Any) -> None:
    builder = Stores.key_value_store_builder(
        Stores.persistent_key_value_store("counts"), string_serde, long_serde
    )
    assert isinstance(builder, KeyValueStoreBuilder)
    assert builder.name == "counts"
    assert builder.store_type == "key_value"
    assert builder.persistent is True
    assert builder.logging_enabled is True
    assert builder.log_config == {}
    assert builder.caching_enabled is False
    assert builder.key_serde is string_serde
    assert builder.value_serde is long_serde


def test_builder_flags_chain(string_serde: Any, long_serde: Any) -> None:
    builder = Stores.key_value_store_builder(
        Stores.in_memory_key_value_store("seen"), string_serde, long_serde
    )
    assert (
        builder.with_logging_enabled({"retention.ms": 1000, "min.insync.replicas": "2"}) is builder
    )
    assert builder.log_config == {"retention.ms": "1000", "min.insync.replicas": "2"}
    builder.log_config["mutated"] = "no"
    assert "mutated" not in builder.log_config
    assert builder.with_logging_disabled().logging_enabled is False
    assert builder.log_config == {}
    assert builder.with_caching_enabled().caching_enabled is True
    assert builder.with_caching_disabled().caching_enabled is False
    assert builder.with_logging_enabled().logging_enabled is True


def test_build_composes_typed_changelogging_inner(
    context: Any, string_serde: Any, long_serde: Any
) -> None:
    builder = Stores.key_value_store_builder(
        Stores.persistent_key_value_store("counts"), string_serde, long_serde
    )
    store = builder.build()
    assert isinstance(store, KeyValueStore)
    assert isinstance(store.inner, ChangeLoggingKeyValueStore)
    assert isinstance(store.inner.inner, RocksDBKeyValueStore)
    assert builder.build() is not store  # one per task
    store.init(context)
    try:
        context.timestamp = 42
        store.put("a", 1)
        assert store.get("a") == 1
        assert context.changelog_writer.changes == [("counts", b"a", b"\x00" * 7 + b"\x01", 42)]
    finally:
        store.close()


def test_build_without_logging(context: Any, string_serde: Any, long_serde: Any) -> None:
    builder = Stores.key_value_store_builder(
        Stores.in_memory_key_value_store("seen"), string_serde, long_serde
    ).with_logging_disabled()
    store = builder.build()
    assert isinstance(store.inner, InMemoryKeyValueStore)
    store.init(context)
    store.put("a", 1)
    assert context.changelog_writer.changes == []
    store.close()


def test_default_serdes_fill_only_missing_ones(string_serde: Any, long_serde: Any) -> None:
    builder: KeyValueStoreBuilder[Any, Any] = Stores.key_value_store_builder(
        Stores.in_memory_key_value_store("seen"), None, long_serde
    ).with_logging_enabled({"a": "b"})
    with pytest.raises(StateStoreError, match="no key serde"):
        builder.build()
    filled = builder.with_default_serdes(string_serde, string_serde)
    assert filled is not builder
    assert builder.key_serde is None  # original untouched
    assert filled.key_serde is string_serde
    assert filled.value_serde is long_serde  # explicit serde kept
    assert filled.log_config == {"a": "b"}
    assert filled.logging_enabled
    assert isinstance(filled.build(), KeyValueStore)
    filled.with_logging_disabled()
    assert builder.logging_enabled  # copies are independent


def test_missing_value_serde_named(string_serde: Any) -> None:
    builder: KeyValueStoreBuilder[str, Any] = Stores.key_value_store_builder(
        Stores.in_memory_key_value_store("seen"), string_serde
    )
    with pytest.raises(StateStoreError, match="no value serde"):
        builder.build()
