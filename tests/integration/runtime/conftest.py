"""Fixtures of the runtime's broker tests; the helpers live in ``rt_helpers``.

Every test gets its own ``application.id`` (so its own consumer group and internal topics)
and its own topics from ``topic_factory``; internal topics are deleted afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rt_helpers import AppFactory, WorkerFactory, app_id_for, delete_internal_topics, dump_logs


@pytest.fixture
def app_factory(kafka_bootstrap: str, tmp_path: Path, topic_factory: Any,
                request: pytest.FixtureRequest) -> Iterator[AppFactory]:
    """``app_factory(topology, state_dir=None, **config)`` -> a not yet started KafkaStreams."""
    # depends on topic_factory so that apps close before the test's topics are deleted
    factory = AppFactory(kafka_bootstrap, app_id_for(request), tmp_path)
    yield factory
    factory.close_all()
    delete_internal_topics(kafka_bootstrap, factory.app_id)


@pytest.fixture
def worker_factory(kafka_bootstrap: str, tmp_path: Path, topic_factory: Any,
                   request: pytest.FixtureRequest) -> Iterator[WorkerFactory]:
    """``worker_factory(name, input, output, state_dir=None)`` -> a running :class:`Worker`."""
    factory = WorkerFactory(kafka_bootstrap, app_id_for(request), tmp_path)
    yield factory
    factory.stop_all()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        dump_logs(factory.workers)
    delete_internal_topics(kafka_bootstrap, factory.app_id)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember each phase's report on the item, so fixtures can dump worker logs on failure."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
