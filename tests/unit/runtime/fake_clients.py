"""Consumer, producer and admin client on a :class:`fake_kafka.FakeCluster`, shaped like
confluent-kafka's (the calls the runtime makes, with the same argument names), and the
ClientSupplier that makes them."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from fake_kafka import FakeCluster, Transaction

from streams.engine.message import Message


class _TopicMeta:
    def __init__(self, topic: str, partitions: int | None) -> None:
        self.topic = topic
        self.partitions = {p: object() for p in range(partitions or 0)}
        self.error = None if partitions is not None else KafkaError(
            KafkaError.UNKNOWN_TOPIC_OR_PART)


class _Metadata:
    def __init__(self, cluster: FakeCluster, topic: str | None) -> None:
        with cluster.lock:
            names = [topic] if topic is not None else list(cluster.topics)
            self.topics = {t: _TopicMeta(t, len(cluster.topics[t]) if t in cluster.topics
                                         else None) for t in names}
        self.brokers = {0: object()}


class GroupMetadata:
    """What ``consumer_group_metadata()`` returns: group, generation, member."""

    def __init__(self, group_id: str, generation: int, member: int) -> None:
        self.group_id = group_id
        self.generation = generation
        self.member = member


class FakeConsumer:
    """A consumer: subscribed (in a group, rebalanced inside ``consume``) or assigned."""

    def __init__(self, cluster: FakeCluster, config: dict[str, Any]) -> None:
        self.cluster = cluster
        self.config = config
        self.group_id: str = config.get("group.id", "")
        self.read_committed = config.get("isolation.level") == "read_committed"
        self.reset = config.get("auto.offset.reset", "latest")
        self.subscription: list[str] = []
        self._callbacks: dict[str, Any] = {}
        #: (topic, partition) -> next offset to read
        self.positions: dict[tuple[str, int], int] = {}
        self.paused: set[tuple[str, int]] = set()
        self.generation = 0
        #: set when the group rebalances: revoke and rejoin in the next consume()
        self.needs_rejoin = False
        #: the group generation whose assignment this member has yet to take up
        self.pending_generation: int | None = None
        self.expired = False
        self.closed = False
        self._assigned_in_callback = False

    # ---- group membership ------------------------------------------------------------
    def subscribe(self, topics: list[str], on_assign: Any = None, on_revoke: Any = None,
                  on_lost: Any = None) -> None:
        """Join the group for ``topics``; the assignment comes in a later ``consume()``."""
        self.subscription = list(topics)
        self._callbacks = {"assign": on_assign, "revoke": on_revoke, "lost": on_lost}
        with self.cluster.lock:
            group = self.cluster.group(self.group_id)
            if self not in group.members:
                group.members.append(self)
            self.expired = False
            self.cluster.rebalance(group)

    def unsubscribe(self) -> None:
        """Leave the group (revoking first, as librdkafka does)."""
        self._revoke_all()
        self._leave()

    def _leave(self) -> None:
        with self.cluster.lock:
            group = self.cluster.group(self.group_id)
            self.subscription = []
            self.pending_generation = None
            self.needs_rejoin = False
            if self in group.members:
                group.members.remove(self)
                self.cluster.rebalance(group)

    def _revoke_all(self) -> None:
        if self.positions and self._callbacks.get("revoke") is not None:
            self._callbacks["revoke"](self, [TopicPartition(t, p) for t, p in self.positions])
        self.positions.clear()
        self.paused.clear()

    def _rebalance(self) -> None:
        """The member's part of a rebalance, as librdkafka runs it inside ``consume``: a lost
        membership (session expired) calls ``on_lost`` and joins again; otherwise revoke
        everything (eager), rejoin, and once the new generation starts, take up its share."""
        cluster = self.cluster
        if self.expired:
            self.expired = False
            lost = [TopicPartition(t, p) for t, p in self.positions]
            if self._callbacks.get("lost") is not None and lost:
                self._callbacks["lost"](self, lost)
            self.positions.clear()
            self.paused.clear()
            self.subscribe(self.subscription, self._callbacks["assign"],
                           self._callbacks["revoke"], self._callbacks["lost"])
        group = cluster.group(self.group_id)
        if self.needs_rejoin:
            self.needs_rejoin = False
            self._revoke_all()  # still the old generation: its commits count
            cluster.rejoined(group, self)
        with cluster.lock:
            generation = self.pending_generation
            if generation is None:
                return  # others have yet to rejoin
            self.pending_generation = None
            mine = list(group.assignment.get(id(self), []))
        self.generation = generation
        tps = [TopicPartition(t, p, OFFSET_INVALID) for t, p in mine]
        self._assigned_in_callback = False
        if self._callbacks.get("assign") is not None:
            self._callbacks["assign"](self, tps)
        if not self._assigned_in_callback:
            self.assign(tps)

    def memberid(self) -> str:
        """This member's id in the group."""
        return f"member-{id(self)}"

    def consumer_group_metadata(self) -> GroupMetadata:
        """The group, this member's generation and identity (for transactions)."""
        return GroupMetadata(self.group_id, self.generation, id(self))

    # ---- assignment and positions ------------------------------------------------------
    def assign(self, partitions: list[TopicPartition]) -> None:
        """Read exactly these partitions, from their given offsets (or the committed ones,
        or the reset policy's)."""
        self._assigned_in_callback = True
        self.positions = {}
        self.paused.clear()
        for tp in partitions:
            self.positions[(tp.topic, tp.partition)] = self._start(tp)

    def _start(self, tp: TopicPartition) -> int:
        key = (tp.topic, tp.partition)
        end = self.cluster.high_watermark(tp.topic, tp.partition)
        if tp.offset == OFFSET_BEGINNING:
            return 0
        if tp.offset == OFFSET_END:
            return end
        if tp.offset >= 0:
            return int(tp.offset)
        committed = self.cluster.group(self.group_id).offsets.get(key) if self.group_id else None
        if committed is not None:
            return committed
        return 0 if self.reset in ("earliest", "smallest", "beginning") else end

    def unassign(self) -> None:
        """Stop reading every partition."""
        self.positions = {}
        self.paused.clear()

    def pause(self, partitions: list[TopicPartition]) -> None:
        """Stop fetching these partitions."""
        self.paused.update((tp.topic, tp.partition) for tp in partitions)

    def resume(self, partitions: list[TopicPartition]) -> None:
        """Fetch these partitions again."""
        self.paused.difference_update((tp.topic, tp.partition) for tp in partitions)

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """The next offset to read of each partition (OFFSET_INVALID if not assigned)."""
        return [TopicPartition(tp.topic, tp.partition,
                               self.positions.get((tp.topic, tp.partition), OFFSET_INVALID))
                for tp in partitions]

    # ---- reading -------------------------------------------------------------------
    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        """Run a pending rebalance, then return up to ``num_messages`` visible records,
        waiting up to ``timeout`` seconds for some."""
        if self.closed:
            raise RuntimeError("Consumer closed")
        self.cluster.check("consume")
        if self.needs_rejoin or self.pending_generation is not None or self.expired:
            self._rebalance()
        deadline = time.monotonic() + max(timeout, 0)
        while True:
            msgs = self._fetch(num_messages)
            if msgs or time.monotonic() >= deadline:
                return msgs
            with self.cluster.changed:
                self.cluster.changed.wait(max(0.0, min(deadline - time.monotonic(), 0.05)))
            if self.needs_rejoin or self.pending_generation is not None or self.expired:
                return []  # the next call runs the rebalance, as librdkafka's would

    def _fetch(self, limit: int) -> list[Message]:
        cluster = self.cluster
        out: list[Message] = []
        with cluster.lock:
            for (topic, p), pos in list(self.positions.items()):
                if (topic, p) in self.paused or len(out) >= limit:
                    continue
                end = (cluster.last_stable_offset(topic, p) if self.read_committed
                       else cluster.high_watermark(topic, p))
                if pos >= end:
                    continue
                stop = min(end, pos + limit - len(out))
                out += cluster.read(topic, p, pos, stop, self.read_committed)
                self.positions[(topic, p)] = stop
        return out

    def get_watermark_offsets(self, partition: TopicPartition, timeout: float = -1,
                              cached: bool = False) -> tuple[int, int]:
        """(0, end): the end is the last stable offset for a read_committed consumer."""
        self.cluster.check("get_watermark_offsets")
        t, p = partition.topic, partition.partition
        end = (self.cluster.last_stable_offset(t, p) if self.read_committed
               else self.cluster.high_watermark(t, p))
        return 0, end

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> _Metadata:
        """Topic metadata."""
        return _Metadata(self.cluster, topic)

    # ---- offsets -------------------------------------------------------------------
    def committed(self, partitions: list[TopicPartition], timeout: float = -1
                  ) -> list[TopicPartition]:
        """The group's committed offsets (OFFSET_INVALID where none)."""
        self.cluster.check("committed")
        group = self.cluster.group(self.group_id)
        return [TopicPartition(tp.topic, tp.partition,
                               group.offsets.get((tp.topic, tp.partition), OFFSET_INVALID),
                               metadata=group.offset_metadata.get((tp.topic, tp.partition))
                               or "")
                for tp in partitions]

    def commit(self, offsets: list[TopicPartition] | None = None,
               asynchronous: bool = True) -> list[TopicPartition]:
        """Commit ``offsets`` for the group; refused (ILLEGAL_GENERATION) from a member the
        group has moved on from."""
        self.cluster.check("commit")
        with self.cluster.lock:
            group = self.cluster.group(self.group_id)
            if self not in group.members or self.generation != group.generation:
                raise KafkaException(KafkaError(
                    KafkaError.ILLEGAL_GENERATION,
                    f"member of generation {self.generation}, group at {group.generation}"))
            for tp in offsets or []:
                group.offsets[(tp.topic, tp.partition)] = tp.offset
                group.offset_metadata[(tp.topic, tp.partition)] = tp.metadata
        return list(offsets or [])

    def close(self) -> None:
        """Revoke (running the callback), leave the group."""
        if self.closed:
            return
        if self.subscription:
            self._revoke_all()
            self._leave()
        self.closed = True


class FakeProducer:
    """A producer; transactional when given a ``transactional.id``."""

    def __init__(self, cluster: FakeCluster, config: dict[str, Any]) -> None:
        self.cluster = cluster
        self.config = config
        self.transactional_id: str | None = config.get("transactional.id")
        self._on_delivery = config.get("on_delivery")
        self.epoch: int | None = None
        self.txn: Transaction | None = None
        self._reports: list[tuple[KafkaError, Message]] = []
        self.produced = 0

    def _check_fenced(self) -> None:
        tid = self.transactional_id
        if tid is not None and self.epoch is not None and self.cluster.epochs[tid] != self.epoch:
            raise KafkaException(KafkaError(KafkaError._FENCED,
                                            f"producer fenced by a newer instance of {tid}",
                                            fatal=True))

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                partition: int = -1, on_delivery: Any = None, timestamp: int = 0,
                headers: Any = None) -> None:
        """Append the record now (in the open transaction, if transactional); a failure is
        reported to the delivery callback by the next ``poll``/``flush``."""
        self._check_fenced()
        self.cluster.check("produce")
        if self.transactional_id is not None and self.txn is None:
            raise KafkaException(KafkaError(KafkaError._STATE, "no transaction in progress"))
        try:
            self.cluster.append(topic, partition, key, value, timestamp, headers, self.txn)
            self.produced += 1
        except KafkaException as exc:
            self._reports.append((exc.args[0], Message(topic, max(partition, 0), -1, timestamp,
                                                       key, value, headers)))

    def poll(self, timeout: float = 0) -> int:
        """Serve queued delivery reports (failures only)."""
        self._check_fenced()
        reports, self._reports = self._reports, []
        for err, msg in reports:
            if self._on_delivery is not None:
                self._on_delivery(err, msg)
        return len(reports)

    def flush(self, timeout: float = -1) -> int:
        """Serve delivery reports; nothing is ever left in flight."""
        self.poll(0)
        return 0

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> _Metadata:
        """Topic metadata."""
        return _Metadata(self.cluster, topic)

    # ---- transactions --------------------------------------------------------------
    def init_transactions(self, timeout: float = -1) -> None:
        """Fence older producers of this transactional id and abort their transaction."""
        assert self.transactional_id is not None
        self.cluster.check("init_transactions")
        self.epoch = self.cluster.init_transactions(self.transactional_id)

    def begin_transaction(self) -> None:
        """Open a transaction."""
        self._check_fenced()
        if self.txn is not None:
            raise KafkaException(KafkaError(KafkaError._STATE, "transaction already open"))
        assert self.transactional_id is not None and self.epoch is not None
        self.txn = Transaction(self.transactional_id, self.epoch)
        with self.cluster.lock:
            self.cluster.open_txns[self.transactional_id] = self.txn

    def send_offsets_to_transaction(self, positions: list[TopicPartition],
                                    group_metadata: GroupMetadata, timeout: float = -1) -> None:
        """Add consumer offsets to the transaction (committed with it)."""
        self._check_fenced()
        self.cluster.check("send_offsets_to_transaction")
        assert self.txn is not None
        group = self.cluster.group(group_metadata.group_id)
        if group_metadata.generation != group.generation:
            # the broker checks the generation on TxnOffsetCommit (KIP-447)
            raise KafkaException(KafkaError(
                KafkaError.ILLEGAL_GENERATION,
                f"generation {group_metadata.generation} is not the group's "
                f"{group.generation}", txn_requires_abort=True))
        offsets = {(tp.topic, tp.partition): (tp.offset, tp.metadata) for tp in positions}
        self.txn.offsets[group_metadata.group_id] = (group_metadata.generation, offsets)

    def commit_transaction(self, timeout: float = -1) -> None:
        """Commit: records visible, offsets committed (refused if the group moved on)."""
        self._check_fenced()
        self.cluster.check("commit_transaction")
        assert self.txn is not None
        self.cluster.end_transaction(self.txn, commit=True)
        self.txn = None

    def abort_transaction(self, timeout: float = -1) -> None:
        """Abort: records never visible, offsets dropped."""
        self._check_fenced()
        self.cluster.check("abort_transaction")
        if self.txn is not None:
            self.cluster.end_transaction(self.txn, commit=False)
        self.txn = None


class _Done:
    def __init__(self, error: KafkaException | None = None) -> None:
        self._error = error

    def result(self, timeout: float | None = None) -> None:
        if self._error is not None:
            raise self._error


class _Described:
    def __init__(self, description: Any) -> None:
        self._description = description

    def result(self, timeout: float | None = None) -> Any:
        return self._description


class FakeAdmin:
    """Topic creation and metadata."""

    def __init__(self, cluster: FakeCluster, config: dict[str, Any]) -> None:
        self.cluster = cluster

    def poll(self, timeout: float = 0) -> int:
        """Nothing to serve."""
        return 0

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> _Metadata:
        """Topic metadata."""
        return _Metadata(self.cluster, topic)

    def describe_consumer_groups(self, groups: list[str], request_timeout: float = -1
                                 ) -> dict[str, _Described]:
        """Each group's state and members (client id and range assignment), as the broker
        describes a classic group."""
        out = {}
        with self.cluster.lock:
            for g in groups:
                group = self.cluster.group(g)
                members = [SimpleNamespace(
                    member_id=m.memberid(), client_id=m.config.get("client.id", ""),
                    assignment=SimpleNamespace(topic_partitions=[
                        TopicPartition(t, p) for t, p in group.assignment.get(id(m), [])]))
                    for m in group.members]
                state = SimpleNamespace(name="STABLE" if group.stable else "PREPARING_REBALANCE")
                out[g] = _Described(SimpleNamespace(group_id=g, state=state, members=members))
        return out

    def list_consumer_group_offsets(self, requests: list[Any], require_stable: bool = False,
                                    request_timeout: float = -1) -> dict[str, _Described]:
        """Committed offsets (OFFSET_INVALID where none) with their metadata."""
        self.cluster.check("list_consumer_group_offsets")
        out = {}
        with self.cluster.lock:
            for req in requests:
                group = self.cluster.group(req.group_id)
                tps = []
                for tp in req.topic_partitions:
                    key = (tp.topic, tp.partition)
                    meta = group.offset_metadata.get(key)
                    offset = group.offsets.get(key, OFFSET_INVALID)
                    tps.append(TopicPartition(tp.topic, tp.partition, offset, metadata=meta)
                               if meta else TopicPartition(tp.topic, tp.partition, offset))
                out[req.group_id] = _Described(SimpleNamespace(group_id=req.group_id,
                                                               topic_partitions=tps))
        return out

    def create_topics(self, new_topics: list[Any], **kwargs: Any) -> dict[str, _Done]:
        """Create each topic; TOPIC_ALREADY_EXISTS for those that do."""
        out = {}
        for t in new_topics:
            if t.topic in self.cluster.topics:
                out[t.topic] = _Done(KafkaException(KafkaError(KafkaError.TOPIC_ALREADY_EXISTS)))
            else:
                self.cluster.create_topic(t.topic, t.num_partitions)
                out[t.topic] = _Done()
        return out


class FakeClientSupplier:
    """A ClientSupplier whose clients all talk to one FakeCluster."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster

    def _made(self, kind: str, client: Any) -> Any:
        self.cluster.clients[kind].append(client)
        return client

    def get_consumer(self, config: dict[str, Any]) -> FakeConsumer:
        """A group consumer."""
        return self._made("consumer", FakeConsumer(self.cluster, config))

    def get_restore_consumer(self, config: dict[str, Any]) -> FakeConsumer:
        """An assigned consumer."""
        return self._made("restore_consumer", FakeConsumer(self.cluster, config))

    def get_global_consumer(self, config: dict[str, Any]) -> FakeConsumer:
        """An assigned consumer."""
        return self._made("global_consumer", FakeConsumer(self.cluster, config))

    def get_producer(self, config: dict[str, Any]) -> FakeProducer:
        """A producer."""
        return self._made("producer", FakeProducer(self.cluster, config))

    def get_admin(self, config: dict[str, Any]) -> FakeAdmin:
        """An admin client."""
        return self._made("admin", FakeAdmin(self.cluster, config))
