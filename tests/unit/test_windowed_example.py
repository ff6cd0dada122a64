"""examples/windowed_count.py: its output equals counts computed here independently."""

from __future__ import annotations

import importlib
import random
import subprocess
import sys
from pathlib import Path

from streams import Topology, serdes
from streams.processor.window_types import TimeWindow, Windowed
from streams.testing import TopologyTestDriver

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # examples/ lives at the repository root, next to streams/
    sys.path.insert(0, str(ROOT))
windowed_count = importlib.import_module("examples.windowed_count")
S = serdes.String()
MINUTE, GRACE = 60_000, 10_000


def expected_updates(views: list[tuple[str, int]]) -> tuple[list[tuple[Windowed[str], int, int]],
                                                            int]:
    """Every update the app should emit, in order, as (windowed key, count, timestamp), and
    how many views are too late. Written from the definition, not from the processor:
    a view at ``ts`` falls in the minute starting at ``ts - ts % 60 000``; it counts unless
    stream time (the largest timestamp so far) has reached that minute's end + 10 s."""
    counts: dict[tuple[str, int], int] = {}
    latest: dict[tuple[str, int], int] = {}
    stream_time = -1
    out, late = [], 0
    for user, ts in views:
        stream_time = max(stream_time, ts)
        start = ts - ts % MINUTE
        if stream_time >= start + MINUTE + GRACE:
            late += 1
            continue
        k = (user, start)
        counts[k] = counts.get(k, 0) + 1
        latest[k] = max(latest.get(k, ts), ts)
        out.append((Windowed(user, TimeWindow(start, start + MINUTE)), counts[k], latest[k]))
    return out, late


def run(views: list[tuple[str, int]]) -> tuple[list[tuple[Windowed[str], int, int]], int]:
    with TopologyTestDriver(windowed_count.build_topology(), windowed_count.CONFIG) as d:
        topic = d.create_input_topic(windowed_count.INPUT_TOPIC, S, S)
        for user, ts in views:
            topic.pipe_input(user, f"/page/{ts % 7}", ts)
        out = d.create_output_topic(windowed_count.OUTPUT_TOPIC,
                                    serdes.TimeWindowedSerde(S, MINUTE), serdes.Long())
        got = [(r.key, r.value, r.timestamp) for r in out.read_records_to_list()]
        return got, sum(t.dropped_records for t in d._tasks)


def test_module_shape() -> None:
    assert windowed_count.CONFIG["application.id"] == "windowed-count"
    assert windowed_count.app is windowed_count.build_topology
    topo = windowed_count.app()
    assert isinstance(topo, Topology)
    text = str(topo.describe())
    assert "page-views" in text and "views-per-minute" in text


def test_hand_written_scenario() -> None:
    views = [
        ("alice", 1_000), ("bob", 2_000), ("alice", 59_999),   # minute 0
        ("alice", 60_000),                                      # exactly the end: minute 1
        ("bob", 65_000), ("alice", 55_000),                     # late, within 10 s grace
        ("alice", 70_000), ("bob", 59_000),                     # minute 0 closed at 70 000
    ]
    got, dropped = run(views)
    m0, m1 = TimeWindow(0, MINUTE), TimeWindow(MINUTE, 2 * MINUTE)
    assert got == [
        (Windowed("alice", m0), 1, 1_000),
        (Windowed("bob", m0), 1, 2_000),
        (Windowed("alice", m0), 2, 59_999),
        (Windowed("alice", m1), 1, 60_000),
        (Windowed("bob", m1), 1, 65_000),
        (Windowed("alice", m0), 3, 59_999),
        (Windowed("alice", m1), 2, 70_000),
    ]
    assert dropped == 1
    assert (got, dropped) == expected_updates(views)


def test_random_out_of_order_views_match_independent_counts() -> None:
    rng = random.Random(7)
    users = ["ann", "ben", "cy", "dee"]
    views, clock = [], 0
    for _ in range(500):
        clock += rng.randint(0, 3_000)
        # mostly in order, some up to 25 s late (some inside the grace, some beyond it)
        ts = max(0, clock - rng.choice([0, 0, 0, 0, rng.randint(0, 25_000)]))
        views.append((rng.choice(users), ts))
    got, dropped = run(views)
    want, late = expected_updates(views)
    assert late > 0 and len(want) > 0          # the data exercises both paths
    assert got == want
    assert dropped == late


def test_main_prints_the_topology() -> None:
    result = subprocess.run([sys.executable, "-m", "examples.windowed_count"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True)
    assert "page-views" in result.stdout and "views-per-minute" in result.stdout
