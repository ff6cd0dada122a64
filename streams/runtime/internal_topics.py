"""Start-up checks and creation of internal topics through the admin API.

* every user source topic must exist, and so must every topic written by name: sinks with
  a fixed topic (not internal ones, which are created here; not sinks that choose the topic
  per record) and the dead-letter topic (``errors.dead.letter.queue.topic.name``). Streams
  never creates user topics: their partition counts are the user's decision;
* topics that must be co-partitioned (a sub-topology's inputs, join inputs) need equal
  partition counts;
* repartition topics get the partition count of the sub-topology writing them (or
  ``Repartitioned(num_partitions=...)``, or, for a foreign-key join's subscription and
  response topics, that of the topics named by ``InternalTopic.partitions_from``: the side
  that reads them), changelog topics one partition per task, compacted;
* an existing internal topic with the wrong partition count stops start-up;
* a cluster that cannot be reached within the timeout (``default.api.timeout.ms``) stops
  start-up with :class:`~streams.errors.KafkaUnavailableError`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from streams.errors import KafkaUnavailableError, StreamsError, TopologyError
from streams.runtime.client_log import CollapsingClientLog
from streams.runtime.retries import is_transient, kafka_error
from streams.topology.nodes import SinkNode
from streams.topology.topology import Topology

log = logging.getLogger(__name__)


class MissingSourceTopicError(StreamsError):
    """A topic the topology reads does not exist."""


#: what names the dead-letter topic, in :attr:`MissingSinkTopicError.topics`
DEAD_LETTER_KEY = "errors.dead.letter.queue.topic.name"


class MissingSinkTopicError(StreamsError):
    """A topic the application writes to by name (a sink's, the dead-letter topic) does not
    exist. ``topics`` maps each missing topic to what writes it: ``"sink node <name>"`` or
    the config key ``errors.dead.letter.queue.topic.name``."""

    def __init__(self, message: str, topics: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.topics = topics


def written_topics(topology: Topology, application_id: str,
                   dead_letter_topic: str | None = None) -> dict[str, list[str]]:
    """User topics written by name -> what writes each (sink nodes, the dead-letter key).

    Internal topics are left out (start-up creates them), and so are sinks with a
    ``TopicNameExtractor``: their topics are known only per record.
    """
    out: dict[str, list[str]] = {}
    internal = topology.internal_topics
    for name, node in topology.nodes.items():
        if isinstance(node, SinkNode) and node.topic is not None and node.topic_extractor is None \
                and node.topic not in internal:
            out.setdefault(topology.resolve_topic(node.topic, application_id), []).append(
                f"sink node {name}")
    if dead_letter_topic:
        out.setdefault(dead_letter_topic, []).append(DEAD_LETTER_KEY)
    return out


def _missing_sinks_message(missing: dict[str, list[str]], application_id: str) -> str:
    detail = ", ".join(f"{t} (written by {' and '.join(users)})" for t, users in missing.items())
    return (
        f"topic(s) that application {application_id!r} writes to do not exist: {detail}. "
        "Streams creates only its internal topics; create these before starting, with the "
        "partition count their readers need (e.g. kafka-topics.sh --create --topic "
        f"{next(iter(missing))} --partitions N)"
    )


@dataclass
class TopicPlan:
    """What start-up decided: partitions per sub-topology and the internal topics to have."""

    subtopology_partitions: dict[int, int] = field(default_factory=dict)
    #: kafka topic name -> (partitions, topic configs)
    internal: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    #: kafka topic name -> partition count, for every topic read
    source_partitions: dict[str, int] = field(default_factory=dict)


def plan_topics(topology: Topology, application_id: str, existing: dict[str, int],
                dead_letter_topic: str | None = None, strict: bool = True) -> TopicPlan:
    """Check that the user topics read and written exist, and work out partition counts from
    them (pure; no I/O). ``existing`` maps every topic on the cluster to its partition count.
    ``strict``: every sub-topology's inputs must have equal counts (the ``range`` assignor);
    otherwise only those of joins and of sub-topologies with state, and repartition topics
    read together.

    Raises :class:`MissingSourceTopicError` (which also names missing output topics, if any),
    then :class:`MissingSinkTopicError`, before anything else is decided.
    """
    resolve = lambda t: topology.resolve_topic(t, application_id)  # noqa: E731
    subs = [s for s in topology.subtopologies() if not s.is_global]
    internal = topology.internal_topics
    missing = sorted(
        {resolve(t) for s in topology.subtopologies() for t in s.source_topics
         if t not in internal and resolve(t) not in existing}
    )
    missing_sinks = {t: users for t, users in sorted(
        written_topics(topology, application_id, dead_letter_topic).items())
        if t not in existing and t not in missing}
    if missing:
        # one start-up attempt should reveal every missing topic, not one kind per attempt
        also = f". Also missing: {_missing_sinks_message(missing_sinks, application_id)}" \
            if missing_sinks else ""
        raise MissingSourceTopicError(
            f"source topic(s) {', '.join(missing)} do not exist; create them before starting "
            f"application {application_id!r} (e.g. kafka-topics.sh --create --topic {missing[0]} "
            "--partitions N)" + also
        )
    if missing_sinks:
        raise MissingSinkTopicError(_missing_sinks_message(missing_sinks, application_id),
                                    missing_sinks)
    # which sub-topology writes each internal topic
    writer: dict[str, int] = {}
    for s in subs:
        for name in s.nodes:
            node = topology.nodes[name]
            if isinstance(node, SinkNode) and node.topic in internal:
                writer[node.topic] = s.id
    counts: dict[int, int] = {}
    # Kafka Streams' CopartitionedTopicsEnforcer: a repartition topic that must be co-partitioned
    # with user topics (a join after a key change) takes their partition count, not its writer's
    enforced: dict[str, int] = {}
    for group in topology.copartition_groups:
        external = [existing[resolve(t)] for t in group if t not in internal]
        if external:
            for t in group:
                if t in internal and internal[t].partitions is None:
                    enforced[t] = max(external)

    def count_for(sub_id: int, seen: frozenset[int] = frozenset()) -> int:
        if sub_id in counts:
            return counts[sub_id]
        if sub_id in seen:
            raise TopologyError(f"sub-topology {sub_id} feeds itself through repartition topics")
        sub = next(s for s in subs if s.id == sub_id)
        n = 0
        for t in sub.source_topics:
            if t in internal:
                found = topic_count(t, seen | {sub_id})
                if found is not None:
                    n = max(n, found)
            else:
                n = max(n, existing[resolve(t)])
        if n == 0:
            raise TopologyError(f"cannot determine the partition count of sub-topology {sub_id}")
        counts[sub_id] = n
        return n

    def topic_count(t: str, seen: frozenset[int], via: frozenset[str] = frozenset()) -> int | None:
        """An internal topic's count: fixed, enforced, copied (``partitions_from``), or its
        writer's; None when nothing determines it."""
        spec = internal[t]
        if spec.partitions is not None:
            return spec.partitions
        if t in enforced:
            return enforced[t]
        if spec.partitions_from:
            # a foreign-key join's subscription (response) topic copies the count of the right
            # (left) table's topics, which read it; its writer is the other side of the join,
            # itself fed by this side's topic: following the writer would go round in a cycle
            if t in via:
                raise TopologyError(f"internal topic {t!r} copies its own partition count")
            found = [existing[resolve(u)] if u not in internal else topic_count(u, seen, via | {t})
                     for u in spec.partitions_from]
            known = [c for c in found if c is not None]
            return max(known) if known else None
        return count_for(writer[t], seen) if t in writer else None

    plan = TopicPlan()
    for s in subs:
        plan.subtopology_partitions[s.id] = count_for(s.id)
    for t, spec in internal.items():
        found = topic_count(t, frozenset())
        if found is None:
            raise TopologyError(f"cannot determine the partition count of internal topic {t!r}")
        plan.internal[resolve(t)] = (found, {"cleanup.policy": "delete", **spec.config})
    for s in subs:
        for store in s.stores:
            builder = topology.stores[store]
            if builder.logging_enabled:
                cfg = {"cleanup.policy": "compact", **builder.log_config}
                plan.internal[Topology.changelog_topic(application_id, store)] = (
                    plan.subtopology_partitions[s.id], cfg)
    for s in topology.subtopologies():
        for t in s.source_topics:
            rt = resolve(t)
            plan.source_partitions[rt] = plan.internal[rt][0] if rt in plan.internal else existing[rt]
    # joins need their inputs co-partitioned. So does every sub-topology under the range
    # assignor (``strict``), which hands out partitions, not tasks. With the placement, a
    # stateless merge may read user topics of different sizes (its task p reads partition p
    # of those that have one), as in Kafka Streams. Stricter than Kafka Streams: a
    # sub-topology with state still needs equal inputs, since its per-key state would be
    # split across tasks. Repartition topics read together must agree too: streams itself
    # partitions them by key
    declared = set(topology.declared_copartition_groups)
    stateful = {frozenset(s.source_topics) for s in subs if s.stores}
    for group in topology.copartition_groups:
        if not strict and group not in declared and group not in stateful:
            group = frozenset(t for t in group if t in internal)
        sizes = {resolve(t): plan.source_partitions[resolve(t)] for t in group}
        if len(set(sizes.values())) > 1:
            detail = ", ".join(f"{t}={n}" for t, n in sorted(sizes.items()))
            raise TopologyError(
                f"topics that must be co-partitioned have different partition counts ({detail}); "
                "records with the same key would meet in different tasks. Use repartition("
                "Repartitioned(num_partitions=...)) on one side, or recreate the topics with equal "
                "partition counts"
            )
    return plan


class InternalTopicManager:
    """Validates the plan against the cluster and creates what is missing."""

    #: longest single metadata request: between attempts the admin's log is read, so that
    #: connection trouble shows while start-up still waits
    ATTEMPT_SECONDS = 5.0

    def __init__(self, admin: AdminClient, replication_factor: int, topic_config: dict[str, Any],
                 timeout: float = 30.0, *, bootstrap_servers: str = "?",
                 client_log: CollapsingClientLog | None = None) -> None:
        self._admin = admin
        self._rf = replication_factor
        self._topic_config = {k: str(v) for k, v in topic_config.items()}
        self._timeout = timeout
        self._bootstrap = bootstrap_servers
        self._client_log = client_log

    def _client_problems(self) -> str:
        """What the admin client logged (each distinct warning once), for an error message."""
        if self._client_log is None:
            return ""
        self._admin.poll(0)  # hands over the log lines librdkafka queued
        problems = self._client_log.problems()
        return f"; the client reported: {' | '.join(problems)}" if problems else ""

    def existing_partitions(self) -> dict[str, int]:
        """Partition count of every topic on the cluster.

        Retries while the cluster cannot be reached, for at most the manager's timeout; then
        raises :class:`KafkaUnavailableError`. Other errors raise at once.
        """
        deadline = time.monotonic() + self._timeout
        while True:
            attempt = max(0.1, min(self.ATTEMPT_SECONDS, deadline - time.monotonic()))
            try:
                md = self._admin.list_topics(timeout=attempt)
                return {name: len(t.partitions) for name, t in md.topics.items()
                        if t.error is None}
            except KafkaException as exc:
                err = kafka_error(exc)
                detail = self._client_problems()
                if err is None or not is_transient(err):
                    raise StreamsError(f"could not read topic metadata from bootstrap.servers="
                                       f"{self._bootstrap}: {exc}{detail}") from exc
                if time.monotonic() >= deadline:
                    raise KafkaUnavailableError(
                        f"cannot reach bootstrap.servers={self._bootstrap} (tried for "
                        f"{self._timeout:g} s): {err.str()}{detail}. Check the address and that "
                        "the brokers are up and reachable from here; default.api.timeout.ms "
                        "sets how long start-up waits") from exc
                # some failures come back at once (all brokers down): do not spin
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    def ensure(self, topology: Topology, application_id: str,
               dead_letter_topic: str | None = None, strict: bool = True) -> TopicPlan:
        """Check the topics read and written, create/validate internal topics; returns the
        plan."""
        from streams.runtime.app_control import control_topic

        existing = self.existing_partitions()
        plan = plan_topics(topology, application_id, existing, dead_letter_topic, strict)
        # carries SHUTDOWN_APPLICATION requests between instances (see app_control.py)
        plan.internal[control_topic(application_id)] = (
            1, {"cleanup.policy": "delete", "retention.ms": str(24 * 3600 * 1000)})
        to_create = []
        for name, (partitions, cfg) in plan.internal.items():
            have = existing.get(name)
            if have is None:
                to_create.append(NewTopic(name, num_partitions=partitions, replication_factor=self._rf,
                                          config={**self._topic_config, **cfg}))
            elif have != partitions:
                raise TopologyError(
                    f"internal topic {name!r} has {have} partitions but application "
                    f"{application_id!r} needs {partitions}; the input partition counts changed. "
                    "Stop every instance, delete the application's internal topics "
                    f"({application_id}-*-repartition and -changelog) and its local state "
                    "(KafkaStreams.cleanup()), then restart"
                )
        if to_create:
            futures = self._admin.create_topics(to_create, operation_timeout=self._timeout)
            for name, fut in futures.items():
                try:
                    fut.result(self._timeout)
                    log.info("created internal topic %s (%d partitions)", name, plan.internal[name][0])
                except KafkaException as exc:
                    err = exc.args[0] if exc.args else None
                    if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                        continue  # another instance created it first
                    raise StreamsError(f"could not create internal topic {name!r}: {exc}") from exc
            self._wait_visible([t.topic for t in to_create])
        return plan

    def _wait_visible(self, names: list[str]) -> None:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            have = self.existing_partitions()
            if all(n in have for n in names):
                return
            time.sleep(0.1)
        raise StreamsError(f"internal topics {names} did not appear within {self._timeout}s")
