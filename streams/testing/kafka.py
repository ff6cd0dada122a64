"""Start a real Apache Kafka 4.x broker (KRaft, no ZooKeeper, no Docker) for tests and demos.

The official broker artifacts (``org.apache.kafka:kafka_2.13``) and their runtime dependencies
are fetched from Maven Central with ``mvn`` once, into a cache reused by every later run; each
:class:`LocalKafka` then formats fresh KRaft storage in a temporary directory and runs the
broker with ``java -cp 'libs/*' kafka.Kafka server.properties`` on free loopback ports.

Example::

    from streams.testing.kafka import LocalKafka

    with LocalKafka() as kafka:
        kafka.create_topic("words", partitions=3)
        kafka.produce("words", [("k", "hello")])
        print(kafka.consume("words", 1))

``LocalKafka(nodes=3)`` runs three combined broker+controller nodes with a static controller
quorum; :meth:`LocalKafka.stop_node` / :meth:`LocalKafka.start_node` take one down and bring it
back with its data, and :meth:`LocalKafka.pause_node` / :meth:`LocalKafka.resume_node` freeze one
(SIGSTOP) and let it go on (SIGCONT).

Environment variables:

``STREAMS_KAFKA_VERSION``
    Kafka version to run (default :data:`DEFAULT_KAFKA_VERSION`; 4.x only).
``STREAMS_KAFKA_CACHE``
    Cache root (default ``~/.cache/streams/kafka``); jars go to ``<root>/<version>/libs``.
``STREAMS_KAFKA_JVM_OPTS``
    Extra JVM options appended to the broker command line (split like a shell would).
``STREAMS_KAFKA_CDS``
    ``0`` disables the class-data-sharing archive that roughly halves JVM start-up.
``STREAMS_KAFKA_KEEP_DATA``
    ``1`` keeps the data directory (logs, configs) after stop, for post-mortems.

The JVM runs in its own process group and, on Linux, is told to die with its parent
(``PR_SET_PDEATHSIG``), so even ``kill -9`` of the Python process leaves no broker behind.
The parent is the *thread* that started it: start brokers from a long-lived thread (the main
thread in pytest and the CLI).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import fcntl
import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from streams.errors import KafkaUnavailableError
from streams.testing import clients
from streams.testing.clients import ConsumedRecord, DeliveredRecord, RecordLike

__all__ = [
    "BROKER_MAIN_CLASS",
    "DEFAULT_KAFKA_VERSION",
    "INSTALL_HINT",
    "LOG4J_VERSION",
    "STORAGE_TOOL_MAIN_CLASS",
    "JavaRuntime",
    "KafkaDistribution",
    "LocalKafka",
    "NodeSpec",
    "broker_properties",
    "cache_root",
    "find_java",
    "find_maven",
    "generate_cluster_id",
    "kafka_version",
    "parse_java_version",
    "render_log4j2_config",
    "render_pom",
    "render_properties",
    "resolve_kafka",
]

log = logging.getLogger(__name__)

#: Kafka release used unless ``STREAMS_KAFKA_VERSION`` says otherwise (latest 4.x on Central).
DEFAULT_KAFKA_VERSION = "4.4.0"
#: Scala binary version of the broker artifact (4.x ships only 2.13).
SCALA_BINARY_VERSION = "2.13"
#: Kafka 4 logs through slf4j 1.7 into log4j2; the broker pom leaves the binding out (the
#: distribution tarball adds it), so we add log4j-slf4j-impl, pinning api/core to one version.
LOG4J_VERSION = "2.25.5"
#: Pinned so the result does not depend on whatever old plugin Maven's super-POM defaults to.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
#: Kafka 4 brokers need Java 17.
MIN_JAVA_MAJOR = 17
BROKER_MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_MAIN_CLASS = "kafka.tools.StorageTool"
#: What to install on Debian/Ubuntu when java or mvn is missing.
INSTALL_HINT = "apt-get install openjdk-17-jre-headless maven"

ENV_VERSION = "STREAMS_KAFKA_VERSION"
ENV_CACHE = "STREAMS_KAFKA_CACHE"
ENV_JVM_OPTS = "STREAMS_KAFKA_JVM_OPTS"
ENV_CDS = "STREAMS_KAFKA_CDS"
ENV_KEEP_DATA = "STREAMS_KAFKA_KEEP_DATA"

_MARKER = ".complete"
_DATA_DIR_PREFIX = "streams-kafka-"
_OWNER_FILE = "owner.pid"
_LOOPBACK = "127.0.0.1"
_CLUSTER_STOP_GRACE = 2.0


# --------------------------------------------------------------------------------------------
# Java and Maven


@dataclass(frozen=True)
class JavaRuntime:
    """A ``java`` executable that is new enough to run the broker."""

    executable: str
    major: int
    version_text: str

    @property
    def fingerprint(self) -> str:
        """Short id of this exact JVM build; class-data archives are only valid for one build."""
        raw = f"{os.path.realpath(self.executable)}\n{self.version_text}".encode()
        return hashlib.sha256(raw).hexdigest()[:12]


def parse_java_version(text: str) -> int | None:
    """Major version from ``java -version`` output: ``"1.8.0_292"`` -> 8, ``"17.0.2"`` -> 17."""
    match = re.search(r'version "([^"]+)"', text)
    if not match:
        return None
    numbers = re.findall(r"\d+", match.group(1))
    if not numbers:
        return None
    first = int(numbers[0])
    if first == 1 and len(numbers) > 1:
        return int(numbers[1])
    return first


def _java_candidates() -> list[str]:
    java_home = os.environ.get("JAVA_HOME")
    found = []
    if java_home:
        candidate = os.path.join(java_home, "bin", "java")
        if os.access(candidate, os.X_OK):
            found.append(candidate)
    on_path = shutil.which("java")
    if on_path:
        found.append(on_path)
    return found


def find_java() -> JavaRuntime:
    """Locate ``java`` (``$JAVA_HOME/bin/java`` first, then ``PATH``) and check it is 17+.

    Raises :class:`KafkaUnavailableError` naming what to install when it is missing or too old.
    """
    candidates = _java_candidates()
    if not candidates:
        raise KafkaUnavailableError(
            f"Java {MIN_JAVA_MAJOR}+ is needed to run the local Kafka broker, but no `java` was "
            f"found (JAVA_HOME unset and nothing on PATH). Install it, e.g. "
            f"`{INSTALL_HINT}`, or set KAFKA_BOOTSTRAP_SERVERS to use a running cluster."
        )
    return _probe_java(candidates[0])


@lru_cache(maxsize=8)
def _probe_java(executable: str) -> JavaRuntime:
    try:
        proc = subprocess.run(
            [executable, "-version"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KafkaUnavailableError(
            f"could not run `{executable} -version`: {exc}. Install Java {MIN_JAVA_MAJOR}+, "
            f"e.g. `{INSTALL_HINT}`."
        ) from exc
    output = (proc.stderr or "") + (proc.stdout or "")
    major = parse_java_version(output)
    if major is None or major < MIN_JAVA_MAJOR:
        shown = output.strip().splitlines()[0] if output.strip() else "no version output"
        raise KafkaUnavailableError(
            f"Kafka 4 needs Java {MIN_JAVA_MAJOR} or newer, but {executable} is {shown!r}. "
            f"Install a newer JDK/JRE, e.g. `{INSTALL_HINT}`, and put it first on PATH or in "
            f"JAVA_HOME."
        )
    return JavaRuntime(executable=executable, major=major, version_text=output.strip())


def find_maven() -> str:
    """Path of ``mvn``; needed only the first time a Kafka version is fetched."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise KafkaUnavailableError(
            "Maven (`mvn`) is needed once to download the Kafka broker jars from Maven Central, "
            f"but it is not on PATH. Install it, e.g. `{INSTALL_HINT}`, or set "
            "KAFKA_BOOTSTRAP_SERVERS to use a running cluster."
        )
    return mvn


# --------------------------------------------------------------------------------------------
# Fetching the broker


def kafka_version() -> str:
    """The Kafka version to run: ``$STREAMS_KAFKA_VERSION`` or :data:`DEFAULT_KAFKA_VERSION`."""
    return os.environ.get(ENV_VERSION, "").strip() or DEFAULT_KAFKA_VERSION


def cache_root() -> Path:
    """Root of the jar cache: ``$STREAMS_KAFKA_CACHE`` or ``~/.cache/streams/kafka``."""
    configured = os.environ.get(ENV_CACHE, "").strip()
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "streams" / "kafka"


@dataclass(frozen=True)
class KafkaDistribution:
    """A complete, cached set of broker jars for one Kafka version."""

    version: str
    home: Path

    @property
    def libs(self) -> Path:
        """Directory holding every jar of the broker's runtime classpath."""
        return self.home / "libs"

    @property
    def classpath(self) -> str:
        """A ``java -cp`` wildcard entry; the JVM expands it, keeping the command line short."""
        return str(self.libs / "*")

    def cds_archive(self, java: JavaRuntime) -> Path:
        """Where the class-data-sharing archive for this JVM build lives (may not exist yet)."""
        return self.home / f"cds-{java.fingerprint}.jsa"


def render_pom(version: str, log4j_version: str = LOG4J_VERSION) -> str:
    """A throwaway pom whose runtime classpath is exactly what the broker needs."""
    deps = [
        ("org.apache.kafka", f"kafka_{SCALA_BINARY_VERSION}", version),
        ("org.apache.logging.log4j", "log4j-api", log4j_version),
        ("org.apache.logging.log4j", "log4j-core", log4j_version),
        ("org.apache.logging.log4j", "log4j-slf4j-impl", log4j_version),
    ]
    dep_xml = "\n".join(
        "    <dependency>"
        f"<groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version>"
        "</dependency>"
        for g, a, v in deps
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>streams.local</groupId>
  <artifactId>kafka-broker-classpath</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{dep_xml}
  </dependencies>
</project>
"""


def _is_complete(home: Path) -> bool:
    return (home / _MARKER).is_file() and (home / "libs").is_dir()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def resolve_kafka(
    version: str | None = None,
    root: Path | None = None,
    *,
    timeout: float = 900.0,
) -> KafkaDistribution:
    """Return the cached broker jars for ``version``, fetching them with ``mvn`` if needed.

    When ``<root>/<version>/.complete`` exists nothing else happens (no ``mvn`` needed).
    Otherwise, under an exclusive file lock, ``mvn dependency:copy-dependencies`` copies the
    runtime classpath into a private temporary directory which is then renamed into place, so
    concurrent callers (parallel test runs) never see a half-filled directory and fetch once.
    """
    version = version or kafka_version()
    root = root if root is not None else cache_root()
    home = root / version
    dist = KafkaDistribution(version=version, home=home)
    if _is_complete(home):
        return dist
    with _file_lock(root / f".{version}.lock"):
        if _is_complete(home):
            return dist
        mvn = find_maven()
        staging = Path(tempfile.mkdtemp(prefix=f".{version}.tmp-", dir=root))
        try:
            _run_maven(mvn, version, staging, timeout)
            # mkdtemp makes it private; the cache may be shared (CI caches, other users).
            staging.chmod(0o755)
            if home.exists():
                # Left by an older, interrupted layout; nothing else writes here without the lock.
                shutil.rmtree(home)
            os.rename(staging, home)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return dist


def _run_maven(mvn: str, version: str, staging: Path, timeout: float) -> None:
    pom = staging / "pom.xml"
    pom.write_text(render_pom(version))
    libs = staging / "libs"
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={libs}",
    ]
    log.info("fetching Apache Kafka %s jars from Maven Central: %s", version, shlex.join(cmd))
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            cwd=staging,
        )
    except subprocess.TimeoutExpired as exc:
        raise KafkaUnavailableError(
            f"`mvn` did not finish fetching Kafka {version} within {timeout:.0f} s"
        ) from exc
    if proc.returncode != 0:
        output = _tail_lines((proc.stdout or "") + (proc.stderr or ""), 30)
        raise KafkaUnavailableError(
            f"`mvn` failed (exit {proc.returncode}) fetching org.apache.kafka:kafka_"
            f"{SCALA_BINARY_VERSION}:{version} from Maven Central. Is the version right and "
            f"Maven Central reachable?\n--- mvn output (tail) ---\n{output}"
        )
    jars = sorted(p.name for p in libs.glob("*.jar")) if libs.is_dir() else []
    expected = f"kafka_{SCALA_BINARY_VERSION}-{version}.jar"
    if expected not in jars:
        raise KafkaUnavailableError(
            f"`mvn` succeeded but {expected} is missing from {libs} (got {len(jars)} jars)"
        )
    marker = {
        "version": version,
        "log4j": LOG4J_VERSION,
        "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.monotonic() - started, 1),
        "jars": jars,
    }
    (staging / _MARKER).write_text(json.dumps(marker, indent=2) + "\n")


# --------------------------------------------------------------------------------------------
# Configuration rendering (pure functions, unit tested without a broker)


@dataclass(frozen=True)
class NodeSpec:
    """One combined broker+controller node: its id, ports and private directory."""

    node_id: int
    port: int
    controller_port: int
    directory: Path

    @property
    def bootstrap(self) -> str:
        """``host:port`` of this node's client listener."""
        return f"{_LOOPBACK}:{self.port}"

    @property
    def data_dir(self) -> Path:
        """``log.dirs`` (which also holds the KRaft metadata log)."""
        return self.directory / "data"

    @property
    def config_file(self) -> Path:
        """The rendered ``server.properties``."""
        return self.directory / "server.properties"

    @property
    def log4j_file(self) -> Path:
        """The rendered log4j2 configuration."""
        return self.directory / "log4j2.properties"

    @property
    def log_file(self) -> Path:
        """The broker's own log (written by log4j2)."""
        return self.directory / "server.log"

    @property
    def stdout_file(self) -> Path:
        """JVM stdout/stderr: crashes before logging is up and JVM warnings end up here."""
        return self.directory / "stdout.log"


def broker_properties(
    node: NodeSpec,
    voters: Sequence[NodeSpec],
    overrides: Mapping[str, object] | None = None,
) -> dict[str, str]:
    """``server.properties`` for ``node`` in a cluster whose controller quorum is ``voters``.

    Internal topics get replication factor ``min(3, nodes)`` and, from three nodes on,
    min.insync.replicas 2, so a one-node cluster works and a three-node one tolerates a loss.
    Topics are never auto-created: tests create them explicitly, as production should.
    ``overrides`` win over everything (values are turned into strings; ``True`` -> ``"true"``).
    """
    size = len(voters)
    replication = min(3, size)
    min_isr = 2 if size >= 3 else 1
    quorum = ",".join(f"{v.node_id}@{_LOOPBACK}:{v.controller_port}" for v in voters)
    props: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node.node_id,
        "controller.quorum.voters": quorum,
        "listeners": f"PLAINTEXT://{_LOOPBACK}:{node.port},CONTROLLER://{_LOOPBACK}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{_LOOPBACK}:{node.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(node.data_dir),
        # Topics must be created explicitly, like in production; a typo fails fast instead of
        # silently creating a one-partition topic.
        "auto.create.topics.enable": False,
        "num.partitions": 1,
        "default.replication.factor": replication,
        "min.insync.replicas": 1,
        "offsets.topic.replication.factor": replication,
        # 50 partitions (the default) make the first consumer group noticeably slower to join.
        "offsets.topic.num.partitions": 5,
        "transaction.state.log.replication.factor": replication,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": 5,
        "share.coordinator.state.topic.replication.factor": replication,
        "share.coordinator.state.topic.min.isr": min_isr,
        "share.coordinator.state.topic.num.partitions": 5,
        "group.initial.rebalance.delay.ms": 0,
        "group.streams.initial.rebalance.delay.ms": 0,
        # A crashed node is fenced, and a restarted one may re-register (the controller refuses
        # while the old session lives), after seconds instead of the 9 s default.
        "broker.heartbeat.interval.ms": 500,
        "broker.session.timeout.ms": 4000,
        "replica.lag.time.max.ms": 10000,
        # The 128 MiB default would take a quarter of the small heap of every node.
        "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
        "num.network.threads": 2,
        "num.io.threads": 4,
        "background.threads": 4,
    }
    if overrides:
        props.update(overrides)
    return {key: _property_value(value) for key, value in props.items()}


def _property_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_properties(props: Mapping[str, str]) -> str:
    """Java ``.properties`` text; backslashes and key separators are escaped."""
    lines = ["# written by streams.testing.kafka"]
    for key, value in props.items():
        safe_key = key.replace("\\", "\\\\").replace("=", "\\=").replace(":", "\\:")
        safe_value = value.replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f"{safe_key}={safe_value}")
    return "\n".join(lines) + "\n"


def render_log4j2_config(log_file: Path, level: str = "INFO") -> str:
    """log4j2 properties sending every broker log line to ``log_file``.

    The shutdown hook is off because Kafka logs during its own shutdown hook and log4j would
    otherwise complain; with immediate flush nothing is lost.
    """
    path = str(log_file).replace("\\", "\\\\")
    return f"""# written by streams.testing.kafka
status = warn
shutdownHook = disable
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {path}
appender.file.immediateFlush = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = FILE
# Each component dumps its ~400 config values at start-up; they bury the interesting lines.
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def generate_cluster_id() -> str:
    """A random KRaft cluster id: 16 random bytes, URL-safe base64 without padding.

    Like Kafka's ``Uuid.randomUuid()`` it never starts with ``-`` (which CLI parsers would take
    for an option).
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((_LOOPBACK, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _tail_lines(text: str, n: int) -> str:
    return "\n".join(text.splitlines()[-n:])


def _read_tail(path: Path, n: int, max_bytes: int = 256 * 1024) -> list[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-n:]


_PROBLEM = re.compile(r"\b(ERROR|FATAL)\b|Exception: |^Caused by: |Error: ")


def _problem_lines(path: Path, limit: int = 12) -> list[str]:
    """The first error-looking lines: a failed start logs its cause, then pages of shutdown."""
    found: list[str] = []
    for line in _read_tail(path, 5000, max_bytes=2 * 1024 * 1024):
        if _PROBLEM.search(line):
            found.append(line)
            if len(found) >= limit:
                break
    return found


# --------------------------------------------------------------------------------------------
# Process control


_libc: Any = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - exotic libc
        _libc = None

_PR_SET_PDEATHSIG = 1


def _child_setup(parent_pid: int) -> Callable[[], None]:
    """``preexec_fn``: make the child die with us, even when we are SIGKILLed."""

    def setup() -> None:
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            # The parent may already be gone between fork and prctl; then nobody would stop us.
            if os.getppid() != parent_pid:
                os._exit(1)

    return setup


def _popen(cmd: Sequence[str], *, cwd: Path, output: Path) -> subprocess.Popen[bytes]:
    with open(output, "ab") as out:
        return subprocess.Popen(
            list(cmd),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Own process group: a terminal's Ctrl-C reaches only us, and we stop the broker in
            # order (and can signal the whole group).
            start_new_session=True,
            preexec_fn=_child_setup(os.getpid()),
        )


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _terminate(
    procs: Sequence[subprocess.Popen[bytes]],
    timeout: float,
    timeouts: Mapping[int, float] | None = None,
) -> None:
    """SIGTERM every process group, wait up to ``timeout`` (per pid: ``timeouts``), then
    SIGKILL what is left."""
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    started = time.monotonic()
    for proc in procs:
        limit = (timeouts or {}).get(proc.pid, timeout)
        remaining = max(0.0, started + limit - time.monotonic())
        try:
            proc.wait(remaining)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


_RUNNING: set[LocalKafka] = set()
_RUNNING_LOCK = threading.Lock()


@atexit.register
def _stop_all_at_exit() -> None:
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for kafka in running:
        with contextlib.suppress(Exception):
            kafka.stop()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_data_dirs(parent: Path | None = None) -> list[Path]:
    """Remove data directories of earlier runs whose owning Python process no longer exists.

    They appear only when a run was SIGKILLed (the broker then dies with it, but nobody is left
    to delete its files). Returns the removed directories.
    """
    parent = parent or Path(tempfile.gettempdir())
    removed = []
    for candidate in parent.glob(f"{_DATA_DIR_PREFIX}*"):
        owner = candidate / _OWNER_FILE
        try:
            pid = int(owner.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if not _pid_alive(pid):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


class _Node:
    """Runtime state of one node: its spec and, while running, its JVM."""

    def __init__(self, spec: NodeSpec) -> None:
        self.spec = spec
        self.process: subprocess.Popen[bytes] | None = None
        self.archive_staging: Path | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class LocalKafka:
    """A real Apache Kafka cluster of ``nodes`` combined broker+controller JVMs on loopback.

    Use it as a context manager (``with LocalKafka() as kafka: kafka.bootstrap_servers``) or
    call :meth:`start` / :meth:`stop`. Data lives in a fresh temporary directory that
    :meth:`stop` removes.

    Args:
        nodes: number of nodes (1 or 3 are the useful values).
        port: client port of node 0; node ``i`` gets ``port + i``. Free ports when ``None``.
        version: Kafka version; default ``$STREAMS_KAFKA_VERSION`` or the module default.
        broker_config: ``server.properties`` overrides applied to every node.
        startup_timeout: seconds to wait for the cluster to answer metadata requests.
        stop_timeout: seconds to wait after SIGTERM before SIGKILL.
        heap: JVM ``-Xmx`` per node.
        fast_start: C1-only JIT; starts ~25% faster, but lowers peak throughput, so turn it off
            for benchmarks.
        jvm_options: extra JVM options (after ours, so they win).
        keep_data: keep the data directory after stop (default ``$STREAMS_KAFKA_KEEP_DATA``).
    """

    def __init__(
        self,
        nodes: int = 1,
        *,
        port: int | None = None,
        version: str | None = None,
        broker_config: Mapping[str, object] | None = None,
        startup_timeout: float = 60.0,
        stop_timeout: float = 30.0,
        heap: str = "512m",
        fast_start: bool = True,
        jvm_options: Sequence[str] = (),
        keep_data: bool | None = None,
    ) -> None:
        if nodes < 1:
            raise ValueError(f"nodes must be >= 1, got {nodes}")
        self._size = nodes
        self._requested_port = port
        self._version = version or kafka_version()
        self._broker_config = dict(broker_config or {})
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._heap = heap
        self._fast_start = fast_start
        self._jvm_options = list(jvm_options) + shlex.split(os.environ.get(ENV_JVM_OPTS, ""))
        self._keep_data = (
            keep_data if keep_data is not None else os.environ.get(ENV_KEEP_DATA) == "1"
        )
        self._java: JavaRuntime | None = None
        self._dist: KafkaDistribution | None = None
        self._dir: Path | None = None
        self._nodes: list[_Node] = []
        self._cluster_id = ""
        self._lock = threading.RLock()
        #: Seconds the last :meth:`start` took (jar fetching excluded), for reporting.
        self.startup_seconds: float | None = None

    # ---- properties --------------------------------------------------------------------

    @property
    def version(self) -> str:
        """The Kafka version this cluster runs."""
        return self._version

    @property
    def size(self) -> int:
        """Number of nodes."""
        return self._size

    @property
    def cluster_id(self) -> str:
        """The KRaft cluster id (empty before :meth:`start`)."""
        return self._cluster_id

    @property
    def bootstrap_servers(self) -> str:
        """Comma-separated ``host:port`` of every node, for ``bootstrap.servers``."""
        self._require_started()
        return ",".join(node.spec.bootstrap for node in self._nodes)

    @property
    def data_dir(self) -> Path:
        """The temporary directory holding every node's data, configs and logs."""
        self._require_started()
        assert self._dir is not None
        return self._dir

    @property
    def node_specs(self) -> list[NodeSpec]:
        """Ids, ports and directories of the nodes."""
        return [node.spec for node in self._nodes]

    @property
    def pids(self) -> list[int | None]:
        """The JVM process id of each node (``None`` for a stopped node)."""
        return [node.process.pid if node.running and node.process else None for node in self._nodes]

    def node_bootstrap(self, node_id: int) -> str:
        """``host:port`` of one node."""
        return self._node(node_id).spec.bootstrap

    def is_running(self, node_id: int | None = None) -> bool:
        """Whether one node (or, with ``None``, every node) has a live JVM."""
        if not self._nodes:
            return False
        if node_id is not None:
            return self._node(node_id).running
        return all(node.running for node in self._nodes)

    # ---- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        where = ",".join(n.spec.bootstrap for n in self._nodes) or "-"
        return f"LocalKafka(version={self._version!r}, nodes={self._size}, {state}, {where})"

    def start(self) -> LocalKafka:
        """Fetch jars if needed, format storage, start every node, and wait until they answer.

        Raises :class:`KafkaUnavailableError` (with the broker log's errors and tail) when the
        cluster does not come up within ``startup_timeout``.
        """
        with self._lock:
            if self._nodes:
                raise RuntimeError(f"{self!r} is already started")
            self._java = find_java()
            self._dist = resolve_kafka(self._version)
            sweep_stale_data_dirs()
            # Ports we picked ourselves can be taken by someone else before the JVM binds them;
            # then try fresh ones. A port the caller asked for is theirs to fix.
            attempts = 3 if self._requested_port is None else 1
            for attempt in range(1, attempts + 1):
                try:
                    self._start_once()
                    return self
                except KafkaUnavailableError as exc:
                    if attempt < attempts and "Address already in use" in str(exc):
                        log.warning("port clash starting Kafka, retrying on other ports")
                        continue
                    raise
            raise AssertionError("unreachable")  # pragma: no cover

    def _start_once(self) -> None:
        started = time.monotonic()
        self._dir = Path(tempfile.mkdtemp(prefix=_DATA_DIR_PREFIX))
        (self._dir / _OWNER_FILE).write_text(f"{os.getpid()}\n")
        try:
            self._cluster_id = generate_cluster_id()
            self._nodes = [_Node(spec) for spec in self._plan_nodes(self._dir)]
            with _RUNNING_LOCK:
                _RUNNING.add(self)
            voters = [node.spec for node in self._nodes]
            for node in self._nodes:
                self._write_configs(node.spec, voters)
            self._format([node.spec for node in self._nodes])
            for node in self._nodes:
                self._launch(node)
            self._wait_ready(self._nodes, time.monotonic() + self._startup_timeout)
        except BaseException:
            self._teardown(kill=True)
            raise
        self.startup_seconds = time.monotonic() - started
        log.info(
            "Kafka %s up at %s in %.1f s (data in %s)",
            self._version,
            self.bootstrap_servers,
            self.startup_seconds,
            self._dir,
        )

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL after ``stop_timeout``) and delete the data.

        Idempotent; also called at interpreter exit for clusters still running.
        """
        with self._lock:
            self._teardown(kill=False)

    def _teardown(self, *, kill: bool) -> None:
        procs = [n.process for n in self._nodes if n.process is not None]
        if kill:
            for proc in procs:
                _signal_group(proc, signal.SIGKILL)
            for proc in procs:
                proc.wait()
        elif len(self._nodes) > 1:
            # When the whole quorum goes down at once, the raft leader waits 5 s for peers that
            # are already gone to acknowledge its resignation. The data is about to be deleted,
            # so a short grace is enough -- except for a node writing the class-data archive.
            grace = min(self._stop_timeout, _CLUSTER_STOP_GRACE)
            per_pid = {
                n.process.pid: (self._stop_timeout if n.archive_staging else grace)
                for n in self._nodes
                if n.process is not None
            }
            _terminate(procs, self._stop_timeout, per_pid)
        else:
            _terminate(procs, self._stop_timeout)
        for node in self._nodes:
            self._collect_archive(node)
            node.process = None
        if self._dir is not None:
            if self._keep_data:
                log.info("keeping Kafka data dir %s", self._dir)
            else:
                shutil.rmtree(self._dir, ignore_errors=True)
        self._nodes = []
        self._dir = None
        with _RUNNING_LOCK:
            _RUNNING.discard(self)

    def stop_node(self, node_id: int, *, kill: bool = False) -> None:
        """Stop one node, keeping its data: SIGTERM (controlled shutdown) or, with ``kill``,
        SIGKILL to simulate a crash."""
        with self._lock:
            node = self._node(node_id)
            if node.process is None:
                return
            if kill:
                _signal_group(node.process, signal.SIGKILL)
                node.process.wait()
            else:
                _terminate([node.process], self._stop_timeout)
            self._collect_archive(node)
            node.process = None

    def start_node(self, node_id: int, *, timeout: float | None = None) -> None:
        """Start a stopped node again on the same ports with its old data; wait until the
        whole cluster answers metadata requests listing it."""
        with self._lock:
            node = self._node(node_id)
            if node.running:
                return
            self._launch(node)
            deadline = time.monotonic() + (timeout or self._startup_timeout)
            try:
                self._wait_ready([node], deadline)
            except BaseException:
                if node.process is not None:
                    _signal_group(node.process, signal.SIGKILL)
                    node.process.wait()
                    node.process = None
                raise

    def pause_node(self, node_id: int) -> None:
        """Freeze one node with SIGSTOP to its process group, like a long GC pause or a hung
        host: its sockets stay open but nothing answers, and the controller quorum fences it
        after ``broker.session.timeout.ms``. :meth:`resume_node` lets it go on.

        A paused node still counts as running (:meth:`is_running`, :attr:`pids`). Resume it
        before :meth:`stop_node` or :meth:`stop`: a frozen JVM handles SIGTERM only once
        continued, so until then those wait for ``stop_timeout`` and then SIGKILL it.
        """
        with self._lock:
            node = self._node(node_id)
            if node.process is None or not node.running:
                raise RuntimeError(f"node {node_id} is not running, so it cannot be paused")
            _signal_group(node.process, signal.SIGSTOP)

    def resume_node(self, node_id: int) -> None:
        """Continue a node frozen by :meth:`pause_node` (SIGCONT to its process group).

        Harmless for a node that is running and not paused; a no-op for a stopped one.
        """
        with self._lock:
            node = self._node(node_id)
            if node.process is not None and node.running:
                _signal_group(node.process, signal.SIGCONT)

    # ---- internals ---------------------------------------------------------------------

    def _require_started(self) -> None:
        if not self._nodes:
            raise RuntimeError("LocalKafka is not started; use start() or a with block")

    def _node(self, node_id: int) -> _Node:
        self._require_started()
        if not 0 <= node_id < len(self._nodes):
            raise IndexError(f"node id {node_id} out of range 0..{len(self._nodes) - 1}")
        return self._nodes[node_id]

    def _plan_nodes(self, root: Path) -> list[NodeSpec]:
        ports = free_ports(self._size * 2)
        if self._requested_port is not None:
            client_ports = [self._requested_port + i for i in range(self._size)]
            controller_ports = [p for p in ports if p not in client_ports][: self._size]
            if len(controller_ports) < self._size:
                controller_ports = free_ports(self._size)
        else:
            client_ports, controller_ports = ports[: self._size], ports[self._size :]
        return [
            NodeSpec(
                node_id=i,
                port=client_ports[i],
                controller_port=controller_ports[i],
                directory=root / f"node-{i}",
            )
            for i in range(self._size)
        ]

    def _write_configs(self, spec: NodeSpec, voters: Sequence[NodeSpec]) -> None:
        spec.data_dir.mkdir(parents=True, exist_ok=True)
        props = broker_properties(spec, voters, self._broker_config)
        spec.config_file.write_text(render_properties(props))
        spec.log4j_file.write_text(render_log4j2_config(spec.log_file))

    def _java_command(self, spec: NodeSpec, main_class: str, *, archive: list[str]) -> list[str]:
        assert self._java is not None and self._dist is not None
        cmd = [
            self._java.executable,
            f"-Xmx{self._heap}",
            "-Xss1m",
            # One small collector thread instead of G1's machinery: faster start, fine for tests.
            "-XX:+UseSerialGC",
            "-XX:-UsePerfData",
            "-Xshare:auto",
            "-Djava.awt.headless=true",
            "-Djava.net.preferIPv4Stack=true",
            f"-Dlog4j2.configurationFile=file:{spec.log4j_file}",
            f"-Dkafka.logs.dir={spec.directory}",
        ]
        if self._fast_start:
            cmd.append("-XX:TieredStopAtLevel=1")
        cmd += archive
        cmd += self._jvm_options
        cmd += ["-cp", self._dist.classpath, main_class]
        return cmd

    def _cds_enabled(self) -> bool:
        return os.environ.get(ENV_CDS, "1") != "0"

    def _archive_options(self, node: _Node | None) -> list[str]:
        """Use the class-data archive if there is one; otherwise let node 0 write it on exit.

        The archive (classes parsed and verified once, then memory-mapped) roughly halves the
        JVM's share of start-up. It is tied to this JVM build and jar set, so it lives in the
        version's cache directory under the JVM's fingerprint.
        """
        if not self._cds_enabled():
            return []
        assert self._dist is not None and self._java is not None
        archive = self._dist.cds_archive(self._java)
        if archive.is_file():
            return [f"-XX:SharedArchiveFile={archive}"]
        if node is None or node.spec.node_id != 0:
            return []
        staging = archive.with_name(f"{archive.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        node.archive_staging = staging
        return [f"-XX:ArchiveClassesAtExit={staging}"]

    def _collect_archive(self, node: _Node) -> None:
        staging = node.archive_staging
        if staging is None:
            return
        node.archive_staging = None
        proc = node.process
        # 143 = exit after SIGTERM: the JVM ran its exit path and finished writing the archive.
        clean = proc is not None and proc.returncode in (0, 143)
        if clean and staging.is_file() and staging.stat().st_size > 0 and self._dist is not None:
            assert self._java is not None
            with contextlib.suppress(OSError):
                os.replace(staging, self._dist.cds_archive(self._java))
                return
        with contextlib.suppress(OSError):
            staging.unlink()

    def _format(self, specs: Sequence[NodeSpec]) -> None:
        """``kafka-storage format`` every node (in parallel: each is a JVM start)."""
        runs = []
        for spec in specs:
            cmd = self._java_command(
                spec, STORAGE_TOOL_MAIN_CLASS, archive=self._archive_options(None)
            )
            cmd += ["format", "--cluster-id", self._cluster_id, "--config", str(spec.config_file)]
            runs.append((spec, _popen(cmd, cwd=spec.directory, output=spec.stdout_file)))
        failures = []
        for spec, proc in runs:
            try:
                code = proc.wait(self._startup_timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
                code = None
            if code != 0:
                failures.append(spec)
        if failures:
            details = "\n".join(self._node_report(s, 30) for s in failures)
            raise KafkaUnavailableError(
                f"formatting KRaft storage failed for node(s) "
                f"{[s.node_id for s in failures]} (Kafka {self._version}):\n{details}"
            )

    def _launch(self, node: _Node) -> None:
        spec = node.spec
        cmd = self._java_command(spec, BROKER_MAIN_CLASS, archive=self._archive_options(node))
        cmd.append(str(spec.config_file))
        with open(spec.stdout_file, "ab") as out:
            out.write(f"\n=== {time.strftime('%H:%M:%S')} {shlex.join(cmd)}\n".encode())
        node.process = _popen(cmd, cwd=spec.directory, output=spec.stdout_file)

    def _wait_ready(self, nodes: Sequence[_Node], deadline: float) -> None:
        """Wait until each node accepts connections and metadata lists every running node."""
        for node in nodes:
            self._wait_port(node, deadline)
        expected = {n.spec.node_id for n in self._nodes if n.process is not None}
        bootstrap = ",".join(n.spec.bootstrap for n in nodes)
        admin = clients.admin_client(bootstrap)
        last_error = ""
        while True:
            self._check_alive(nodes)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._startup_failure(
                    f"Kafka did not answer a metadata request within {self._startup_timeout:.0f} s"
                    + (f" (last error: {last_error})" if last_error else "")
                )
            try:
                # Short: a squatter on our port accepts connections but never answers, and the
                # JVM's exit must be noticed promptly.
                metadata = admin.list_topics(timeout=min(1.0, max(0.2, remaining)))
                seen = set(metadata.brokers)
                if expected <= seen:
                    return
                last_error = f"brokers registered: {sorted(seen)}, expected {sorted(expected)}"
            except Exception as exc:
                last_error = str(exc)
            time.sleep(0.1)

    def _wait_port(self, node: _Node, deadline: float) -> None:
        while True:
            self._check_alive([node])
            try:
                with socket.create_connection((_LOOPBACK, node.spec.port), timeout=0.5):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise self._startup_failure(
                    f"Kafka node {node.spec.node_id} did not open {node.spec.bootstrap} within "
                    f"{self._startup_timeout:.0f} s"
                )
            time.sleep(0.05)

    def _check_alive(self, nodes: Iterable[_Node]) -> None:
        for node in nodes:
            proc = node.process
            if proc is not None and proc.poll() is not None:
                raise self._startup_failure(
                    f"Kafka node {node.spec.node_id} exited with code {proc.returncode} "
                    "during start-up"
                )

    def _startup_failure(self, reason: str) -> KafkaUnavailableError:
        reports = "\n".join(self._node_report(n.spec, 25) for n in self._nodes)
        return KafkaUnavailableError(
            f"{reason} (Kafka {self._version}, data dir {self._dir}).\n{reports}"
        )

    def _node_report(self, spec: NodeSpec, n: int) -> str:
        parts = [f"--- node {spec.node_id} ({spec.bootstrap}) ---"]
        problems = _problem_lines(spec.log_file)
        if problems:
            parts.append("errors in server.log:")
            parts += problems
        parts.append(f"server.log (last {n} lines):")
        parts += _read_tail(spec.log_file, n) or ["(empty)"]
        stdout = [line for line in _read_tail(spec.stdout_file, n) if not line.startswith("===")]
        if stdout:
            parts.append("JVM output:")
            parts += stdout
        return "\n".join(parts)

    # ---- logs --------------------------------------------------------------------------

    def log_tail(self, n: int = 50, node: int | None = None) -> str:
        """The last ``n`` lines of one node's ``server.log`` (all nodes, headed, when ``None``)."""
        self._require_started()
        if node is not None:
            return "\n".join(_read_tail(self._node(node).spec.log_file, n))
        return "\n".join(
            f"--- node {x.spec.node_id} ---\n" + "\n".join(_read_tail(x.spec.log_file, n))
            for x in self._nodes
        )

    # ---- admin and client helpers ------------------------------------------------------

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        replication_factor: int = 1,
        config: Mapping[str, str] | None = None,
        *,
        timeout: float = 30.0,
    ) -> str:
        """Create ``name`` and wait until every partition has a leader; returns ``name``."""
        return clients.create_topic(
            self.bootstrap_servers,
            name,
            partitions=partitions,
            replication_factor=replication_factor,
            config=config,
            timeout=timeout,
        )

    def delete_topic(self, name: str, *, timeout: float = 30.0) -> None:
        """Delete ``name`` (no error if it does not exist)."""
        clients.delete_topic(self.bootstrap_servers, name, timeout=timeout)

    def produce(
        self, topic: str, records: Iterable[RecordLike], **kwargs: Any
    ) -> list[DeliveredRecord]:
        """Produce records and wait for every acknowledgement; see :func:`clients.produce`."""
        return clients.produce(self.bootstrap_servers, topic, records, **kwargs)

    def consume(
        self, topic: str, n: int, timeout: float = 30.0, **kwargs: Any
    ) -> list[ConsumedRecord]:
        """Read ``n`` records from the start of ``topic``; see :func:`clients.consume`."""
        return clients.consume(self.bootstrap_servers, topic, n, timeout=timeout, **kwargs)

    def consume_all(self, topic: str, timeout: float = 30.0, **kwargs: Any) -> list[ConsumedRecord]:
        """Read everything currently in ``topic``; see :func:`clients.consume_all`."""
        return clients.consume_all(self.bootstrap_servers, topic, timeout=timeout, **kwargs)
