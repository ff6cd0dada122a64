"""Under exactly-once, restoration does not stop at an open transaction left by a dead
previous owner: committed records past it would be missed, and the task would resume from
state older than its committed input offsets (counts going back, found by the fault suite)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from streams.errors import StateStoreError
from streams.runtime.restore import ChangelogRestorer


class Marks:
    """get_watermark_offsets answering from a list of (low, high), one per call (the last
    one repeats)."""

    def __init__(self, answers: list[tuple[int, int]]) -> None:
        self.answers = answers
        self.calls = 0
        self.assigned: list[Any] = []

    def get_watermark_offsets(self, tp: Any, timeout: float, cached: bool) -> tuple[int, int]:
        self.calls += 1
        return self.answers[min(self.calls - 1, len(self.answers) - 1)]

    def assign(self, tps: list[Any]) -> None:
        self.assigned = tps


class Task:
    name = "1_0"


def test_restoration_waits_for_an_open_transaction_and_reads_past_it(
        caplog: pytest.LogCaptureFixture) -> None:
    # stable end 199 while a dead producer's transaction is open; the high watermark is 255
    # (a later owner committed 225..254); once the broker aborts it the stable end is 256
    committed = Marks([(0, 199), (0, 199), (0, 256)])
    uncommitted = Marks([(0, 255), (0, 255), (0, 256)])
    restorer = ChangelogRestorer(committed, 100, None, "t", timeout=5, uncommitted=uncommitted)
    with caplog.at_level(logging.INFO):
        assert restorer.add(Task(), "counts", "cl", 0, None, lambda batch: None)
    assert [cl.end for cl in restorer._active.values()] == [256]
    assert "has an open transaction from offset 199" in caplog.text


def test_without_open_transactions_nothing_waits() -> None:
    committed = Marks([(0, 40)])
    uncommitted = Marks([(0, 40)])
    restorer = ChangelogRestorer(committed, 100, None, "t", timeout=5, uncommitted=uncommitted)
    assert restorer.add(Task(), "counts", "cl", 0, None, lambda batch: None)
    assert committed.calls == 1 and uncommitted.calls == 1


def test_a_transaction_that_never_ends_fails_naming_the_changelog() -> None:
    restorer = ChangelogRestorer(Marks([(0, 10)]), 100, None, "t", timeout=0.3,
                                 uncommitted=Marks([(0, 20)]))
    with pytest.raises(StateStoreError, match=r"changelog cl-3 has had an open transaction "
                                              r"from offset 10"):
        restorer.add(Task(), "counts", "cl", 3, None, lambda batch: None)
