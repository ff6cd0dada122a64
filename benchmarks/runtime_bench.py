"""Throughput and memory of the streams runtime, side by side with a plain confluent-kafka loop.

Run by hand (this is not a test)::

    python3 -m benchmarks.runtime_bench                  # defaults, 3 runs, writes docs/benchmarks.md
    python3 -m benchmarks.runtime_bench --records 200000 --lines 20000 --runs 1 --no-write

The harness starts a local Kafka broker (``LocalKafka``) unless ``KAFKA_BOOTSTRAP_SERVERS``
is set, writes each workload's input once (fixed seed, 4 partitions), then runs every system
against that same input, each in its own subprocess (``--worker SYSTEM WORKLOAD ...``) with a
fresh consumer group / application id and a fresh output topic:

* ``streams``: this project's ``KafkaStreams``, one stream thread;
* ``plain``: a hand-written confluent-kafka consume -> process -> produce loop calling the same
  functions (the Python floor; for word count a dict of counts, with no changelog and no
  repartition topic, so no fault tolerance for its state).

Timing runs from the first record the worker's code sees (a hook in the first user function,
identical in both systems) to the broker's append time of the last output record (output topics
use ``message.timestamp.type=LogAppendTime``), so start-up, group join and shutdown are excluded
and detection of the end costs the worker nothing. Every output topic is read back and checked:
record count, and values (stateless: every output equals the transformed input of its key;
word count: the last count per word equals a count computed in Python). Peak RSS and CPU time
come from each worker: ``VmHWM`` read by the worker as it ends, and ``ru_utime + ru_stime`` from
``os.wait4`` (``ru_maxrss`` is useless here: Linux carries the forking parent's high-water mark
across ``exec``).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as _dt
import io
import json
import os
import platform
import pstats
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

PARTITIONS = 4
SEED = 20240601
COMMIT_INTERVAL_MS = 1000
BATCH = 1000  # consume(num_messages=...) in the plain loop; the runtime's max.poll.records default
DEFAULT_RECORDS = 2_500_000  # stateless input records (streams ~10 s here)
DEFAULT_LINES = 150_000  # word-count input lines, ~8 words each (streams ~15 s here)
#: Consumer settings given to both systems (the runtime through ``consumer.*``). librdkafka's
#: default fetch.queue.backoff.ms (1000) stalls a consumer whose prefetch queue once held
#: queued.min.messages (100k) per partition for a whole second, capping a fast loop at roughly
#: 100-130k records/s here; 100 ms removes that cap. ``--consumer`` overrides these.
DEFAULT_CONSUMER = {"fetch.queue.backoff.ms": "100"}
WORKLOADS = ("stateless", "wordcount")
SYSTEMS = ("streams", "plain")
REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
#: How the orchestrator starts a worker (``--worker ...`` is appended).
WORKER_CMD = [sys.executable, "-m", "benchmarks.runtime_bench"]
START_MARK = "<!-- results:start -->"
END_MARK = "<!-- results:end -->"

# --------------------------------------------------------------------------------------------
# The user functions: identical in both systems. The first call records when processing began.

_FIRST: list[float] = []
EVENTS = ("view", "cart", "click", "buy")


def transform(value: str) -> str:
    """Stateless ``map_values``."""
    if not _FIRST:
        _FIRST.append(time.time())
    return value.upper()


def keep(value: str) -> bool:
    """Stateless ``filter``: drops the ``click`` events (about a quarter)."""
    return ",CLICK," not in value


def split_words(line: str) -> list[str]:
    """Word count ``flat_map_values``."""
    if not _FIRST:
        _FIRST.append(time.time())
    return line.split()


def identity(value: str) -> str:
    """Word count ``group_by`` selector: the word is the key."""
    return value


_LONG = struct.Struct(">q")


# --------------------------------------------------------------------------------------------
# Input data (deterministic)


def stateless_input(n: int) -> Iterator[tuple[str, str]]:
    """``(key, value)`` pairs such as ``("k00000042", "42,cart,17.31")``."""
    rng = random.Random(SEED)
    for i in range(n):
        yield f"k{i:08d}", f"{i},{EVENTS[rng.randrange(4)]},{rng.randrange(1, 100000) / 100:.2f}"


def _vocabulary(size: int, rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pu", "da", "fe", "gi", "ho"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def wordcount_input(n: int) -> Iterator[tuple[str, str]]:
    """``(key, line)`` pairs: 4-12 words per line from a 2000-word Zipf-like vocabulary."""
    rng = random.Random(SEED)
    vocab = _vocabulary(2000, rng)
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    for i in range(n):
        yield f"line-{i}", " ".join(rng.choices(vocab, weights, k=rng.randint(4, 12)))


# --------------------------------------------------------------------------------------------
# Kafka helpers


def _producer_config(bootstrap: str) -> dict[str, Any]:
    """The plain loop's producer: the same settings the runtime's collector uses, so both pay
    for ``acks=all`` + idempotence + murmur2 partitioning alike."""
    from streams.runtime.client_configs import PRODUCER_DEFAULTS

    return {**PRODUCER_DEFAULTS, "bootstrap.servers": bootstrap}


def create_topic(bootstrap: str, name: str, config: dict[str, str] | None = None) -> None:
    from streams.testing.clients import create_topic as _create

    _create(bootstrap, name, partitions=PARTITIONS, replication_factor=1, config=config)


def produce_input(bootstrap: str, topic: str,
                  records: Iterable[tuple[str, str] | tuple[str, str, int | None]]) -> int:
    """Write ``(key, value)`` or ``(key, value, timestamp)`` records (a None timestamp: the
    producer's clock); returns how many. Raises if any is not acknowledged."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1_000_000,
                  "queue.buffering.max.messages": 1_000_000, "partitioner": "murmur2_random"})
    n = 0
    for record in records:
        key, value = record[0], record[1]
        ts = record[2] if len(record) > 2 else None
        while True:
            try:
                if ts is None:
                    p.produce(topic, value.encode(), key.encode())
                else:
                    p.produce(topic, value.encode(), key.encode(), timestamp=ts)
                break
            except BufferError:
                p.poll(0.05)
        n += 1
        if n % 10000 == 0:
            p.poll(0)
    if p.flush(120):
        raise RuntimeError(f"input to {topic} not fully acknowledged")
    return n


def read_topic(bootstrap: str, topic: str) -> Iterator[list[Any]]:
    """Every record of ``topic`` now, in batches (partition order preserved)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-reader-{uuid.uuid4()}",
                  "enable.auto.commit": False, "enable.partition.eof": False,
                  "fetch.max.bytes": 52428800})
    try:
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
                for p in range(PARTITIONS)}
        pending = {p for p, hi in ends.items() if hi > 0}
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        deadline = time.monotonic() + 300
        while pending:
            if time.monotonic() > deadline:
                raise RuntimeError(f"reading {topic}: partitions {sorted(pending)} incomplete")
            msgs = c.consume(10000, 1.0)
            batch = []
            for m in msgs:
                if m.error():
                    raise RuntimeError(f"reading {topic}: {m.error()}")
                if m.partition() in pending:
                    batch.append(m)
                    if m.offset() + 1 >= ends[m.partition()]:
                        pending.discard(m.partition())
            if batch:
                yield batch
    finally:
        c.close()


def end_offsets(probe: Any, topic: str, partitions: int = PARTITIONS) -> dict[int, int]:
    from confluent_kafka import TopicPartition

    return {p: probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)}


# --------------------------------------------------------------------------------------------
# Workers (each runs in its own subprocess)


@dataclass
class WorkerArgs:
    system: str
    workload: str
    bootstrap: str
    input: str
    output: str
    app_id: str
    state_dir: str
    timeout: float
    cprofile: str | None
    consumer: list[str]

    def consumer_overrides(self) -> dict[str, str]:
        return dict(kv.split("=", 1) for kv in self.consumer)


def _streams_topology(workload: str, input_topic: str, output_topic: str) -> Any:
    from streams import Consumed, Grouped, Materialized, Produced, StreamsBuilder, serdes

    b = StreamsBuilder()
    s = b.stream(input_topic, Consumed(key_serde=serdes.String(), value_serde=serdes.String()))
    if workload == "stateless":
        (s.map_values(transform)
          .filter(keep)
          .to(output_topic, Produced(key_serde=serdes.String(), value_serde=serdes.String())))
    else:
        (s.flat_map_values(split_words)
          .group_by(identity, Grouped(key_serde=serdes.String(), value_serde=serdes.String()))
          .count(Materialized(name="counts", store_type="rocksDB"))
          .to_stream()
          .to(output_topic, Produced(key_serde=serdes.String(), value_serde=serdes.Long())))
    return b.build()


def _all_committed(admin: Any, probe: Any, group: str, input_topic: str) -> bool:
    """True when ``group`` committed the end of its input and of its repartition topics; the
    runtime flushes its producer before committing, so all output is then in the log."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    def at_end(topic: str, partitions: int) -> bool:
        ends = end_offsets(probe, topic, partitions)
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        fut = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group, tps)])
        got = fut[group].result(timeout=10).topic_partitions
        return all(tp.offset >= ends[tp.partition] for tp in got if ends[tp.partition] > 0)

    if not at_end(input_topic, PARTITIONS):
        return False
    md = probe.list_topics(timeout=10)
    return all(at_end(name, len(t.partitions)) for name, t in md.topics.items()
               if name.startswith(group + "-") and name.endswith("-repartition"))


def run_streams_worker(a: WorkerArgs) -> dict[str, Any]:
    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient

    from streams.runtime import KafkaStreams
    from streams.runtime.kafka_streams import State

    if a.cprofile:
        from streams.runtime import stream_thread

        prof = cProfile.Profile()
        original = stream_thread.StreamThread._loop

        def profiled_loop(self: Any) -> None:
            prof.enable()
            try:
                original(self)
            finally:
                prof.disable()
                prof.dump_stats(a.cprofile)

        stream_thread.StreamThread._loop = profiled_loop  # type: ignore[method-assign]

    app = KafkaStreams(_streams_topology(a.workload, a.input, a.output), {
        "application.id": a.app_id, "bootstrap.servers": a.bootstrap, "state.dir": a.state_dir,
        "commit.interval.ms": COMMIT_INTERVAL_MS, "num.stream.threads": 1,
        **{f"consumer.{k}": v for k, v in a.consumer_overrides().items()},
    })
    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    probe = Consumer({"bootstrap.servers": a.bootstrap, "group.id": f"{a.app_id}-probe"})
    deadline = time.monotonic() + a.timeout
    app.start()
    try:
        while True:
            time.sleep(0.5)
            if app.state in (State.ERROR, State.PENDING_ERROR, State.NOT_RUNNING):
                failures = [t.failure for t in app.threads if t.failure]
                raise RuntimeError(f"streams app stopped in state {app.state.value}: {failures}")
            if _FIRST and _all_committed(admin, probe, a.app_id, a.input):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"streams worker did not finish within {a.timeout}s")
        detected = time.time()
        processed = sum(t.processed for t in app.threads)
    finally:
        app.close(60)
        probe.close()
    return {"first": _FIRST[0], "detected": detected, "processed": processed}


def run_plain_worker(a: WorkerArgs) -> dict[str, Any]:
    from confluent_kafka import Consumer, Producer, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": a.bootstrap, "group.id": a.app_id, "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "partition.assignment.strategy": "range",
        "enable.partition.eof": False, **a.consumer_overrides(),
    })
    producer = Producer(_producer_config(a.bootstrap))
    ends = end_offsets(consumer, a.input)
    remaining = {p for p, hi in ends.items() if hi > 0}
    consumer.subscribe([a.input])
    produce, poll = producer.produce, producer.poll
    out = a.output
    offsets: dict[int, int] = {}
    counts: dict[str, int] = {}
    pack = _LONG.pack
    processed = 0
    prof = cProfile.Profile() if a.cprofile else None

    def send(value: bytes, key: bytes, ts: int) -> None:
        while True:
            try:
                produce(out, value, key, timestamp=ts)
                return
            except BufferError:
                poll(0.05)

    def commit() -> None:
        if producer.flush(60):
            raise RuntimeError("plain loop: producer flush timed out")
        if offsets:
            consumer.commit(offsets=[TopicPartition(a.input, p, o + 1) for p, o in offsets.items()],
                            asynchronous=False)

    deadline = time.monotonic() + a.timeout
    last_commit = time.monotonic()
    stateless = a.workload == "stateless"
    if prof:
        prof.enable()
    while remaining:
        msgs = consumer.consume(num_messages=BATCH, timeout=0.1)
        for m in msgs:
            if m.error():
                raise RuntimeError(f"plain loop: consumer error {m.error()}")
            ts = m.timestamp()[1]
            if stateless:
                key = m.key().decode()
                value = transform(m.value().decode())
                if keep(value):
                    send(value.encode(), key.encode(), ts)
            else:
                for word in split_words(m.value().decode()):
                    n = counts.get(word, 0) + 1
                    counts[word] = n
                    send(pack(n), word.encode(), ts)
            offsets[m.partition()] = m.offset()
        processed += len(msgs)
        if msgs:
            poll(0)
            for p in list(remaining):
                if offsets.get(p, -1) + 1 >= ends[p]:
                    remaining.discard(p)
        now = time.monotonic()
        if now - last_commit >= COMMIT_INTERVAL_MS / 1000:
            commit()
            last_commit = now
        if now > deadline:
            raise RuntimeError(f"plain worker did not finish within {a.timeout}s")
    commit()
    if prof:
        prof.disable()
        prof.dump_stats(a.cprofile)
    detected = time.time()
    consumer.close()
    return {"first": _FIRST[0], "detected": detected, "processed": processed}


def peak_rss_kib() -> int:
    """This process's peak RSS (``VmHWM``). Not ``ru_maxrss``: on Linux that keeps the
    high-water mark of the memory replaced by ``exec``, i.e. of the forking parent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def worker_main(argv: list[str]) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    ap = argparse.ArgumentParser(prog="runtime_bench --worker")
    ap.add_argument("system", choices=SYSTEMS)
    ap.add_argument("workload", choices=WORKLOADS)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--app-id", required=True)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--cprofile")
    ap.add_argument("--consumer", action="append", default=[])
    a = WorkerArgs(**vars(ap.parse_args(argv)))
    result = run_streams_worker(a) if a.system == "streams" else run_plain_worker(a)
    result["peak_rss_kib"] = peak_rss_kib()
    print(json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------------------------
# Orchestration


@dataclass
class Workload:
    name: str
    topic: str
    records: int
    expected_outputs: int
    check: Callable[[str, str], str]  # (bootstrap, output topic) -> note; raises on mismatch


@dataclass
class RunResult:
    workload: str
    system: str
    run: int
    records: int
    seconds: float
    rss_kib: int
    cpu_s: float
    outputs: int
    note: str

    @property
    def rate(self) -> float:
        return self.records / self.seconds


@dataclass
class Verified:
    outputs: int = 0
    last_ts_ms: int = 0
    notes: list[str] = field(default_factory=list)


_LAST_VERIFIED: dict[str, Verified] = {}


def prepare_stateless(bootstrap: str, n: int, tag: str) -> Workload:
    topic = f"bench-stateless-in-{tag}"
    create_topic(bootstrap, topic)
    expected: dict[bytes, bytes] = {}
    for key, value in stateless_input(n):
        v = value.upper()
        if keep(v):
            expected[key.encode()] = v.encode()
    produce_input(bootstrap, topic, stateless_input(n))

    def check(bs: str, out: str) -> str:
        seen = 0
        last = 0
        bad = 0
        for batch in read_topic(bs, out):
            for m in batch:
                seen += 1
                last = max(last, m.timestamp()[1])
                if expected.get(m.key()) != m.value():
                    bad += 1
        _LAST_VERIFIED[out] = Verified(seen, last)
        if bad or seen != len(expected):
            raise RuntimeError(f"{out}: {seen} outputs (expected {len(expected)}), {bad} wrong")
        return f"{seen} outputs, all equal to the transformed input"

    return Workload("stateless", topic, n, len(expected), check)


def prepare_wordcount(bootstrap: str, n: int, tag: str) -> Workload:
    topic = f"bench-wordcount-in-{tag}"
    create_topic(bootstrap, topic)
    expected: Counter[str] = Counter()
    for _, line in wordcount_input(n):
        expected.update(line.split())
    total = sum(expected.values())
    produce_input(bootstrap, topic, wordcount_input(n))

    def check(bs: str, out: str) -> str:
        latest: dict[bytes, bytes] = {}
        seen = 0
        last = 0
        for batch in read_topic(bs, out):
            for m in batch:
                seen += 1
                last = max(last, m.timestamp()[1])
                latest[m.key()] = m.value()
        _LAST_VERIFIED[out] = Verified(seen, last)
        got = {k.decode(): _LONG.unpack(v)[0] for k, v in latest.items()}
        if got != dict(expected):
            wrong = sum(1 for w, c in expected.items() if got.get(w) != c)
            raise RuntimeError(f"{out}: {wrong} of {len(expected)} final counts differ")
        # the plain loop emits one count per word; streams' record cache folds a word's updates
        # between commits into one record
        if not len(expected) <= seen <= total:
            raise RuntimeError(f"{out}: {seen} outputs, expected {len(expected)} to {total}")
        return f"{seen} outputs; final counts of all {len(expected)} words correct"

    return Workload("wordcount", topic, n, total, check)


def run_worker(bootstrap: str, wl: Workload, system: str, run: int, tag: str,
               consumer: dict[str, str], cprofile: str | None = None) -> RunResult:
    out = f"bench-{wl.name}-{system}-out-{tag}-r{run}{'-prof' if cprofile else ''}"
    create_topic(bootstrap, out, {"message.timestamp.type": "LogAppendTime"})
    app_id = f"bench-{wl.name}-{system}-{tag}-r{run}{'-prof' if cprofile else ''}"
    state_dir = tempfile.mkdtemp(prefix="streams-bench-state-")
    cmd = [*WORKER_CMD, "--worker", system, wl.name,
           "--bootstrap", bootstrap, "--input", wl.topic, "--output", out, "--app-id", app_id,
           "--state-dir", state_dir]
    if cprofile:
        cmd += ["--cprofile", cprofile]
    for k, v in consumer.items():
        cmd += ["--consumer", f"{k}={v}"]
    with tempfile.TemporaryFile("w+") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        text = stdout.read()
    shutil.rmtree(state_dir, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {system}/{wl.name} exited with {proc.returncode}: {text[-2000:]}")
    info = json.loads(text.strip().splitlines()[-1])
    note = wl.check(bootstrap, out)
    v = _LAST_VERIFIED.pop(out)
    seconds = v.last_ts_ms / 1000 - info["first"]
    return RunResult(wl.name, system, run, wl.records, seconds, info["peak_rss_kib"],
                     usage.ru_utime + usage.ru_stime, v.outputs, note)


def machine_info(kafka_version: str) -> dict[str, str]:
    import confluent_kafka

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
        mem = next((ln.split()[1] for ln in free.splitlines() if ln.startswith("Mem:")), "?")
    except OSError:
        mem = "?"
    try:
        rocksdict = metadata.version("rocksdict")
    except metadata.PackageNotFoundError:
        rocksdict = "?"
    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, nproc={os.cpu_count()}",
        "memory": f"{mem} (free -h total)",
        "os": platform.platform(),
        "python": platform.python_version(),
        "confluent-kafka": f"{metadata.version('confluent-kafka')} "
                           f"(librdkafka {confluent_kafka.libversion()[0]})",
        "rocksdict": rocksdict,
        "kafka": kafka_version,
    }


def settings_text(consumer: dict[str, str]) -> str:
    return ("Settings, both systems: 4 input partitions, one worker process with one processing "
            f"thread, consume batches of {BATCH}, commit every {COMMIT_INTERVAL_MS} ms "
            "(producer flushed first), the runtime's producer settings (acks=all, idempotence, "
            "linger.ms=5, murmur2 partitioner), String serdes (Long for counts), consumer "
            + ", ".join(f"`{k}={v}`" for k, v in consumer.items()) + ".")


def _mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def render(results: list[RunResult], info: dict[str, str], args: argparse.Namespace,
           elapsed: float) -> str:
    by: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        by.setdefault((r.workload, r.system), []).append(r)
    lines = [
        f"Measured {info['date']} with `{args.command_line}` ({elapsed / 60:.1f} min in all).",
        "",
        "| workload | system | input records | records/s (median) | vs plain loop | peak RSS (median) "
        "| worker CPU µs/record | records/s per run |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    verdicts = []
    for wl in WORKLOADS:
        plain = by.get((wl, "plain"))
        plain_rate = statistics.median(r.rate for r in plain) if plain else None
        for system in SYSTEMS:
            rs = by.get((wl, system))
            if not rs:
                continue
            rate = statistics.median(r.rate for r in rs)
            ratio = f"{rate / plain_rate:.2f}x" if plain_rate else "-"
            rss = statistics.median(r.rss_kib for r in rs)
            cpu = statistics.median(r.cpu_s / r.records * 1e6 for r in rs)
            label = {"streams": "streams (KafkaStreams, 1 thread)",
                     "plain": "plain confluent-kafka loop"}[system]
            if wl == "wordcount" and system == "plain":
                label += " (dict; no changelog, no repartition)"
            per_run = ", ".join(f"{r.rate:,.0f}" for r in sorted(rs, key=lambda r: r.run))
            lines.append(f"| {wl} | {label} | {rs[0].records:,} | {rate:,.0f} | {ratio} | "
                         f"{_mib(rss)} | {cpu:.1f} | {per_run} |")
            if system == "streams" and plain_rate:
                # ratio of medians; also per run (both systems ran back to back in each run)
                pairs = {r.run: r.rate for r in rs}
                per = [pairs[p.run] / p.rate for p in plain if p.run in pairs]
                verdicts.append((wl, rate / plain_rate, per))
    lines.append("")
    for wl, ratio, per in verdicts:
        per_text = ", ".join(f"{x:.2f}" for x in per)
        if wl == "stateless":
            met = "met" if ratio >= 0.6 else "NOT met"
            lines.append(f"- Stateless target (>= 0.6x the plain loop): **{met}** - {ratio:.2f}x "
                         f"(per run: {per_text}).")
        else:
            lines.append(f"- Word count: streams runs at {ratio:.2f}x the plain loop (per run: "
                         f"{per_text}); the plain loop keeps its counts in a dict with no "
                         "changelog and no repartition topic.")
    lines += [
        "",
        settings_text(args.consumer_settings),
        "",
        "Machine and versions:",
        "",
        *(f"- {k}: {v}" for k, v in info.items()),
        "",
        "Runs (seconds from the first record seen to the broker append time of the last output "
        "record; peak RSS is the worker's `VmHWM`; CPU is the worker's user+system time, start-up included):",
        "",
        "| workload | system | run | seconds | records/s | output records | peak RSS | CPU s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(f"| {r.workload} | {r.system} | {r.run} | {r.seconds:.2f} | {r.rate:,.0f} | "
                     f"{r.outputs:,} | {_mib(r.rss_kib)} | {r.cpu_s:.1f} |")
    return "\n".join(lines) + "\n"


DOC_TEMPLATE = """# Benchmarks

Throughput and memory of the runtime next to a hand-written confluent-kafka loop doing the same
work. Run by hand: `python3 -m benchmarks.runtime_bench` (see `benchmarks/README.md`).

{start}
{end}
"""


def write_doc(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else DOC_TEMPLATE.format(start=START_MARK, end=END_MARK)
    if START_MARK not in text or END_MARK not in text:
        text = text.rstrip("\n") + f"\n\n{START_MARK}\n{END_MARK}\n"
    head, rest = text.split(START_MARK, 1)
    _, tail = rest.split(END_MARK, 1)
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(f"{head}{START_MARK}\n{section}{END_MARK}{tail}")


def print_profile(path: str, top: int) -> None:
    buf = io.StringIO()
    stats = pstats.Stats(path, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    print(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        return worker_main(argv[1:])
    ap = argparse.ArgumentParser(prog="python3 -m benchmarks.runtime_bench",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=DEFAULT_RECORDS,
                    help=f"stateless input records (default {DEFAULT_RECORDS:,})")
    ap.add_argument("--lines", type=int, default=DEFAULT_LINES,
                    help=f"word-count input lines, ~8 words each (default {DEFAULT_LINES:,})")
    ap.add_argument("--runs", type=int, default=3, help="runs per system; the median is reported")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--consumer", action="append", default=[], metavar="KEY=VALUE",
                    help="consumer setting for both systems (default: "
                         + ", ".join(f"{k}={v}" for k, v in DEFAULT_CONSUMER.items()) + ")")
    ap.add_argument("--no-write", action="store_true", help=f"do not update {DOC.relative_to(REPO)}")
    ap.add_argument("--profile", metavar="DIR",
                    help="afterwards, run each system once more under cProfile (stream thread / "
                         "loop only), save DIR/<workload>-<system>.prof and print the top entries")
    args = ap.parse_args(argv)
    args.command_line = "python3 -m benchmarks.runtime_bench" + (" " + " ".join(argv) if argv else "")
    workloads = [w for w in args.workloads.split(",") if w]
    systems = [s for s in args.systems.split(",") if s]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}")
    for s in systems:
        if s not in SYSTEMS:
            ap.error(f"unknown system {s!r}")

    consumer = dict(DEFAULT_CONSUMER)
    for kv in args.consumer:
        if "=" not in kv:
            ap.error(f"--consumer wants KEY=VALUE, got {kv!r}")
        k, v = kv.split("=", 1)
        consumer[k] = v
    args.consumer_settings = consumer
    t0 = time.monotonic()
    tag = uuid.uuid4().hex[:6]
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    kafka: Any = None
    if external:
        bootstrap, kafka_version = external, "external broker (KAFKA_BOOTSTRAP_SERVERS)"
    else:
        from streams.testing.local_kafka import LocalKafka

        # fast_start=False: the C1-only JIT lowers the broker's peak throughput
        kafka = LocalKafka(fast_start=False, heap="1g").start()
        bootstrap, kafka_version = kafka.bootstrap_servers, f"{kafka.version} (LocalKafka, 1 node)"
        print(f"broker up at {bootstrap} in {time.monotonic() - t0:.1f}s", flush=True)
    try:
        results: list[RunResult] = []
        for wname in workloads:
            t = time.monotonic()
            if wname == "stateless":
                wl = prepare_stateless(bootstrap, args.records, tag)
            else:
                wl = prepare_wordcount(bootstrap, args.lines, tag)
            print(f"{wname}: {wl.records:,} input records written in {time.monotonic() - t:.1f}s",
                  flush=True)
            for run in range(1, args.runs + 1):
                order = systems if run % 2 else list(reversed(systems))  # alternate the order
                for system in order:
                    r = run_worker(bootstrap, wl, system, run, tag, consumer)
                    results.append(r)
                    print(f"  {wname:9} {system:7} run {run}: {r.rate:>10,.0f} records/s "
                          f"({r.seconds:.2f}s)  RSS {_mib(r.rss_kib)}  CPU {r.cpu_s:.1f}s  "
                          f"[{r.note}]", flush=True)
            if args.profile:
                Path(args.profile).mkdir(parents=True, exist_ok=True)
                for system in systems:
                    path = str(Path(args.profile).resolve() / f"{wname}-{system}.prof")
                    run_worker(bootstrap, wl, system, 0, tag, consumer, cprofile=path)
                    print(f"--- cProfile {wname} / {system} (under the profiler; slower) ---")
                    print_profile(path, 25)
        elapsed = time.monotonic() - t0
        section = render(results, machine_info(kafka_version), args, elapsed)
        print(section)
        if not args.no_write:
            write_doc(section)
            print(f"wrote {DOC}")
        print(f"total {elapsed:.0f}s")
    finally:
        if kafka is not None:
            kafka.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
