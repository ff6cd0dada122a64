"""KafkaStreams: runs a topology on Kafka with stream threads, as one instance of an app.

Example::

    app = KafkaStreams(topology, {"application.id": "wordcount",
                                  "bootstrap.servers": "localhost:9092"})
    app.start()
    ...
    app.close()

Start more processes with the same ``application.id`` to share the work: they form one
consumer group and split the input partitions (and so the tasks) between them.
"""

from __future__ import annotations

import enum
import fcntl
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from streams.config import StreamsConfig
from streams.errors import StreamsError
from streams.runtime.app_control import ApplicationControl
from streams.runtime.client_check import check_client_configs, startup_admin
from streams.runtime.client_supplier import ClientSupplier, KafkaClientSupplier
from streams.runtime.global_thread import GlobalStreamThread
from streams.runtime.interactive import InteractiveQueries
from streams.runtime.internal_topics import InternalTopicManager, TopicPlan
from streams.runtime.process_metadata import load_or_create_process_id
from streams.runtime.restore import StateRestoreListener
from streams.runtime.standby import StandbyUpdateListener
from streams.runtime.stream_thread import StreamThread, ThreadState
from streams.runtime.streams_metadata import (
    GroupView,
    HostInfo,
)
from streams.runtime.task_ownership import TaskOwnership
from streams.runtime.watchdog import StallListener, StallWatchdog, log_stacks
from streams.serving.prometheus import metrics_text, registry_for
from streams.serving.server import StreamsHttpServer
from streams.topology.topology import Topology

log = logging.getLogger(__name__)


class State(enum.Enum):
    """Client states, as Kafka Streams' KafkaStreams.State."""

    CREATED = "CREATED"
    REBALANCING = "REBALANCING"
    RUNNING = "RUNNING"
    PENDING_SHUTDOWN = "PENDING_SHUTDOWN"
    NOT_RUNNING = "NOT_RUNNING"
    PENDING_ERROR = "PENDING_ERROR"
    ERROR = "ERROR"


class StreamThreadExceptionResponse(enum.Enum):
    """What the uncaught-exception handler decides for a failed stream thread."""

    REPLACE_THREAD = "REPLACE_THREAD"
    SHUTDOWN_CLIENT = "SHUTDOWN_CLIENT"
    SHUTDOWN_APPLICATION = "SHUTDOWN_APPLICATION"


StateListener = Callable[[State, State], None]
ExceptionHandler = Callable[[BaseException], StreamThreadExceptionResponse]


class StateDirectoryLockedError(StreamsError):
    """The application's state directory is locked by another (running) instance."""


def lock_state_dir(state_root: Path, application_id: str) -> IO[str]:
    """Lock ``state_root`` (created if missing) for as long as the returned file stays open;
    raises :class:`StateDirectoryLockedError` if another instance holds the lock. Shared with
    ``streams reset``, which must not wipe a directory a running instance uses."""
    state_root.mkdir(parents=True, exist_ok=True)
    f = open(state_root / ".lock", "a+")  # noqa: SIM115 - held until unlock_state_dir()
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise StateDirectoryLockedError(
            f"state directory {state_root} is in use by another instance of "
            f"{application_id!r}; give each instance its own state.dir"
        ) from None
    return f


def unlock_state_dir(lock_file: IO[str]) -> None:
    """Release a lock taken by :func:`lock_state_dir` and close its file."""
    try:
        fcntl.flock(lock_file, fcntl.LOCK_UN)
    finally:
        lock_file.close()


def clear_state_dir(state_root: Path) -> None:
    """Delete everything in ``state_root`` but the lock file; the caller holds the lock."""
    for child in state_root.iterdir():
        if child.name != ".lock":
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()


class KafkaStreams(InteractiveQueries):
    """One instance of a streams application; see the module docstring."""

    def __init__(self, topology: Topology, config: Mapping[str, Any] | None = None, *,
                 client_supplier: ClientSupplier | None = None, **kwargs: Any) -> None:
        self.config = config if isinstance(config, StreamsConfig) and not kwargs else \
            StreamsConfig(dict(config or {}), **kwargs)
        self.config.require("application.id", "bootstrap.servers")
        topology.validate(self.config)
        self.topology = topology
        #: makes every Kafka client this instance uses (confluent-kafka ones by default)
        self.client_supplier: ClientSupplier = client_supplier or KafkaClientSupplier()
        self.application_id: str = self.config["application.id"]
        self.client_id: str = self.config.get("client.id") or f"{self.application_id}-{uuid.uuid4()}"
        self.state_root = Path(self.config["state.dir"]) / self.application_id
        self._state = State.CREATED
        self._state_lock = threading.RLock()
        self._listeners: list[StateListener] = []
        self._handler: ExceptionHandler | None = None
        self._restore_listener: StateRestoreListener | None = None
        self._standby_listener: StandbyUpdateListener | None = None
        self._threads: list[StreamThread] = []
        self._thread_index = 0
        self._global: GlobalStreamThread | None = None
        self._lock_file: Any = None
        self.plan: TopicPlan | None = None
        self._closing = threading.Event()
        self._control: ApplicationControl | None = None
        self._error_shutdown = threading.Event()
        self._stall_listeners: list[StallListener] = []
        self._watchdog: StallWatchdog | None = None
        #: the built-in HTTP server (``http.listen``), started by start()
        self._http: StreamsHttpServer | None = None
        #: this instance's id in the placement, kept in the state directory (set by start())
        self.process_id: str | None = None
        #: the group's placement as last computed by one of this instance's threads
        self._group_view: GroupView | None = None
        #: which of this instance's threads holds each task (tasks move between them)
        self._ownership = TaskOwnership()
        if self.config["application.server"]:
            HostInfo.parse(self.config["application.server"])  # fails early when malformed

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> State:
        """The current client state."""
        return self._state

    def set_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(new_state, old_state)`` on every state change."""
        self._listeners.append(listener)

    def set_uncaught_exception_handler(self, handler: ExceptionHandler) -> None:
        """Decide what happens when a stream thread dies: replace it, shut this client down
        (the default), or shut the application down."""
        self._handler = handler

    def set_stall_listener(self, listener: StallListener) -> None:
        """Call ``listener(thread_name, seconds, stack)`` when a stream thread's loop has not
        come round for ``thread.stall.warning.ms`` (``stack`` shows where it is), and again
        with ``seconds == 0.0`` when it makes progress again."""
        self._stall_listeners.append(listener)

    def stalled_threads(self) -> list[str]:
        """Names of the stream threads reported stalled and not yet making progress again."""
        return sorted(self._watchdog.stalled) if self._watchdog is not None else []

    def set_global_state_restore_listener(self, listener: StateRestoreListener) -> None:
        """Receive restore progress of every store."""
        if self._state != State.CREATED:
            raise StreamsError("set the restore listener before start()")
        self._restore_listener = listener

    def _transition(self, new: State) -> None:
        with self._state_lock:
            old = self._state
            if old == new:
                return
            if old in (State.NOT_RUNNING, State.ERROR):
                return  # terminal
            if old == State.PENDING_SHUTDOWN and new not in (State.NOT_RUNNING,):
                return
            if old == State.PENDING_ERROR and new not in (State.ERROR,):
                return
            self._state = new
        log.info("stream-client [%s] state transition from %s to %s", self.client_id, old.value,
                 new.value)
        for listener in self._listeners:
            try:
                listener(new, old)
            except Exception as exc:
                log.error("state listener failed: %s", exc)

    def _on_thread_state(self, thread: StreamThread, state: ThreadState) -> None:
        if self._state in (State.PENDING_SHUTDOWN, State.NOT_RUNNING, State.PENDING_ERROR,
                           State.ERROR):
            return
        alive = [t for t in self._threads if t.thread_state != ThreadState.DEAD]
        if alive and all(t.thread_state == ThreadState.RUNNING for t in alive):
            self._transition(State.RUNNING)
        elif state in (ThreadState.PARTITIONS_REVOKED, ThreadState.PARTITIONS_ASSIGNED,
                       ThreadState.STARTING):
            self._transition(State.REBALANCING)

    def _on_thread_error(self, thread: StreamThread, exc: BaseException) -> None:
        if self._closing.is_set():
            return
        response = StreamThreadExceptionResponse.SHUTDOWN_CLIENT
        if self._handler is not None:
            try:
                response = self._handler(exc)
            except Exception as handler_exc:
                log.error("uncaught-exception handler failed: %s", handler_exc)
        log.error("stream thread %s died (%s); handler response: %s", thread.name, exc,
                  response.value)
        if response == StreamThreadExceptionResponse.REPLACE_THREAD:
            self._threads.remove(thread)
            self._start_thread()
            return
        if response == StreamThreadExceptionResponse.SHUTDOWN_APPLICATION and \
                self._control is not None:
            log.error("SHUTDOWN_APPLICATION: asking every instance of %s to shut down",
                      self.application_id)
            self._control.request_shutdown(f"{thread.name}: {type(exc).__name__}: {exc}")
        self._start_error_shutdown()

    def _start_error_shutdown(self) -> None:
        if self._error_shutdown.is_set():
            return
        self._error_shutdown.set()
        # close from another thread: a thread cannot join itself
        threading.Thread(target=self._shutdown_after_error, name="streams-error-shutdown",
                         daemon=True).start()

    def _on_shutdown_request(self, sender: str, reason: str) -> None:
        if self._closing.is_set():
            return
        log.error("application %s is shutting down at the request of %s (%s)",
                  self.application_id, sender, reason)
        self._start_error_shutdown()

    def _on_global_error(self, exc: BaseException) -> None:
        # global tables cannot be served partially: the whole client goes to ERROR
        if self._closing.is_set():
            return
        log.error("the global stream thread died (%s); shutting this client down", exc)
        self._start_error_shutdown()

    def _shutdown_after_error(self) -> None:
        self._transition(State.PENDING_ERROR)
        self._stop_threads(timeout=60)
        self._transition(State.ERROR)

    # ------------------------------------------------------------------ lifecycle
    def _lock_state_dir(self) -> None:
        self._lock_file = lock_state_dir(self.state_root, self.application_id)

    def _unlock_state_dir(self) -> None:
        if self._lock_file is not None:
            try:
                unlock_state_dir(self._lock_file)
            finally:
                self._lock_file = None

    def start(self) -> None:
        """Create/validate internal topics, bootstrap global stores, start the stream threads.

        Raises before any thread starts (the state stays CREATED): ``ConfigError`` for a Kafka
        client setting librdkafka rejects, ``KafkaUnavailableError`` when the cluster cannot be
        reached within ``default.api.timeout.ms``, ``MissingSourceTopicError`` /
        ``MissingSinkTopicError`` for a missing topic read or written (sinks, dead-letter
        topic), ``TopologyError`` for mismatched partition counts.
        """
        if self._state != State.CREATED:
            raise StreamsError(f"start() can only be called once, in state CREATED (now {self._state.value})")
        # local and quick: a typo in a client setting fails here, not inside a stream thread
        check_client_configs(self.config, self.topology, self.client_id)
        self._lock_state_dir()
        self.process_id = load_or_create_process_id(self.state_root)
        try:
            admin, admin_log = startup_admin(self.config, self.client_supplier)
            manager = InternalTopicManager(admin, self.config["replication.factor"],
                                           self.config.client_config("topic.", include_common=False),
                                           self.config["default.api.timeout.ms"] / 1000.0,
                                           bootstrap_servers=self.config["bootstrap.servers"],
                                           client_log=admin_log)
            self.plan = manager.ensure(self.topology, self.application_id,
                                       self.config["errors.dead.letter.queue.topic.name"],
                                       strict=self.config["task.assignor"] == "range")
            bootstrap = {"bootstrap.servers": self.config["bootstrap.servers"]}
            self._control = ApplicationControl(
                self.application_id, self.client_id,
                {**bootstrap, **self.config.client_config("consumer.")},
                {**bootstrap, **self.config.client_config("producer.")},
                self._on_shutdown_request, self.client_supplier)
            self._control.start()
            if self.config["http.listen"]:
                # bound before any thread starts: a port in use fails start() at once
                registry = registry_for(self)
                self._http = StreamsHttpServer(
                    self, self.config["http.listen"], token=self.config["http.auth.token"],
                    forward_timeout=self.config["http.forward.timeout.ms"] / 1000.0,
                    metrics=lambda: metrics_text(registry))
            if any(s.is_global for s in self.topology.subtopologies()):
                self._global = GlobalStreamThread(self.topology, self.config, self.state_root,
                                                  self.client_id, self._on_global_error,
                                                  self.client_supplier)
                self._global.bootstrap()
                self._global.start()
        except BaseException:
            if self._control is not None:
                self._control.close()
            self._stop_http()
            self._unlock_state_dir()
            raise
        if self._http is not None:
            self._http.start()
        self._transition(State.REBALANCING)
        for _ in range(self.config["num.stream.threads"]):
            self._start_thread()
        stall_ms = self.config["thread.stall.warning.ms"]
        if stall_ms > 0:
            self._watchdog = StallWatchdog(lambda: list(self._threads), stall_ms / 1000.0,
                                           self._stall_listeners, self.client_id)
            self._watchdog.start()

    def _start_thread(self) -> StreamThread:
        self._thread_index += 1
        thread = StreamThread(
            self._thread_index, self.topology, self.config, self.state_root, self.client_id,
            on_state=self._on_thread_state, on_error=self._on_thread_error,
            restore_listener=self._restore_listener,
            global_stores=self._global.stores if self._global else None,
            client_supplier=self.client_supplier,
            process_id=self.process_id or "", on_placement=self._on_placement,
            ownership=self._ownership, standby_listener=self._standby_listener,
        )
        self._threads.append(thread)
        thread.start()
        return thread

    def _stop_threads(self, timeout: float | None) -> bool:
        if self._control is not None:
            self._control.close()
        for t in self._threads:
            t.shutdown()
        deadline = None if timeout is None else time.monotonic() + timeout
        ok = True
        for t in self._threads:
            if t is threading.current_thread():
                continue
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            ok = ok and not t.is_alive()
        if self._global is not None:
            self._global.shutdown()
            self._global.join(10)
            self._global.close()
        if self._watchdog is not None:
            self._watchdog.stop()
        if ok:
            self._unlock_state_dir()
        else:
            # a thread still runs with stores open: keep other instances out of the directory
            log.error("stream threads did not stop within %ss; the state directory stays locked "
                      "until this process exits", timeout)
            log_stacks(self._threads, f"not stopped within {timeout}s")
        return ok

    def close(self, timeout: float | None = None) -> bool:
        """Commit, write checkpoints, leave the group and stop; True if all threads stopped in
        time (``timeout`` seconds; None waits)."""
        if self._state in (State.NOT_RUNNING, State.ERROR):
            self._stop_http()  # an instance in ERROR served /health (503) until closed
            return True
        self._closing.set()
        if self._state == State.CREATED:
            self._transition(State.NOT_RUNNING)
            return True
        self._transition(State.PENDING_SHUTDOWN)
        ok = self._stop_threads(timeout)
        self._stop_http()
        self._transition(State.NOT_RUNNING)
        return ok

    def _stop_http(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None

    def cleanup(self) -> None:
        """Delete this application's local state directory (only when not running)."""
        if self._state not in (State.CREATED, State.NOT_RUNNING, State.ERROR):
            raise StreamsError("cleanup() needs a client that is not running; close() it first")
        if not self.state_root.exists():
            return
        lock = lock_state_dir(self.state_root, self.application_id)  # refuses if in use
        try:
            clear_state_dir(self.state_root)
        finally:
            unlock_state_dir(lock)

    def __enter__(self) -> KafkaStreams:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _accepts_queries(self) -> bool:
        return self._state in (State.RUNNING, State.REBALANCING)

    def _on_placement(self, view: GroupView | None) -> None:
        self._group_view = view

    def set_standby_update_listener(self, listener: StandbyUpdateListener) -> None:
        """Receive the progress of this instance's standby tasks."""
        if self._state != State.CREATED:
            raise StreamsError("set the standby update listener before start()")
        self._standby_listener = listener

    def wait_until_running(self, timeout: float = 60.0) -> None:
        """Block until the client is RUNNING (raises on timeout or failure)."""
        deadline = time.monotonic() + timeout
        while self._state != State.RUNNING:
            if self._state in (State.ERROR, State.PENDING_ERROR, State.NOT_RUNNING):
                failures = [t.failure for t in self._threads if t.failure]
                raise StreamsError(f"client stopped in state {self._state.value}"
                                   + (f": {failures[0]}" if failures else ""))
            if time.monotonic() > deadline:
                raise StreamsError(f"client not RUNNING within {timeout}s (state {self._state.value})")
            time.sleep(0.05)

