"""Everything under ``tests/integration`` talks to a real Kafka cluster: mark it so.

``pytest -m "not integration"`` then runs the broker-free suite only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add the ``integration`` marker to every test collected below this directory."""
    # Conftest hooks see the whole session's items, not just this directory's.
    for item in items:
        if _HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)
