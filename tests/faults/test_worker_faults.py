"""Worker faults under exactly-once, on the three-node cluster (issue #16).

4. a ``kill -9`` storm: six workers killed over ~40 s, each replaced at once by a new worker,
   alternately with an empty state directory and with the dead worker's one; with the record
   cache on and off (off: every count update must be there, exactly ``1..n``);
5. a rebalance storm: workers joining, leaving (SIGTERM) and coming back with their state
   directory every few seconds under load.

The checks and the stall report are :meth:`fault_helpers.FaultRun.finish`'s: nothing lost or
doubled ``read_committed``, no worker alive but stuck, every SIGTERMed worker exited 0.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest
from fault_helpers import NO_CACHE, FaultRun

pytestmark = [pytest.mark.faults, pytest.mark.integration]

TIMEOUT = 420
KILLS, KILL_INTERVAL = 6, 6.5
#: events of the rebalance storm, this far apart; 2..4 workers alive throughout
STORM = ("join", "join", "leave", "leave", "rejoin", "join", "leave", "leave", "rejoin",
         "leave", "rejoin", "join")
STORM_INTERVAL = 3.5
AFTER = 8.0


@pytest.mark.timeout(TIMEOUT)
@pytest.mark.parametrize("cache", [True, False], ids=["cache", "no-cache"])
def test_worker_kill_9_storm(cache: bool, fault_run: Callable[..., FaultRun]) -> None:
    run = fault_run(f"worker kill -9 storm ({'cache' if cache else 'no cache'})",
                    extra=() if cache else NO_CACHE, seed=4 if cache else 5)
    workers = [run.worker(name) for name in "abc"]
    run.wait_stable(workers)
    run.start_traffic()
    rng = random.Random(4)
    for i in range(1, KILLS + 1):
        victim = rng.choice(run.live_workers())
        keep = i % 2 == 0
        run.fault(f"kill -9 worker {victim.name} ({i}/{KILLS})")
        run.kill_worker(victim)
        run.worker(f"r{i}", state_dir=run.state_dirs[victim.name] if keep else None)
        time.sleep(KILL_INTERVAL)
    time.sleep(AFTER)
    run.finish()


@pytest.mark.timeout(TIMEOUT)
def test_rebalance_storm(fault_run: Callable[..., FaultRun]) -> None:
    run = fault_run("rebalance storm (join/SIGTERM)", seed=6)
    workers = [run.worker(name) for name in "ab"]
    run.wait_stable(workers)
    run.start_traffic()
    joined = 0
    for i, what in enumerate(STORM, 1):
        # a worker that left comes back with its state directory (once its process is gone
        # and the directory lock with it); a fresh one joins otherwise
        gone = [w for w in run.workers if w.name in run.terminated and not w.alive
                and not any(v == run.state_dirs[w.name] for n, v in run.state_dirs.items()
                            if n != w.name)]
        if what == "rejoin" and gone:
            back = gone[0]
            run.fault(f"worker {back.name} rejoins with its state ({i}/{len(STORM)})")
            run.worker(f"{back.name}-again", state_dir=run.state_dirs[back.name])
        elif what in ("join", "rejoin"):
            joined += 1
            run.fault(f"worker j{joined} joins ({i}/{len(STORM)})")
            run.worker(f"j{joined}")
        else:
            oldest = run.live_workers()[0]
            run.fault(f"worker {oldest.name} leaves ({i}/{len(STORM)})")
            run.terminate_worker(oldest)
        time.sleep(STORM_INTERVAL)
    time.sleep(AFTER)
    run.finish()
