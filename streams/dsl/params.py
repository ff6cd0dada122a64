"""Parameter objects of the DSL, named as in Kafka Streams: Consumed, Produced, Grouped,
Materialized, Repartitioned, Named, Branched.

All take keyword arguments; ``None`` means "not given" (inherit from upstream, or use the
config's default serde)::

    builder.stream("lines", Consumed(key_serde=serdes.String(), value_serde=serdes.String()))
    counts = grouped.count(Materialized(name="counts", store_type="in_memory"))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from streams.errors import TopologyError


@dataclass(frozen=True)
class Named:
    """A name for one DSL operation's processor node."""

    name: str | None = None


@dataclass(frozen=True)
class Consumed:
    """How to read a source topic: serdes, timestamp extractor, offset reset, node name."""

    key_serde: Any = None
    value_serde: Any = None
    timestamp_extractor: Any = None
    offset_reset: str | None = None
    name: str | None = None

    @classmethod
    def with_(cls, key_serde: Any, value_serde: Any) -> Consumed:
        """Kafka Streams' ``Consumed.with(keySerde, valueSerde)``."""
        return cls(key_serde=key_serde, value_serde=value_serde)


@dataclass(frozen=True)
class Produced:
    """How to write to a topic: serdes, partitioner ``(topic, key, value, n) -> int``, name."""

    key_serde: Any = None
    value_serde: Any = None
    partitioner: Callable[[str, Any, Any, int], int | None] | None = None
    name: str | None = None

    @classmethod
    def with_(cls, key_serde: Any, value_serde: Any) -> Produced:
        """Kafka Streams' ``Produced.with(keySerde, valueSerde)``."""
        return cls(key_serde=key_serde, value_serde=value_serde)


@dataclass(frozen=True)
class Grouped:
    """Serdes and the name (repartition topic ``<name>-repartition``) of a grouping."""

    key_serde: Any = None
    value_serde: Any = None
    name: str | None = None

    @classmethod
    def with_(cls, key_serde: Any, value_serde: Any) -> Grouped:
        """Kafka Streams' ``Grouped.with(keySerde, valueSerde)``."""
        return cls(key_serde=key_serde, value_serde=value_serde)


@dataclass(frozen=True)
class StreamJoined:
    """Options of a stream-stream join (Kafka Streams' ``StreamJoined``): the serdes of its
    window stores, the processors' ``name``, the stores' base name (``store_name``: the stores
    become ``<store_name>-this-join-store`` and ``<store_name>-other-join-store``, and so their
    changelogs), their ``store_type`` (``"rocksdb"`` or ``"in_memory"``) and changelogs
    (``logging``, ``log_config``).

    Example::

        clicks.join(views, joiner, JoinWindows.of_time_difference_with_no_grace(60_000),
                    stream_joined=StreamJoined.with_(S, S, S).with_store_name("click-view"))
    """

    key_serde: Any = None
    value_serde: Any = None
    other_value_serde: Any = None
    name: str | None = None
    store_name: str | None = None
    store_type: str | None = None
    logging: bool = True
    log_config: dict[str, str] = field(default_factory=dict)

    @classmethod
    def with_(cls, key_serde: Any, value_serde: Any, other_value_serde: Any) -> StreamJoined:
        """Kafka Streams' ``StreamJoined.with(keySerde, valueSerde, otherValueSerde)``."""
        return cls(key_serde=key_serde, value_serde=value_serde,
                   other_value_serde=other_value_serde)

    @classmethod
    def as_(cls, store_name: str) -> StreamJoined:
        """Kafka Streams' ``StreamJoined.as(storeName)``."""
        return cls(store_name=store_name)

    def with_name(self, name: str) -> StreamJoined:
        """The join's processor names (``name`` argument of the join, given here)."""
        return replace(self, name=name)

    def with_store_name(self, store_name: str) -> StreamJoined:
        """The join stores' base name."""
        return replace(self, store_name=store_name)

    def with_key_serde(self, serde: Any) -> StreamJoined:
        """Kafka Streams' ``withKeySerde``: the key serde of both join stores."""
        return replace(self, key_serde=serde)

    def with_value_serde(self, serde: Any) -> StreamJoined:
        """Kafka Streams' ``withValueSerde``: this stream's values."""
        return replace(self, value_serde=serde)

    def with_other_value_serde(self, serde: Any) -> StreamJoined:
        """Kafka Streams' ``withOtherValueSerde``: the other stream's values."""
        return replace(self, other_value_serde=serde)

    def with_logging_disabled(self) -> StreamJoined:
        """No changelogs for the join stores."""
        return replace(self, logging=False)

    def with_logging_enabled(self, config: dict[str, str]) -> StreamJoined:
        """Changelogs for the join stores, with these topic configs."""
        return replace(self, logging=True, log_config=dict(config))


def _grace(grace_ms: int | None) -> int | None:
    if grace_ms is not None and (not isinstance(grace_ms, int) or grace_ms < 0):
        raise TopologyError(f"Joined grace period must be a non-negative number of "
                            f"milliseconds, got {grace_ms!r}")
    return grace_ms


@dataclass(frozen=True)
class Joined:
    """Options of a stream-table join (Kafka Streams' ``Joined``): the serdes (the stream's key
    and value for its repartition topic and grace buffer, the table's value), the processors'
    ``name``, and ``grace_ms``: how long stream records wait for the (versioned) table to
    catch up before they are joined (KIP-923; see docs/joins.md)."""

    key_serde: Any = None
    value_serde: Any = None
    other_value_serde: Any = None
    name: str | None = None
    grace_ms: int | None = None

    @classmethod
    def with_(cls, key_serde: Any, value_serde: Any, other_value_serde: Any = None,
              name: str | None = None, grace_ms: int | None = None) -> Joined:
        """Kafka Streams' ``Joined.with(keySerde, valueSerde, otherValueSerde[, name,
        gracePeriod])``."""
        return cls(key_serde=key_serde, value_serde=value_serde,
                   other_value_serde=other_value_serde, name=name,
                   grace_ms=_grace(grace_ms))

    def with_grace_period(self, grace_ms: int) -> Joined:
        """Kafka Streams' ``withGracePeriod``: buffer stream records this long (ms of stream
        time) and join them in timestamp order with the table's value as of their time; the
        table must be versioned."""
        return replace(self, grace_ms=_grace(grace_ms))

    @classmethod
    def as_(cls, name: str) -> Joined:
        """Kafka Streams' ``Joined.as(name)``."""
        return cls(name=name)

    def with_name(self, name: str) -> Joined:
        """The join's processor name."""
        return replace(self, name=name)

    def with_key_serde(self, serde: Any) -> Joined:
        """Kafka Streams' ``withKeySerde``: the key serde of the repartition topic."""
        return replace(self, key_serde=serde)

    def with_value_serde(self, serde: Any) -> Joined:
        """Kafka Streams' ``withValueSerde``: the stream's values in the repartition topic."""
        return replace(self, value_serde=serde)

    def with_other_value_serde(self, serde: Any) -> Joined:
        """Kafka Streams' ``withOtherValueSerde``: the table's values."""
        return replace(self, other_value_serde=serde)


@dataclass(frozen=True)
class TableJoined:
    """Options of a foreign-key table join (Kafka Streams' ``TableJoined``): the join's
    ``name`` (its internal topics and nodes are named after it) and the partitioners of the two
    tables' topics, ``(topic, key, value, num_partitions) -> partition | None``, for tables
    whose topics are not partitioned by the default partitioner. ``other_partitioner`` places
    the subscriptions where the right table has the foreign key; responses always go back to
    the partition the subscription came from, so ``partitioner`` is accepted for Kafka
    Streams' sake and not needed."""

    partitioner: Callable[[str, Any, Any, int], int | None] | None = None
    other_partitioner: Callable[[str, Any, Any, int], int | None] | None = None
    name: str | None = None

    @classmethod
    def with_(cls, partitioner: Callable[[str, Any, Any, int], int | None] | None,
              other_partitioner: Callable[[str, Any, Any, int], int | None] | None
              ) -> TableJoined:
        """Kafka Streams' ``TableJoined.with(partitioner, otherPartitioner)``."""
        return cls(partitioner=partitioner, other_partitioner=other_partitioner)

    @classmethod
    def as_(cls, name: str) -> TableJoined:
        """Kafka Streams' ``TableJoined.as(name)``."""
        return cls(name=name)

    def with_name(self, name: str) -> TableJoined:
        """The join's name."""
        return replace(self, name=name)


def join_name(op: str, name: str | None, from_options: str | None) -> str | None:
    """A join's name, given as ``name=`` or in its options object (``StreamJoined``,
    ``Joined``, ``TableJoined``); both is an error when they differ."""
    if name and from_options and name != from_options:
        raise TopologyError(f"{op}: name={name!r} and the join options' name "
                            f"{from_options!r} differ; give one")
    return name or from_options


@dataclass(frozen=True)
class Repartitioned:
    """Serdes, name and partition count of an explicit ``repartition()``."""

    key_serde: Any = None
    value_serde: Any = None
    name: str | None = None
    num_partitions: int | None = None
    partitioner: Callable[[str, Any, Any, int], int | None] | None = None


@dataclass(frozen=True)
class Materialized:
    """Names and configures the store behind a KTable or aggregation.

    ``store_type`` is ``"rocksdb"`` (persistent) or ``"in_memory"``; None follows
    ``default.dsl.store``. ``logging=False`` turns the changelog off; ``log_config`` adds topic
    configs to it. ``caching`` puts the record cache in front of a key-value store (window and session stores
    are not cached yet).
    ``retention_ms`` applies to window/session stores.
    """

    name: str | None = None
    key_serde: Any = None
    value_serde: Any = None
    store_type: str | None = None
    logging: bool = True
    log_config: dict[str, str] = field(default_factory=dict)
    caching: bool = True
    retention_ms: int | None = None
    store_supplier: Any = None

    @classmethod
    def as_(cls, name_or_supplier: Any) -> Materialized:
        """Kafka Streams' ``Materialized.as(storeName)`` and ``Materialized.as(supplier)``:
        a store name, or a store supplier (named by it), e.g.
        ``Stores.persistent_versioned_key_value_store(...)`` for a versioned table."""
        if isinstance(name_or_supplier, str):
            return cls(name=name_or_supplier)
        return cls(name=name_or_supplier.name, store_supplier=name_or_supplier)

    @classmethod
    def with_(cls, key_serde: Any, value_serde: Any) -> Materialized:
        """Kafka Streams' ``Materialized.with(keySerde, valueSerde)``."""
        return cls(key_serde=key_serde, value_serde=value_serde)

    def with_key_serde(self, serde: Any) -> Materialized:
        """A copy with the key serde set."""
        return replace(self, key_serde=serde)

    def with_value_serde(self, serde: Any) -> Materialized:
        """A copy with the value serde set."""
        return replace(self, value_serde=serde)

    def with_logging_disabled(self) -> Materialized:
        """A copy without a changelog topic."""
        return replace(self, logging=False)

    def with_logging_enabled(self, config: dict[str, str] | None = None) -> Materialized:
        """A copy with a changelog topic (and extra topic configs)."""
        return replace(self, logging=True, log_config=dict(config or {}))

    def with_caching_disabled(self) -> Materialized:
        """Forward and log every update at once instead of once per key per commit."""
        return replace(self, caching=False)

    def with_caching_enabled(self) -> Materialized:
        """Fold a key's updates in the record cache until commit (the default)."""
        return replace(self, caching=True)

    def with_store_type(self, store_type: str) -> Materialized:
        """A copy with ``"rocksdb"`` or ``"in_memory"`` storage."""
        return replace(self, store_type=store_type)


@dataclass(frozen=True)
class Branched:
    """A branch of ``split()``: its name suffix and an optional function applied to it.

    ``chain`` receives the branch's KStream; what it returns (if not None) is put in the
    result dict instead.
    """

    name: str | None = None
    chain: Callable[[Any], Any] | None = None

    @classmethod
    def as_(cls, name: str) -> Branched:
        """Kafka Streams' ``Branched.as(name)``."""
        return cls(name=name)

    @classmethod
    def with_function(cls, chain: Callable[[Any], Any], name: str | None = None) -> Branched:
        """Kafka Streams' ``Branched.withFunction(fn)``."""
        return cls(name=name, chain=chain)
