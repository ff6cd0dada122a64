"""Runs conformance scenarios on both sides and compares them.

* the **Java side**: ``tests/conformance/java`` (Kafka Streams' own ``TopologyTestDriver``),
  built once with Maven into ``~/.cache/streams/conformance/<kafka version>-<hash of the Java
  sources>/conformance.jar`` and run as one long-lived JVM that answers scenarios line by line;
* the **Python side**: the twins of :mod:`conformance_topologies`, run through
  ``streams.testing.TopologyTestDriver``;
* seeded random inputs (:func:`generate`), a record-by-record comparison (:func:`describe_diff`)
  and a minimizer (:func:`minimize`) that shrinks a differing input to a few records.

Also a command line, from the repository root::

    python3 tests/conformance/conformance_harness.py run NAME SEED        # both outputs
    python3 tests/conformance/conformance_harness.py minimize NAME [SEED]  # smallest differing input

``minimize`` tries seeds 0-11 (or the given ones) and shrinks the first that differs; for a
topology in ``KNOWN`` it looks for a difference the entry does not explain (``--known``: one it
does). ``--rocksdb`` runs with RocksDB stores instead of in-memory ones.

Environment: ``STREAMS_CONFORMANCE_KAFKA_VERSION`` (default 4.1.1) picks the Kafka Streams
version of the Java side; ``STREAMS_CONFORMANCE_CACHE`` moves the jar cache.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import hashlib
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from conformance_topologies import TWINS, S, Twin

from streams.testing import TopologyTestDriver

HERE = Path(__file__).resolve().parent
JAVA_PROJECT = HERE / "java"
KAFKA_VERSION = os.environ.get("STREAMS_CONFORMANCE_KAFKA_VERSION", "4.1.1")
CACHE_ROOT = Path(os.environ.get("STREAMS_CONFORMANCE_CACHE",
                                 "~/.cache/streams/conformance")).expanduser()
BUILD_TIMEOUT_S = 600
#: Same settings as the Java side (Main.java): record caches off, mocked wall clock at 0;
#: plus ``default.dsl.store`` from the scenario's ``store`` (``rocksdb`` or ``in_memory``).
PYTHON_CONFIG = {"application.id": "conformance", "statestore.cache.max.bytes": 0,
                 "default.key.serde": "String", "default.value.serde": "String"}

Scenario = dict[str, Any]  # {"topology": name, "inputs": [{"topic", "key", "value", "timestamp"}]}
Result = dict[str, Any]  # {"outputs": {topic: [{"key", "value", "timestamp", "input"}]}} | {"error"}


class Unavailable(Exception):
    """The Java side cannot run here (no java/mvn, or the Maven build failed): skip."""


# ---------------------------------------------------------------------------- Java side
def _sources() -> list[Path]:
    return sorted([JAVA_PROJECT / "pom.xml", *(JAVA_PROJECT / "src").rglob("*.java")])


def jar_path() -> Path:
    """Where the jar for the current Java sources and Kafka version lives (built or not)."""
    digest = hashlib.sha256(KAFKA_VERSION.encode())
    for path in _sources():
        digest.update(str(path.relative_to(JAVA_PROJECT)).encode() + b"\0" + path.read_bytes())
    return CACHE_ROOT / f"{KAFKA_VERSION}-{digest.hexdigest()[:16]}" / "conformance.jar"


def find_java() -> str:
    """``java`` (17 or newer), or :class:`Unavailable`."""
    java = shutil.which("java")
    if not java:
        raise Unavailable("`java` is not on PATH; the conformance suite needs Java 17+ and Maven "
                          "(Debian/Ubuntu: apt-get install openjdk-17-jdk-headless maven)")
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):  # "1.8.0"
        major = int(match.group(2))
    if major < 17:
        raise Unavailable(f"the conformance suite needs Java 17+, `java -version` says: "
                          f"{out.strip().splitlines()[0] if out.strip() else '?'}")
    return java


def ensure_jar() -> Path:
    """The jar of the Java side, built with ``mvn -q -B package`` if it is not cached yet
    (under a file lock, in a scratch copy: nothing is written into the source tree)."""
    jar = jar_path()
    if jar.exists():
        os.utime(jar.parent)  # in use: see _prune
        return jar
    mvn = shutil.which("mvn")
    if not mvn:
        raise Unavailable("`mvn` is not on PATH and the conformance jar is not built yet "
                          f"({jar}); install Maven (apt-get install maven)")
    jar.parent.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if jar.exists():  # built by another process meanwhile
            return jar
        with tempfile.TemporaryDirectory(prefix="build-", dir=CACHE_ROOT) as scratch:
            work = Path(scratch) / "java"
            shutil.copytree(JAVA_PROJECT, work, ignore=shutil.ignore_patterns("target"))
            cmd = [mvn, "-q", "-B", f"-Dkafka.version={KAFKA_VERSION}", "package"]
            try:
                proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True,
                                      timeout=BUILD_TIMEOUT_S)
            except subprocess.TimeoutExpired as e:
                raise Unavailable(f"the Maven build of the conformance jar took more than "
                                  f"{BUILD_TIMEOUT_S} s: {' '.join(cmd)}") from e
            built = work / "target" / "conformance.jar"
            if proc.returncode != 0 or not built.exists():
                raise Unavailable(f"the Maven build of the conformance jar failed (exit "
                                  f"{proc.returncode}; `{' '.join(cmd)}` in a copy of "
                                  f"{JAVA_PROJECT}):\n{_maven_errors(proc.stdout + proc.stderr)}")
            tmp = jar.with_suffix(".tmp")
            shutil.copyfile(built, tmp)
            os.replace(tmp, jar)
        _prune(keep=jar.parent)
    return jar


def _maven_errors(output: str) -> str:
    """The [ERROR] lines of Maven's output that say what failed (not its boilerplate), or
    its last lines."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in output.splitlines()]
    boilerplate = ("-> [Help", "Re-run Maven", "-e switch", "-X switch", "For more information",
                   "[Help 1]", "cwiki.apache.org")
    errors = [line for line in lines if line.startswith("[ERROR]") and line[7:].strip()
              and not any(b in line for b in boilerplate)]
    return "\n".join(errors[:20] or lines[-25:])


def _prune(keep: Path, unused_days: float = 7) -> None:
    """Remove jars of older Java sources (about 100 MB each) not used for ``unused_days``."""
    limit = time.time() - unused_days * 86400
    for entry in CACHE_ROOT.iterdir():
        if entry != keep and (entry / "conformance.jar").exists() and entry.stat().st_mtime < limit:
            shutil.rmtree(entry, ignore_errors=True)


class JavaSide:
    """One JVM running Main.java: send scenarios, get results (a JSON line each way)."""

    def __init__(self, jar: Path | None = None) -> None:
        java = find_java()
        jar = jar or ensure_jar()
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._proc = subprocess.Popen(
            [java, "-XX:+UseSerialGC", "-Xss4m", "-jar", str(jar)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True)

    def run_many(self, scenarios: list[Scenario], timeout_s: float = 600) -> list[Result]:
        """Kafka Streams' results for ``scenarios``, in order (one round trip); the JVM is
        killed if it takes longer than ``timeout_s``."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(scenarios) + "\n")
        self._proc.stdin.flush()
        watchdog = threading.Timer(timeout_s, self._proc.kill)
        watchdog.start()
        try:
            line = self._proc.stdout.readline()
        finally:
            watchdog.cancel()
        if not line:
            self._stderr.seek(0)
            err = self._stderr.read().decode(errors="replace")[-4000:]
            raise RuntimeError(f"the conformance JVM exited (code {self._proc.poll()}):\n{err}")
        results: list[Result] = json.loads(line)
        return results

    def run(self, scenario: Scenario) -> Result:
        return self.run_many([scenario])[0]

    def names(self) -> list[str]:
        """The topology names the Java side knows."""
        jar = jar_path()
        out = subprocess.run([find_java(), "-jar", str(jar), "--list"], capture_output=True,
                             text=True, check=True).stdout
        names: list[str] = json.loads(out)
        return names

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()
        self._stderr.close()

    def __enter__(self) -> JavaSide:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------- Python side
def run_python(scenario: Scenario) -> Result:
    """Run ``scenario`` through the Python twin, in the same JSON shape as the Java side."""
    twin = TWINS[scenario["topology"]]
    config = {**PYTHON_CONFIG, "default.dsl.store": scenario.get("store", "rocksdb")}
    outputs: dict[str, list[dict[str, Any]]] = {t: [] for t in twin.outputs}
    with _quiet():
        return _run_python(scenario, twin, config, outputs)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Without the warning logged for every dropped record (random inputs drop many)."""
    logger = logging.getLogger("streams")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _run_python(scenario: Scenario, twin: Twin, config: dict[str, Any],
                outputs: dict[str, list[dict[str, Any]]]) -> Result:
    try:
        with TopologyTestDriver(twin.build(config), config, initial_wall_clock_time_ms=0) as d:
            readers = {t: d.create_output_topic(t, S, vs) for t, vs in twin.outputs.items()}
            inputs: dict[str, Any] = {}
            for i, rec in enumerate(scenario["inputs"]):
                topic = rec["topic"]
                if topic not in inputs:
                    inputs[topic] = d.create_input_topic(topic, S, S)
                inputs[topic].pipe_input(rec["key"], rec["value"], rec["timestamp"])
                for t, reader in readers.items():
                    outputs[t].extend({"key": r.key, "value": r.value, "timestamp": r.timestamp,
                                       "input": i} for r in reader.read_records_to_list())
            topics = sorted(d.produced_topic_names())
    except Exception:
        return {"error": traceback.format_exc()}
    if scenario.get("introspect"):
        # the names Kafka Streams gives nodes, stores and internal topics (see Main.java)
        return {"outputs": outputs, "describe": str(twin.build(config).describe()),
                "topics": topics}
    return {"outputs": outputs}


# ---------------------------------------------------------------------------- inputs
def generate(twin: Twin, seed: int, count: int = 40, store: str = "in_memory") -> Scenario:
    """``count`` seeded random input records for ``twin``: a few keys repeated, None keys and
    values (tombstones for tables), equal timestamps, out-of-order and late records, and (for
    windowed topologies) jumps of stream time."""
    rnd = random.Random(f"{twin.name}/{seed}")
    topics = sorted(twin.inputs)
    clock = rnd.randint(0, 6)
    records = []
    for _ in range(count):
        r = rnd.random()
        if r < (0.07 if twin.windowed else 0.03):
            clock += rnd.randint(12, 40)  # a jump: closes windows
            ts = clock
        elif r < 0.27:
            ts = max(0, clock - rnd.randint(1, 14))  # out of order, often late
        else:
            clock += rnd.choice((0, 1, 1, 2, 3))
            ts = clock
        topic = rnd.choice(topics)
        shape = twin.inputs[topic]
        key = None if rnd.random() < shape.null_key else rnd.choice(shape.keys)
        value = None if rnd.random() < shape.null_value else rnd.choice(shape.values)
        records.append({"topic": topic, "key": key, "value": value, "timestamp": ts})
    scenario: Scenario = {"topology": twin.name, "store": store, "inputs": records}
    if twin.introspect:
        scenario["introspect"] = True
    return scenario


# ---------------------------------------------------------------------------- comparison
def fmt_input(i: int, rec: dict[str, Any], topics: int = 1) -> str:
    where = f"{rec['topic']}: " if topics > 1 else ""
    return f"#{i} {where}{rec['key']!r} = {rec['value']!r} @{rec['timestamp']}"


def fmt_output(rec: dict[str, Any]) -> str:
    return f"{rec['key']!r} = {rec['value']!r} @{rec['timestamp']} (after #{rec['input']})"


def fmt_result(result: Result) -> str:
    if "error" in result:
        return "ERROR: " + result["error"].strip()
    lines = []
    for topic, recs in result["outputs"].items():
        lines.append(f"  {topic}:" + ("" if recs else " (nothing)"))
        lines.extend(f"    {fmt_output(r)}" for r in recs)
    return "\n".join(lines)


def fmt_scenario(scenario: Scenario) -> str:
    topics = len({r["topic"] for r in scenario["inputs"]})
    return "\n".join(f"  {fmt_input(i, r, topics)}" for i, r in enumerate(scenario["inputs"]))


def normalize_describe(text: str) -> list[str]:
    """The lines of a ``describe()`` text with each comma-separated list sorted: the stores of a
    processor (Kafka Streams prints a ``HashSet``) and a node's successors and predecessors
    (Kafka Streams orders them by sub-tree sizes while it is still adding them up, in its
    ``HashMap``'s order of the node names); we compare the names and edges, not that order."""
    def sort_list(items: str) -> str:
        return ", ".join(sorted(items.split(", ")))

    lines = []
    for line in text.splitlines():
        line = re.sub(r"\(stores: \[(.+)\]\)", lambda m: f"(stores: [{sort_list(m[1])}])", line)
        line = re.sub(r"^(\s*(?:-->|<--) )(.+)$", lambda m: m[1] + sort_list(m[2]), line)
        lines.append(line)
    return lines


def names_diff(java: Result, python: Result) -> str | None:
    """For introspected scenarios: None when both topologies describe the same nodes, stores
    and topics (:func:`normalize_describe`) and wrote to the same topics (repartition topics
    and changelogs included); otherwise a unified diff of what differs."""
    problems = []
    for what in ("describe", "topics"):
        a, b = java.get(what), python.get(what)
        a_lines = normalize_describe(a) if isinstance(a, str) else list(a or [])
        b_lines = normalize_describe(b) if isinstance(b, str) else list(b or [])
        if a_lines != b_lines:
            diff = difflib.unified_diff(a_lines, b_lines, "Kafka Streams", "streams", lineterm="")
            problems.append(f"{what} differs:\n" + "\n".join(diff))
    return "\n".join(problems) or None


def describe_diff(java: Result, python: Result) -> str | None:
    """None when both produced the same records (topic, key, value, timestamp, order and the
    input after which each came out) and, for introspected scenarios, name the same nodes,
    stores and topics (:func:`names_diff`); otherwise what differs first, per topic."""
    if "error" in java or "error" in python:
        if java == python:
            return None
        side = "Java (Kafka Streams)" if "error" in java else "Python (streams)"
        return f"{side} failed:\n{(java.get('error') or python.get('error') or '').strip()}"
    problems = [] if (names := names_diff(java, python)) is None else [names]
    jo, po = java["outputs"], python["outputs"]
    for topic in sorted(set(jo) | set(po)):
        a, b = jo.get(topic, []), po.get(topic, [])
        if a == b:
            continue
        i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        lo = max(0, i - 2)
        problems.append(
            f"topic {topic!r}: {len(a)} records from Kafka Streams, {len(b)} from streams; "
            f"first difference at record {i}:\n"
            + "  Kafka Streams:\n" + "".join(f"    {'>' if k == i else ' '} [{k}] {fmt_output(a[k])}\n"
                                              for k in range(lo, min(len(a), i + 4)))
            + "  streams:\n" + "".join(f"    {'>' if k == i else ' '} [{k}] {fmt_output(b[k])}\n"
                                        for k in range(lo, min(len(b), i + 4))))
    return "\n".join(problems) or None


def minimize(java: JavaSide, scenario: Scenario,
             interesting: Callable[[Scenario, Result, Result], bool] | None = None) -> Scenario:
    """A smallest-found sub-list of ``scenario``'s inputs that still differs (greedy removal
    of chunks, halving the chunk size down to single records; ddmin-style), then moved towards
    time 0. ``interesting(scenario, java, python)`` says which difference to keep (default: any)."""
    def differs(inputs: list[dict[str, Any]]) -> bool:
        candidate = {**scenario, "inputs": inputs}
        j, p = java.run(candidate), run_python(candidate)
        if describe_diff(j, p) is None:
            return False
        return interesting is None or interesting(candidate, j, p)

    current = list(scenario["inputs"])
    chunk = max(1, len(current) // 2)
    while True:
        removed = False
        i = 0
        while i < len(current):
            candidate = current[:i] + current[i + chunk:]
            if candidate and differs(candidate):
                current = candidate
                removed = True
            else:
                i += chunk
        if chunk == 1 and not removed:
            break
        if not removed:
            chunk = max(1, chunk // 2)
    # then move the whole input towards time 0, in steps that keep windows aligned
    step = 10
    shift = min(r["timestamp"] for r in current) // step * step
    while shift > 0:
        candidate = [{**r, "timestamp": r["timestamp"] - shift} for r in current]
        if differs(candidate):
            current = candidate
            break
        shift -= step
    return {**scenario, "inputs": current}


# ---------------------------------------------------------------------------- command line
@contextlib.contextmanager
def _java() -> Iterator[JavaSide]:
    side = JavaSide()
    try:
        yield side
    finally:
        side.close()


def _report(scenario: Scenario, j: Result, p: Result) -> str:
    return (f"input ({scenario['topology']}):\n{fmt_scenario(scenario)}\n"
            f"Kafka Streams:\n{fmt_result(j)}\nstreams:\n{fmt_result(p)}\n"
            f"difference: {describe_diff(j, p) or 'none'}")


def main(argv: list[str]) -> int:
    logging.disable(logging.WARNING)  # the Python side logs every dropped record
    args = [a for a in argv if not a.startswith("--")]
    flags = {a for a in argv if a.startswith("--")}
    if len(args) < 2 or args[0] not in ("run", "minimize") or args[1] not in TWINS:
        print(__doc__)
        return 2
    cmd, name = args[0], args[1]
    seeds = [int(s) for s in args[2:]] or list(range(12))
    store = "rocksdb" if "--rocksdb" in flags else "in_memory"
    # for a topology with a known (deliberate) difference, shrink towards a difference that
    # the known entry does not explain, or, with --known, towards one it does
    import test_conformance  # the KNOWN table
    known = test_conformance.KNOWN.get(name)
    with _java() as java:
        interesting = None
        if known is not None:
            def explained(sc: Scenario, j: Result, p: Result) -> bool:
                return known.explains(test_conformance.Observed(sc, j, p, java.run))

            interesting = explained if "--known" in flags else (
                lambda sc, j, p: not explained(sc, j, p))
        for seed in seeds:
            scenario = generate(TWINS[name], seed, store=store)
            j, p = java.run(scenario), run_python(scenario)
            if cmd == "minimize":
                if describe_diff(j, p) is None or (interesting and not interesting(scenario, j, p)):
                    print(f"seed {seed}: same output" + (" (or only the known difference)"
                                                          if interesting else ""))
                    continue
                scenario = minimize(java, scenario, interesting)
                j, p = java.run(scenario), run_python(scenario)
            print(f"=== {name}, seed {seed}\n{_report(scenario, j, p)}\n")
            if cmd == "minimize":
                break
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
