"""Fixtures of the fault-injection scenarios: one three-node cluster for the whole session.

Everything collected below this directory is marked ``faults`` (and ``integration``), so a plain
``pytest`` run skips it (see ``tests/conftest.py``); ``pytest tests/faults --faults`` runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import REPORTS, FaultRun, ensure_cluster_healthy

from streams.testing.local_kafka import LocalKafka
from streams.testing.pytest_plugin import _sigterm_as_interrupt

_HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test below this directory ``faults`` and ``integration``."""
    for item in items:
        if _HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def fault_kafka() -> Iterator[LocalKafka]:
    """A three-node cluster shared by every scenario: replication factor 3 and
    ``min.insync.replicas`` 2 for every topic (``__consumer_offsets`` included)."""
    with _sigterm_as_interrupt():
        kafka = LocalKafka(nodes=3, broker_config={"min.insync.replicas": 2},
                           startup_timeout=120.0)
        kafka.start()
        print(f"\n3-node Kafka {kafka.version} up in {kafka.startup_seconds or 0:.1f}s")
        try:
            yield kafka
        finally:
            kafka.stop()


@pytest.fixture
def fault_cluster(fault_kafka: LocalKafka) -> Iterator[LocalKafka]:
    """The shared cluster, healthy (every node up and every partition fully in sync) before
    the test and again after it, whatever the test did to it."""
    ensure_cluster_healthy(fault_kafka)
    try:
        yield fault_kafka
    finally:
        ensure_cluster_healthy(fault_kafka)


@pytest.fixture
def fault_run(fault_cluster: LocalKafka, tmp_path: Path,
              record_property: Callable[[str, object], None],
              request: pytest.FixtureRequest) -> Iterator[Callable[..., FaultRun]]:
    """``fault_run(scenario, extra=(), seed=0, pills=(), env=None)`` -> a :class:`FaultRun` with
    fresh topics and
    application id; its workers are stopped and its topics deleted afterwards. With
    ``--faults-strict`` a worker that exited on its own fails the scenario too."""
    runs: list[FaultRun] = []
    strict = bool(request.config.getoption("--faults-strict"))

    def make(scenario: str, *, extra: tuple[str, ...] = (), seed: int = 0,
             pills: tuple[str, ...] = (), env: dict[str, str] | None = None) -> FaultRun:
        run = FaultRun(fault_cluster, tmp_path, scenario, record_property, extra=extra,
                       seed=seed, strict=strict, pills=pills, env=env)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per scenario: verdict, duration, longest output stall, faults."""
    if REPORTS:
        terminalreporter.write_sep("-", "fault scenarios")
        for report in REPORTS:
            terminalreporter.write_line(report.summary())
