"""Application-wide shutdown: how one instance tells all others to stop.

Kafka Streams signals SHUTDOWN_APPLICATION through its own assignment protocol, which
librdkafka does not let us extend. Instead every instance watches a one-partition control topic,
``<application.id>-control``, from its end; an instance whose uncaught-exception handler answers
SHUTDOWN_APPLICATION writes a request there, and every instance (itself included) shuts down
into ERROR when it reads one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_END, TopicPartition

from streams.runtime.client_supplier import ClientSupplier

log = logging.getLogger(__name__)

REQUEST = b"SHUTDOWN_APPLICATION"


def control_topic(application_id: str) -> str:
    """``<application.id>-control``."""
    return f"{application_id}-control"


class ApplicationControl:
    """Watches the control topic in a daemon thread and sends shutdown requests."""

    def __init__(self, application_id: str, client_id: str, consumer_config: dict[str, Any],
                 producer_config: dict[str, Any], on_request: Callable[[str, str], None],
                 supplier: ClientSupplier) -> None:
        self.topic = control_topic(application_id)
        self._client_id = client_id
        self._on_request = on_request
        self._supplier = supplier
        self._consumer = supplier.get_consumer({
            **consumer_config,
            "group.id": f"{application_id}-control",
            "client.id": f"{client_id}-control",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        })
        self._producer_config = {**producer_config, "client.id": f"{client_id}-control-producer"}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{client_id}-control", daemon=True)

    def start(self) -> None:
        """Start watching (only requests made from now on count)."""
        self._consumer.assign([TopicPartition(self.topic, 0, OFFSET_END)])
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for msg in self._consumer.consume(10, 0.5):
                    if msg.error() is None and (msg.value() or b"").startswith(REQUEST):
                        sender = (msg.key() or b"?").decode("utf-8", "replace")
                        reason = (msg.value() or b"")[len(REQUEST) + 1:].decode("utf-8", "replace")
                        self._on_request(sender, reason)
        except Exception as exc:  # the app keeps running; only group-wide shutdown is lost
            log.error("the application control watcher failed: %s", exc)

    def request_shutdown(self, reason: str) -> None:
        """Ask every instance of the application to shut down."""
        producer = self._supplier.get_producer(self._producer_config)
        producer.produce(self.topic, REQUEST + b":" + reason.encode("utf-8", "replace"),
                         self._client_id.encode())
        if producer.flush(10):
            log.error("could not deliver the SHUTDOWN_APPLICATION request to %s", self.topic)

    def close(self) -> None:
        """Stop watching."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)
        try:
            self._consumer.close()
        except Exception as exc:
            log.warning("closing the control consumer failed: %s", exc)
