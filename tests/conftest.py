"""Shared pytest configuration: the Kafka fixtures (``kafka_bootstrap``, ``topic_factory``, ...),
and the ``--faults`` option that enables the fault-injection scenarios in ``tests/faults``."""

from __future__ import annotations

import pytest

pytest_plugins = ["streams.testing.pytest_plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--faults``: also run the tests marked ``faults`` (skipped otherwise)."""
    parser.addoption(
        "--faults",
        action="store_true",
        default=False,
        help="run the fault-injection scenarios (tests/faults: brokers and workers killed or "
        "frozen on a 3-node local cluster; several minutes)",
    )
    parser.addoption(
        "--faults-strict",
        action="store_true",
        default=False,
        help="with --faults: also fail a scenario when a worker the test did not stop exited, "
        "even with a clear error (by default only stuck workers, lost or doubled data fail)",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests marked ``faults`` unless ``--faults`` was given."""
    if config.getoption("--faults"):
        return
    skip = pytest.mark.skip(reason="fault scenarios run with --faults")
    for item in items:
        if item.get_closest_marker("faults") is not None:
            item.add_marker(skip)
