"""This project side by side with a plain confluent-kafka loop, Quix Streams, Faust and Kafka
Streams (Java), on one local broker and the same input.

Run by hand (not a test, not in CI)::

    python3 -m benchmarks.compare                       # 3 runs, all systems and workloads
    python3 -m benchmarks.compare --runs 1 --scale 0.1  # quick look
    python3 -m benchmarks.compare --systems streams,java --workloads wordcount
    python3 -m benchmarks.compare --tuning              # the tuning guide's measurements

What it does:

1. starts ``LocalKafka`` (or uses ``KAFKA_BOOTSTRAP_SERVERS``); creates on first use the
   virtual environments ``~/.cache/streams/bench-venvs/{quix,faust,chart}`` from the pinned
   ``benchmarks/peers/requirements-*.txt`` and builds ``benchmarks/java`` with Maven into
   ``~/.cache/streams/bench-java/<hash>`` (both cached; rebuilt when their inputs change);
2. per workload, writes the input once (fixed seed, 4 partitions);
3. runs every system against it, ``--runs`` times, in a rotating order, each in its own process
   with a fresh consumer group / application id, state directory and output topic (which uses
   ``LogAppendTime``). The worker prints ``FIRST <epoch ms>`` when the first record reaches its
   user code; the harness watches the group's committed offsets and the output's end offsets
   (no reading of the output while the worker runs), stops the worker once its input is
   committed and its output stopped growing, reads ``VmHWM`` of the worker process just before
   that, then reads the whole output back and verifies it. Time = broker append time of the
   last output record - FIRST;
4. writes the median table into ``docs/benchmarks.md`` (between the ``compare`` markers), the
   bar chart ``docs/benchmarks-compare.png`` and the raw results as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.peers import common
from benchmarks.runtime_bench import (
    PARTITIONS,
    SEED,
    create_topic,
    machine_info,
    produce_input,
    read_topic,
    stateless_input,
    wordcount_input,
)

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
CHART = REPO / "docs" / "benchmarks-compare.png"
PEERS = REPO / "benchmarks" / "peers"
JAVA_DIR = REPO / "benchmarks" / "java"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "streams"
VENVS = CACHE / "bench-venvs"
RESULTS_DIR = CACHE / "bench-results"
START_MARK = "<!-- compare:start -->"
END_MARK = "<!-- compare:end -->"
FIRST_RE = re.compile(r"FIRST (\d+)")
TUNING_START = "<!-- tuning:start -->"
TUNING_END = "<!-- tuning:end -->"

WORKLOADS = common.WORKLOADS
SYSTEMS = ("streams", "plain", "quix", "faust", "java")
LABELS = {
    "streams": "streams (this project)",
    "plain": "plain confluent-kafka loop",
    "quix": "Quix Streams",
    "faust": "Faust (faust-streaming)",
    "java": "Kafka Streams (Java)",
}
#: Input sizes at ``--scale 1`` (each system's run takes roughly 5-40 s here; see the doc).
SIZES = {"stateless": 2_000_000, "wordcount": 100_000, "windowed": 600_000, "join": 1_000_000}
#: Systems that get only the first part of each input (the same records, fewer of them),
#: because the whole input would take them minutes per run. Their table rows say so.
PARTIAL = {"faust": {"stateless": 0.05, "wordcount": 0.04, "windowed": 0.05, "join": 0.05}}
CUSTOMERS = 50_000  # join: rows of the customers table (scaled too)
USERS = 2_000  # windowed: distinct keys
WINDOW_T0 = 1_717_200_000_000  # 2024-06-01T00:00:00Z: event time of the first page view
EVENT_STEP_MS = 3  # windowed: event time advances 3 ms per record (20,000 records per window)
#: What a system does per workload when that is not the obvious equivalent (shown in the doc).
NOTES = {
    ("quix", "join"): "`join_asof` (as-of join on the record timestamps; the customers side is "
                      "kept in a RocksDB store)",
    ("faust", "join"): "no join operator: a Table whose changelog topic is the customers topic "
                       "(filled before the agents start) looked up from an agent",
    ("faust", "wordcount"): "an agent re-keys words through a topic (the repartition), a second "
                            "agent counts them in a Table",
    ("plain", "join"): "reads the whole customers topic into a dict, then the orders",
    ("streams", "join"): "KStream-KTable join",
    ("java", "join"): "KStream-KTable join",
    ("java", "wordcount"): "record cache (10 MiB default) emits the latest count per word per "
                           "commit, not every update",
    ("java", "windowed"): "record cache (10 MiB default) emits the latest count per window per "
                          "commit, not every update",
}
#: (system, workload) pairs a system cannot run; the reason goes into the table.
UNSUPPORTED: dict[tuple[str, str], str] = {}


# --------------------------------------------------------------------------------------------
# Input


@dataclass
class Workload:
    name: str
    topic: str
    records: int  # what records/s counts
    records_text: str
    table: str | None
    expect: Any  # Expect


class Expect:
    """Expected output of a workload, and its verification (called after the worker stopped).

    ``unique``: every expected record exactly once (stateless: by key; join: by value);
    ``final``: the last value per key equals the expected one (word / window counts)."""

    def __init__(self, kind: str, expected: dict[bytes, Any], by_value: bool = False,
                 full_outputs: int = 0) -> None:
        self.kind = kind
        self.expected = expected
        self.by_value = by_value
        self.min_outputs = len(expected)
        #: outputs of a system that emits every update (no record cache)
        self.full_outputs = full_outputs or len(expected)

    def verify(self, bootstrap: str, topic: str) -> tuple[int, int, str]:
        """-> (outputs, last append time ms, note); raises when the output is wrong."""
        seen = 0
        last = 0
        if self.kind == "unique":
            got: Counter[bytes] = Counter()
            bad = 0
            for batch in read_topic(bootstrap, topic):
                for m in batch:
                    seen += 1
                    last = max(last, m.timestamp()[1])
                    ident, other = (m.value(), m.key()) if self.by_value else (m.key(), m.value())
                    if self.expected.get(ident) != other:
                        bad += 1
                    else:
                        got[ident] += 1
            missing = len(self.expected) - len(got)
            dups = sum(n - 1 for n in got.values())
            if bad or (missing and not self.by_value):
                raise RuntimeError(f"{topic}: {seen} outputs, {missing} of {len(self.expected)} "
                                   f"expected missing, {bad} wrong")
            if missing:  # the join: orders processed before their customer row was loaded
                note = (f"MISSING {missing:,} of {len(self.expected):,} joined orders (orders "
                        f"processed before their customer row was loaded)")
            else:
                note = f"all {len(self.expected):,} expected outputs"
            return seen, last, note + (f", {dups:,} duplicates" if dups else ", no duplicates")
        latest: dict[bytes, bytes] = {}
        for batch in read_topic(bootstrap, topic):
            for m in batch:
                seen += 1
                last = max(last, m.timestamp()[1])
                latest[m.key()] = m.value()
        wrong = sum(1 for k, v in self.expected.items() if latest.get(k) != v)
        extra = len(set(latest) - set(self.expected))
        if wrong or extra:
            sample = next(((k, latest.get(k), v) for k, v in self.expected.items()
                           if latest.get(k) != v), None)
            raise RuntimeError(f"{topic}: {wrong} of {len(self.expected)} final values wrong, "
                               f"{extra} unexpected keys (e.g. {sample})")
        return seen, last, f"final values of all {len(self.expected):,} keys exact"


def windowed_input(n: int) -> Iterator[tuple[str, str, int]]:
    """Page views ``(user, page, event time)``; event time grows with the record number, so
    no record is late and every system must produce the same counts."""
    rng = random.Random(SEED)
    for i in range(n):
        yield f"user-{rng.randrange(USERS):04d}", f"/page/{rng.randrange(500)}", \
            WINDOW_T0 + i * EVENT_STEP_MS


def customers_input(n: int) -> Iterator[tuple[str, str, int]]:
    rng = random.Random(SEED)
    regions = ("north", "south", "east", "west")
    for i in range(n):
        yield f"c{i:07d}", f"name-{i},{regions[rng.randrange(4)]}", WINDOW_T0


def orders_input(n: int, customers: int) -> Iterator[tuple[str, str, int]]:
    """Orders keyed by customer id; about 1 in 11 names a customer that does not exist (an
    inner join drops it). Event time after every customer row."""
    rng = random.Random(SEED + 1)
    for i in range(n):
        c = rng.randrange(customers + customers // 10)
        yield f"c{c:07d}", f"o{i},{rng.randrange(100, 100000) / 100:.2f}", WINDOW_T0 + 1000 + i


def prepare(bootstrap: str, name: str, scale: float, tag: str, fraction: float = 1.0) -> Workload:
    """Write a workload's input; ``fraction`` < 1: only that first part of the same sequence
    (for the systems too slow for the whole input; the join keeps the whole customers table)."""
    n = max(1000, int(SIZES[name] * scale * fraction))
    if fraction < 1:
        tag = f"{tag}-part"
    topic = f"cmp-{name}-in-{tag}"
    create_topic(bootstrap, topic, {"retention.ms": "-1"})
    if name == "stateless":
        src = [(k, v, None) for k, v in stateless_input(n)]
        exp = {k.encode(): common.transform(v).encode() for k, v, _ in src if common.keep(v)}
        produce_input(bootstrap, topic, src)
        return Workload(name, topic, n, f"{n:,} records, {len(exp):,} pass the filter", None,
                        Expect("unique", exp))
    if name == "wordcount":
        counts: Counter[str] = Counter()
        src = [(k, v, None) for k, v in wordcount_input(n)]
        for _, line, _ in src:
            counts.update(line.split())
        produce_input(bootstrap, topic, src)
        exp = {w.encode(): common.LONG.pack(c) for w, c in counts.items()}
        return Workload(name, topic, n, f"{n:,} lines, {sum(counts.values()):,} words, "
                        f"{len(counts):,} distinct", None,
                        Expect("final", exp, full_outputs=sum(counts.values())))
    if name == "windowed":
        wcounts: Counter[bytes] = Counter()
        src = list(windowed_input(n))
        for user, _, ts in src:
            wcounts[common.windowed_key(user.encode(), common.window_start(ts))] += 1
        produce_input(bootstrap, topic, src)
        exp = {k: common.LONG.pack(c) for k, c in wcounts.items()}
        windows = len({k[-8:] for k in exp})
        return Workload(name, topic, n, f"{n:,} page views, {USERS:,} users, {windows} one-minute "
                        f"windows, {len(exp):,} (user, window) counts", None,
                        Expect("final", exp, full_outputs=n))
    ncust = max(100, int(CUSTOMERS * scale))
    table = f"cmp-join-customers-{tag}"
    create_topic(bootstrap, table, {"retention.ms": "-1"})
    cust = {k: v for k, v, _ in customers_input(ncust)}
    produce_input(bootstrap, table, customers_input(ncust))
    src = list(orders_input(n, ncust))
    produce_input(bootstrap, topic, src)
    jexp = {common.join_value(v, cust[k]).encode(): k.encode() for k, v, _ in src if k in cust}
    return Workload(name, topic, n, f"{n:,} orders ({len(jexp):,} with a customer), "
                    f"{ncust:,} customers", table, Expect("unique", jexp, by_value=True))


# --------------------------------------------------------------------------------------------
# Systems: environments and commands


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.hexdigest()[:16]


def ensure_venv(name: str) -> Path:
    """``~/.cache/streams/bench-venvs/<name>`` with ``requirements-<name>.txt`` installed."""
    req = PEERS / f"requirements-{name}.txt"
    venv = VENVS / name
    stamp = venv / ".requirements-sha"
    want = _sha(req.read_bytes(), sys.version.encode())
    py = venv / "bin" / "python"
    if py.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return py
    print(f"creating {venv} from {req.relative_to(REPO)} ...", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           "-r", str(req)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pip install -r {req.name} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    stamp.write_text(want + "\n")
    return py


def venv_versions(name: str) -> dict[str, str]:
    req = PEERS / f"requirements-{name}.txt"
    return dict(line.strip().split("==", 1) for line in req.read_text().splitlines()
                if "==" in line)


def ensure_java(kafka_version: str) -> list[str]:
    """Build ``benchmarks/java`` once per (sources, Kafka version); -> the java command."""
    from streams.testing.local_kafka import find_java, find_maven

    sources = sorted(p for p in JAVA_DIR.rglob("*") if p.is_file() and "target" not in p.parts)
    key = _sha(kafka_version.encode(), *(p.read_bytes() for p in sources))
    out = CACHE / "bench-java" / key
    jar = out / "kafka-streams-bench.jar"
    if not (out / ".complete").exists():
        print(f"building {JAVA_DIR.relative_to(REPO)} (kafka-streams {kafka_version}) ...",
              flush=True)
        shutil.rmtree(out, ignore_errors=True)
        proc = subprocess.run([find_maven(), "-q", "-B", "-f", str(JAVA_DIR / "pom.xml"),
                               f"-Dkafka.version={kafka_version}", f"-Dbench.build.dir={out}",
                               "package"], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0 or not jar.exists():
            raise RuntimeError(f"mvn package failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
        (out / ".complete").write_text("")
    java = find_java().executable
    return [java, "-cp", f"{jar}:{out / 'dependency'}/*",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dorg.slf4j.simpleLogger.logFile=System.err", "streamsbench.StreamsBench"]


def java_versions(cmd: list[str]) -> dict[str, str]:
    dep = Path(cmd[2].split(":")[1].rstrip("*"))
    jars = {p.name for p in dep.glob("*.jar")}

    def ver(prefix: str) -> str:
        hit = sorted(j for j in jars if j.startswith(prefix))
        return hit[0][len(prefix):-4] if hit else "?"

    out = subprocess.run([cmd[0], "-version"], capture_output=True, text=True).stderr
    return {"kafka-streams": ver("kafka-streams-"), "rocksdbjni": ver("rocksdbjni-"),
            "java": out.splitlines()[0] if out else "?"}


class Systems:
    """Resolves each system's worker command, creating environments on first use."""

    def __init__(self, kafka_version: str) -> None:
        self.kafka_version = kafka_version
        self.commands: dict[str, list[str]] = {}
        self.errors: dict[str, str] = {}
        self.versions: dict[str, dict[str, str]] = {}

    def command(self, system: str) -> list[str] | None:
        if system in self.commands or system in self.errors:
            return self.commands.get(system)
        try:
            if system == "streams":
                cmd = [sys.executable, "-m", "benchmarks.workers_streams"]
                self.versions[system] = {"streams": _project_version(),
                                         "rocksdict": metadata.version("rocksdict")}
            elif system == "plain":
                cmd = [sys.executable, "-m", "benchmarks.peers.plain_worker"]
            elif system in ("quix", "faust"):
                py = ensure_venv(system)
                cmd = [str(py), "-m", f"benchmarks.peers.{system}_worker"]
                v = venv_versions(system)
                keys = (("quixstreams", "confluent-kafka", "rocksdict") if system == "quix"
                        else ("faust-streaming", "aiokafka", "mode-streaming", "rocksdict"))
                self.versions[system] = {k: v.get(k, "?") for k in keys}
            else:
                cmd = ensure_java(self.kafka_version)
                self.versions[system] = java_versions(cmd)
        except Exception as exc:
            self.errors[system] = f"{type(exc).__name__}: {exc}"
            print(f"!! {system}: {self.errors[system]}", flush=True)
            return None
        self.commands[system] = cmd
        return cmd


def _project_version() -> str:
    try:
        return metadata.version("streams")
    except metadata.PackageNotFoundError:
        return "work tree"


# --------------------------------------------------------------------------------------------
# One run


@dataclass
class RunResult:
    workload: str
    system: str
    run: int
    records: int
    seconds: float = 0.0
    rss_kib: int = 0
    cpu_s: float = 0.0
    outputs: int = 0
    note: str = ""
    error: str = ""
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def _vm_hwm(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Progress:
    """The group's committed offsets and the output's end offsets, polled (cheaply) to see when
    a worker is done: every consumed input committed to its end, and no output for a while."""

    def __init__(self, bootstrap: str, group: str, inputs: list[str], output: str) -> None:
        from confluent_kafka import Consumer
        from confluent_kafka.admin import AdminClient

        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self.probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{group}-probe"})
        self.group = group
        self.inputs = inputs
        self.output = output

    def _end(self, topic: str, p: int) -> int:
        from confluent_kafka import TopicPartition

        return self.probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]

    def committed_to_end(self) -> bool:
        from confluent_kafka import ConsumerGroupTopicPartitions

        fut = self.admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(self.group)])
        try:
            tps = fut[self.group].result(timeout=10).topic_partitions or []
        except Exception:
            return False
        got = {(tp.topic, tp.partition): tp.offset for tp in tps}
        for topic in self.inputs:
            for p in range(PARTITIONS):
                end = self._end(topic, p)
                if end > 0 and got.get((topic, p), -1) < end:
                    return False
        return all(off >= self._end(t, p) for (t, p), off in got.items() if off >= 0)

    def output_end(self) -> int:
        return sum(self._end(self.output, p) for p in range(PARTITIONS))

    def close(self) -> None:
        self.probe.close()


class Reaped:
    """Exit status and rusage of a worker, collected with ``wait4`` (``Popen.poll`` would reap
    the process and lose its rusage)."""

    def __init__(self, proc: subprocess.Popen[Any]) -> None:
        self.proc = proc
        self.status: int | None = None
        self.usage: Any = None

    def poll(self, block: bool = False) -> int | None:
        if self.status is None:
            try:
                pid, status, usage = os.wait4(self.proc.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                pid, status, usage = self.proc.pid, 0, None
            if pid:
                self.status, self.usage = os.waitstatus_to_exitcode(status), usage
                self.proc.returncode = self.status
        return self.status


def _kill_group(w: Reaped, grace: float) -> None:
    if w.poll() is None:
        try:
            os.killpg(w.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while w.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    try:  # whatever is left of the group (the worker, or a child of it)
        os.killpg(w.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    w.poll(block=True)


_LIVE: set[Reaped] = set()


def run_one(bootstrap: str, wl: Workload, system: str, cmd: list[str], run: int, tag: str,
            settings: dict[str, str], timeout: float, quiet_s: float = 2.0) -> RunResult:
    res = RunResult(wl.name, system, run, wl.records, settings=dict(settings))
    suffix = f"{tag}-r{run}" + ("-" + _sha(json.dumps(settings).encode())[:6] if settings else "")
    out = f"cmp-{wl.name}-{system}-out-{suffix}"
    app_id = f"cmp-{wl.name}-{system}-{suffix}"
    create_topic(bootstrap, out, {"message.timestamp.type": "LogAppendTime"})
    state_dir = tempfile.mkdtemp(prefix="streams-cmp-state-")
    argv = [*cmd, wl.name, "--bootstrap", bootstrap, "--input", wl.topic, "--output", out,
            "--app-id", app_id, "--state-dir", state_dir, "--commit-ms", "1000"]
    if wl.table:
        argv += ["--table", wl.table]
    for k, v in settings.items():
        argv += ["--set", f"{k}={v}"]
    errf = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errf, cwd=REPO, text=True,
                            start_new_session=True, stdin=subprocess.DEVNULL)
    worker = Reaped(proc)
    _LIVE.add(worker)
    first: list[int] = []
    lines: list[str] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            # anywhere in the line: Faust writes terminal control codes to stdout
            hit = FIRST_RE.search(line)
            if hit and not first:
                first.append(int(hit.group(1)))

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    progress = Progress(bootstrap, app_id, [wl.topic], out)
    try:
        deadline = time.monotonic() + timeout
        last_end, last_change = -1, time.monotonic()
        while True:
            time.sleep(0.5)
            if worker.poll() is not None:
                raise RuntimeError(f"worker exited with {worker.status}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"not done after {timeout:.0f} s (output so far: "
                                   f"{progress.output_end():,} records)")
            end = progress.output_end()
            now = time.monotonic()
            if end != last_end:
                last_end, last_change = end, now
            quiet = now - last_change
            # done once the output is quiet and: as long as an emit-every-update system's
            # output; or the input is committed (a record cache emits less); or nothing has
            # moved for 20 s (then the verification below says what is missing)
            if first and quiet >= quiet_s:
                if end >= wl.expect.full_outputs or quiet >= 20:
                    break
                if (end >= wl.expect.min_outputs or quiet >= 10) and progress.committed_to_end():
                    break
        res.rss_kib = _vm_hwm(proc.pid)
    except Exception as exc:
        errf.seek(0)
        tail = errf.read()[-1500:]
        res.error = f"{exc}" + (f"; stderr: {tail.strip()}" if tail.strip() else "")
    finally:
        progress.close()
        _kill_group(worker, 5.0)
        _LIVE.discard(worker)
        th.join(5)
        errf.close()
        shutil.rmtree(state_dir, ignore_errors=True)
    if worker.usage is not None:
        res.cpu_s = worker.usage.ru_utime + worker.usage.ru_stime
    if res.error:
        return res
    try:
        res.outputs, last_ms, res.note = wl.expect.verify(bootstrap, out)
        res.seconds = (last_ms - first[0]) / 1000
    except Exception as exc:
        res.error = f"verification failed: {exc}"
    return res


# --------------------------------------------------------------------------------------------
# Report


def _mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def summarize(results: list[RunResult]) -> dict[tuple[str, str], dict[str, Any]]:
    by: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        by.setdefault((r.workload, r.system), []).append(r)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, rs in by.items():
        ok = [r for r in rs if not r.error]
        entry: dict[str, Any] = {"runs": rs, "ok": ok}
        if ok:
            entry["rate"] = statistics.median(r.rate for r in ok)
            entry["rss"] = statistics.median(r.rss_kib for r in ok)
            entry["cpu_us"] = statistics.median(r.cpu_s / r.records * 1e6 for r in ok)
        out[key] = entry
    return out


def render(results: list[RunResult], workloads: list[Workload], systems: list[str],
           sysinfo: Systems, info: dict[str, str], command: str, elapsed: float) -> str:
    summary = summarize(results)
    lines = [
        f"Measured {info['date']} with `{command}` ({elapsed / 60:.0f} min in all). "
        "Records/s = input records / (broker append time of the last output record - the "
        "moment the first input record reached user code); median of the runs that passed "
        "verification.",
        "",
        "| workload | system | records/s (median) | vs streams | peak RSS (median) | CPU µs/record "
        "| records/s per run | output records | notes |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for wl in workloads:
        base = summary.get((wl.name, "streams"), {}).get("rate")
        for system in systems:
            label = LABELS[system]
            note = NOTES.get((system, wl.name), "")
            if (system, wl.name) in UNSUPPORTED:
                lines.append(f"| {wl.name} | {label} | not supported | | | | | | "
                             f"{UNSUPPORTED[(system, wl.name)]} |")
                continue
            if system in sysinfo.errors:
                lines.append(f"| {wl.name} | {label} | failed to install | | | | | | "
                             f"{_cell(sysinfo.errors[system])} |")
                continue
            e = summary.get((wl.name, system))
            if not e:
                continue
            per_run = ", ".join((f"{r.rate:,.0f}" if not r.error else "failed")
                                for r in sorted(e["runs"], key=lambda r: r.run))
            errors = [r.error for r in e["runs"] if r.error]
            if errors:
                note = (note + "; " if note else "") + f"{len(errors)} run(s) failed: " \
                    + _cell(errors[0])
            if not e["ok"]:
                lines.append(f"| {wl.name} | {label} | failed | | | | {per_run} | | {note} |")
                continue
            ratio = f"{e['rate'] / base:.2f}x" if base else "-"
            outs = statistics.median(r.outputs for r in e["ok"])
            dup = [r.note for r in e["ok"] if "duplicates" in r.note and "no duplicates" not in r.note]
            if dup:
                note = (note + "; " if note else "") + "at-least-once duplicates: " + dup[0]
            short = [r.note.split(" joined")[0].replace("MISSING ", "")
                     for r in sorted(e["ok"], key=lambda r: r.run) if r.note.startswith("MISSING")]
            if short:
                note = (note + "; " if note else "") + "**verification: joined orders missing " \
                    "per run: " + ", ".join(short) + "** (orders processed before their customer " \
                    "row was loaded)"
            lines.append(f"| {wl.name} | {label} | {e['rate']:,.0f} | {ratio} | {_mib(e['rss'])} "
                         f"| {e['cpu_us']:.1f} | {per_run} | {outs:,.0f} | {note} |")
    lines += ["", "Inputs (fixed seed, 4 partitions, written once per invocation):", ""]
    lines += [f"- **{wl.name}**: {wl.records_text}" for wl in workloads]
    lines += ["", "Machine and versions:", ""]
    lines += [f"- {k}: {v}" for k, v in info.items() if k not in ("rocksdict",)]
    for system in systems:
        v = sysinfo.versions.get(system)
        if v:
            lines.append(f"- {LABELS[system]}: " + ", ".join(f"{k} {x}" for k, x in v.items()))
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    text = " ".join(text.split())
    return (text[:300] + "...") if len(text) > 300 else text.replace("|", "\\|")


def write_block(section: str, start: str, end: str) -> None:
    text = DOC.read_text()
    if start not in text or end not in text:
        text = text.rstrip("\n") + f"\n\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    DOC.write_text(f"{head}{start}\n{section}{end}{tail}")


def make_chart(results_json: Path, png: Path) -> str:
    try:
        py = ensure_venv("chart")
    except Exception as exc:
        return f"chart skipped: {exc}"
    proc = subprocess.run([str(py), "-m", "benchmarks.chart", str(results_json), str(png)],
                          cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        return f"chart failed: {proc.stderr[-1500:]}"
    return f"wrote {png}"


# --------------------------------------------------------------------------------------------
# Tuning guide: one setting at a time on this project's worker

TUNING: list[tuple[str, str, dict[str, str]]] = [
    # (workload, label, streams config overrides); the first per workload is the baseline
    ("stateless", "defaults (max.poll.records=1000, commit.interval.ms=1000)", {}),
    ("stateless", "max.poll.records=100", {"max.poll.records": "100"}),
    ("stateless", "max.poll.records=5000", {"max.poll.records": "5000"}),
    ("stateless", "commit.interval.ms=100", {"commit.interval.ms": "100"}),
    ("stateless", "commit.interval.ms=10000", {"commit.interval.ms": "10000"}),
    ("stateless", "producer.linger.ms=50", {"producer.linger.ms": "50"}),
    ("stateless", "consumer.fetch.queue.backoff.ms=1000 (librdkafka default)",
     {"consumer.fetch.queue.backoff.ms": "1000"}),
    ("wordcount", "defaults (RocksDB store, statestore.cache.max.bytes=10 MiB)", {}),
    ("wordcount", "statestore.cache.max.bytes=0", {"statestore.cache.max.bytes": "0"}),
    ("wordcount", "statestore.cache.max.bytes=100 MiB",
     {"statestore.cache.max.bytes": str(100 * 1024 * 1024)}),
    ("wordcount", "default.dsl.store=in_memory", {"default.dsl.store": "in_memory"}),
    ("wordcount", "commit.interval.ms=100", {"commit.interval.ms": "100"}),
    ("wordcount", "commit.interval.ms=10000", {"commit.interval.ms": "10000"}),
    ("wordcount", "max.poll.records=5000", {"max.poll.records": "5000"}),
    ("windowed", "defaults (record cache 10 MiB)", {}),
    ("windowed", "statestore.cache.max.bytes=0", {"statestore.cache.max.bytes": "0"}),
    ("join", "defaults (KStream-KTable join, max.task.idle.ms=0)", {}),
    ("join", "KStream-GlobalKTable join", {"bench.join": "global"}),
]


def run_tuning(bootstrap: str, systems: Systems, scale: float, runs: int, tag: str,
               timeout: float, command: str, info: dict[str, str]) -> str:
    cmd = systems.command("streams")
    assert cmd is not None
    wls: dict[str, Workload] = {}
    rows: list[tuple[str, str, list[RunResult]]] = []
    for wname, label, _ in TUNING:
        if wname not in wls:
            wls[wname] = prepare(bootstrap, wname, scale, tag)
        rows.append((wname, label, []))
    for run in range(1, runs + 1):
        for (wname, label, settings), row in zip(TUNING, rows):
            r = run_one(bootstrap, wls[wname], "streams", cmd, run, tag, settings, timeout)
            row[2].append(r)
            print(f"  tuning {wname:9} {label:60} run {run}: "
                  + (f"{r.rate:>9,.0f}/s RSS {_mib(r.rss_kib)}" if not r.error else r.error[:200]),
                  flush=True)
    lines = [f"Measured {info['date']} with `{command}`: this project's worker, one setting "
             "changed at a time, median of the runs; same machine as above.", "",
             "| workload | setting | records/s (median) | vs defaults | peak RSS | output records "
             "| records/s per run | verification |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |"]
    base: dict[str, float] = {}
    for wname, label, rs in rows:
        ok = [r for r in rs if not r.error]
        if not ok:
            lines.append(f"| {wname} | {label} | failed: {_cell(rs[0].error)} | | | | | |")
            continue
        rate = statistics.median(r.rate for r in ok)
        base.setdefault(wname, rate)
        per_run = ", ".join(f"{r.rate:,.0f}" if not r.error else "failed" for r in rs)
        missing = [r.note.split(" joined")[0].replace("MISSING ", "") for r in ok
                   if r.note.startswith("MISSING")]
        check = (f"**missing per run: {', '.join(missing)}**" if missing
                 else "exact" if len(ok) == len(rs) else f"{len(rs) - len(ok)} run(s) failed")
        lines.append(f"| {wname} | {label} | {rate:,.0f} | {rate / base[wname]:.2f}x | "
                     f"{_mib(statistics.median(r.rss_kib for r in ok))} | "
                     f"{statistics.median(r.outputs for r in ok):,.0f} | {per_run} | {check} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python3 -m benchmarks.compare",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per system (median reported)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help=f"of {','.join(SYSTEMS)}")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help=f"of {','.join(WORKLOADS)}")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="input size multiplier (defaults: " + ", ".join(
                        f"{k} {v:,}" for k, v in SIZES.items()) + ")")
    ap.add_argument("--timeout", type=float, default=300.0,
                    help="seconds one worker run may take before it counts as failed")
    ap.add_argument("--tuning", action="store_true",
                    help="measure the tuning guide's settings on this project instead")
    ap.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = ap.parse_args(argv)
    command = "python3 -m benchmarks.compare" + (" " + " ".join(argv) if argv else "")
    workloads = [w for w in args.workloads.split(",") if w]
    systems = [s for s in args.systems.split(",") if s]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}")
    for s in systems:
        if s not in SYSTEMS:
            ap.error(f"unknown system {s!r}")

    # SIGTERM ends the harness through the finally below (workers and broker stopped)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    t0 = time.monotonic()
    tag = uuid.uuid4().hex[:6]
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    kafka: Any = None
    if external:
        bootstrap, kafka_label = external, "external broker (KAFKA_BOOTSTRAP_SERVERS)"
        from streams.testing.local_kafka import kafka_version

        kversion = kafka_version()
    else:
        from streams.testing.local_kafka import LocalKafka

        kafka = LocalKafka(fast_start=False, heap="1g").start()
        bootstrap, kversion = kafka.bootstrap_servers, kafka.version
        kafka_label = f"{kversion} (LocalKafka, 1 node)"
        print(f"broker up at {bootstrap} in {time.monotonic() - t0:.1f}s", flush=True)
    sysinfo = Systems(kversion)
    try:
        info = machine_info(kafka_label)
        if args.tuning:
            section = run_tuning(bootstrap, sysinfo, args.scale, args.runs, tag, args.timeout,
                                 command, info)
            print(section)
            if not args.no_write:
                write_block(section, TUNING_START, TUNING_END)
                print(f"wrote {DOC}")
            return 0
        for s in systems:  # environments first, so their set-up is not inside any timing
            sysinfo.command(s)
        results: list[RunResult] = []
        wls: list[Workload] = []
        partial_text: dict[tuple[str, str], str] = {}
        for wname in workloads:
            t = time.monotonic()
            wl = prepare(bootstrap, wname, args.scale, tag)
            wls.append(wl)
            print(f"{wname}: {wl.records_text}; written in {time.monotonic() - t:.1f}s", flush=True)
            part: dict[str, Workload] = {}
            for system in systems:
                frac = PARTIAL.get(system, {}).get(wname)
                if frac:
                    part[system] = prepare(bootstrap, wname, args.scale, tag, frac)
                    partial_text[(wname, system)] = (
                        f"ran on the first {frac:.0%} of the input ({part[system].records_text}): "
                        "the whole input would take it minutes per run")
            failed: set[str] = set()
            for run in range(1, args.runs + 1):
                k = (run - 1) % len(systems)
                for system in systems[k:] + systems[:k]:  # rotate the order
                    cmd = sysinfo.command(system)
                    if cmd is None or (system, wname) in UNSUPPORTED or system in failed:
                        continue
                    r = run_one(bootstrap, part.get(system, wl), system, cmd, run, tag, {},
                                args.timeout)
                    results.append(r)
                    if r.error:
                        failed.add(system)  # do not spend more runs on it for this workload
                        print(f"  {wname:9} {system:7} run {run}: FAILED {r.error[-800:]}",
                              flush=True)
                    else:
                        print(f"  {wname:9} {system:7} run {run}: {r.rate:>10,.0f} records/s "
                              f"({r.seconds:.2f}s)  RSS {_mib(r.rss_kib)}  CPU {r.cpu_s:.1f}s  "
                              f"[{r.note}]", flush=True)
        elapsed = time.monotonic() - t0
        NOTES.update({(s, w): (NOTES[(s, w)] + "; " + t if (s, w) in NOTES else t)
                      for (w, s), t in partial_text.items()})
        section = render(results, wls, systems, sysinfo, info, command, elapsed)
        print(section)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        rjson = RESULTS_DIR / f"compare-{time.strftime('%Y%m%d-%H%M%S')}.json"
        rjson.write_text(json.dumps({
            "info": info, "command": command, "systems": systems,
            "labels": {s: LABELS[s] for s in systems},
            "workloads": [w.name for w in wls],
            "unsupported": [[*list(k), v] for k, v in UNSUPPORTED.items()],
            "install_errors": sysinfo.errors,
            "results": [asdict(r) | {"rate": r.rate} for r in results],
        }, indent=1))
        print(f"results: {rjson}")
        if not args.no_write:
            write_block(section, START_MARK, END_MARK)
            print(f"wrote {DOC}")
            print(make_chart(rjson, CHART), flush=True)
        print(f"total {elapsed:.0f}s")
    finally:
        for proc in list(_LIVE):
            _kill_group(proc, 2.0)
        if kafka is not None:
            kafka.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
