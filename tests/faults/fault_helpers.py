"""Shared machinery of the fault-injection scenarios in ``tests/faults``.

A scenario runs word-count workers (``streams run wordcount_app:topology``, the worker tests'
app, started through :class:`rt_helpers.WorkerFactory`) under ``exactly_once_v2`` on the
three-node local cluster, with internal topics at replication factor 3 and
``min.insync.replicas`` 2. :class:`FaultRun` wraps one such run:

* an :class:`InputFeeder` thread keeps producing lines (idempotent, ``acks=all``) while the
  fault happens, until :meth:`FaultRun.finish` stops it;
* an :class:`OutputMonitor` thread reads the output topic ``read_committed`` from the start and
  notes when each batch of records arrives: the longest gap between arrivals, from the first
  output until the app has caught up (or, if it never does, until waiting gave up), is the
  **longest stall** a downstream reader saw. The output topic uses ``LogAppendTime``, so the
  longest gap between the committed output records' broker append times is reported too (it
  cannot see a stall that never ended);
* :meth:`FaultRun.finish` stops the input, waits (bounded) until the app has caught up, checks
  every worker and the output exactly, reports, and fails with every problem found at once,
  the timeline of the run and the tail of each worker's log.

Exact checks (``read_committed``): the repartition topic holds every input word exactly once;
per word, the output (and changelog) counts strictly increase and end at the true count (with
the record cache off: are exactly ``1..n``). Worker checks: each worker the test did not stop
itself is either ``RUNNING`` with its input committed to the end, or has exited non-zero with
an ``ERROR`` line in its log (``--faults-strict`` fails that too); alive but not ``RUNNING``, or
``RUNNING`` with input it owns left uncommitted, is reported as stuck. A failed scenario keeps
its worker logs and the topics' records in :data:`ARTIFACTS`.

A uniquely named module (not ``conftest``), imported by the scenario modules, with its parts in
``fault_cluster``, ``fault_traffic``, ``fault_checks`` and ``fault_report``; it reuses
``tests/integration/runtime/rt_helpers.py`` for the worker processes.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import itertools
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

_RUNTIME_TESTS = Path(__file__).resolve().parents[1] / "integration" / "runtime"
if str(_RUNTIME_TESTS) not in sys.path:
    sys.path.insert(0, str(_RUNTIME_TESTS))  # rt_helpers, and through it the wordcount app

from fault_checks import (  # noqa: E402
    count_sequences,
    dump_records,
    read_sorted,
    sequence_problems,
)
from fault_cluster import (  # noqa: E402
    ensure_cluster_healthy,
    group_coordinator,
    partition_leaders,
    process_state,
)
from fault_report import REPORTS, FaultReport, WorkerView  # noqa: E402
from fault_traffic import InputFeeder, OutputMonitor  # noqa: E402
from rt_helpers import (  # noqa: E402
    NO_CACHE,
    Worker,
    WorkerFactory,
    committed_and_ends,
    delete_internal_topics,
    stable_assignment,
)

from streams import serdes  # noqa: E402
from streams.testing import clients  # noqa: E402
from streams.testing.local_kafka import LocalKafka  # noqa: E402

__all__ = [
    "NO_CACHE",
    "PARTITIONS",
    "REPORTS",
    "FaultReport",
    "FaultRun",
    "InputFeeder",
    "OutputMonitor",
    "ensure_cluster_healthy",
    "process_state",
]

#: Input (and so repartition and changelog) partitions: 12 tasks, 4 per worker with three.
PARTITIONS = 6
OUTPUT_PARTITIONS = 3
ALL_TASKS = {f"{sub}_{p}" for sub in (0, 1) for p in range(PARTITIONS)}
REPLICATION = 3
#: Topic settings of every topic of a scenario (input, output and, via ``topic.``, internal).
TOPIC_CONFIG = {"min.insync.replicas": "2"}
#: What every worker runs with (on top of rt_helpers' session timeout 6 s, heartbeat 1 s,
#: commit interval 500 ms).
WORKER_SETTINGS = (
    "-s", "processing.guarantee=exactly_once_v2",
    "-s", f"replication.factor={REPLICATION}",
    "-s", "topic.min.insync.replicas=2",
)  # fmt: skip
#: How long :meth:`FaultRun.finish` waits for the app to catch up once the input stops.
SETTLE_TIMEOUT = 90.0
#: How long the output may still be wrong once the app has caught up (transactions in flight).
CAUGHT_UP_GRACE = 15.0
#: Longest a worker start-up (and first stable assignment) may take.
STABLE_TIMEOUT = 90.0

#: Where a failed scenario leaves its worker logs and topic dumps (pytest's own tmp_path
#: directories are rotated away by later runs).
ARTIFACTS = Path(tempfile.gettempdir()) / "streams-faults"


class FaultRun:
    """One scenario: topics, workers, traffic, the fault timeline and the final verdict."""

    def __init__(self, kafka: LocalKafka, tmp_path: Path, scenario: str,
                 record_property: Callable[[str, object], None], *,
                 extra: tuple[str, ...] = (), seed: int = 0, strict: bool = False,
                 pills: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        self.kafka = kafka
        #: kinds of poison pill the input carries (see fault_traffic.poison_pill)
        self.pills = pills
        #: added to every worker's environment
        self.env = env or {}
        #: also fail when a worker the test did not stop exited (even saying why)
        self.strict = strict
        self.bootstrap = kafka.bootstrap_servers
        self.scenario = scenario
        self.tmp_path = tmp_path
        self.record_property = record_property
        self.extra = (*WORKER_SETTINGS, *extra)
        self.exact = "statestore.cache.max.bytes=0" in self.extra
        self.seed = seed
        tag = uuid.uuid4().hex[:8]
        slug = re.sub(r"[^a-zA-Z0-9]+", "-", scenario).strip("-")[:40]
        self.app_id = f"faults-{slug}-{tag}"
        self.input = clients.create_topic(self.bootstrap, f"faults-lines-{tag}", PARTITIONS,
                                          REPLICATION, TOPIC_CONFIG)
        self.output = clients.create_topic(
            self.bootstrap, f"faults-counts-{tag}", OUTPUT_PARTITIONS, REPLICATION,
            {**TOPIC_CONFIG, "message.timestamp.type": "LogAppendTime"})
        self.repartition = f"{self.app_id}-counts-repartition"
        self.changelog = f"{self.app_id}-counts-changelog"
        self.factory = WorkerFactory(self.bootstrap, self.app_id, tmp_path)
        self.state_dirs: dict[str, Path] = {}
        #: workers the test killed (SIGKILL) or stopped (SIGTERM) on purpose
        self.killed: set[str] = set()
        self.terminated: set[str] = set()
        self.started = time.monotonic()
        self.started_wall = time.time()
        self.timeline: list[str] = []
        self.faults: list[str] = []
        self.fault_at: float | None = None
        self.input_stopped_at: float | None = None
        self.feeder: InputFeeder | None = None
        self.monitor: OutputMonitor | None = None
        self._closed = False

    # ---- timeline -------------------------------------------------------------------
    def t(self, moment: float | None = None) -> float:
        """Seconds since the run started (``moment`` is a monotonic time)."""
        return (time.monotonic() if moment is None else moment) - self.started

    def event(self, text: str) -> None:
        """Note something in the run's timeline (and print it)."""
        entry = f"t+{self.t():6.1f}s {text}"
        self.timeline.append(entry)
        print(entry, flush=True)

    def fault(self, text: str) -> None:
        """Note the start of a fault; the first one anchors the stuck-worker checks."""
        if self.fault_at is None:
            self.fault_at = time.monotonic()
        self.faults.append(f"t+{self.t():.1f}s {text}")
        self.event(f"FAULT: {text}")

    # ---- workers --------------------------------------------------------------------
    @property
    def workers(self) -> list[Worker]:
        """Every worker started so far."""
        return self.factory.workers

    def live_workers(self) -> list[Worker]:
        """Workers the test has not stopped on purpose and that are still alive."""
        return [w for w in self.workers
                if w.alive and w.name not in self.killed | self.terminated]

    def worker(self, name: str, state_dir: Path | None = None) -> Worker:
        """Start a worker (state in ``state_dir``, or its own new directory)."""
        state = state_dir or self.tmp_path / f"state-{name}"
        self.state_dirs[name] = state
        w = self.factory(name, self.input, self.output, state_dir=state, extra=self.extra,
                         env=self.env)
        self.event(f"worker {name} started (pid {w.proc.pid}, state dir {state.name})")
        return w

    def kill_worker(self, w: Worker) -> None:
        """kill -9 a worker: no commit, no leave-group; its transaction stays open."""
        w.kill()
        self.killed.add(w.name)
        self.event(f"worker {w.name} killed (SIGKILL)")

    def terminate_worker(self, w: Worker) -> None:
        """SIGTERM a worker (it should commit, leave the group and exit 0); not waited for."""
        w.proc.send_signal(signal.SIGTERM)
        self.terminated.add(w.name)
        self.event(f"worker {w.name} asked to stop (SIGTERM)")

    def wait_stable(self, workers: list[Worker], timeout: float = STABLE_TIMEOUT) -> None:
        """Wait until ``workers`` are RUNNING and share all tasks; fails with their logs."""
        deadline = time.monotonic() + timeout
        while stable_assignment(workers, ALL_TASKS) is None:
            dead = [w for w in workers if not w.alive]
            if dead or time.monotonic() > deadline:
                views = [WorkerView.of(w) for w in workers]
                raise AssertionError(
                    f"{self.scenario}: workers {[w.name for w in workers]} did not start and "
                    f"share the {len(ALL_TASKS)} tasks within {timeout:.0f}s "
                    f"(exited: {[w.name for w in dead]})\n" + self._logs(views))
            time.sleep(0.3)
        self.event(f"stable: {', '.join(f'{w.name}={sorted(w.assigned() or ())}' for w in workers)}")

    # ---- traffic --------------------------------------------------------------------
    def start_traffic(self, warm_up: float = 5.0) -> None:
        """Start feeding input and watching output; return once output flows (plus
        ``warm_up`` seconds)."""
        self.monitor = OutputMonitor(self.bootstrap, self.output, OUTPUT_PARTITIONS)
        self.monitor.start()
        self.feeder = InputFeeder(self.bootstrap, self.input, self.seed, pills=self.pills)
        self.feeder.start()
        self.event("input started")
        deadline = time.monotonic() + 60
        while self.monitor.last_arrival() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.scenario}: no output within 60s of the first "
                                     "input\n" + self._logs([WorkerView.of(w)
                                                             for w in self.workers]))
            time.sleep(0.2)
        self.event("output flowing")
        time.sleep(warm_up)

    def most_leaders(self) -> tuple[int, int, int]:
        """(node, partitions it leads, partitions in all) over input, repartition and
        changelog."""
        leaders = partition_leaders(self.bootstrap, [self.input, self.repartition,
                                                     self.changelog])
        counts = collections.Counter(n for parts in leaders.values() for n in parts.values())
        node, led = counts.most_common(1)[0]
        return node, led, sum(counts.values())

    def coordinator(self) -> int:
        """Node id of the app's group coordinator."""
        return group_coordinator(self.bootstrap, self.app_id)

    def led_by(self, node: int) -> str:
        """How many partitions of input/repartition/changelog/output ``node`` leads."""
        leaders = partition_leaders(self.bootstrap, [self.input, self.repartition,
                                                     self.changelog, self.output])
        led = sum(1 for parts in leaders.values() for n in parts.values() if n == node)
        total = sum(len(parts) for parts in leaders.values())
        return f"{led} of {total} partitions"

    # ---- the verdict ----------------------------------------------------------------
    def _lag(self) -> dict[int, int] | None:
        """Uncommitted input records per partition, or None when offsets cannot be read."""
        try:
            committed, ends = committed_and_ends(self.bootstrap, self.app_id, self.input,
                                                 PARTITIONS)
        except Exception:
            return None
        return {p: e - c for p, (c, e) in enumerate(zip(committed, ends)) if e > c}

    def _settle(self, expected: collections.Counter[str]) -> tuple[bool, float, dict[int, int]]:
        """Wait until the live workers are RUNNING, the input is committed to its end and the
        output shows the true counts. Stop early when an over-count (which cannot heal) shows,
        or when the app has caught up for :data:`CAUGHT_UP_GRACE` seconds but the output is
        still wrong. Returns (settled, end of the stall window, input lag): the window ends
        with the last output once the app caught up, else when waiting gave up."""
        assert self.monitor is not None
        deadline = time.monotonic() + SETTLE_TIMEOUT
        target = dict(expected)
        caught_up_at: float | None = None
        while True:
            now = time.monotonic()
            live = self.live_workers()
            running = bool(live) and all(w.state() == "RUNNING" for w in live)
            latest = self.monitor.snapshot()
            over = any((latest.get(w) or 0) > n for w, n in expected.items())
            lag = self._lag() if running else None
            caught_up_at = (caught_up_at or now) if lag == {} else None
            last = self.monitor.last_arrival() or now
            if caught_up_at is not None and latest == target:
                return True, last, {}
            if over:
                return False, last, lag or {}
            if caught_up_at is not None and now - caught_up_at > CAUGHT_UP_GRACE:
                self.event(f"caught up {now - caught_up_at:.0f}s ago, but the output is not "
                           "the true counts")
                return False, last, {}
            if not live or now > deadline:
                return False, now, self._lag() or {}
            time.sleep(0.5)

    def finish(self) -> FaultReport:
        """Stop the input, wait for the app to catch up, check everything, report; raise
        AssertionError listing every problem (with logs) if anything is wrong."""
        assert self.feeder is not None and self.monitor is not None
        problems: list[str] = []
        unacked = self.feeder.finish()
        self.input_stopped_at = time.monotonic()
        self.event(f"input stopped: {self.feeder.sent} lines sent")
        if self.feeder.failure is not None:
            problems.append(f"TEST INPUT: the feeder failed: {self.feeder.failure!r}")
        if unacked or self.feeder.errors:
            problems.append(f"TEST INPUT: {unacked} line(s) unacknowledged, delivery errors: "
                            f"{self.feeder.errors[:5]}")
        settled, window_end, lag = self._settle(self.feeder.expected)
        self.event("settled" if settled else "NOT settled")
        stall, stall_start = self.monitor.longest_stall(window_end)
        self.monitor.stop()

        # the input as the app saw it: the true counts are those of what is in the topic
        try:
            inputs = read_sorted(self.bootstrap, self.input)  # values as bytes: pills too
        except Exception as exc:
            inputs = []
            problems.append(f"TEST INPUT: could not read back {self.input}: {exc}")
        keys = collections.Counter(r.key for r in inputs)
        expected: collections.Counter[str] = collections.Counter()
        for r in inputs:
            if r.key not in self.feeder.pill_keys:
                expected.update(r.value.decode().split())
        doubled_input = sorted(k for k, n in keys.items() if n > 1)
        missing_input = sorted(set(self.feeder.acked_keys) - set(keys))
        if inputs and (doubled_input or missing_input):
            problems.append(f"TEST INPUT: the input topic differs from what was acknowledged: "
                            f"{len(doubled_input)} line(s) twice {doubled_input[:5]}, "
                            f"{len(missing_input)} missing {missing_input[:5]}")

        views = {w.name: WorkerView.of(w) for w in self.workers}
        problems += self._worker_problems(views, lag)

        output: list[clients.ConsumedRecord] = []
        dumps: dict[str, list[clients.ConsumedRecord]] = {}
        for what, topic in (("output", self.output), ("changelog", self.changelog)):
            try:
                records = read_sorted(self.bootstrap, topic)
            except Exception as exc:
                problems.append(f"could not read the {what} topic {topic} read_committed to its "
                                f"end: {exc}")
                continue
            dumps[what] = records
            seqs, split = count_sequences(records)
            if split:
                problems.append(f"{what}: words in more than one partition: {split[:5]}")
            # output timestamps are broker append times (LogAppendTime): show them on the
            # run's clock, to line them up with the timeline and the worker logs
            problems += sequence_problems(
                f"the {what} topic {topic}", seqs, expected, self.exact,
                when=self._append_time if what == "output" else None)
            if what == "output":
                output = records
        try:
            repartitioned = read_sorted(self.bootstrap, self.repartition, serdes.String())
            dumps["repartition"] = repartitioned
            words = collections.Counter(r.key for r in repartitioned)
            lost = {w: (words.get(w, 0), n) for w, n in expected.items() if words.get(w, 0) < n}
            doubled = {w: (n, expected.get(w, 0)) for w, n in words.items()
                       if n > expected.get(w, 0)}
            if lost:
                problems.append(f"LOST in the repartition topic: {sum(words.values())} of "
                                f"{sum(expected.values())} words there; (records, true count) "
                                f"per word: {lost}")
            if doubled:
                problems.append(f"DUPLICATED in the repartition topic: (records, true count) per "
                                f"word: {doubled}")
        except Exception as exc:
            problems.append(f"could not read the repartition topic read_committed: {exc}")

        stamps = sorted(r.timestamp for r in output)
        append_stall = (max((b - a for a, b in itertools.pairwise(stamps)), default=0) / 1000
                        if stamps else None)
        report = FaultReport(
            scenario=self.scenario,
            seconds=self.t(),
            stall=stall,
            stall_at=self.t(stall_start),
            append_stall=append_stall,
            faults=self.faults,
            lines=len(inputs),
            words=sum(expected.values()),
            output_records=len(output),
            workers={name: self._describe(v) for name, v in views.items()},
            died=[f"{v.name} (exit {v.exit_code})" for v in views.values()
                  if not v.alive and v.name not in self.killed | self.terminated],
            problems=problems,
        )
        REPORTS.append(report)
        self.record_property("longest_stall_s", round(stall, 2))
        self.record_property("longest_stall_at_s", round(report.stall_at, 1))
        self.record_property("append_time_stall_s",
                             None if append_stall is None else round(append_stall, 2))
        self.record_property("fault_report", report.summary())
        print(report.summary())
        for name, text in report.workers.items():
            print(f"  worker {name}: {text}")
        if problems:
            kept = ARTIFACTS / self.app_id
            kept.mkdir(parents=True, exist_ok=True)
            for what, records in dumps.items():
                dump_records(kept / f"records-{what}.tsv", records)
            for w in self.workers:
                with contextlib.suppress(OSError):
                    shutil.copy(w.log, kept / w.log.name)
            (kept / "report.txt").write_text("\n".join([report.summary(), *problems, "",
                                                         *self.timeline]) + "\n")
            problems.append(f"(worker logs and the read_committed records of the output, "
                            f"changelog and repartition topics are kept in {kept})")
            raise AssertionError(
                f"{self.scenario}: {len(problems)} problem(s):\n"
                + "\n".join(f"  - {p}" for p in problems)
                + "\n\ntimeline:\n  " + "\n  ".join(self.timeline)
                + f"\n\n{report.summary()}\n" + self._logs(list(views.values())))
        return report

    def _append_time(self, millis: int) -> str:
        """A broker append time (epoch ms) on the run's clock, with the wall-clock time."""
        stamp = datetime.datetime.fromtimestamp(millis / 1000).strftime("%H:%M:%S.%f")[:-3]
        return f"t+{millis / 1000 - self.started_wall:.1f}s {stamp}"

    def _describe(self, v: WorkerView) -> str:
        if v.name in self.killed:
            return f"killed by the test (SIGKILL), exit {v.exit_code}"
        if v.name in self.terminated:
            return f"stopped by the test (SIGTERM), exit {v.exit_code}"
        if v.alive:
            return f"alive, {v.state}, tasks {sorted(v.tasks or ())}"
        first = v.errors[0] if v.errors else "no ERROR line"
        return f"exited {v.exit_code}: {first[:300]}"

    def _since_fault(self, wall: float | None) -> str:
        if wall is None:
            return "never"
        rel = wall - self.started_wall
        if self.fault_at is None:
            return f"t+{rel:.1f}s"
        return f"t+{rel:.1f}s ({rel - self.t(self.fault_at):+.1f}s from the first fault)"

    def _worker_problems(self, views: dict[str, WorkerView], lag: dict[int, int]) -> list[str]:
        """Every worker is RUNNING and caught up, or exited non-zero saying why; SIGTERMed
        workers exited 0. One entry per worker (plus one for input nobody owns)."""
        problems = []
        stopped = self.killed | self.terminated
        owners = {task: v.name for v in views.values() if v.alive and v.name not in stopped
                  for task in v.tasks or ()}
        behind: dict[str | None, dict[int, int]] = collections.defaultdict(dict)
        for p, n in lag.items():
            behind[owners.get(f"0_{p}")][p] = n
        waited = self.t() - self.t(self.input_stopped_at or self.started)
        for v in views.values():
            if v.name in self.killed:
                continue
            stalls = [e[:300] for e in v.errors if "no progress" in e or "did not stop" in e]
            if v.name in self.terminated:
                if v.alive:
                    problems.append(f"STUCK: worker {v.name} is still alive {waited:.0f}s after "
                                    f"its SIGTERM (state {v.state}); stall warnings: "
                                    f"{stalls[:2] or 'none'}")
                elif v.exit_code != 0:
                    problems.append(f"worker {v.name} exited {v.exit_code} after SIGTERM "
                                    f"(expected a clean 0): {v.errors[:3]}")
                continue
            if v.alive and (v.state != "RUNNING" or v.name in behind):
                what = (f"in {v.state} since {self._since_fault(v.state_since)}"
                        if v.state != "RUNNING" else
                        f"RUNNING (since {self._since_fault(v.state_since)})")
                lagging = (f"its input partitions {behind[v.name]} still have uncommitted "
                           f"records {waited:.0f}s after the input stopped"
                           if v.name in behind else "it owns no lagging input")
                problems.append(
                    f"STUCK: worker {v.name} is alive, {what}; {lagging}; last RUNNING "
                    f"{self._since_fault(v.last_running)}; stall warnings: {stalls[:2] or 'none'}"
                    f"; ERROR lines: {[e[:300] for e in v.errors[:3]] or 'none'}")
            elif not v.alive and v.exit_code == 0:
                problems.append(f"worker {v.name} exited 0 without being asked to stop")
            elif not v.alive:
                fatal = [e for e in v.errors if " ERROR " in e or " CRITICAL " in e]
                if not fatal:
                    problems.append(f"worker {v.name} exited {v.exit_code} without an ERROR "
                                    "line in its log")
                elif self.strict:
                    problems.append(f"DIED (--faults-strict): worker {v.name} exited "
                                    f"{v.exit_code}: {fatal[0][:400]}")
        if None in behind:
            problems.append(f"NOT CAUGHT UP: input partitions {behind[None]} (uncommitted "
                            f"records) of {self.input} have no live owner")
        if not any(v.alive for v in views.values() if v.name not in stopped):
            problems.append("NO WORKER LEFT: every worker the test did not stop has exited")
        return problems

    def _logs(self, views: list[WorkerView]) -> str:
        parts = []
        for v in views:
            status = "alive" if v.alive else f"exit {v.exit_code}"
            parts.append(f"----- worker {v.name} ({status}, last state {v.state}) -----")
            if v.errors:
                parts.append("ERROR/exception lines (first 8):")
                parts += [f"  {e[:400]}" for e in v.errors[:8]]
            if v.client_tail:
                parts.append("librdkafka's last lines:")
                parts += [f"  {line[:400]}" for line in v.client_tail]
            parts.append("log tail (streams):")
            parts += [f"  {line[:400]}" for line in v.tail]
        return "\n".join(parts)

    # ---- cleanup --------------------------------------------------------------------
    def close(self) -> None:
        """Stop traffic and workers (SIGTERM, SIGKILL after 40 s), delete the topics."""
        if self._closed:
            return
        self._closed = True
        if self.feeder is not None and self.feeder.is_alive():
            with contextlib.suppress(Exception):
                self.feeder.finish(10)
        if self.monitor is not None and self.monitor.is_alive():
            self.monitor.stop()
        for w in self.workers:
            if w.alive:
                w.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 40
        for w in self.workers:
            with contextlib.suppress(Exception):
                w.proc.wait(max(0.1, deadline - time.monotonic()))
            if w.alive:
                w.proc.kill()
                w.proc.wait(10)
        delete_internal_topics(self.bootstrap, self.app_id)
        for topic in (self.input, self.output):
            with contextlib.suppress(Exception):
                clients.delete_topic(self.bootstrap, topic, timeout=10)
        for state in self.state_dirs.values():
            shutil.rmtree(state, ignore_errors=True)
