"""Serving an instance over HTTP: store queries routed to the key's owner, Prometheus
metrics, health, readiness and the topology (:mod:`streams.serving.server`)."""

from streams.serving.prometheus import StreamsCollector
from streams.serving.server import StreamsHttpServer

__all__ = ["StreamsCollector", "StreamsHttpServer"]
