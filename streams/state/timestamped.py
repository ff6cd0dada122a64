"""Timestamped key-value stores: each value is stored with the timestamp of its last update,
as Kafka Streams' TimestampedKeyValueStore does; DSL aggregations and KTables use them so that
output records carry the timestamps Kafka Streams would give them.

Stored value layout (same as Kafka Streams): 8-byte big-endian timestamp, then the value bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from streams.errors import SerializationError
from streams.state.stores import Stores
from streams.state.window_store_builders import window_store_builder, windowed_changelog_config

_TS = struct.Struct(">q")


class ValueAndTimestamp:
    """A value and the timestamp (ms) of the update that produced it."""

    __slots__ = ("timestamp", "value")

    def __init__(self, value: Any, timestamp: int) -> None:
        self.value = value
        self.timestamp = timestamp

    @staticmethod
    def make(value: Any, timestamp: int) -> ValueAndTimestamp | None:
        """None for a None value (a deletion), as Kafka Streams' ``ValueAndTimestamp.make``."""
        return None if value is None else ValueAndTimestamp(value, timestamp)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ValueAndTimestamp)
            and self.value == other.value
            and self.timestamp == other.timestamp
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ValueAndTimestamp({self.value!r}, {self.timestamp})"


class ValueAndTimestampSerde:
    """Serde of :class:`ValueAndTimestamp` around an inner value serde."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def with_defaults(self, key_default: Any, value_default: Any) -> ValueAndTimestampSerde:
        """Fill a missing inner serde with the config's default value serde."""
        return self if self.inner is not None else ValueAndTimestampSerde(value_default)

    def serialize(self, topic: str, vt: Any, headers: Any = None) -> bytes | None:
        """Encode (None stays None)."""
        if vt is None:
            return None
        raw = self.inner.serialize(topic, vt.value, headers)
        if raw is None:
            return None
        return _TS.pack(vt.timestamp) + raw

    def deserialize(self, topic: str, data: bytes | None, headers: Any = None) -> Any:
        """Decode (None stays None)."""
        if data is None:
            return None
        if len(data) < 8:
            raise SerializationError(
                f"timestamped store value has {len(data)} bytes, fewer than the 8-byte timestamp",
                topic=topic,
            )
        return ValueAndTimestamp(self.inner.deserialize(topic, data[8:], headers),
                                 _TS.unpack_from(data)[0])

    def __repr__(self) -> str:
        return f"ValueAndTimestampSerde({self.inner!r})"


class SupplierStoreBuilder:
    """What the timestamped store builders and the suppression buffer builder share: a
    supplier, serdes (None: filled from the config), and whether (and how) to log changes."""

    def __init__(self, supplier: Any, key_serde: Any, value_serde: Any, *, logging: bool = True,
                 log_config: dict[str, str] | None = None, caching: bool = False) -> None:
        """Stores named ``supplier.name``; None serdes are filled from the config defaults."""
        self.supplier = supplier
        self.key_serde = key_serde
        self.value_serde = value_serde
        self._logging = logging
        self._log_config = dict(log_config or {})
        self._caching = caching

    @property
    def name(self) -> str:
        """Store name."""
        return str(self.supplier.name)

    @property
    def persistent(self) -> bool:
        """True for RocksDB-backed stores."""
        return bool(self.supplier.persistent)

    @property
    def logging_enabled(self) -> bool:
        """Whether a changelog topic backs the store."""
        return self._logging

    @property
    def caching_enabled(self) -> bool:
        """Whether the task puts a record cache in front of the store
        (``statestore.cache.max.bytes`` > 0 and a key-value store)."""
        return self._caching


class TimestampedKeyValueStoreBuilder(SupplierStoreBuilder):
    """Builds a key-value store whose values are :class:`ValueAndTimestamp`.

    Wraps a plain key-value store builder (``Stores.key_value_store_builder``) and swaps its
    value serde for :class:`ValueAndTimestampSerde`, filling config defaults when asked.
    """

    store_type = "timestamped_key_value"

    @property
    def log_config(self) -> dict[str, str]:
        """Extra changelog topic configs."""
        return self._log_config

    def with_logging_disabled(self) -> TimestampedKeyValueStoreBuilder:
        """A copy without changelog."""
        return TimestampedKeyValueStoreBuilder(self.supplier, self.key_serde, self.value_serde,
                                               logging=False, caching=self._caching)

    def with_logging_enabled(self, config: dict[str, str] | None = None) -> TimestampedKeyValueStoreBuilder:
        """A copy with changelog (and extra topic configs)."""
        return TimestampedKeyValueStoreBuilder(self.supplier, self.key_serde, self.value_serde,
                                               logging=True, log_config=config,
                                               caching=self._caching)

    def with_default_serdes(self, key_default: Any, value_default: Any) -> TimestampedKeyValueStoreBuilder:
        """A copy whose missing serdes are the config defaults."""
        return TimestampedKeyValueStoreBuilder(
            self.supplier,
            self.key_serde if self.key_serde is not None else key_default,
            self.value_serde if self.value_serde is not None else value_default,
            logging=self._logging, log_config=self._log_config, caching=self._caching,
        )

    def build(self) -> Any:
        """A fresh typed store with ValueAndTimestamp values."""
        inner = Stores.key_value_store_builder(
            self.supplier, self.key_serde, ValueAndTimestampSerde(self.value_serde)
        )
        inner = inner.with_logging_enabled(self._log_config) if self._logging else inner.with_logging_disabled()
        if self._caching:
            inner = inner.with_caching_enabled()
        return inner.build()


class PlainValueView:
    """Read access to a timestamped store that returns bare values (what queries expect)."""

    def __init__(self, store: Any) -> None:
        self._store = store

    @property
    def name(self) -> str:
        """Store name."""
        return str(self._store.name)

    def get(self, key: Any) -> Any:
        """The value for ``key`` or None."""
        vt = self._store.get(key)
        return None if vt is None else vt.value

    def _strip(self, it: Iterator[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
        for k, vt in it:
            yield k, vt.value

    def range(self, from_key: Any, to_key: Any) -> Iterator[tuple[Any, Any]]:
        """Entries with ``from_key <= key <= to_key`` (by serialized bytes)."""
        return self._strip(self._store.range(from_key, to_key))

    def reverse_range(self, from_key: Any, to_key: Any) -> Iterator[tuple[Any, Any]]:
        """Like :meth:`range`, descending."""
        return self._strip(self._store.reverse_range(from_key, to_key))

    def all(self) -> Iterator[tuple[Any, Any]]:
        """Every entry in key-byte order."""
        return self._strip(self._store.all())

    def reverse_all(self) -> Iterator[tuple[Any, Any]]:
        """Every entry, descending."""
        return self._strip(self._store.reverse_all())

    def prefix_scan(self, prefix: Any, prefix_serde: Any = None) -> Iterator[tuple[Any, Any]]:
        """Entries whose serialized key starts with the serialized ``prefix``."""
        return self._strip(self._store.prefix_scan(prefix, prefix_serde))

    def approximate_num_entries(self) -> int:
        """Approximate number of entries."""
        return int(self._store.approximate_num_entries())

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return self.all()


class TimestampedWindowStoreBuilder(TimestampedKeyValueStoreBuilder):
    """Builds a window store whose values are :class:`ValueAndTimestamp` (windowed DSL
    aggregations). ``supplier`` is a window bytes store supplier."""

    store_type = "timestamped_window"

    @property
    def log_config(self) -> dict[str, str]:
        """compact,delete with retention = store retention + 1 day, as Kafka Streams."""
        return windowed_changelog_config(int(self.supplier.retention_ms), self._log_config)

    def _copy(self, **kw: Any) -> TimestampedWindowStoreBuilder:
        args = {"logging": self._logging, "log_config": self._log_config,
                "caching": self._caching, **kw}
        key = args.pop("key_serde", self.key_serde)
        value = args.pop("value_serde", self.value_serde)
        return TimestampedWindowStoreBuilder(self.supplier, key, value, **args)

    def with_logging_disabled(self) -> TimestampedWindowStoreBuilder:
        """A copy without changelog."""
        return self._copy(logging=False)

    def with_logging_enabled(self, config: dict[str, str] | None = None) -> TimestampedWindowStoreBuilder:
        """A copy with changelog (and extra topic configs)."""
        return self._copy(logging=True, log_config=config or {})

    def with_default_serdes(self, key_default: Any, value_default: Any) -> TimestampedWindowStoreBuilder:
        """A copy whose missing serdes are the config defaults."""
        return self._copy(
            key_serde=self.key_serde if self.key_serde is not None else key_default,
            value_serde=self.value_serde if self.value_serde is not None else value_default,
        )

    def build(self) -> Any:
        """A fresh typed window store with ValueAndTimestamp values."""
        inner = window_store_builder(self.supplier, self.key_serde,
                                     ValueAndTimestampSerde(self.value_serde))
        inner = (inner.with_logging_enabled(self._log_config) if self._logging
                 else inner.with_logging_disabled())
        if self._caching:
            inner = inner.with_caching_enabled()
        return inner.build()


if TYPE_CHECKING:
    from streams.state.api import StoreBuilder

    def _key_value_is_store_builder(builder: TimestampedKeyValueStoreBuilder) -> StoreBuilder:
        return builder

    def _window_is_store_builder(builder: TimestampedWindowStoreBuilder) -> StoreBuilder:
        return builder
