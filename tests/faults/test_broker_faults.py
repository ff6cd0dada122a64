"""Broker faults under exactly-once, on the three-node cluster (issue #16).

Three word-count workers (``exactly_once_v2``, internal topics at replication factor 3 with
``min.insync.replicas`` 2) process lines that keep arriving while one broker is

1. killed with ``kill -9`` -- the one leading most input, repartition and changelog
   partitions -- and restarted;
2. killed with ``kill -9`` -- the one coordinating the application's consumer group -- and
   restarted;
3. frozen with SIGSTOP for longer than the workers' session timeout (6 s) -- the group
   coordinator again, the nastiest place: heartbeats and commits hang rather than fail -- and
   continued with SIGCONT.

Then the input stops and :meth:`fault_helpers.FaultRun.finish` checks, ``read_committed``, that
nothing was lost or doubled (repartition topic: every word exactly once; output and changelog:
per word strictly increasing to the true count), that no worker is alive but stuck, and reports
the longest output stall.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fault_helpers import FaultRun, process_state

pytestmark = [pytest.mark.faults, pytest.mark.integration]

#: Per scenario; the first one also pays for starting the cluster.
TIMEOUT = 420
#: How long a killed broker stays down, and how long input goes on after it is back.
DOWN, AFTER = 15.0, 10.0
#: How long a broker stays frozen: well past the 6 s session timeout and the 4 s broker session.
FROZEN = 15.0


def _start(run: FaultRun) -> None:
    """Three workers sharing the 12 tasks, then input flowing and output arriving."""
    workers = [run.worker(name) for name in "abc"]
    run.wait_stable(workers)
    run.start_traffic()


def _kill_and_restart(run: FaultRun, node: int, why: str) -> None:
    run.fault(f"kill -9 broker {node} ({why}; leads {run.led_by(node)})")
    run.kafka.stop_node(node, kill=True)
    time.sleep(DOWN)
    run.event(f"restarting broker {node}")
    run.kafka.start_node(node, timeout=120)
    run.event(f"broker {node} is back")
    time.sleep(AFTER)


@pytest.mark.timeout(TIMEOUT)
def test_kill_9_partition_leader_broker(fault_run: Callable[..., FaultRun]) -> None:
    run = fault_run("kill -9 busiest leader broker", seed=1)
    _start(run)
    node, led, total = run.most_leaders()
    _kill_and_restart(run, node, f"leader of {led}/{total} input/repartition/changelog "
                                 "partitions")
    run.finish()


@pytest.mark.timeout(TIMEOUT)
def test_kill_9_group_coordinator_broker(fault_run: Callable[..., FaultRun]) -> None:
    run = fault_run("kill -9 group coordinator broker", seed=2)
    _start(run)
    node = run.coordinator()
    _kill_and_restart(run, node, "group coordinator")
    run.finish()


@pytest.mark.timeout(TIMEOUT)
def test_sigstop_group_coordinator_broker(fault_run: Callable[..., FaultRun]) -> None:
    run = fault_run("SIGSTOP group coordinator broker", seed=3)
    _start(run)
    node = run.coordinator()
    pid = run.kafka.pids[node]
    assert pid is not None
    run.fault(f"SIGSTOP broker {node} for {FROZEN:.0f}s (group coordinator; leads "
              f"{run.led_by(node)})")
    run.kafka.pause_node(node)
    try:
        time.sleep(0.5)
        assert process_state(pid) == "T", f"broker {node} (pid {pid}) is not stopped"
        time.sleep(FROZEN - 0.5)
    finally:
        run.kafka.resume_node(node)
    run.event(f"SIGCONT broker {node}")
    assert process_state(pid) != "T", f"broker {node} (pid {pid}) is still stopped"
    time.sleep(AFTER)
    run.finish()
