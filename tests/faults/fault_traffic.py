"""Traffic of a fault scenario: the input feeder and the output monitor threads."""

from __future__ import annotations

import collections
import itertools
import struct
import threading
import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from rt_helpers import make_lines

from streams import serdes
from streams.testing import clients

#: Input rate: LINES_PER_BATCH lines (1-4 words each) every BATCH_INTERVAL seconds.
LINES_PER_BATCH = 20
BATCH_INTERVAL = 0.2

#: The word that makes the word-count app's splitter raise (``WORDCOUNT_POISON_WORD``).
POISON_WORD = "poison-pill"
#: Workers of poison-pill scenarios refuse records over this many bytes
#: (``producer.message.max.bytes``): a production poison pill is a longer word.
MAX_RECORD_BYTES = 2000
#: Kinds of poison pill: a value the String serde cannot decode; a line the splitter raises
#: on; a word whose repartition record (the word as key and value) the producer refuses.
PILL_KINDS = ("deserialization", "processing", "production")


def poison_pill(kind: str, index: int) -> bytes:
    """The value of a poison pill of ``kind``; unique per ``index``."""
    if kind == "deserialization":
        return b"\xff\xfe not UTF-8 " + str(index).encode()
    if kind == "processing":
        return f"before {POISON_WORD} after{index}".encode()
    if kind == "production":
        # small enough itself (and as a dead letter), but key + value in the repartition
        # topic are twice its size
        return f"huge{index}-{'x' * (MAX_RECORD_BYTES * 5 // 8)}".encode()
    raise ValueError(kind)


def _quiet() -> Any:
    return clients._quiet_logger()


def _long(raw: bytes | None) -> int | None:
    """A count from an output or changelog value (a changelog value may carry an 8-byte
    timestamp before the count)."""
    if raw is None or len(raw) not in (8, 16):
        return None
    return int(struct.unpack(">q", raw[-8:])[0])


class InputFeeder(threading.Thread):
    """Produces lines (``line-<i>`` -> 1-4 words) to ``topic`` until :meth:`finish`, with an
    idempotent ``acks=all`` producer, and counts the words of every acknowledged line."""

    def __init__(self, bootstrap: str, topic: str, seed: int, pills: tuple[str, ...] = (),
                 pill_every: int = 37) -> None:
        super().__init__(name="fault-input-feeder", daemon=True)
        self.topic = topic
        self.seed = seed
        #: kinds of poison pill to send, in turn, as every ``pill_every``-th line
        self.pills = pills
        self.pill_every = pill_every
        #: key -> kind of every poison pill sent, and of those acknowledged
        self.pill_keys: dict[str, str] = {}
        self.acked_pills: dict[str, str] = {}
        self.producer = Producer({
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            # a frozen leader must not hold the input back for long: retry elsewhere sooner
            "request.timeout.ms": 5000,
            "partitioner": "murmur2_random",
            "logger": _quiet(),
        })
        self.sent = 0
        self.acked_keys: set[str] = set()
        #: word counts of the acknowledged lines
        self.expected: collections.Counter[str] = collections.Counter()
        self.errors: list[str] = []
        self.failure: BaseException | None = None
        self._halt = threading.Event()

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(f"{msg.key()!r}: {err}")
            return
        key = msg.key().decode()
        self.acked_keys.add(key)
        if key in self.pill_keys:
            self.acked_pills[key] = self.pill_keys[key]
        else:
            self.expected.update(msg.value().decode().split())

    def run(self) -> None:
        """Produce a batch every :data:`BATCH_INTERVAL` seconds until halted."""
        try:
            batch = 0
            while not self._halt.is_set():
                lines, _ = make_lines(LINES_PER_BATCH, seed=self.seed * 1_000_003 + batch,
                                      start=batch * LINES_PER_BATCH)
                for key, line in lines:
                    value: str | bytes = line
                    n = int(key.rsplit("-", 1)[1])
                    if self.pills and n % self.pill_every == self.pill_every - 1:
                        kind = self.pills[(n // self.pill_every) % len(self.pills)]
                        self.pill_keys[key] = kind
                        value = poison_pill(kind, n)
                    while True:
                        try:
                            self.producer.produce(self.topic, key=key, value=value,
                                                  on_delivery=self._on_delivery)
                            break
                        except BufferError:
                            self.producer.poll(0.1)
                    self.sent += 1
                self.producer.poll(0)
                batch += 1
                self._halt.wait(BATCH_INTERVAL)
        except BaseException as exc:
            self.failure = exc

    def finish(self, timeout: float = 60.0) -> int:
        """Stop producing and wait for the outstanding acknowledgements; returns how many
        records are still unacknowledged (0 when all is well)."""
        self._halt.set()
        self.join(timeout)
        return int(self.producer.flush(timeout))


class OutputMonitor(threading.Thread):
    """Reads the output topic ``read_committed`` from the beginning, noting when each batch
    arrives and the latest count per word."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        super().__init__(name="fault-output-monitor", daemon=True)
        self.topic = topic
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": f"fault-monitor-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            # notice a dead or frozen leader quickly: the stall measured is the app's, not ours
            "socket.timeout.ms": 5000,
            "topic.metadata.refresh.interval.ms": 2000,
            "logger": _quiet(),
        })
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                              for p in range(partitions)])
        #: (monotonic arrival time, records) per non-empty consume
        self.batches: list[tuple[float, int]] = []
        self.latest: dict[str, int | None] = {}
        self.records = 0
        self.errors: list[str] = []
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        """Consume until halted."""
        string = serdes.String()
        try:
            while not self._halt.is_set():
                msgs = self.consumer.consume(num_messages=1000, timeout=0.2)
                now = time.monotonic()
                good = 0
                with self._lock:
                    for m in msgs:
                        if m.error() is not None:
                            self.errors.append(str(m.error()))
                            continue
                        word = string.deserialize(self.topic, m.key())
                        if word is not None:
                            self.latest[word] = _long(m.value())
                        good += 1
                    if good:
                        self.batches.append((now, good))
                        self.records += good
        finally:
            self.consumer.close()

    def snapshot(self) -> dict[str, int | None]:
        """A copy of the latest count per word seen so far."""
        with self._lock:
            return dict(self.latest)

    def last_arrival(self) -> float | None:
        """When the last batch arrived (monotonic), or None."""
        with self._lock:
            return self.batches[-1][0] if self.batches else None

    def longest_stall(self, end: float) -> tuple[float, float]:
        """(longest gap, its start) between consecutive arrivals from the first arrival to
        ``end``; a gap still open at ``end`` counts too."""
        with self._lock:
            times = [t for t, _ in self.batches]
        if not times:
            return 0.0, end
        points = [*times, end] if end > times[-1] else times
        best = (0.0, times[0])
        for a, b in itertools.pairwise(points):
            if b - a > best[0]:
                best = (b - a, a)
        return best

    def stop(self) -> None:
        """Stop reading (the consumer is closed by the thread)."""
        self._halt.set()
        self.join(15)
