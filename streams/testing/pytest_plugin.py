"""pytest fixtures for tests that need a real Kafka cluster.

Load with ``pytest_plugins = ["streams.testing.pytest_plugin"]`` in a top-level conftest.

Fixtures:

``kafka_bootstrap`` (session)
    ``bootstrap.servers`` of the cluster to test against: ``$KAFKA_BOOTSTRAP_SERVERS`` when
    set, otherwise one :class:`~streams.testing.local_kafka.LocalKafka` started on first use
    and stopped at the end of the session. With ``STREAMS_TEST_DOCKER=1`` and a Docker engine
    that answers, a testcontainers Kafka is used instead (never by default).
``local_kafka`` (session)
    The :class:`LocalKafka` behind ``kafka_bootstrap``; skips the test when the cluster is
    external (it cannot be inspected or restarted).
``three_node_kafka`` (module)
    A separate three-node :class:`LocalKafka` for replication and fail-over tests.
``topic_factory``
    ``topic_factory(prefix=None, partitions=1, replication_factor=1, config=None)`` creates a
    fresh uniquely named topic and deletes it after the test.
``kafka_produce`` / ``kafka_consume`` / ``kafka_consume_all``
    :mod:`streams.testing.clients` helpers bound to ``kafka_bootstrap``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import re
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from streams.testing import clients
from streams.testing.local_kafka import LocalKafka

ENV_BOOTSTRAP = "KAFKA_BOOTSTRAP_SERVERS"
ENV_DOCKER = "STREAMS_TEST_DOCKER"
ENV_DOCKER_IMAGE = "STREAMS_TEST_DOCKER_IMAGE"
_DEFAULT_DOCKER_IMAGE = "confluentinc/cp-kafka:7.8.0"

#: Start-up times of the brokers this plugin launched, shown in the terminal summary.
_startups: list[tuple[str, float]] = []


@dataclass
class KafkaTarget:
    """The cluster a test session talks to, and who (if anyone) owns it."""

    bootstrap_servers: str
    description: str
    local: LocalKafka | None = None
    _close: Callable[[], None] | None = field(default=None, repr=False)

    def close(self) -> None:
        """Stop the cluster if this session started it."""
        if self._close is not None:
            self._close()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so pytest unwinds and fixture teardown stops Kafka.

    By default SIGTERM kills Python on the spot: the JVM then dies too (PDEATHSIG) but its data
    directory would be left behind. Only done from the main thread, and only when nobody else
    installed a handler.
    """
    installed = False
    previous: Any = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        if previous in (signal.SIG_DFL, None):

            def handler(signum: int, frame: object) -> None:
                raise KeyboardInterrupt(f"signal {signum}")

            signal.signal(signal.SIGTERM, handler)
            installed = True
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGTERM, previous)


def _docker_answers() -> bool:
    try:
        # The docker SDK comes with testcontainers (a dev extra); absent means no Docker path.
        docker: Any = importlib.import_module("docker")
        client = docker.from_env(timeout=5)
        return bool(client.ping())
    except Exception:
        return False


def _start_docker_kafka() -> KafkaTarget:
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:  # testcontainers < 4.13 keeps it at the old place
        from testcontainers.kafka import KafkaContainer

    image = os.environ.get(ENV_DOCKER_IMAGE, _DEFAULT_DOCKER_IMAGE)
    container = KafkaContainer(image).with_kraft()
    container.start()
    return KafkaTarget(
        bootstrap_servers=container.get_bootstrap_server(),
        description=f"testcontainers {image}",
        _close=container.stop,
    )


def _start_local(nodes: int = 1) -> LocalKafka:
    kafka = LocalKafka(nodes=nodes)
    kafka.start()
    _startups.append((f"{nodes}-node Kafka {kafka.version}", kafka.startup_seconds or 0.0))
    return kafka


@pytest.fixture(scope="session")
def kafka_target() -> Iterator[KafkaTarget]:
    """The session's cluster (see the module docstring for how it is chosen)."""
    external = os.environ.get(ENV_BOOTSTRAP, "").strip()
    if external:
        yield KafkaTarget(bootstrap_servers=external, description=f"{ENV_BOOTSTRAP}={external}")
        return
    with _sigterm_as_interrupt():
        if os.environ.get(ENV_DOCKER) == "1" and _docker_answers():
            target = _start_docker_kafka()
        else:
            kafka = _start_local()
            target = KafkaTarget(
                bootstrap_servers=kafka.bootstrap_servers,
                description=repr(kafka),
                local=kafka,
                _close=kafka.stop,
            )
        try:
            yield target
        finally:
            target.close()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_target: KafkaTarget) -> str:
    """``bootstrap.servers`` of the session's Kafka cluster."""
    return kafka_target.bootstrap_servers


@pytest.fixture(scope="session")
def local_kafka(kafka_target: KafkaTarget) -> LocalKafka:
    """The session's :class:`LocalKafka`; skips when testing against an external cluster."""
    if kafka_target.local is None:
        pytest.skip(f"needs the locally launched broker, but using {kafka_target.description}")
    return kafka_target.local


@pytest.fixture(scope="module")
def three_node_kafka() -> Iterator[LocalKafka]:
    """A three-node :class:`LocalKafka` (combined broker+controller nodes), per module."""
    with _sigterm_as_interrupt():
        kafka = _start_local(nodes=3)
        try:
            yield kafka
        finally:
            kafka.stop()


_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]+")


class TopicFactory:
    """Creates uniquely named topics and deletes them again in :meth:`cleanup`."""

    def __init__(self, bootstrap_servers: str, default_prefix: str = "test") -> None:
        self.bootstrap_servers = bootstrap_servers
        self.default_prefix = default_prefix
        self.created: list[str] = []

    def __call__(
        self,
        prefix: str | None = None,
        partitions: int = 1,
        replication_factor: int = 1,
        config: Mapping[str, str] | None = None,
    ) -> str:
        """Create ``<prefix>-<random>`` and return its name once every partition has a leader."""
        base = _UNSAFE.sub("-", prefix or self.default_prefix).strip("-")[:80] or "test"
        name = f"{base}-{uuid.uuid4().hex[:12]}"
        clients.create_topic(
            self.bootstrap_servers,
            name,
            partitions=partitions,
            replication_factor=replication_factor,
            config=config,
        )
        self.created.append(name)
        return name

    def cleanup(self) -> None:
        """Delete every topic created here; failures are ignored (the cluster may be gone)."""
        for name in reversed(self.created):
            with contextlib.suppress(Exception):
                clients.delete_topic(self.bootstrap_servers, name, timeout=10.0)
        self.created.clear()


@pytest.fixture
def topic_factory(kafka_bootstrap: str, request: pytest.FixtureRequest) -> Iterator[TopicFactory]:
    """Create fresh topics named after the test; they are deleted afterwards (best effort)."""
    factory = TopicFactory(kafka_bootstrap, default_prefix=request.node.name)
    yield factory
    factory.cleanup()


@pytest.fixture
def kafka_produce(kafka_bootstrap: str) -> Callable[..., list[clients.DeliveredRecord]]:
    """``kafka_produce(topic, records, **kw)``: :func:`streams.testing.clients.produce`."""
    return functools.partial(clients.produce, kafka_bootstrap)


@pytest.fixture
def kafka_consume(kafka_bootstrap: str) -> Callable[..., list[clients.ConsumedRecord]]:
    """``kafka_consume(topic, n, timeout=30, **kw)``: :func:`streams.testing.clients.consume`."""
    return functools.partial(clients.consume, kafka_bootstrap)


@pytest.fixture
def kafka_consume_all(kafka_bootstrap: str) -> Callable[..., list[clients.ConsumedRecord]]:
    """``kafka_consume_all(topic, timeout=30, **kw)``: every record currently in ``topic``."""
    return functools.partial(clients.consume_all, kafka_bootstrap)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report how long the brokers launched by this plugin took to start."""
    if _startups:
        terminalreporter.write_sep("-", "local Kafka")
        for what, seconds in _startups:
            terminalreporter.write_line(f"{what} started in {seconds:.1f} s")
