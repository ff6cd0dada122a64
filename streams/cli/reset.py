"""``streams reset APPLICATION_ID``: make an application reprocess its input from the start.

Like Kafka's ``kafka-streams-application-reset``: with every instance stopped, it moves the
consumer group's committed offsets of the input topics back (to the earliest offset, a time, or
a duration ago), deletes the application's internal topics (repartition, changelog, control)
and, with ``--state-dir``, wipes the local state. ``--dry-run`` prints the plan and changes
nothing. See ``docs/reset.md``.

Order: the local state directory is locked first (refusing if an instance runs on it), then
offsets are changed, topics deleted, and the directory wiped last, so that a failure part way
leaves nothing that a second run would not redo.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from streams.errors import ConfigError, KafkaUnavailableError, StreamsError
from streams.runtime.app_reset import (
    Partition,
    ResetError,
    ResetPlan,
    ResetTarget,
    choose_topics,
    offset_resets,
    parse_datetime,
    parse_duration,
)
from streams.runtime.client_log import CollapsingClientLog
from streams.runtime.retries import is_transient, kafka_error


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``reset``."""
    p = subparsers.add_parser(
        "reset", help="reset an application so that it reprocesses its input",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("application_id", metavar="APPLICATION_ID",
                   help="the application.id (also its consumer group)")
    p.add_argument("--bootstrap-servers", metavar="HOST:PORT",
                   help="the cluster (default: $KAFKA_BOOTSTRAP_SERVERS)")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting of the admin client (security.protocol=SSL, ...); repeatable")
    p.add_argument("--input-topics", metavar="TOPIC,...",
                   help="the topics whose offsets to reset (default: every non-internal topic "
                        "the group has committed offsets for)")
    to = p.add_mutually_exclusive_group()
    to.add_argument("--to-earliest", action="store_true",
                    help="input offsets to the earliest offset (the default)")
    to.add_argument("--to-datetime", metavar="YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm]",
                    help="input offsets to the first record at or after this time (UTC when no "
                         "zone is given); the end offset where there is none")
    to.add_argument("--by-duration", metavar="PnDTnHnMnS",
                    help="as --to-datetime, that long before now (ISO 8601 duration, e.g. P1D)")
    p.add_argument("--state-dir", metavar="DIR", type=Path,
                   help="also wipe the local state DIR/APPLICATION_ID (the state.dir of an "
                        "instance on this machine)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="how long each step may take (default 30)")
    return p


def target_from(args: argparse.Namespace, now: Callable[[], float] = time.time) -> ResetTarget:
    """The offsets' target given by the options (the earliest offset by default)."""
    if args.to_datetime:
        return ResetTarget.at_timestamp(parse_datetime(args.to_datetime),
                                        f"--to-datetime {args.to_datetime}")
    if args.by_duration:
        back = parse_duration(args.by_duration)
        return ResetTarget.at_timestamp(int((now() - back.total_seconds()) * 1000),
                                        f"--by-duration {args.by_duration} before now")
    return ResetTarget()


def admin_config(args: argparse.Namespace,
                 environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``bootstrap.servers`` and the ``--config`` settings of the admin client."""
    bootstrap = args.bootstrap_servers or environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        raise ConfigError("no cluster given: pass --bootstrap-servers HOST:PORT or set "
                          "KAFKA_BOOTSTRAP_SERVERS")
    conf = {"bootstrap.servers": bootstrap, "client.id": f"{args.application_id}-reset"}
    for item in args.config:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"invalid --config {item!r}: expected KEY=VALUE")
        conf[key.strip()] = value
    return conf


def input_topics_from(args: argparse.Namespace) -> list[str] | None:
    """``--input-topics`` as a list (None when not given)."""
    if args.input_topics is None:
        return None
    topics = [t.strip() for t in args.input_topics.split(",") if t.strip()]
    if not topics:
        raise ResetError("--input-topics needs at least one topic name")
    return topics


class Cluster:
    """The admin calls a reset makes; every failure becomes a one-line :class:`StreamsError`."""

    def __init__(self, conf: Mapping[str, str], timeout: float) -> None:
        self.bootstrap = conf["bootstrap.servers"]
        self.timeout = timeout
        # the error raised in the end quotes what the client logged: no WARNING lines before it
        self._log = CollapsingClientLog("reset admin client", max_level=logging.INFO)
        try:
            full: dict[str, Any] = {**conf, "logger": self._log}
            self.admin = AdminClient(full)
        except KafkaException as exc:
            err = kafka_error(exc)
            raise ConfigError(f"invalid admin client setting (--config): "
                              f"{err.str() if err is not None else exc}") from None

    def _result(self, future: Any, what: str) -> Any:
        try:
            # the request itself times out after self.timeout; the margin only guards a hang
            return future.result(self.timeout + 5)
        except KafkaException as exc:
            raise self._error(exc, what) from None

    def _error(self, exc: KafkaException, what: str) -> StreamsError:
        """``exc`` as a one-line error, with what the client logged (connection trouble)."""
        self.admin.poll(0)  # hands over the log lines librdkafka queued
        problems = self._log.problems()
        detail = f"; the client reported: {' | '.join(problems)}" if problems else ""
        err = kafka_error(exc)
        text = err.str() if err is not None else str(exc)
        if err is not None and is_transient(err):
            return KafkaUnavailableError(
                f"could not {what} (bootstrap.servers={self.bootstrap}, tried for "
                f"{self.timeout:g} s): {text}{detail}")
        return StreamsError(f"could not {what}: {text}{detail}")

    def active_members(self, group: str) -> int:
        """Members of ``group`` now (0 if it is empty or does not exist)."""
        futures = self.admin.describe_consumer_groups([group], request_timeout=self.timeout)
        return len(self._result(futures[group], f"describe consumer group {group!r}").members)

    def committed(self, group: str) -> dict[Partition, int]:
        """The group's committed offsets (a group without any has none)."""
        futures = self.admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group)], request_timeout=self.timeout)
        result = self._result(futures[group], f"list the committed offsets of group {group!r}")
        return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or []
                if tp.error is None and tp.offset >= 0}

    def topics(self) -> dict[str, int]:
        """Every topic on the cluster with its partition count."""
        try:
            md = self.admin.list_topics(timeout=self.timeout)
        except KafkaException as exc:
            raise self._error(exc, "read topic metadata") from None
        return {name: len(t.partitions) for name, t in md.topics.items() if t.error is None}

    def groups(self) -> list[str]:
        """Every consumer group id on the cluster."""
        result = self._result(self.admin.list_consumer_groups(request_timeout=self.timeout),
                              "list consumer groups")
        return [g.group_id for g in result.valid]

    def offsets(self, partitions: Mapping[str, int], which: str,
                timestamp_ms: int = 0) -> dict[Partition, int]:
        """Offsets of every partition of the topics: ``which`` is ``"earliest"``, ``"latest"``
        or ``"time"`` (the first record at or after ``timestamp_ms``; -1 where there is none)."""
        spec = {"earliest": OffsetSpec.earliest, "latest": OffsetSpec.latest}.get(
            which, lambda: OffsetSpec.for_timestamp(timestamp_ms))()
        request = {TopicPartition(t, p): spec for t, n in partitions.items() for p in range(n)}
        if not request:
            return {}
        futures = self.admin.list_offsets(request, request_timeout=self.timeout)
        # the future's key carries the request's spec in its offset field: use topic/partition
        return {(tp.topic, tp.partition): self._result(f, f"list offsets of {tp.topic}").offset
                for tp, f in futures.items()}

    def alter_offsets(self, group: str, offsets: Mapping[Partition, int]) -> None:
        """Commit ``offsets`` for ``group`` (the broker allows it only while it is empty)."""
        tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        futures = self.admin.alter_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, tps)], request_timeout=self.timeout)
        result = self._result(futures[group], f"change the committed offsets of group {group!r} "
                                              "(did an instance start meanwhile?)")
        failed = [f"{tp.topic} partition {tp.partition}: {tp.error.str()}"
                  for tp in result.topic_partitions or [] if tp.error is not None]
        if failed:
            raise StreamsError(f"could not change the committed offsets of group {group!r}: "
                               + "; ".join(failed))

    def delete_topics(self, names: list[str], group: str) -> None:
        """Delete ``names`` and wait until they are gone from the metadata and the group's
        committed offsets of them are dropped (the broker does so with the topic)."""
        futures = self.admin.delete_topics(names, operation_timeout=self.timeout,
                                           request_timeout=self.timeout)
        for name, fut in futures.items():
            try:
                fut.result(self.timeout + 5)
            except KafkaException as exc:
                err = kafka_error(exc)
                if err is None or err.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise self._error(exc, f"delete topic {name!r}") from None
                # deleted meanwhile (by another reset?): gone is what was asked
        deadline = time.monotonic() + self.timeout
        wanted = set(names)
        while True:
            topics = wanted & set(self.topics())
            # a restart must not resume a recreated repartition topic from an old offset
            offsets = wanted & {t for t, _ in self.committed(group)}
            if not topics and not offsets:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        if topics:
            raise StreamsError(f"topic(s) {', '.join(sorted(topics))} still exist "
                               f"{self.timeout:g} s after their deletion was accepted; run the "
                               "reset again")
        raise StreamsError(
            f"the broker still holds group {group!r}'s committed offsets of the deleted topic(s) "
            f"{', '.join(sorted(offsets))}; remove them (kafka-consumer-groups.sh --delete-offsets "
            f"--group {group} --topic TOPIC) before starting the application")


def _state_entries(root: Path) -> list[str] | None:
    """What the state directory holds, besides its lock file (None if it does not exist)."""
    if not root.is_dir():
        return None
    return sorted(c.name for c in root.iterdir() if c.name != ".lock")


def _lock_state(root: Path, application_id: str) -> IO[str] | None:
    """The state directory's lock, held until the reset is done; refuses if an instance holds
    it. None when the directory does not exist (nothing to wipe, nothing to lock)."""
    # imported here, as in `streams run`: every command module is imported for `--help`,
    # and the runtime is not needed to plan a reset
    from streams.runtime.kafka_streams import StateDirectoryLockedError, lock_state_dir

    if not root.is_dir():
        return None
    try:
        return lock_state_dir(root, application_id)
    except StateDirectoryLockedError:
        raise ResetError(f"state directory {root} is locked by a running instance of "
                         f"{application_id!r}; stop it first. Nothing was changed") from None


def _probe_lock(root: Path, application_id: str) -> str | None:
    """For ``--dry-run``: why the real run would refuse to wipe ``root``, if it would. Takes
    the lock only if its file exists, so that a dry run creates nothing."""
    from streams.runtime.kafka_streams import unlock_state_dir

    if not (root / ".lock").exists():
        return None
    try:
        lock = _lock_state(root, application_id)
    except ResetError as exc:
        return str(exc)
    if lock is not None:
        unlock_state_dir(lock)
    return None


def run(args: argparse.Namespace) -> int:
    """Check, plan, print the plan, and (unless ``--dry-run``) carry it out."""
    app: str = args.application_id
    if not app.strip():
        raise ResetError("APPLICATION_ID must not be empty")
    if args.timeout <= 0:
        raise ResetError(f"--timeout must be positive, not {args.timeout:g}")
    target = target_from(args)
    explicit = input_topics_from(args)
    cluster = Cluster(admin_config(args), args.timeout)
    members = cluster.active_members(app)
    if members:
        raise ResetError(
            f"consumer group {app!r} has {members} active member(s): stop every instance of "
            f"application {app!r} first (members of a killed instance with a static "
            "group.instance.id stay until session.timeout.ms passes). Nothing was changed")
    committed = cluster.committed(app)
    existing = cluster.topics()
    choice = choose_topics(app, committed, existing, explicit, cluster.groups())
    partitions = {t: existing[t] for t in choice.inputs}
    if target.timestamp_ms is None:
        found = cluster.offsets(partitions, "earliest")
        end: dict[Partition, int] = {}
    else:
        found = cluster.offsets(partitions, "time", target.timestamp_ms)
        end = cluster.offsets(partitions, "latest")
    resets = offset_resets(partitions, committed, found, end)
    root = args.state_dir / app if args.state_dir is not None else None
    plan = ResetPlan.build(app, target, choice, resets, committed, root,
                           _state_entries(root) if root is not None else None)
    for line in plan.lines():
        print(line)
    if args.dry_run:
        refusal = _probe_lock(root, app) if root is not None else None
        if refusal:
            print(f"  the reset would refuse: {refusal}")
        print("Dry run: nothing was changed.")
        return 0
    _execute(cluster, plan)
    print(plan.summary())
    return 0


def _execute(cluster: Cluster, plan: ResetPlan) -> None:
    """Carry ``plan`` out: lock the state directory, offsets, topics, then the wipe."""
    from streams.runtime.kafka_streams import clear_state_dir, unlock_state_dir

    app = plan.application_id
    lock = _lock_state(plan.state_root, app) if plan.state_root is not None else None
    try:
        # checked again just before the first change: an instance may have started while the
        # plan was made (the broker refuses the offset change then anyway)
        members = cluster.active_members(app)
        if members:
            raise ResetError(f"consumer group {app!r} now has {members} active member(s): "
                             "stop every instance first. Nothing was changed")
        if plan.offsets:
            cluster.alter_offsets(app, {(o.topic, o.partition): o.new for o in plan.offsets})
        if plan.delete_topics:
            cluster.delete_topics(list(plan.delete_topics), app)
        if lock is not None and plan.state_root is not None:
            clear_state_dir(plan.state_root)
    finally:
        if lock is not None:
            unlock_state_dir(lock)
