"""Where the runtime gets its Kafka clients (Kafka Streams' ``KafkaClientSupplier``).

Every consumer, producer and admin client the runtime uses comes from a
:class:`ClientSupplier`, given the settings :mod:`streams.runtime.client_configs` built. The
default, :class:`KafkaClientSupplier`, makes confluent-kafka clients. Tests hand
``KafkaStreams`` (or a ``StreamThread``) a supplier of in-memory fakes instead, so thread,
commit, rebalance and restoration logic runs without a broker.

Example::

    app = KafkaStreams(topology, config, client_supplier=MySupplier())
"""

from __future__ import annotations

from typing import Any, Protocol

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient


class ClientSupplier(Protocol):
    """Makes the runtime's Kafka clients from their settings."""

    def get_consumer(self, config: dict[str, Any]) -> Consumer:
        """A stream thread's consumer in the application's group."""
        ...

    def get_restore_consumer(self, config: dict[str, Any]) -> Consumer:
        """A consumer for changelog topics, assigned partitions, never subscribed."""
        ...

    def get_global_consumer(self, config: dict[str, Any]) -> Consumer:
        """The global thread's consumer, assigned every partition of the global topics."""
        ...

    def get_producer(self, config: dict[str, Any]) -> Producer:
        """A stream thread's producer (transactional under exactly-once)."""
        ...

    def get_admin(self, config: dict[str, Any]) -> AdminClient:
        """The admin client that creates and checks topics at start-up."""
        ...


class KafkaClientSupplier:
    """The default supplier: confluent-kafka (librdkafka) clients."""

    def get_consumer(self, config: dict[str, Any]) -> Consumer:
        """A confluent-kafka ``Consumer``."""
        return Consumer(config)

    def get_restore_consumer(self, config: dict[str, Any]) -> Consumer:
        """A confluent-kafka ``Consumer``."""
        return Consumer(config)

    def get_global_consumer(self, config: dict[str, Any]) -> Consumer:
        """A confluent-kafka ``Consumer``."""
        return Consumer(config)

    def get_producer(self, config: dict[str, Any]) -> Producer:
        """A confluent-kafka ``Producer``."""
        return Producer(config)

    def get_admin(self, config: dict[str, Any]) -> AdminClient:
        """A confluent-kafka ``AdminClient``."""
        return AdminClient(config)
