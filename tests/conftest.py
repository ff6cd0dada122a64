"""Shared pytest configuration: the Kafka fixtures (``kafka_bootstrap``, ``topic_factory``, ...)."""

pytest_plugins = ["streams.testing.pytest_plugin"]
