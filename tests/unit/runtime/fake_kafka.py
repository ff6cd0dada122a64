"""A small in-memory Kafka for broker-free tests of the runtime (behind the ClientSupplier seam).

:class:`FakeCluster` holds topics (a list of records per partition), consumer groups and
transactions; :mod:`fake_clients` has the consumer, producer and admin client that talk to it,
shaped like confluent-kafka's. It models what the runtime's correctness rests on, and no more:

* **partitions and offsets**: a record's offset is its index in its partition's log (no
  control records); the high watermark is the log's length;
* **transactions**: a transactional producer's records go into the log at once but stay
  invisible to ``read_committed`` readers until the transaction commits (the last stable offset
  stops at the first record of an open transaction); aborted records are skipped; a new
  producer with the same ``transactional.id`` fences the old one and aborts its transaction;
  offsets sent to a transaction are committed with it, if the group generation still matches;
* **groups**: eager rebalances with the range assignor (members in join order), run inside
  the members' next ``consume()``, as librdkafka runs rebalance callbacks; a commit from a member
  of an older generation fails with ``ILLEGAL_GENERATION``; :meth:`FakeCluster.expire` plays a
  session timeout (the member's partitions are lost);
* **errors on demand**: :meth:`FakeCluster.fail_next` makes a client call raise a given error.

Example::

    cluster = FakeCluster()
    cluster.create_topic("in", 2)
    cluster.append("in", 0, b"k", b"v", timestamp=5)
    thread = StreamThread(..., client_supplier=cluster.supplier())
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from streams.engine.message import Message
from streams.testing.murmur2 import murmur2_partition


@dataclass
class Transaction:
    """One transaction of a transactional id; its records and the offsets sent to it."""

    transactional_id: str
    epoch: int
    state: str = "open"  # open, committed, aborted
    #: group id -> (generation, {(topic, partition): offset})
    offsets: dict[str, tuple[int, dict[tuple[str, int], int]]] = field(default_factory=dict)


@dataclass
class StoredRecord:
    """A record in a partition's log."""

    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: Any
    txn: Transaction | None = None

    def visible(self, read_committed: bool) -> bool:
        """Whether a reader sees it (aborted records never; open ones only read_uncommitted)."""
        if self.txn is None:
            return True
        if self.txn.state == "aborted":
            return False
        return self.txn.state == "committed" or not read_committed


class Group:
    """A consumer group: members in join order, the current generation and assignment, and
    committed offsets. A rebalance has two phases, as in Kafka's classic protocol: while it is
    *preparing*, members revoke (and may still commit with the old generation) and rejoin;
    once every member has rejoined, a new generation starts with a new assignment."""

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.members: list[Any] = []  # FakeConsumer, in join order
        self.generation = 0
        self.preparing = False
        self.joined: set[int] = set()  # id(member) of those rejoined in this rebalance
        self.assignment: dict[int, list[tuple[str, int]]] = {}  # id(member) -> partitions
        self.offsets: dict[tuple[str, int], int] = {}
        #: the metadata string committed with each offset
        self.offset_metadata: dict[tuple[str, int], str | None] = {}

    @property
    def stable(self) -> bool:
        """Not in a rebalance (what a group description reports as STABLE)."""
        return not self.preparing and self.generation > 0


class FakeCluster:
    """Topics, groups and transactions; see the module docstring."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        #: notified whenever records are appended or made visible
        self.changed = threading.Condition(self.lock)
        self.topics: dict[str, list[list[StoredRecord]]] = {}
        self.groups: dict[str, Group] = {}
        #: transactional id -> current epoch and its open transaction (if any)
        self.epochs: dict[str, int] = collections.defaultdict(int)
        self.open_txns: dict[str, Transaction] = {}
        self._failures: dict[str, list[KafkaError]] = collections.defaultdict(list)
        #: every client made, by kind ("consumer", "restore_consumer", "producer", ...)
        self.clients: dict[str, list[Any]] = collections.defaultdict(list)

    # ---- topics --------------------------------------------------------------------
    def create_topic(self, name: str, partitions: int = 1) -> str:
        """Create ``name`` with ``partitions`` empty partitions (an existing one is kept)."""
        with self.lock:
            self.topics.setdefault(name, [[] for _ in range(partitions)])
        return name

    def append(self, topic: str, partition: int | None, key: bytes | None, value: bytes | None,
               timestamp: int = 0, headers: Any = None, txn: Transaction | None = None) -> int:
        """Append a record (partition None: by key, murmur2 as the Java client); its offset."""
        with self.lock:
            parts = self.topics.get(topic)
            if parts is None:
                raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART,
                                                f"unknown topic {topic}"))
            if partition is None or partition < 0:
                partition = murmur2_partition(key, len(parts)) if key is not None else 0
            log = parts[partition]
            log.append(StoredRecord(key, value, timestamp, headers, txn))
            self.changed.notify_all()
            return len(log) - 1

    def high_watermark(self, topic: str, partition: int) -> int:
        """The offset the next record will get."""
        with self.lock:
            return len(self.topics[topic][partition])

    def last_stable_offset(self, topic: str, partition: int) -> int:
        """The first offset of an open transaction, else the high watermark."""
        with self.lock:
            log = self.topics[topic][partition]
            for offset, rec in enumerate(log):
                if rec.txn is not None and rec.txn.state == "open":
                    return offset
            return len(log)

    def read(self, topic: str, partition: int, start: int, end: int,
             read_committed: bool) -> list[Message]:
        """Visible records of ``topic``-``partition`` in ``[start, end)`` as messages."""
        with self.lock:
            log = self.topics[topic][partition]
            return [Message(topic, partition, offset, log[offset].timestamp, log[offset].key,
                            log[offset].value, log[offset].headers)
                    for offset in range(start, min(end, len(log)))
                    if log[offset].visible(read_committed)]

    def records(self, topic: str, read_committed: bool = True) -> list[Message]:
        """Every visible record of ``topic``, partition by partition."""
        with self.lock:
            return [m for p in range(len(self.topics[topic]))
                    for m in self.read(topic, p, 0, self.high_watermark(topic, p),
                                       read_committed)]

    # ---- groups --------------------------------------------------------------------
    def group(self, group_id: str) -> Group:
        """The group ``group_id`` (created empty on first use)."""
        with self.lock:
            return self.groups.setdefault(group_id, Group(group_id))

    def rebalance(self, group: Group) -> None:
        """Start a rebalance: every member revokes and rejoins in its next ``consume()``."""
        with self.lock:
            group.preparing = True
            group.joined = set()
            for m in group.members:
                m.needs_rejoin = True
            self._maybe_complete(group)
            self.changed.notify_all()

    def rejoined(self, group: Group, member: Any) -> None:
        """``member`` has revoked and rejoined; the last one to do so completes the rebalance.
        A member rejoining a stable group starts a new rebalance, as a JoinGroup does."""
        with self.lock:
            if not group.preparing:
                self.rebalance(group)
                member.needs_rejoin = False
            group.joined.add(id(member))
            self._maybe_complete(group)

    def _maybe_complete(self, group: Group) -> None:
        """Once every member rejoined: a new generation, range-assigned (members in join
        order, per topic), each member to take its share in its next ``consume()``."""
        if not group.preparing or any(id(m) not in group.joined for m in group.members):
            return
        group.preparing = False
        group.generation += 1
        members = group.members
        assignment: dict[int, list[tuple[str, int]]] = {id(m): [] for m in members}
        for topic in sorted({t for m in members for t in m.subscription}):
            wanting = [m for m in members if topic in m.subscription]
            n = len(self.topics.get(topic, []))
            if not wanting or not n:
                continue
            per, extra = divmod(n, len(wanting))
            start = 0
            for i, m in enumerate(wanting):
                count = per + (1 if i < extra else 0)
                assignment[id(m)] += [(topic, p) for p in range(start, start + count)]
                start += count
        group.assignment = assignment
        for m in members:
            m.pending_generation = group.generation
        self.changed.notify_all()

    def expire(self, member: Any) -> None:
        """Play a session timeout: ``member`` leaves the group without revoking; it learns in
        its next ``consume()`` that its partitions are lost, then rejoins."""
        with self.lock:
            group = self.group(member.group_id)
            group.members.remove(member)
            member.expired = True
            self.rebalance(group)

    # ---- transactions --------------------------------------------------------------
    def init_transactions(self, transactional_id: str) -> int:
        """Bump the id's epoch (fencing older producers), abort its open transaction."""
        with self.lock:
            old = self.open_txns.pop(transactional_id, None)
            if old is not None:
                old.state = "aborted"
            self.epochs[transactional_id] += 1
            self.changed.notify_all()
            return self.epochs[transactional_id]

    def end_transaction(self, txn: Transaction, commit: bool) -> None:
        """Commit (records visible, offsets committed) or abort ``txn``."""
        with self.lock:
            if commit:
                for group_id, (_, offsets) in txn.offsets.items():
                    group = self.group(group_id)
                    for tp, (offset, metadata) in offsets.items():
                        group.offsets[tp] = offset
                        group.offset_metadata[tp] = metadata
            txn.state = "committed" if commit else "aborted"
            if self.open_txns.get(txn.transactional_id) is txn:
                del self.open_txns[txn.transactional_id]
            self.changed.notify_all()

    # ---- errors on demand ----------------------------------------------------------
    def fail_next(self, call: str, error: KafkaError, times: int = 1) -> None:
        """Make the next ``times`` calls named ``call`` (``"commit"``, ``"commit_transaction"``,
        ``"send_offsets_to_transaction"``, ``"committed"``, ...) raise ``error``."""
        with self.lock:
            self._failures[call] += [error] * times

    def check(self, call: str) -> None:
        """Raise the error queued for ``call``, if any."""
        with self.lock:
            queued = self._failures.get(call)
            if queued:
                raise KafkaException(queued.pop(0))

    def supplier(self) -> Any:
        """A ClientSupplier of clients on this cluster."""
        from fake_clients import FakeClientSupplier

        return FakeClientSupplier(self)
