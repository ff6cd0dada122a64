"""examples/windowed_count.py end to end: worker processes on the broker, then a restore.

The workers run ``python -m streams.cli.main run examples.windowed_count:app`` with the
example's topics pointed at this test's own topics (``WINDOWED_COUNT_INPUT`` and
``WINDOWED_COUNT_OUTPUT``) and a unique application id.

1. Two workers share the four tasks; page views with explicit timestamps spread over several
   one-minute windows (in order, out of order within the 10 s grace, and too late) must give
   exactly the counts computed here in plain Python, update by update (the record cache is
   off: with it, updates between commits are folded; test_record_cache_e2e covers that).
2. One worker counts some views and commits them, is killed with SIGKILL, and a new worker with
   an empty state directory restores the window store from its ``compact,delete`` changelog;
   more views into the same, still open windows must then add to the restored counts.
"""

from __future__ import annotations

import contextlib
import random
import signal
import sys
import time
from pathlib import Path

import pytest
from rt_helpers import (
    NO_CACHE,
    REPO,
    Worker,
    app_id_for,
    assert_clean_shutdown,
    committed,
    delete_internal_topics,
    dump_logs,
    stable_assignment,
    start_example_worker,
    stop_workers,
    wait_for,
)

from streams import serdes
from streams.testing import clients
from streams.testing.clients import DeliveredRecord, ProducerRecord

if str(REPO) not in sys.path:  # examples/ lives at the repository root, next to streams/
    sys.path.insert(0, str(REPO))
from examples import windowed_count

pytestmark = pytest.mark.integration

PARTITIONS = 4
#: one sub-topology (no repartitioning: the count groups by the input key)
ALL_TASKS = {f"0_{p}" for p in range(PARTITIONS)}
MINUTE, GRACE = windowed_count.WINDOW_MS, windowed_count.GRACE_MS
KEY_SERDE = serdes.TimeWindowedSerde(serdes.String(), MINUTE)
S = serdes.String()

#: (user, window start)
WindowKey = tuple[str, int]
#: (user, timestamp) of one page view, in the order it is produced to its partition
View = tuple[str, int]


def start_worker(name: str, app_id: str, bootstrap: str, topics: dict[str, str],
                 tmp_path: Path, state_dir: Path | None = None) -> Worker:
    """One ``streams run examples.windowed_count:app`` process, logging to a file."""
    return start_example_worker(
        name, "examples.windowed_count:app", app_id, bootstrap, tmp_path,
        {"WINDOWED_COUNT_INPUT": topics["input"], "WINDOWED_COUNT_OUTPUT": topics["output"]},
        state_dir, NO_CACHE)


def processes_of(app_id: str) -> list[int]:
    """Pids of live processes whose command line names ``app_id`` (stray workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
            if app_id.encode() in cmdline and ") Z" not in stat:
                pids.append(int(entry.name))
    return pids


def end_offsets(delivered: list[DeliveredRecord]) -> dict[int, int]:
    ends = {p: 0 for p in range(PARTITIONS)}
    for d in delivered:
        ends[d.partition] = max(ends[d.partition], d.offset + 1)
    return ends


def topic_end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{topic}",
                  "enable.auto.commit": False, "logger": clients._quiet_logger()})
    try:
        parts = clients.topic_partitions(bootstrap, topic)
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10,
                                           cached=False)[1] for p in parts}
    finally:
        c.close()


def produce_views(bootstrap: str, topic: str, by_partition: dict[int, list[View]],
                  rng: random.Random) -> list[DeliveredRecord]:
    """Produce each partition's views to that partition, in list order (the partitions'
    sequences are interleaved at random: only the order within a partition matters)."""
    queues = {p: list(views) for p, views in by_partition.items()}
    records = []
    while any(queues.values()):
        p = rng.choice([p for p, q in queues.items() if q])
        user, ts = queues[p].pop(0)
        records.append(ProducerRecord(user, f"/page/{ts % 7}", partition=p, timestamp=ts))
    delivered = clients.produce(bootstrap, topic, records)
    for rec, d in zip(records, delivered, strict=True):
        assert d.partition == rec.partition
    return delivered


def expected_updates(by_partition: dict[int, list[View]],
                     counts: dict[WindowKey, tuple[int, int]] | None = None,
                     ) -> tuple[dict[WindowKey, list[tuple[int, int]]], int, int]:
    """Every (count, timestamp) update the app should emit per (user, window start), how many
    views are dropped as too late and how many are accepted although out of order.

    Written from the definition, not from the processor. A view at ``ts`` falls in the minute
    starting at ``ts - ts % 60 000`` (windows are aligned to the epoch). It is dropped when that
    window's end + grace <= the stream time of its task, the largest timestamp the task has seen
    so far, this view included. Stream time is per task, i.e. per input partition (the count
    needs no repartitioning: one task per partition of the input topic), and a task sees its
    partition's records in offset order: so the expectation is computed partition by partition,
    in the order the views were produced to it. ``counts`` continues from earlier counts
    ((count, timestamp) per key), e.g. restored ones."""
    state = dict(counts or {})
    updates: dict[WindowKey, list[tuple[int, int]]] = {}
    late = out_of_order = 0
    for views in by_partition.values():
        stream_time = -1
        for user, ts in views:
            stream_time = max(stream_time, ts)
            start = ts - ts % MINUTE
            if start + MINUTE + GRACE <= stream_time:
                late += 1
                continue
            if ts < stream_time:
                out_of_order += 1
            count, latest = state.get((user, start), (0, ts))
            state[(user, start)] = (count + 1, max(latest, ts))
            updates.setdefault((user, start), []).append(state[(user, start)])
    return updates, late, out_of_order


def read_updates(bootstrap: str, topic: str) -> dict[WindowKey, list[tuple[int, int]]]:
    """Every (count, timestamp) in ``topic`` per (user, window start), in offset order."""
    out: dict[WindowKey, list[tuple[int, int]]] = {}
    records = clients.consume_all(bootstrap, topic, key_serde=KEY_SERDE, value_serde=serdes.Long())
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        window = r.key.window
        assert window.end - window.start == MINUTE, r
        out.setdefault((r.key.key, window.start), []).append((r.value, r.timestamp))
    return out


def latest_counts(updates: dict[WindowKey, list[tuple[int, int]]]) -> dict[WindowKey, int]:
    return {k: v[-1][0] for k, v in updates.items()}


def wait_counts(bootstrap: str, topic: str, expected: dict[WindowKey, int], timeout: float,
                ) -> dict[WindowKey, list[tuple[int, int]]]:
    """Wait until the latest count per (user, window) in ``topic`` equals ``expected``."""
    got: dict[WindowKey, list[tuple[int, int]]] = {}

    def ready() -> bool:
        nonlocal got
        got = read_updates(bootstrap, topic)
        return latest_counts(got) == expected

    try:
        wait_for(ready, timeout, f"{len(expected)} windowed counts", interval=0.5)
    except AssertionError:
        latest = latest_counts(got)
        diff = {k: (latest.get(k), expected.get(k)) for k in set(latest) | set(expected)
                if latest.get(k) != expected.get(k)}
        raise AssertionError(f"(got, expected) per (user, window start): {diff}") from None
    return got


def partition_views(rng: random.Random, users: list[str], base: int) -> list[View]:
    """About four minutes of views of ``users``: mostly in order, some up to 25 s late (so some
    within the grace, some beyond it), plus exact boundary probes of the grace period."""
    views: list[View] = []
    clock = base

    def walk(n: int) -> None:
        nonlocal clock
        for _ in range(n):
            clock += rng.randint(0, 5_000)
            lag = rng.choice([0, 0, 0, 0, rng.randint(0, 25_000)])
            views.append((rng.choice(users), max(base, clock - lag)))

    walk(35)
    # boundary probes around the end e of the current minute ([e - MINUTE, e) is open while
    # the stream time is < e + GRACE):
    e = clock - clock % MINUTE + MINUTE
    u = rng.choice(users)
    views += [
        (u, e + GRACE - 1),  # stream time e + GRACE - 1
        (u, e - 1),          # [e - MINUTE, e) still open by 1 ms: counted
        (u, e + GRACE),      # stream time e + GRACE: [e - MINUTE, e) is closed now
        (u, e - 1),          # dropped: end + grace == stream time
        (u, e),              # the next minute, out of order but open: counted
    ]
    clock = e + GRACE
    walk(35)
    return views


@pytest.mark.timeout(240)
def test_windowed_count_with_two_worker_processes(topic_factory, kafka_bootstrap, tmp_path,
                                                  request):
    topics = {"input": topic_factory("page-views", partitions=PARTITIONS),
              "output": topic_factory("views-per-minute", partitions=PARTITIONS)}
    app_id = app_id_for(request)
    rng = random.Random(23)
    now = int(time.time() * 1000)
    base = now - now % MINUTE - 30 * MINUTE  # a minute boundary, well within every retention
    # three users per partition; all views of a user go to the user's partition
    by_partition = {p: partition_views(rng, [f"user-{p}-{i}" for i in range(3)], base)
                    for p in range(PARTITIONS)}
    want, late, out_of_order = expected_updates(by_partition)
    expected = latest_counts(want)
    windows = {start for _, start in expected}
    assert late >= PARTITIONS and out_of_order >= 2 * PARTITIONS and len(windows) >= 4, (
        late, out_of_order, windows)  # the data exercises every path

    workers: list[Worker] = []
    try:
        workers = [start_worker(name, app_id, kafka_bootstrap, topics, tmp_path)
                   for name in ("w1", "w2")]
        shares = wait_for(lambda: stable_assignment(workers, ALL_TASKS), 120,
                          "two workers to split the four tasks")
        assert sorted(len(s) for s in shares.values()) == [2, 2], shares

        produce_views(kafka_bootstrap, topics["input"], by_partition, rng)
        wait_counts(kafka_bootstrap, topics["output"], expected, 120)
        time.sleep(2.0)  # anything beyond the expected updates would show up by now
        got = read_updates(kafka_bootstrap, topics["output"])
        assert latest_counts(got) == expected
        # no caching, a stable group: every accepted view is one update, none is repeated,
        # stamped with the latest timestamp of its window so far
        assert got == want, {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
        accepted = sum(len(v) for v in by_partition.values()) - late
        assert sum(len(v) for v in got.values()) == accepted

        assert_clean_shutdown(workers)
    except BaseException:
        dump_logs(workers)
        raise
    finally:
        stop_workers(workers)
        delete_internal_topics(kafka_bootstrap, app_id)
    assert all(w.proc.poll() is not None for w in workers)
    assert processes_of(app_id) == []  # no stray worker process


def phase_views(rng: random.Random, users: list[str], base: int, n: int, last: int) -> list[View]:
    """One view of each user in each of the minutes from ``base`` to ``last``, then ``n``
    views of ``users`` at random times in [base, last), then one at ``last``, shuffled but for
    the last (so that it sets the stream time)."""
    starts = range(base, last + 1, MINUTE)
    views = [(u, rng.randrange(s, min(s + MINUTE, last))) for u in users for s in starts]
    views += [(rng.choice(users), rng.randrange(base, last)) for _ in range(n)]
    rng.shuffle(views)
    return [*views, (rng.choice(users), last)]


@pytest.mark.timeout(240)
def test_window_store_is_restored_from_its_changelog_after_kill_9(topic_factory, kafka_bootstrap,
                                                                  tmp_path, request):
    topics = {"input": topic_factory("page-views", partitions=PARTITIONS),
              "output": topic_factory("views-per-minute", partitions=PARTITIONS)}
    app_id = app_id_for(request)
    changelog = f"{app_id}-{windowed_count.STORE_NAME}-changelog"
    rng = random.Random(5)
    now = int(time.time() * 1000)
    base = now - now % MINUTE - 30 * MINUTE
    users = {p: [f"user-{p}-{i}" for i in range(3)] for p in range(PARTITIONS)}
    # Both phases stay in the minutes [base, base + 1 min) and [base + 1 min, base + 2 min),
    # with stream times up to base + 65 s (phase 1) and base + 68 s (phase 2): < base + 70 s,
    # where the first minute closes. No view is late, whether the restarted task's stream time
    # starts from scratch (as in Kafka Streams: the processor's observed time is not restored)
    # or not, so the expected counts do not depend on it.
    phase1 = {p: phase_views(rng, users[p], base, 40, base + 65_000) for p in range(PARTITIONS)}
    phase2 = {p: phase_views(rng, users[p], base, 30, base + 68_000) for p in range(PARTITIONS)}
    want1, late1, _ = expected_updates(phase1)
    restored_counts = {k: v[-1] for k, v in want1.items()}
    want2, late2, _ = expected_updates(phase2, restored_counts)
    assert late1 == late2 == 0
    expected1 = latest_counts(want1)
    expected = {**expected1, **latest_counts(want2)}
    assert {start for _, start in expected} == {base, base + MINUTE}
    assert set(latest_counts(want2)) <= set(expected1)  # phase 2 adds to the same windows

    workers: list[Worker] = []
    try:
        first = start_worker("first", app_id, kafka_bootstrap, topics, tmp_path)
        workers.append(first)
        wait_for(lambda: stable_assignment([first], ALL_TASKS), 120, "the worker to run")
        delivered = produce_views(kafka_bootstrap, topics["input"], phase1, rng)
        wait_counts(kafka_bootstrap, topics["output"], expected1, 120)
        # Once the group has committed the end of the input, everything before it is in the
        # changelog (a commit flushes the producer first): nothing is counted twice after
        # the kill, so the final counts can be checked exactly.
        wait_for(lambda: committed(kafka_bootstrap, app_id, topics["input"],
                                   end_offsets(delivered)), 60,
                 "the worker to commit the end of the input", interval=0.3)
        changelog_size = sum(topic_end_offsets(kafka_bootstrap, changelog).values())
        accepted1 = sum(len(v) for v in phase1.values())
        assert changelog_size == accepted1  # one changelog record per count update

        first.kill()  # SIGKILL: no final commit, no checkpoint, no leave-group
        assert first.proc.returncode == -signal.SIGKILL

        second = start_worker("second", app_id, kafka_bootstrap, topics, tmp_path,
                              state_dir=tmp_path / "empty-state")
        workers.append(second)
        wait_for(lambda: stable_assignment([second], ALL_TASKS), 120,
                 "the new worker to restore and run every task")
        restored = second.restored()
        assert set(restored) == ALL_TASKS, restored
        assert sum(restored.values()) == changelog_size, restored

        produce_views(kafka_bootstrap, topics["input"], phase2, rng)
        wait_counts(kafka_bootstrap, topics["output"], expected, 120)
        time.sleep(2.0)
        got = read_updates(kafka_bootstrap, topics["output"])
        assert latest_counts(got) == expected
        # phase 1's updates, then phase 2's continuing from the restored counts, nothing twice
        full = {k: want1.get(k, []) + want2.get(k, []) for k in expected}
        assert got == full, {k: (got.get(k), v) for k, v in full.items() if got.get(k) != v}

        # the window store's changelog: compact,delete, kept a day beyond the store's retention
        from confluent_kafka.admin import ConfigResource

        admin = clients.admin_client(kafka_bootstrap)
        resource = ConfigResource(ConfigResource.Type.TOPIC, changelog)
        configs = admin.describe_configs([resource])[resource].result(10)
        assert configs["cleanup.policy"].value == "compact,delete"
        assert int(configs["retention.ms"].value) == MINUTE + GRACE + 24 * 3600 * 1000

        assert second.terminate(40) == 0, second.text()[-3000:]
        assert "received SIGTERM: shutting down" in second.text()
    except BaseException:
        dump_logs(workers)
        raise
    finally:
        stop_workers(workers)
        delete_internal_topics(kafka_bootstrap, app_id)
    assert all(w.proc.poll() is not None for w in workers)
    assert processes_of(app_id) == []  # no stray worker process
