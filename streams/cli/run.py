"""``streams run MODULE:ATTR``: run an application as a worker process.

Logs state changes, task assignments and restore progress (each store being restored:
records done of the total, rate, time left; live bars on a terminal, a log line every 5
seconds otherwise); on SIGTERM or Ctrl-C it
commits, writes checkpoints and leaves the group, within ``--shutdown-timeout`` seconds.
``--http HOST:PORT`` starts the built-in HTTP server (docs/operations.md).

Example::

    streams run examples.wordcount:topology --bootstrap-servers localhost:9092 \\
        --set num.stream.threads=2
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from typing import Any

from streams.cli.app_loader import load_target, merge_config
from streams.cli.restore_display import PROGRESS_INTERVAL, log_restore_progress, terminal_display
from streams.errors import StreamsError

log = logging.getLogger("streams.cli.run")

def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``run``."""
    p = subparsers.add_parser("run", help="run an application as a worker process",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(p)
    p.add_argument("--shutdown-timeout", type=float, default=60.0,
                   help="seconds to wait for a clean shutdown (default 60)")
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="run N worker processes of the app, each its own group member with its "
                   "own state directory <state.dir>/process-<i>, supervised: restarted on a "
                   "crash, stopped together (default 1; docs/running.md)")
    p.set_defaults(_parser=p)
    p.add_argument("--http", metavar="HOST:PORT",
                   help="serve store queries, /metrics, /health, /ready and /topology here "
                   "(http.listen; a bare port binds to loopback); also application.server "
                   "unless that is set or the host is a wildcard")
    return p


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments ``run`` and ``describe`` share."""
    p.add_argument("app", metavar="MODULE:ATTR",
                   help="a KafkaStreams, Topology, StreamsBuilder or function returning one")
    p.add_argument("-c", "--config", help="config file (.properties, .json or .toml)")
    p.add_argument("-s", "--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config setting (repeatable); wins over file and environment")
    p.add_argument("--bootstrap-servers", help="bootstrap.servers")
    p.add_argument("--application-id", help="application.id")
    p.add_argument("--num-stream-threads", type=int, help="num.stream.threads")
    p.add_argument("--state-dir", help="state.dir")


def build_config(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The topology and merged config the arguments describe."""
    topology, base = load_target(args.app)
    flags = {
        "bootstrap.servers": args.bootstrap_servers,
        "application.id": args.application_id,
        "num.stream.threads": args.num_stream_threads,
        "state.dir": args.state_dir,
    }
    if getattr(args, "http", None):
        flags["http.listen"] = args.http
    config = merge_config(base, args.config, args.set, flags)
    listen = config.get("http.listen")
    if listen and not config.get("application.server"):
        host, _, port = str(listen).rpartition(":")
        if host not in ("0.0.0.0", "::", "[::]"):
            config["application.server"] = f"{host or '127.0.0.1'}:{port}"
    return topology, config


def run(args: argparse.Namespace) -> int:
    """Start the app and block until a signal or a fatal error."""
    from streams.runtime.kafka_streams import KafkaStreams, State

    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    if args.processes != 1:
        return run_processes(args)
    try:
        topology, config = build_config(args)
        app = KafkaStreams(topology, config)
    except StreamsError as exc:
        # a bad key, value or topology: the same one line as a failed start, no traceback
        log.error("could not start: %s", exc)
        return 1
    done = threading.Event()
    failed = threading.Event()

    def on_state(new: State, old: State) -> None:
        log.info("state %s -> %s", old.value, new.value)
        if new == State.RUNNING:
            log.info("tasks: %s", app.local_tasks())
        if new in (State.ERROR, State.NOT_RUNNING):
            if new == State.ERROR:
                failed.set()
            done.set()

    app.set_state_listener(on_state)

    def stop(signum: int, frame: Any) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        app.start()
    except StreamsError as exc:
        log.error("could not start: %s", exc)
        return 1
    log.info("application %s started (%s)", config.get("application.id"), app.client_id)
    display = terminal_display()
    last_progress = time.monotonic()
    while not done.wait(0.5):
        if display is not None:
            display.refresh(app)
        elif time.monotonic() - last_progress >= PROGRESS_INTERVAL:
            last_progress = time.monotonic()
            log_restore_progress(app)
    if display is not None:
        display.close()
    clean = app.close(args.shutdown_timeout)
    if not clean:
        log.error("shutdown did not finish within %.0fs", args.shutdown_timeout)
        return 1
    log.info("stopped")
    return 1 if failed.is_set() else 0


def run_processes(args: argparse.Namespace) -> int:
    """``--processes N``: N children of this same command, supervised (streams.cli.supervisor)."""
    from streams.cli.supervisor import argv_of, child_argvs, supervise
    from streams.config import StreamsConfig

    if args.processes < 1:
        log.error("could not start: --processes must be at least 1, got %d", args.processes)
        return 1
    try:
        _, config = build_config(args)
        state_dir = str(StreamsConfig(config)["state.dir"])
    except StreamsError as exc:
        log.error("could not start: %s", exc)
        return 1
    base = argv_of(args._parser, args, "run", frozenset({"processes", "state_dir", "http"}))
    return supervise(child_argvs(base, args.processes, state_dir, args.http),
                     args.shutdown_timeout)
