"""What a ``kill -9`` of one instance costs, with and without standby replicas.

Run by hand (this is not a test)::

    python3 -m benchmarks.failover_bench                # both runs, writes benchmarks/failover_results.md
    python3 -m benchmarks.failover_bench --keys 100000 --standbys 1 --no-write   # quick look

The harness starts a local Kafka broker (``LocalKafka``) unless ``KAFKA_BOOTSTRAP_SERVERS`` is
set, creates a 6-partition input topic and writes ``--keys`` distinct keys to it once
(``k000000`` .. , value = key, murmur2-partitioned). Then, once per ``num.standby.replicas``
value (default 1, then 0), with a fresh application id and output topic:

1. starts 3 ``streams run benchmarks.failover_bench:topology`` worker processes (count by key,
   persistent RocksDB store ``counts``; one stream thread each, own state dir and log file);
2. waits until the group is stable, the input lag is 0 and, with standbys, every standby's
   checkpoint has reached its changelog's end;
3. starts a trickle of new records to existing keys (``--trickle`` per second) and a reader of
   the output topic (``LogAppendTime``, so every output record carries the broker's clock);
4. ``kill -9`` the victim worker and measures, from the kill:
   - the records the survivors restore for the victim's tasks (their ``store X of task T
     restored: N records`` log lines written after the kill);
   - when output appears again for each of the victim's partitions (first output record
     appended after the kill, mapped to its partition by murmur2 of the key);
   - when the survivors log the client state RUNNING again;
   - where each of the victim's tasks went, and whether that instance kept its standby;
5. stops the trickle, waits for lag 0 and checks every key's final count against the input
   (at-least-once: a kill may count records processed after the last commit twice, never fewer);
6. stops the workers (SIGTERM), also on failure, and finally the broker.

The worker entry point :func:`topology` lives in this module; it reads its topic names from
``FAILOVER_INPUT`` / ``FAILOVER_OUTPUT``. The worker processes and the Kafka helpers (producer,
offsets, trickle, output watcher) are in :mod:`benchmarks.failover_workers`.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.failover_workers import (
    ALL_TASKS,
    COMMIT_INTERVAL_MS,
    HEARTBEAT_MS,
    PARTITIONS,
    REPO,
    RESTORED,
    SESSION_TIMEOUT_MS,
    TRANSITION,
    Offsets,
    OutputWatcher,
    RunSpec,
    Trickle,
    Worker,
    latest_counts,
    produce_keys,
    stable,
    start_worker,
    stop_workers,
)

if TYPE_CHECKING:
    from streams.topology.topology import Topology

DEFAULT_KEYS = 500_000
WORKERS = ("w1", "w2", "w3")
STORE = "counts"
DEFAULT_TRICKLE = 200  # records/s to existing keys, during the failover
RESTORE_BAR = 10_000  # records restored per task, with one standby
RESULTS = REPO / "benchmarks" / "failover_results.md"


# --------------------------------------------------------------------------------------------
# The application the workers run


def topology() -> Topology:
    """Count by key: ``stream(input).group_by_key().count("counts").to_stream().to(output)``."""
    from streams import Consumed, Grouped, Materialized, Produced, StreamsBuilder, serdes

    builder = StreamsBuilder()
    (
        builder.stream(os.environ["FAILOVER_INPUT"],
                       Consumed(key_serde=serdes.String(), value_serde=serdes.String()))
        .group_by_key(Grouped(key_serde=serdes.String(), value_serde=serdes.String()))
        .count(Materialized(name=STORE))
        .to_stream()
        .to(os.environ["FAILOVER_OUTPUT"], Produced(key_serde=serdes.String(), value_serde=serdes.Long()))
    )
    return builder.build()


# --------------------------------------------------------------------------------------------
# One run


@dataclass
class RunResult:
    standbys: int
    ok: bool = False
    error: str = ""
    victim: str = ""
    victim_tasks: list[str] = field(default_factory=list)
    #: survivor -> its standby tasks at the kill
    standbys_at_kill: dict[str, set[str]] = field(default_factory=dict)
    #: task -> survivor it went to (last assignment seen)
    moved_to: dict[str, str] = field(default_factory=dict)
    #: task -> records restored after the kill (all survivors; all stores)
    restored: dict[str, int] = field(default_factory=dict)
    restore_seconds: dict[str, float] = field(default_factory=dict)
    #: task -> changelog records (end - start offset) at the kill, and keys in its partition
    changelog_at_kill: dict[str, int] = field(default_factory=dict)
    keys_in_task: dict[str, int] = field(default_factory=dict)
    #: standby lag (changelog end - standby checkpoint) per task when the kill came
    standby_lag_at_kill: dict[str, int] = field(default_factory=dict)
    #: victim partition -> seconds from the kill to its first output
    resumed: dict[int, float] = field(default_factory=dict)
    rebalance_after: float | None = None  # first survivor REBALANCING, s after the kill
    running_after: float | None = None  # last survivor back to RUNNING, s after the kill
    catch_up_s: float = 0.0  # worker start to lag 0
    standby_wait_s: float = 0.0
    trickle_written: int = 0
    trickle_counts: collections.Counter[str] = field(default_factory=collections.Counter)
    over_counted: int = 0
    under_counted: int = 0
    missing: int = 0
    final_check: str = ""
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)

def standby_lags(spec: RunSpec, workers: list[Worker], offsets: Offsets) -> dict[str, int]:
    """Per task with a standby: changelog end minus the standby's checkpointed offset (the
    largest lag when a task has several standbys; the full end when no checkpoint yet)."""
    from streams.state.checkpoint import OffsetCheckpoint

    changelog = f"{spec.app_id}-{STORE}-changelog"
    ends = offsets.ends(changelog)
    lags: dict[str, int] = {}
    for w in workers:
        for task in w.standbys():
            part = int(task.split("_")[1])
            path = w.state_dir / spec.app_id / task / ".checkpoint"
            try:
                at = OffsetCheckpoint(path).read().get((changelog, part), 0)
            except Exception:
                at = 0
            lags[task] = max(lags.get(task, 0), ends[part] - at)
    return lags


def run_once(spec: RunSpec, bootstrap: str, workdir: Path, keys: int, key_parts: list[int],
             trickle_rate: int, victim_name: str, observe: float) -> RunResult:
    res = RunResult(spec.standbys)
    from streams.testing import clients

    clients.create_topic(bootstrap, spec.output_topic, partitions=PARTITIONS,
                         config={"message.timestamp.type": "LogAppendTime"})
    offsets = Offsets(bootstrap, spec.app_id)
    workers: list[Worker] = []
    trickle: Trickle | None = None
    watcher: OutputWatcher | None = None
    try:
        t0 = time.monotonic()
        workers = [start_worker(n, spec, bootstrap, workdir) for n in WORKERS]
        wait_for(lambda: stable(workers) and offsets.lag(spec.input_topic) == 0, 420,
                 "3 stable workers and input lag 0")
        res.catch_up_s = time.monotonic() - t0
        print(f"  [{spec.standbys} standby] {keys:,} keys counted, group stable, "
              f"{res.catch_up_s:.1f}s after start", flush=True)
        if spec.standbys:
            t1 = time.monotonic()
            try:
                wait_for(lambda: (lambda lags: len(lags) == PARTITIONS and max(lags.values()) == 0)(
                    standby_lags(spec, workers, offsets)), 120, "standbys to catch up", 1.0)
            except TimeoutError as exc:
                res.notes.append(f"{exc}; lags {standby_lags(spec, workers, offsets)}")
            res.standby_wait_s = time.monotonic() - t1
            print(f"  standbys caught up in {res.standby_wait_s:.1f}s", flush=True)
        else:
            time.sleep(3)

        # trickle and output reader first, so output flows on every partition before the kill
        watcher = OutputWatcher(bootstrap, spec.output_topic, offsets.ends(spec.output_topic))
        watcher.start()
        trickle = Trickle(bootstrap, spec.input_topic, keys, trickle_rate, seed=spec.standbys)
        trickle.start()
        time.sleep(5)
        before = watcher.first_after(0)
        if len(before) < PARTITIONS:
            res.notes.append(f"before the kill, output seen only on partitions {sorted(before)}")

        victim = next(w for w in workers if w.name == victim_name)
        survivors = [w for w in workers if w is not victim]
        res.victim = victim.name
        marks = {w.name: w.size() for w in survivors}
        res.victim_tasks = sorted(victim.assigned() or ())
        res.standbys_at_kill = {w.name: w.standbys() for w in survivors}
        res.standby_lag_at_kill = standby_lags(spec, survivors, offsets) if spec.standbys else {}
        changelog = f"{spec.app_id}-{STORE}-changelog"
        cl_ends = offsets.ends(changelog)
        for t in res.victim_tasks:
            part = int(t.split("_")[1])
            res.changelog_at_kill[t] = cl_ends[part]  # fresh topic: starts at 0, no compaction yet
            res.keys_in_task[t] = key_parts[part]
        t_kill = time.time()
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(10)
        victim_parts = {int(t.split("_")[1]) for t in res.victim_tasks}
        print(f"  kill -9 {victim.name} (tasks {', '.join(res.victim_tasks)}); standbys at kill: "
              f"{ {k: sorted(v) for k, v in res.standbys_at_kill.items()} }", flush=True)

        def recovered() -> bool:
            first = watcher.first_after(t_kill) if watcher else {}
            if not victim_parts <= set(first):
                return False
            shares = [w.assigned() or set() for w in survivors]
            if set().union(*shares) != set(ALL_TASKS):
                return False
            return all(w.state() == "RUNNING" for w in survivors)

        try:
            wait_for(recovered, observe, "recovery after the kill", 0.25)
        except TimeoutError as exc:
            res.notes.append(str(exc))
        time.sleep(3)  # a later rebalance or restore line would show up here

        first = watcher.first_after(t_kill)
        res.resumed = {p: first[p] - t_kill for p in sorted(victim_parts) if p in first}
        for w in survivors:
            for ln in w.lines(marks[w.name]):
                m = RESTORED.search(ln.text)
                if m:
                    task = m.group(2)
                    res.restored[task] = res.restored.get(task, 0) + int(m.group(3))
                    res.restore_seconds[task] = res.restore_seconds.get(task, 0.0) + float(m.group(4))
                m2 = TRANSITION.search(ln.text)
                if (m2 and m2.group(2) == "REBALANCING" and ln.ts >= t_kill
                        and (res.rebalance_after is None or ln.ts - t_kill < res.rebalance_after)):
                    res.rebalance_after = ln.ts - t_kill
            last_running = [ln.ts for ln in w.lines(marks[w.name])
                            if (m3 := TRANSITION.search(ln.text)) and m3.group(2) == "RUNNING"]
            if last_running and w.state() == "RUNNING":
                after = max(last_running) - t_kill
                res.running_after = after if res.running_after is None else max(res.running_after, after)
            for t in w.assigned() or set():
                if t in res.victim_tasks:
                    res.moved_to[t] = w.name
        others = {t: n for t, n in res.restored.items() if t not in res.victim_tasks}
        if others:
            res.notes.append(f"survivors also restored tasks that were not the victim's: {others}")

        # final check: every key's last count against the input
        trickle.stop_event.set()
        trickle.join(70)
        if trickle.error is not None:
            raise RuntimeError(f"trickle failed: {trickle.error!r}")
        res.trickle_counts = trickle.written
        res.trickle_written = sum(trickle.written.values())
        try:
            wait_for(lambda: offsets.lag(spec.input_topic) == 0, 120, "input lag 0 after the kill")
            latest = latest_counts(bootstrap, spec.output_topic)
            for i in range(keys):
                k = f"k{i:06d}"
                want = 1 + trickle.written.get(k, 0) + spec.earlier.get(k, 0)
                got = latest.get(k)
                if got is None:
                    res.missing += 1
                elif got > want:
                    res.over_counted += 1
                elif got < want:
                    res.under_counted += 1
            res.final_check = (f"{keys:,} keys: {res.missing} missing, {res.under_counted} "
                               f"under-counted, {res.over_counted} over-counted")
        except TimeoutError as exc:
            res.final_check = f"not checked: {exc}"
        if watcher.mismatched:
            res.notes.append(f"{watcher.mismatched} output records on another partition than "
                             "their key's murmur2 partition")
        res.ok = not any("timed out" in n for n in res.notes)
    except Exception as exc:
        res.error = f"{type(exc).__name__}: {exc}"
        print(f"  run failed: {res.error}", flush=True)
        for w in workers:
            tail = w.log.read_text(errors="replace")[-3000:] if w.log.exists() else ""
            print(f"  ----- {w.name} log tail -----\n{tail}", flush=True)
    finally:
        if trickle is not None:
            trickle.stop_event.set()
            trickle.join(70)
        if watcher is not None:
            watcher.stop_event.set()
            watcher.join(10)
        res.exit_codes = stop_workers(workers)
        offsets.close()
    return res


# --------------------------------------------------------------------------------------------
# Report


def _fmt_tasks(d: dict[str, Any], tasks: list[str], fmt: str = "{}") -> str:
    return ", ".join(f"{t}: {fmt.format(d[t])}" if t in d else f"{t}: -" for t in tasks)


def render(results: list[RunResult], info: dict[str, str], command: str, elapsed: float,
           keys: int, trickle: int) -> str:
    lines = [
        "## Failover: `kill -9` of one instance, with and without standby replicas",
        "",
        f"Measured {info['date']} with `{command}` ({elapsed / 60:.1f} min in all) on "
        f"{info['cpu']}; Kafka {info['kafka']}; Python {info['python']}, "
        f"confluent-kafka {info['confluent-kafka']}, rocksdict {info['rocksdict']}.",
        "",
        f"Setup: a count by key (`group_by_key().count()`, persistent RocksDB store, record cache "
        f"on) over {keys:,} distinct keys in a 6-partition input topic (6 tasks), 3 `streams run` "
        f"worker processes with one stream thread each, `consumer.session.timeout.ms="
        f"{SESSION_TIMEOUT_MS}`, `consumer.heartbeat.interval.ms={HEARTBEAT_MS}`, "
        f"`commit.interval.ms={COMMIT_INTERVAL_MS}`, at-least-once. Once every key is counted (and "
        f"standbys have checkpointed their changelogs' ends), {trickle} records/s go to existing "
        "keys and one worker is killed with SIGKILL. Times are from the kill: output resumed = "
        "first output record (broker `LogAppendTime`) of each of the victim's partitions; "
        "RUNNING = the last survivor's client state RUNNING again. Restored = the survivors' "
        "`store counts of task T restored: N records` lines after the kill.",
        "",
        "| `num.standby.replicas` | victim's tasks | moved to (held its standby) | records restored "
        "per task | changelog records / keys per task at the kill | restore time per task | "
        "output resumed, per victim partition | survivors RUNNING again | first survivor "
        "REBALANCING |",
        "| ---: | --- | --- | --- | --- | --- | --- | ---: | ---: |",
    ]
    for r in results:
        if r.error and not r.victim_tasks:
            lines.append(f"| {r.standbys} | run failed: {r.error} | | | | | | | |")
            continue
        held = {}
        for t in r.victim_tasks:
            to = r.moved_to.get(t)
            if to is None:
                held[t] = "?"
            else:
                held[t] = f"{to} ({'yes' if t in r.standbys_at_kill.get(to, set()) else 'no'})"
        cl = {t: f"{r.changelog_at_kill[t]:,} / {r.keys_in_task[t]:,}" for t in r.victim_tasks}
        restored = {t: r.restored.get(t, 0) for t in r.victim_tasks}
        resumed = ", ".join(f"p{p}: {s:.1f} s" for p, s in sorted(r.resumed.items())) or "not seen"
        lines.append(
            f"| {r.standbys} | {r.victim}: {', '.join(r.victim_tasks)} | "
            f"{_fmt_tasks(held, r.victim_tasks)} | {_fmt_tasks(restored, r.victim_tasks, '{:,}')} | "
            f"{_fmt_tasks(cl, r.victim_tasks)} | "
            f"{_fmt_tasks(r.restore_seconds, r.victim_tasks, '{:.1f} s')} | {resumed} | "
            f"{_secs(r.running_after)} | {_secs(r.rebalance_after)} |")
    lines += ["", "Against the issue's acceptance bars:", ""]
    bound = SESSION_TIMEOUT_MS / 1000 + 5
    for r in results:
        if r.error and not r.victim_tasks:
            lines.append(f"- {r.standbys} standby: run failed ({r.error}).")
            continue
        last_resume = max(r.resumed.values()) if len(r.resumed) == len(r.victim_tasks) else None
        if r.standbys >= 1:
            on_standby = all(r.moved_to.get(t) and t in r.standbys_at_kill.get(r.moved_to[t], set())
                             for t in r.victim_tasks)
            small = all(r.restored.get(t, 0) <= RESTORE_BAR for t in r.victim_tasks)
            quick = last_resume is not None and last_resume <= bound
            lines.append(
                f"- {r.standbys} standby: tasks resume on the instances that held their standbys: "
                f"**{'met' if on_standby else 'NOT met'}**; each restores ≤ {RESTORE_BAR:,} records: "
                f"**{'met' if small else 'NOT met'}** (max "
                f"{max((r.restored.get(t, 0) for t in r.victim_tasks), default=0):,}); output "
                f"resumes within session timeout + 5 s = {bound:.0f} s: **{'met' if quick else 'NOT met'}** "
                f"({_secs(last_resume)} for the last of the victim's partitions).")
        else:
            full = all(r.restored.get(t, 0) >= r.keys_in_task[t] for t in r.victim_tasks)
            total = sum(r.restored.get(t, 0) for t in r.victim_tasks)
            lines.append(
                f"- 0 standbys: the full store is restored: **{'yes' if full else 'NO'}** "
                f"({total:,} records for {sum(r.keys_in_task[t] for t in r.victim_tasks):,} keys; "
                f"output resumed after {_secs(last_resume)}).")
    lines += ["", "Details:", ""]
    for r in results:
        detail = (f"- {r.standbys} standby: {r.catch_up_s:.0f} s from start to every key counted"
                  + (f", standbys caught up {r.standby_wait_s:.0f} s later; standby lag at the kill "
                     f"(changelog records not in the checkpoint): "
                     f"{_fmt_tasks(r.standby_lag_at_kill, r.victim_tasks, '{:,}')}"
                     if r.standbys else "")
                  + f"; {r.trickle_written:,} trickle records; final counts: {r.final_check or '-'}"
                  + f"; exit codes (victim killed, survivors SIGTERM): {r.exit_codes}")
        if r.error:
            detail += f"; error: {r.error}"
        if r.notes:
            detail += "; notes: " + "; ".join(r.notes)
        lines.append(detail + ".")
    return "\n".join(lines) + "\n"


def _secs(s: float | None) -> str:
    return "-" if s is None else f"{s:.1f} s"


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python3 -m benchmarks.failover_bench",
                                 description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--keys", type=int, default=DEFAULT_KEYS, help=f"distinct keys (default {DEFAULT_KEYS:,})")
    ap.add_argument("--standbys", default="1,0", help="num.standby.replicas per run (default 1,0)")
    ap.add_argument("--trickle", type=int, default=DEFAULT_TRICKLE,
                    help=f"records/s to existing keys around the kill (default {DEFAULT_TRICKLE})")
    ap.add_argument("--victim", default="w1", choices=WORKERS, help="the worker to kill (default w1)")
    ap.add_argument("--observe", type=float, default=120.0,
                    help="seconds to wait for recovery after the kill (default 120)")
    ap.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.relative_to(REPO)}")
    ap.add_argument("--keep", action="store_true", help="keep the state directories (logs are kept)")
    args = ap.parse_args(argv)
    command = "python3 -m benchmarks.failover_bench" + (" " + " ".join(argv) if argv else "")
    standbys = [int(s) for s in args.standbys.split(",") if s]

    from benchmarks.runtime_bench import machine_info
    from streams.testing import clients
    from streams.testing.murmur2 import murmur2_partition

    t0 = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="failover-bench-"))
    print(f"work dir (worker logs): {workdir}", flush=True)
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    kafka: Any = None
    results: list[RunResult] = []
    try:
        if external:
            bootstrap, kafka_version = external, "external broker (KAFKA_BOOTSTRAP_SERVERS)"
        else:
            from streams.testing.local_kafka import LocalKafka

            kafka = LocalKafka(fast_start=False, heap="1g").start()
            bootstrap, kafka_version = kafka.bootstrap_servers, f"{kafka.version} (LocalKafka, 1 node)"
            print(f"broker up at {bootstrap} in {time.monotonic() - t0:.1f}s", flush=True)
        tag = uuid.uuid4().hex[:6]
        input_topic = f"failover-input-{tag}"
        clients.create_topic(bootstrap, input_topic, partitions=PARTITIONS)
        t = time.monotonic()
        produce_keys(bootstrap, input_topic, args.keys)
        key_parts = [0] * PARTITIONS
        for i in range(args.keys):
            key_parts[murmur2_partition(f"k{i:06d}".encode(), PARTITIONS)] += 1
        print(f"{args.keys:,} keys written in {time.monotonic() - t:.1f}s; per partition {key_parts}",
              flush=True)
        # later runs read the earlier runs' trickle too: count it into their expected values
        written: collections.Counter[str] = collections.Counter()
        for n in standbys:
            spec = RunSpec(n, f"failover-{n}sb-{tag}", input_topic, f"failover-out-{n}sb-{tag}",
                           collections.Counter(written))
            print(f"run: num.standby.replicas={n} (application.id {spec.app_id})", flush=True)
            r = run_once(spec, bootstrap, workdir, args.keys, key_parts, args.trickle, args.victim,
                         args.observe)
            results.append(r)
            written.update(r.trickle_counts)
            print(f"  restored {r.restored}, resumed {r.resumed}, RUNNING after "
                  f"{_secs(r.running_after)}, moved to {r.moved_to}", flush=True)
        elapsed = time.monotonic() - t0
        section = render(results, machine_info(kafka_version), command, elapsed, args.keys, args.trickle)
        print(section)
        if not args.no_write:
            RESULTS.write_text(section)
            print(f"wrote {RESULTS}")
    finally:
        if kafka is not None:
            kafka.stop()
        if not args.keep:
            for d in workdir.glob("*-state-*"):
                shutil.rmtree(d, ignore_errors=True)
    return 0 if results and all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
