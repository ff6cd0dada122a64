"""Crashes and restarts: state comes back from the changelog, checkpoints limit what is read.

(a) ``kill -9`` of a worker mid-stream, and a replacement with an empty state directory:
    nothing is lost; at-least-once may count again what the dead worker processed after its
    last commit, and the test bounds that explicitly from the committed offsets.
(b) a clean close writes checkpoints: a restart restores only the changelog tail written
    since, while a fresh state directory restores the whole changelog.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid

import pytest
from rt_helpers import committed_and_ends, make_lines, stable_assignment, wait_for
from wordcount_app import build_topology

from streams import serdes
from streams.testing import clients

pytestmark = pytest.mark.integration

PARTITIONS = 4
ALL_TASKS = {f"{s}_{p}" for s in (0, 1) for p in range(PARTITIONS)}


def _offsets(bootstrap: str, group: str, topic: str, partitions: int) -> tuple[list[int], list[int]]:
    return committed_and_ends(bootstrap, group, topic, partitions)


def _changelog_size(bootstrap: str, topic: str, partitions: int) -> int:
    _, ends = _offsets(bootstrap, f"probe-{uuid.uuid4().hex}", topic, partitions)
    return sum(ends)


@pytest.mark.timeout(180)
def test_kill_9_and_restore_into_an_empty_state_dir(worker_factory, topic_factory,
                                                    kafka_bootstrap, tmp_path):
    lines_topic = topic_factory("lines", partitions=PARTITIONS)
    counts_topic = topic_factory("counts", partitions=2)
    app_id = worker_factory.app_id
    repartition = f"{app_id}-counts-repartition"
    a = worker_factory("a", lines_topic, counts_topic)
    b = worker_factory("b", lines_topic, counts_topic)
    wait_for(lambda: stable_assignment([a, b], ALL_TASKS), 90, "two workers to share the tasks")

    expected: collections.Counter[str] = collections.Counter()
    words_at: dict[tuple[int, int], int] = {}  # (partition, offset) of each line -> its words
    errors: list[BaseException] = []
    done = threading.Event()

    def produce() -> None:
        try:
            for batch in range(40):
                lines, counts = make_lines(50, seed=batch, start=batch * 50)
                delivered = clients.produce(kafka_bootstrap, lines_topic, lines)
                for (_, line), rec in zip(lines, delivered, strict=True):
                    words_at[(rec.partition, rec.offset)] = len(line.split())
                expected.update(counts)
                time.sleep(0.1)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    producer = threading.Thread(target=produce, name="test-producer")
    producer.start()
    wait_for(lambda: sum(_offsets(kafka_bootstrap, app_id, lines_topic, PARTITIONS)[0]) > 0
             and len(words_at) > 400, 60, "some input to be processed and committed")
    b.kill()
    # Upper bound of what may be counted twice: whatever lay beyond the group's committed
    # offsets when b died (b's partitions stay uncommitted until b's session expires and the
    # others take over, >= 6 s later; a's partitions are included too, which only loosens it).
    # Each input line re-read adds its words to the repartition topic again, and each
    # repartition record re-read is counted again (on top of the changelogged count).
    in_committed, in_ends = _offsets(kafka_bootstrap, app_id, lines_topic, PARTITIONS)
    rp_committed, rp_ends = _offsets(kafka_bootstrap, app_id, repartition, PARTITIONS)
    c = worker_factory("c", lines_topic, counts_topic, state_dir=tmp_path / "empty-state")

    after = wait_for(lambda: stable_assignment([a, c], ALL_TASKS), 90,
                     "a and the new worker c to own every task")
    producer.join(60)
    assert done.is_set() and not errors, errors
    input_words = sum(n for (p, off), n in words_at.items()
                      if in_committed[p] <= off < in_ends[p])
    repartition_records = sum(max(0, e - s) for s, e in zip(rp_committed, rp_ends, strict=True))
    bound = input_words + repartition_records

    def caught_up() -> bool:
        for topic in (lines_topic, repartition):
            committed, ends = _offsets(kafka_bootstrap, app_id, topic, PARTITIONS)
            if committed != ends:
                return False
        return True

    wait_for(caught_up, 60, "every input and repartition record to be processed and committed",
             interval=0.5)
    time.sleep(0.5)
    latest = {r.key: r.value for r in clients.consume_all(
        kafka_bootstrap, counts_topic, key_serde=serdes.String(), value_serde=serdes.Long())}
    lost = {w: (latest.get(w), n) for w, n in expected.items() if latest.get(w, 0) < n}
    assert not lost, f"counts lost after kill -9: (got, expected) {lost}"
    over = sum(latest.values()) - sum(expected.values())
    print(f"over-count {over} <= bound {bound} = {input_words} words of uncommitted input + "
          f"{repartition_records} uncommitted repartition records at the kill")
    assert 0 <= over <= bound, (over, bound)
    # c started empty: its stateful tasks came back from the changelog
    restored = c.restored()
    assert any(t.startswith("1_") for t in after["c"]), after
    assert restored and all(t in after["c"] for t in restored), restored
    assert sum(restored.values()) > 0


class _Listener:
    def __init__(self) -> None:
        self.starts: list[tuple[str, int, int, int]] = []
        self.restored = 0

    def on_restore_start(self, topic, partition, store, start, end):
        self.starts.append((topic, partition, start, end))

    def on_batch_restored(self, topic, partition, store, batch_end_offset, num_restored):
        pass

    def on_restore_end(self, topic, partition, store, total_restored):
        self.restored += total_restored


@pytest.mark.timeout(150)
def test_checkpoint_restores_only_the_tail(app_factory, topic_factory, kafka_bootstrap,
                                           tmp_path):
    lines_topic = topic_factory("lines", partitions=2)
    counts_topic = topic_factory("counts", partitions=2)
    changelog = f"{app_factory.app_id}-counts-changelog"
    kept_dir, other_dir = tmp_path / "kept", tmp_path / "other"

    def run(state_dir, lines, expected_counts):
        app = app_factory(build_topology(lines_topic, counts_topic), state_dir=state_dir)
        listener = _Listener()
        app.set_global_state_restore_listener(listener)
        app.start()
        app.wait_until_running(60)
        restored = app.restored_records()  # restoration finishes before RUNNING
        clients.produce(kafka_bootstrap, lines_topic, lines)
        wait_for(lambda: dict(app.store("counts").all()) == dict(expected_counts), 60,
                 "the store to hold every count")
        assert app.close(30)
        assert listener.restored == restored
        return restored, listener

    lines1, expected = make_lines(400, seed=1)
    restored, _ = run(kept_dir, lines1, expected)
    assert restored == 0  # a new application has an empty changelog
    size1 = _changelog_size(kafka_bootstrap, changelog, 2)
    assert size1 > 0
    assert list((kept_dir / app_factory.app_id).glob("1_*/.checkpoint"))

    # a fresh state directory restores the whole changelog, then the app adds to it
    lines2, more = make_lines(300, seed=2, start=400)
    expected.update(more)
    restored, _ = run(other_dir, lines2, expected)
    assert restored == size1
    size2 = _changelog_size(kafka_bootstrap, changelog, 2)
    assert size2 > size1

    # back to the first directory: its checkpoints say where it left off; only the tail is read
    lines3, more = make_lines(100, seed=3, start=700)
    expected.update(more)
    restored, listener = run(kept_dir, lines3, expected)
    assert restored == size2 - size1 < size2
    assert listener.starts and all(start > 0 for _, _, start, _ in listener.starts), listener.starts


@pytest.mark.timeout(120)
def test_stale_local_state_after_a_reset_is_wiped(app_factory, topic_factory, kafka_bootstrap,
                                                  tmp_path):
    """After an application reset (internal topics and committed offsets deleted), local state
    with checkpoints past the (new, empty) changelog is stale: it must be wiped, not counted on."""
    lines_topic = topic_factory("lines", partitions=2)
    counts_topic = topic_factory("counts", partitions=2)
    app_id = app_factory.app_id
    state_dir = tmp_path / "state"
    lines, expected = make_lines(300, seed=7)
    clients.produce(kafka_bootstrap, lines_topic, lines)

    app = app_factory(build_topology(lines_topic, counts_topic), state_dir=state_dir)
    app.start()
    wait_for(lambda: app.state.value == "RUNNING" and dict(app.store("counts").all())
             == dict(expected), 60, "the first run to count everything")
    assert app.close(30)

    # what `streams reset` does: drop the internal topics and the group's committed offsets
    admin = clients.admin_client(kafka_bootstrap)
    internal = [t for t in admin.list_topics(timeout=10).topics if t.startswith(f"{app_id}-")]
    for fut in admin.delete_topics(internal, operation_timeout=10).values():
        fut.result(10)
    for fut in admin.delete_consumer_groups([app_id], request_timeout=10).values():
        fut.result(10)
    wait_for(lambda: not any(t.startswith(f"{app_id}-")
                             for t in admin.list_topics(timeout=10).topics), 30,
             "the internal topics to be gone")

    again = app_factory(build_topology(lines_topic, counts_topic), state_dir=state_dir)
    again.start()
    wait_for(lambda: again.state.value == "RUNNING", 60, "the restarted app to run")
    repartition = f"{app_id}-counts-repartition"
    wait_for(lambda: all(c == e for t in (lines_topic, repartition)
                         for c, e in zip(*_offsets(kafka_bootstrap, app_id, t, 2), strict=True)),
             60, "the input to be reprocessed and committed", interval=0.3)
    # stale local state counted on would give twice the counts
    assert dict(again.store("counts").all()) == dict(expected)
