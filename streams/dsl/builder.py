"""StreamsBuilder: the entry point of the DSL.

Example::

    builder = StreamsBuilder()
    (builder.stream("lines", Consumed(key_serde=serdes.String(), value_serde=serdes.String()))
        .flat_map_values(str.split)
        .group_by(lambda word: word, Grouped(key_serde=serdes.String()))
        .count(Materialized(name="counts"))
        .to_stream()
        .to("word-counts", Produced(value_serde=serdes.Long())))
    topology = builder.build()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streams.config import StreamsConfig
from streams.dsl.kstream import KStream
from streams.dsl.ktable import GlobalKTable, KTable
from streams.dsl.params import Consumed, Materialized
from streams.dsl.processors.aggregate import TableSourceProcessor
from streams.dsl.unknown_serde import known_serde
from streams.errors import TopologyError
from streams.state.api import StoreBuilder
from streams.state.stores import Stores
from streams.state.timestamped import TimestampedKeyValueStoreBuilder
from streams.state.versioned_builder import VersionedBytesStoreSupplier
from streams.topology.topology import Topology


class StreamsBuilder:
    """Builds a :class:`~streams.topology.Topology` with the fluent DSL.

    ``config`` is optional; given, ``build()`` checks serde defaults against it and
    ``default.dsl.store`` picks the store type of DSL operations.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.topology = Topology()
        self.config: StreamsConfig | None = (
            config if isinstance(config, StreamsConfig) or config is None else StreamsConfig(config)
        )
        self._index = 0
        self._built = False

    # --------------------------------------------------------------- naming
    def next_index(self) -> int:
        """The next operation index (Kafka Streams numbers every generated name)."""
        i = self._index
        self._index += 1
        return i

    def new_name(self, prefix: str) -> str:
        """A generated name such as ``KSTREAM-FILTER-0000000003``."""
        return f"{prefix}{self.next_index():010d}"

    def name_or_new(self, name: str | None, prefix: str) -> str:
        """The user's name if given (an index is still consumed, as in Kafka Streams)."""
        generated = self.new_name(prefix)
        if name is not None and not name:
            raise TopologyError(f"an operation name must not be empty (generated would be {generated})")
        return name if name else generated

    # --------------------------------------------------------------- store helpers
    def store_type(self, materialized: Materialized | None) -> str:
        """``"rocksdb"`` or ``"in_memory"`` for a DSL store."""
        if materialized is not None and materialized.store_type:
            st = materialized.store_type.lower().replace("-", "_")
            if st not in ("rocksdb", "in_memory"):
                raise TopologyError(
                    f"Materialized store_type must be 'rocksdb' or 'in_memory', not {materialized.store_type!r}"
                )
            return st
        if self.config is not None:
            return str(self.config["default.dsl.store"]).lower()
        return "rocksdb"

    def timestamped_store(self, name: str, materialized: Materialized | None, key_serde: Any,
                          value_serde: Any) -> Any:
        """A timestamped key-value store builder for a DSL operation, or a versioned one when
        ``materialized`` gives a versioned store supplier (a versioned KTable)."""
        m = materialized or Materialized()
        if isinstance(m.store_supplier, VersionedBytesStoreSupplier):
            vb = Stores.versioned_key_value_store_builder(
                m.store_supplier, known_serde(key_serde), known_serde(value_serde))
            return vb.with_logging_enabled(m.log_config) if m.logging else vb.with_logging_disabled()
        if m.store_supplier is not None:
            supplier = m.store_supplier
        elif self.store_type(m) == "in_memory":
            supplier = Stores.in_memory_key_value_store(name)
        else:
            supplier = Stores.persistent_key_value_store(name)
        return TimestampedKeyValueStoreBuilder(
            supplier, known_serde(key_serde), known_serde(value_serde),
            logging=m.logging, log_config=m.log_config, caching=m.caching,
        )

    # --------------------------------------------------------------- sources
    def stream(self, topics: str | Iterable[str], consumed: Consumed | None = None) -> KStream:
        """A KStream of the records of ``topics`` (one topic or several)."""
        self._check_open()
        c = consumed or Consumed()
        name = self.name_or_new(c.name, "KSTREAM-SOURCE-")
        topic_list = [topics] if isinstance(topics, str) else list(topics)
        self.topology.add_source(
            name, topic_list, key_serde=c.key_serde, value_serde=c.value_serde,
            timestamp_extractor=c.timestamp_extractor, offset_reset=c.offset_reset,
        )
        return self.stream_of_node(name, c.key_serde, c.value_serde, repartition_required=False)

    def stream_of_node(self, node: str, key_serde: Any, value_serde: Any,
                       repartition_required: bool) -> KStream:
        """The KStream of what the existing node ``node`` forwards.

        ``KTable.to_stream`` makes its stream here: ``streams.dsl.ktable`` cannot import
        ``streams.dsl.kstream``, which imports it (``KStream.to_table`` makes KTables), while
        this module imports both.
        """
        return KStream(self, node, key_serde, value_serde, repartition_required)

    def table(self, topic: str, consumed: Consumed | None = None,
              materialized: Materialized | None = None) -> KTable:
        """A KTable holding the latest value per key of ``topic`` (None values delete)."""
        self._check_open()
        c = consumed or Consumed()
        m = materialized or Materialized()
        key_serde = m.key_serde if m.key_serde is not None else c.key_serde
        value_serde = m.value_serde if m.value_serde is not None else c.value_serde
        # Kafka Streams' order: store name (if generated), source, table source
        store = m.name or f"{topic}-STATE-STORE-{self.next_index():010d}"
        source = self.name_or_new(c.name, "KSTREAM-SOURCE-")
        self.topology.add_source(
            source, [topic], key_serde=key_serde, value_serde=value_serde,
            timestamp_extractor=c.timestamp_extractor, offset_reset=c.offset_reset,
        )
        node = self.name_or_new(f"{c.name}-table-source" if c.name else None, "KTABLE-SOURCE-")
        self.topology.add_processor(node, lambda: TableSourceProcessor(store, node), source)
        self.topology.add_state_store(
            self.timestamped_store(store, m, key_serde, value_serde), node
        )
        self.topology.mark_source_table_store(store, topic)
        table = KTable(self, node, key_serde, value_serde, store_name=store)
        table.versioned = isinstance(m.store_supplier, VersionedBytesStoreSupplier)
        # Kafka Streams materializes a source table only when named (or needed later)
        table._materialized = m.name is not None
        return table

    def global_table(self, topic: str, consumed: Consumed | None = None,
                     materialized: Materialized | None = None) -> GlobalKTable:
        """A table of all partitions of ``topic``, replicated in full to every instance."""
        self._check_open()
        c = consumed or Consumed()
        m = materialized or Materialized()
        if isinstance(m.store_supplier, VersionedBytesStoreSupplier):
            raise TopologyError(f"global_table({topic!r}): a GlobalKTable cannot be versioned "
                                f"(store {m.store_supplier.name!r}), as in Kafka Streams")
        key_serde = m.key_serde if m.key_serde is not None else c.key_serde
        value_serde = m.value_serde if m.value_serde is not None else c.value_serde
        # Kafka Streams' order and names: store name (if generated), then two KTABLE-SOURCE names
        store = m.name or f"{topic}-STATE-STORE-{self.next_index():010d}"
        source = self.name_or_new(c.name, "KTABLE-SOURCE-")
        node = self.new_name("KTABLE-SOURCE-")
        builder = self.timestamped_store(store, m, key_serde, value_serde).with_logging_disabled()
        self.topology.add_global_store(
            builder, source, topic, node, lambda: TableSourceProcessor(store, node),
            key_serde=key_serde, value_serde=value_serde,
        )
        return GlobalKTable(self, store, key_serde, value_serde)

    def add_state_store(self, store_builder: StoreBuilder) -> StreamsBuilder:
        """Add a store for ``process(..., stores=[name])`` to use."""
        self._check_open()
        self.topology.add_state_store(store_builder)
        return self

    # --------------------------------------------------------------- build
    def _check_open(self) -> None:
        if self._built:
            raise TopologyError("this StreamsBuilder was already built; create a new one")

    def build(self) -> Topology:
        """Finish and validate the topology."""
        self.topology.validate(self.config)
        self._built = True
        return self.topology
