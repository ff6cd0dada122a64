"""Poison pills under exactly-once, on the three-node cluster (issue #16).

Three kinds of bad record reach the word-count workers (see ``fault_traffic.poison_pill``):
a value the String serde cannot decode (deserialization), a line the splitter raises on
(processing), and a word whose repartition record the producer refuses as too large
(production, ``producer.message.max.bytes``).

1. **Skipping handlers** (``log_and_continue`` for deserialization and processing,
   ``continue`` for production) with a dead-letter topic, while lines with pills of every kind
   keep arriving and one worker is killed with ``kill -9``: every good word is counted exactly
   once (the usual exact checks), and the dead-letter topic holds every pill exactly once,
   ``read_committed``, with the exception that stopped it.
2. **Failing handlers** (the defaults), one kind at a time: the worker stops with an error
   that names the input topic, partition and offset of the pill; nothing past the pill is
   committed on its partition; a restarted worker stops at the same pill again (nothing is
   skipped silently).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable

import pytest
from fault_helpers import FaultRun
from fault_traffic import MAX_RECORD_BYTES, PILL_KINDS, POISON_WORD, poison_pill
from rt_helpers import Worker, committed_and_ends

from streams.testing import clients
from streams.testing.clients import ProducerRecord

pytestmark = [pytest.mark.faults, pytest.mark.integration]

#: The exception a dead letter of each kind names.
EXCEPTION_OF = {"deserialization": b"SerializationError", "processing": b"ValueError",
                "production": b"ProductionError"}
POISON_ENV = {"WORDCOUNT_POISON_WORD": POISON_WORD}
POISON_SETTINGS = ("-s", f"producer.message.max.bytes={MAX_RECORD_BYTES}")


@pytest.mark.timeout(420)
def test_poison_pills_are_skipped_and_dead_lettered_exactly_once(
        fault_run: Callable[..., FaultRun]) -> None:
    probe = fault_run("poison pills skipped, dead-lettered", seed=7, pills=PILL_KINDS,
                      env=POISON_ENV)
    dlq = clients.create_topic(probe.bootstrap, f"faults-dlq-{probe.app_id[-8:]}", 3, 3,
                               {"min.insync.replicas": "2"})
    probe.extra = (*probe.extra, *POISON_SETTINGS,
                   "-s", "default.deserialization.exception.handler=log_and_continue",
                   "-s", "processing.exception.handler=log_and_continue",
                   "-s", "default.production.exception.handler=continue",
                   "-s", f"errors.dead.letter.queue.topic.name={dlq}")
    run = probe
    try:
        workers = [run.worker(name) for name in "abc"]
        run.wait_stable(workers)
        run.start_traffic()
        time.sleep(5)
        run.fault("kill -9 worker a (its open transaction holds dead letters too)")
        run.kill_worker(workers[0])
        time.sleep(15)
        run.finish()  # every good word exactly once, no worker stuck

        assert run.feeder is not None
        pills = run.feeder.acked_pills
        assert set(pills.values()) == set(PILL_KINDS), f"not every kind was sent: {pills}"
        letters = clients.consume_all(run.bootstrap, dlq, 30,
                                      config={"isolation.level": "read_committed"})
        by_key: dict[str, list[clients.ConsumedRecord]] = {}
        for r in letters:
            by_key.setdefault(r.key.decode(), []).append(r)
        doubled = {k: len(v) for k, v in by_key.items() if len(v) > 1}
        assert not doubled, f"dead letters written more than once under exactly-once: {doubled}"
        assert set(by_key) == set(pills), (
            f"dead letters missing: {sorted(set(pills) - set(by_key))[:5]}; unexpected: "
            f"{sorted(set(by_key) - set(pills))[:5]}")
        for key, kind in pills.items():
            [letter] = by_key[key]
            headers = dict(letter.headers or [])
            assert headers["__streams.errors.exception"] == EXCEPTION_OF[kind], (key, headers)
            assert headers["__streams.errors.topic"] == run.input.encode()
            assert letter.value == poison_pill(kind, int(key.rsplit("-", 1)[1]))
        print(f"dead letters: {len(by_key)} ({', '.join(sorted(set(pills.values())))})")
    finally:
        with contextlib.suppress(Exception):
            clients.delete_topic(run.bootstrap, dlq, timeout=10)


def _wait_exit(run: FaultRun, worker: Worker, timeout: float = 90.0) -> int:
    """The exit code of ``worker``, which must stop within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while worker.alive and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not worker.alive, (
        f"{run.scenario}: the worker did not stop at the poison pill within {timeout:.0f}s:\n"
        + worker.text()[-4000:])
    return int(worker.proc.returncode)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", PILL_KINDS)
def test_a_poison_pill_with_a_failing_handler_stops_at_the_pill(
        fault_run: Callable[..., FaultRun], kind: str) -> None:
    run = fault_run(f"{kind} poison pill fails", env=POISON_ENV)
    run.extra = (*run.extra, *POISON_SETTINGS)
    first = run.worker("a")
    run.wait_stable([first])
    good = [ProducerRecord(f"line-{i}", f"w{i % 5} w{i % 3}".encode(), partition=0)
            for i in range(20)]
    clients.produce(run.bootstrap, run.input, good)
    [pill] = clients.produce(run.bootstrap, run.input,
                             [ProducerRecord("line-pill", poison_pill(kind, 99), partition=0)])
    clients.produce(run.bootstrap, run.input, good)
    assert pill.partition == 0
    where = re.compile(rf"topic='{re.escape(run.input)}', partition=0, offset={pill.offset}\b")

    for attempt in range(2):
        # then a restart with the same state: it must stop at the same pill
        worker = first if attempt == 0 else run.worker("a-again", state_dir=run.state_dirs["a"])
        code = _wait_exit(run, worker)
        log = worker.text()
        assert code != 0, f"attempt {attempt}: exit {code} at a {kind} poison pill:\n{log[-3000:]}"
        errors = [line for line in log.splitlines() if " ERROR " in line]
        assert any(where.search(line) for line in errors), (
            f"attempt {attempt}: no ERROR line names the pill (partition 0, offset "
            f"{pill.offset}):\n" + "\n".join(errors[:10]) + "\n" + log[-3000:])
        committed, _ = committed_and_ends(run.bootstrap, run.app_id, run.input, 6)
        assert committed[0] <= pill.offset, (
            f"attempt {attempt}: the committed offset {committed[0]} of partition 0 is past "
            f"the {kind} pill at {pill.offset}: it was skipped")
        run.killed.add(worker.name)  # exited as it should; not a finding for close()
