"""Fixtures of the runtime tests on the in-memory cluster (``fake_kafka``)."""

from __future__ import annotations

import pytest
from fake_kafka import FakeCluster
from test_runtime_on_fake_kafka import PARTITIONS


@pytest.fixture
def cluster() -> FakeCluster:
    """A fresh cluster with the word count's topics: ``lines`` and ``counts``."""
    c = FakeCluster()
    c.create_topic("lines", PARTITIONS)
    c.create_topic("counts", 2)
    return c
