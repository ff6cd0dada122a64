"""Exactly-once survives ``kill -9``: nothing lost, nothing counted twice.

Two ``processing.guarantee=exactly_once_v2`` workers share the word count while lines arrive.
One of them (b, committing only every few seconds) is killed halfway between two commits, so
its open transaction holds work in flight: repartition records and, without the record cache,
changelog and output records too; the broker aborts it when it times out. A replacement starts
with an empty state directory and the input goes on. Read ``read_committed``:

* the repartition topic holds every input word exactly once (the stateless sub-topology
  neither lost nor re-sent any of the dead worker's records);
* per word, the output counts and the changelog counts only ever go up, and the last one is
  the true count. A replay of uncommitted work would show a count repeated or going down; an
  over-count would end above the true count. Without the record cache every update is
  written, so the sequence must be exactly 1, 2, ..., n.

A ``read_uncommitted`` reader of the same topics serves as the control: it sees the aborted
writes, and the same checks flag them. With ``processing.guarantee=at_least_once`` the run
over-counts and fails (``test_crash_restore`` bounds that case instead).
"""

from __future__ import annotations

import collections
import itertools
import struct
import threading
import time
from typing import Any

import pytest
from rt_helpers import committed_and_ends, make_lines, stable_assignment, wait_for

from streams import serdes
from streams.testing import clients

pytestmark = pytest.mark.integration

PARTITIONS = 4
OUTPUT_PARTITIONS = 2
ALL_TASKS = {f"{s}_{p}" for s in (0, 1) for p in range(PARTITIONS)}
BATCHES, BATCH_LINES = 25, 80
B_COMMIT_MS = 3000
# the runtime's producer.transaction.timeout.ms under exactly-once is 10 s (as Kafka Streams):
# the dead worker's open transaction blocks read_committed readers until the broker aborts it
EOS = ("-s", "processing.guarantee=exactly_once_v2")
READ_COMMITTED = {"isolation.level": "read_committed"}
READ_UNCOMMITTED = {"isolation.level": "read_uncommitted"}


def _committed_and_ends(bootstrap: str, group: str, topic: str) -> tuple[list[int], list[int]]:
    return committed_and_ends(bootstrap, group, topic, PARTITIONS)


def _long(raw: bytes | None) -> int | None:
    """A count from an output or changelog value (a changelog value may carry an 8-byte
    timestamp before the count)."""
    if raw is None:
        return None
    assert len(raw) in (8, 16), raw
    return int(struct.unpack(">q", raw[-8:])[0])


def _read(bootstrap: str, topic: str, isolation: dict[str, str], timeout: float = 30.0
          ) -> list[clients.ConsumedRecord]:
    records = clients.consume_all(bootstrap, topic, timeout, key_serde=serdes.String(),
                                  config=isolation)
    return sorted(records, key=lambda r: (r.partition, r.offset))


def _per_key(records: list[clients.ConsumedRecord]) -> dict[str, list[int | None]]:
    """Values per key in offset order (a key must stay in one partition)."""
    out: dict[str, list[int | None]] = collections.defaultdict(list)
    where: dict[str, int] = {}
    for r in records:
        assert where.setdefault(r.key, r.partition) == r.partition, (r.key, r.partition, where)
        out[r.key].append(_long(r.value))
    return dict(out)


def _down_steps(seq: list[int | None]) -> list[tuple[int, int | None, int | None]]:
    """(index, value, next value) wherever a count repeats, goes down or is missing."""
    return [(i, a, b) for i, (a, b) in enumerate(itertools.pairwise(seq))
            if a is None or b is None or a >= b]


def _bad_sequences(seqs: dict[str, list[int | None]], expected: collections.Counter[str],
                   exact: bool) -> dict[str, Any]:
    """Words whose counts are not strictly increasing up to the true count (or, ``exact``,
    not 1..n), with a short view of where they go wrong."""
    bad: dict[str, Any] = {}
    for word in set(seqs) | set(expected):
        seq = seqs.get(word, [])
        n = expected.get(word, 0)
        steps = _down_steps(seq)
        if exact:
            ok = seq == list(range(1, n + 1))
        else:
            ok = bool(seq) and seq[-1] == n and seq[0] is not None and not steps
        if not ok:
            bad[word] = {"expected": n, "records": len(seq), "first": seq[:3],
                         "last": seq[-1] if seq else None, "non-increasing steps": steps[:5]}
    return bad


@pytest.mark.timeout(240)
@pytest.mark.parametrize("cache", [True, False], ids=["cache", "no-cache"])
def test_kill_9_under_exactly_once(cache, worker_factory, topic_factory, kafka_bootstrap,
                                   tmp_path):
    lines_topic = topic_factory("lines", partitions=PARTITIONS)
    counts_topic = topic_factory("counts", partitions=OUTPUT_PARTITIONS)
    app_id = worker_factory.app_id
    repartition = f"{app_id}-counts-repartition"
    changelog = f"{app_id}-counts-changelog"
    extra = EOS if cache else (*EOS, "-s", "statestore.cache.max.bytes=0")
    started = time.monotonic()
    a = worker_factory("a", lines_topic, counts_topic, extra=extra)
    # b commits seldom, so that it is killed with a transaction full of work in flight
    b = worker_factory("b", lines_topic, counts_topic,
                       extra=(*extra, "-s", f"commit.interval.ms={B_COMMIT_MS}"))
    before = wait_for(lambda: stable_assignment([a, b], ALL_TASKS), 90,
                      "two workers to share the tasks")
    b_inputs = sorted(int(t[2:]) for t in before["b"] if t.startswith("0_"))
    assert b_inputs, before

    expected: collections.Counter[str] = collections.Counter()
    produced = [0]
    errors: list[BaseException] = []
    done = threading.Event()

    def produce() -> None:
        try:
            for batch in range(BATCHES):
                lines, counts = make_lines(BATCH_LINES, seed=batch, start=batch * BATCH_LINES)
                clients.produce(kafka_bootstrap, lines_topic, lines)
                expected.update(counts)
                produced[0] += len(lines)
                time.sleep(0.1)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    producer = threading.Thread(target=produce, name="test-producer")
    producer.start()

    def b_committed() -> list[int] | None:
        committed, _ = _committed_and_ends(kafka_bootstrap, app_id, lines_topic)
        return [committed[p] for p in b_inputs] if all(committed[p] for p in b_inputs) else None

    # b's second commit with input (the first may come before its count tasks had anything
    # committed to read); kill it halfway to its next one, while producing goes on
    first_commit = wait_for(b_committed, 60, "b to process and commit some of its input",
                            interval=0.1)
    wait_for(lambda: (now := b_committed()) != first_commit and now, 30,
             "b to commit a second time", interval=0.1)
    time.sleep(B_COMMIT_MS / 2000)
    committed_at_kill, ends_at_kill = _committed_and_ends(kafka_bootstrap, app_id, lines_topic)
    b.kill()
    at_kill = produced[0]
    killed_at = time.monotonic()
    assert not done.is_set() and 0 < at_kill < BATCHES * BATCH_LINES, at_kill
    in_flight = sum(ends_at_kill[p] - committed_at_kill[p] for p in b_inputs)
    print(f"\nb killed after {at_kill} lines; its input: committed {first_commit} -> "
          f"{[committed_at_kill[p] for p in b_inputs]}, {in_flight} lines beyond")
    c = worker_factory("c", lines_topic, counts_topic, state_dir=tmp_path / "empty-state",
                       extra=extra)
    after = wait_for(lambda: stable_assignment([a, c], ALL_TASKS), 90,
                     "a and the new worker c to own every task")
    producer.join(60)
    assert done.is_set() and not errors, errors
    total_words = sum(expected.values())

    # Settled: all input committed and the committed output holds the true counts. An
    # over-count cannot heal, so stop waiting as soon as one shows. While the dead worker's
    # transaction is open, read_committed reads stop short of the end: try again.
    def settled() -> list[clients.ConsumedRecord] | None:
        committed, ends = _committed_and_ends(kafka_bootstrap, app_id, lines_topic)
        if committed != ends:
            return None
        try:
            out = _read(kafka_bootstrap, counts_topic, READ_COMMITTED, timeout=5)
        except TimeoutError:
            return None
        latest = {r.key: _long(r.value) for r in out}
        if latest == dict(expected) or any(latest.get(w, 0) > n for w, n in expected.items()):
            return out
        return None

    try:
        out = wait_for(settled, 90, "every line to be processed and its counts committed",
                       interval=0.5)
    except AssertionError as exc:  # never settled: read what is there, for the diff below
        print(exc)
        out = _read(kafka_bootstrap, counts_topic, READ_COMMITTED)
    settled_after = time.monotonic() - killed_at

    # (a) the final committed count per word is the true count
    latest = {r.key: _long(r.value) for r in out}
    wrong = {w: (latest.get(w), expected.get(w)) for w in set(latest) | set(expected)
             if latest.get(w) != expected.get(w)}
    assert not wrong, f"final committed counts (got, expected) after kill -9: {wrong}"

    # (b) per word the committed counts only go up (no replayed or doubled update), ending at
    # the true count; without the cache every single update is there, once
    out_seqs = _per_key(out)
    bad = _bad_sequences(out_seqs, expected, exact=not cache)
    assert not bad, f"output {counts_topic}: committed count sequences broken: {bad}"

    # (c) the changelog the replacement restored from says the same
    log_records = _read(kafka_bootstrap, changelog, READ_COMMITTED)
    log_seqs = _per_key(log_records)
    bad = _bad_sequences(log_seqs, expected, exact=not cache)
    assert not bad, f"changelog {changelog}: committed count sequences broken: {bad}"

    # (d) every input word went through the repartition topic exactly once
    words = collections.Counter(r.key for r in _read(kafka_bootstrap, repartition,
                                                     READ_COMMITTED))
    assert words == expected, {w: (words.get(w), n) for w, n in expected.items()
                               if words.get(w) != n}

    # control: what a read_uncommitted reader sees, aborted writes of the dead worker included
    # (there may be none: the kill may fall between a commit and the next write). The checks
    # above, run on that view, flag the words the aborted writes touched.
    control = {}
    for name, topic, committed_records in ((counts_topic, counts_topic, out),
                                           ("changelog", changelog, log_records),
                                           ("repartition", repartition, None)):
        raw = _read(kafka_bootstrap, topic, READ_UNCOMMITTED)
        n_committed = sum(words.values()) if committed_records is None else len(committed_records)
        assert n_committed <= len(raw), (name, n_committed, len(raw))
        flagged = (None if committed_records is None
                   else len(_bad_sequences(_per_key(raw), expected, exact=not cache)))
        control[name] = (n_committed, len(raw), flagged)
    print(f"cache={cache}: {total_words} words in {BATCHES * BATCH_LINES} lines; "
          f"settled {settled_after:.1f}s after the kill, "
          f"{time.monotonic() - started:.1f}s in all")
    for name, (n_committed, n_raw, flagged) in control.items():
        print(f"  {name}: {n_committed} records read_committed, {n_raw} read_uncommitted"
              + ("" if flagged is None else
                 f"; read_uncommitted, the sequence check would flag {flagged} word(s)"))

    # the replacement started empty: its count tasks came back from the changelog
    assert any(t.startswith("1_") for t in after["c"]), after
    restored = c.restored()
    assert restored and all(t in after["c"] for t in restored), restored
    assert sum(restored.values()) > 0
