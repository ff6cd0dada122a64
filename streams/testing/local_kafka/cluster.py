"""The :class:`LocalKafka` cluster: starting and stopping its nodes, taking single nodes down
(stop, kill, pause) and back, waiting until the cluster answers, and client helpers against it.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from streams.errors import KafkaUnavailableError
from streams.testing import clients
from streams.testing.clients import ConsumedRecord, DeliveredRecord, RecordLike
from streams.testing.local_kafka.broker_config import (
    NodeSpec,
    broker_properties,
    generate_cluster_id,
    plan_nodes,
    render_log4j2_config,
    render_properties,
)
from streams.testing.local_kafka.distribution import KafkaDistribution, kafka_version, resolve_kafka
from streams.testing.local_kafka.java import JavaRuntime, find_java
from streams.testing.local_kafka.jvm_command import (
    BROKER_MAIN_CLASS,
    STORAGE_TOOL_MAIN_CLASS,
    archive_options,
    cds_enabled,
    install_archive,
    java_command,
)
from streams.testing.local_kafka.logs import _read_tail, node_report
from streams.testing.local_kafka.processes import (
    _DATA_DIR_PREFIX,
    _OWNER_FILE,
    _RUNNING,
    _RUNNING_LOCK,
    _popen,
    _signal_group,
    _terminate,
    sweep_stale_data_dirs,
)
from streams.testing.local_kafka.readiness import wait_ready

__all__ = ["LocalKafka"]

log = logging.getLogger(__name__)

ENV_JVM_OPTS = "STREAMS_KAFKA_JVM_OPTS"
ENV_KEEP_DATA = "STREAMS_KAFKA_KEEP_DATA"

_CLUSTER_STOP_GRACE = 2.0


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
            specs = plan_nodes(self._size, self._requested_port, self._dir)
            self._nodes = [_Node(spec) for spec in specs]
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

    def _write_configs(self, spec: NodeSpec, voters: Sequence[NodeSpec]) -> None:
        spec.data_dir.mkdir(parents=True, exist_ok=True)
        props = broker_properties(spec, voters, self._broker_config)
        spec.config_file.write_text(render_properties(props))
        spec.log4j_file.write_text(render_log4j2_config(spec.log_file))

    def _java_command(self, spec: NodeSpec, main_class: str, *, archive: list[str]) -> list[str]:
        assert self._java is not None and self._dist is not None
        return java_command(
            self._java,
            self._dist,
            spec,
            main_class,
            heap=self._heap,
            fast_start=self._fast_start,
            archive=archive,
            jvm_options=self._jvm_options,
        )

    def _archive_options(self, node: _Node | None) -> list[str]:
        """Use the class-data archive if there is one; otherwise let node 0 write it on exit."""
        if not cds_enabled():
            return []
        assert self._dist is not None and self._java is not None
        writer = node if node is not None and node.spec.node_id == 0 else None
        options, staging = archive_options(
            self._dist.cds_archive(self._java), may_write=writer is not None
        )
        if writer is not None and staging is not None:
            writer.archive_staging = staging
        return options

    def _collect_archive(self, node: _Node) -> None:
        staging = node.archive_staging
        if staging is None:
            return
        node.archive_staging = None
        proc = node.process
        archive = None
        if self._dist is not None and self._java is not None:
            archive = self._dist.cds_archive(self._java)
        install_archive(staging, archive, proc.returncode if proc is not None else None)

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
            details = "\n".join(node_report(s, 30) for s in failures)
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
        wait_ready(nodes, self._nodes, deadline, self._startup_timeout, self._startup_failure)

    def _startup_failure(self, reason: str) -> KafkaUnavailableError:
        reports = "\n".join(node_report(n.spec, 25) for n in self._nodes)
        return KafkaUnavailableError(
            f"{reason} (Kafka {self._version}, data dir {self._dir}).\n{reports}"
        )

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
