"""Every example in examples/ runs through the TopologyTestDriver; results are computed
independently here, in plain Python."""

from __future__ import annotations

import importlib
import random
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from streams import Record, Topology, serdes
from streams.testing import TopologyTestDriver

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # examples/ lives at the repository root, next to streams/
    sys.path.insert(0, str(ROOT))
wordcount = importlib.import_module("examples.wordcount")
branching = importlib.import_module("examples.branching")
S = serdes.String()


# --------------------------------------------------------------------------- wordcount
LINES = [
    "The quick brown fox",
    "jumps over the lazy dog.",
    "",
    "THE END, the end!",
    "fox-trot and the dog's day",
]


def expected_word_counts(lines: list[str]) -> list[tuple[str, int]]:
    """Every update the app should emit, in order: (word, running count)."""
    counts: Counter[str] = Counter()
    updates = []
    for line in lines:
        for word in re.findall(r"\w+", line.lower()):
            counts[word] += 1
            updates.append((word, counts[word]))
    return updates


def test_wordcount_module_shape() -> None:
    assert wordcount.CONFIG["application.id"] == "wordcount"
    assert callable(wordcount.app)
    assert isinstance(wordcount.app(), Topology)
    assert isinstance(wordcount.build_topology(), Topology)


def test_wordcount_counts_every_word() -> None:
    # the record cache off: one output record per word
    config = {**wordcount.CONFIG, "statestore.cache.max.bytes": 0}
    with TopologyTestDriver(wordcount.build_topology(), config) as d:
        lines = d.create_input_topic(wordcount.INPUT_TOPIC, S, S)
        for n, line in enumerate(LINES):
            lines.pipe_input(None, line, timestamp=100 + n)
        out = d.create_output_topic(wordcount.OUTPUT_TOPIC, S, serdes.Long())
        got = out.read_records_to_list()
        expected = expected_word_counts(LINES)
        assert [(r.key, r.value) for r in got] == expected
        # each update carries the timestamp of the line that produced it
        words_per_line = [len(re.findall(r"\w+", line.lower())) for line in LINES]
        line_ts = [100 + n for n, k in enumerate(words_per_line) for _ in range(k)]
        assert [r.timestamp for r in got] == line_ts
        final = dict(Counter(w for line in LINES for w in re.findall(r"\w+", line.lower())))
        assert dict(d.get_key_value_store(wordcount.STORE_NAME).all()) == final
        assert f"{wordcount.CONFIG['application.id']}-counts-repartition" in d.produced_topic_names()


def test_wordcount_with_the_record_cache_emits_each_words_count_once_per_line() -> None:
    # the example's own config keeps Kafka Streams' default cache; the driver flushes it after
    # every piped record, so a line yields one record per distinct word, ordered by the word's
    # last occurrence, carrying the count after the line
    with TopologyTestDriver(wordcount.build_topology(), wordcount.CONFIG) as d:
        lines = d.create_input_topic(wordcount.INPUT_TOPIC, S, S)
        for n, line in enumerate(LINES):
            lines.pipe_input(None, line, timestamp=100 + n)
        got = d.create_output_topic(wordcount.OUTPUT_TOPIC, S, serdes.Long()).read_records_to_list()
    counts: Counter[str] = Counter()
    expected = []
    for n, line in enumerate(LINES):
        words = re.findall(r"\w+", line.lower())
        counts.update(words)
        last = {w: i for i, w in enumerate(words)}
        expected += [(w, counts[w], 100 + n) for w in sorted(last, key=last.__getitem__)]
    assert [(r.key, r.value, r.timestamp) for r in got] == expected


def test_wordcount_matches_a_plain_python_count_on_random_text() -> None:
    rng = random.Random(7)
    vocabulary = ["alpha", "beta", "Gamma", "delta", "EPSILON", "zeta"]
    lines = [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 8))) for _ in range(60)]
    with TopologyTestDriver(wordcount.build_topology(), wordcount.CONFIG) as d:
        d.create_input_topic(wordcount.INPUT_TOPIC, S, S).pipe_value_list(lines)
        got = d.create_output_topic(wordcount.OUTPUT_TOPIC, S, serdes.Long()).read_key_values_to_map()
    assert got == dict(Counter(w.lower() for line in lines for w in line.split()))


def test_wordcount_main_prints_the_description() -> None:
    result = subprocess.run([sys.executable, "-m", "examples.wordcount"], cwd=ROOT,
                            capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout == str(wordcount.build_topology().describe()) + "\n"
    assert "Sub-topology: 1" in result.stdout


def test_importing_the_examples_has_no_side_effects(capsys: pytest.CaptureFixture[str]) -> None:
    importlib.reload(wordcount)
    importlib.reload(branching)
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------- branching
EVENTS: list[tuple[str, dict[str, Any], int]] = [
    ("alice", {"kind": "purchase", "amount": 30.0}, 1_000),
    ("bob", {"kind": "purchase", "amount": 12.5}, 2_000),
    ("alice", {"kind": "refund", "amount": 10.0}, 3_000),
    ("carol", {"kind": "coupon", "code": "X1"}, 4_000),
    ("bob", {"kind": "purchase", "amount": 7.5}, 5_000),
    ("dave", {"kind": "refund", "amount": 5.0}, 6_000),
    ("alice", {"note": "no kind at all"}, 7_000),
]


def expected_branching(events: list[tuple[str, dict[str, Any], int]]) -> tuple[
        list[tuple[str, float, int]], list[tuple[str, dict[str, Any]]], dict[str, dict[str, Any]]]:
    payments, other = [], []
    balances: dict[str, dict[str, Any]] = defaultdict(lambda: {"balance": 0.0, "payments": 0})
    for key, event, ts in events:
        kind = event.get("kind")
        if kind in ("purchase", "refund"):
            amount = event["amount"] if kind == "purchase" else -event["amount"]
            payments.append((key, amount, ts))
            balances[key]["balance"] += amount
            balances[key]["payments"] += 1
        else:
            other.append((key, event))
    return payments, other, dict(balances)


def test_branching_module_shape() -> None:
    topology = branching.build_topology()
    assert isinstance(branching.app(), Topology)
    nodes = topology.nodes
    assert {"route-", "route-purchases", "route-refunds", "route-other", "merge-payments",
            "balance-summary"} <= set(nodes)
    assert nodes["merge-payments"].parents == ["route-purchases", "route-refunds"]
    assert nodes["balance-summary"].stores == [branching.STORE_NAME]


def test_branching_routes_merges_and_summarizes_on_wall_clock_time() -> None:
    payments, other, balances = expected_branching(EVENTS)
    json = serdes.Json()
    with TopologyTestDriver(branching.build_topology(), branching.CONFIG,
                            initial_wall_clock_time_ms=0) as d:
        events = d.create_input_topic(branching.INPUT_TOPIC, S, json)
        for key, event, ts in EVENTS:
            events.pipe_input(key, event, timestamp=ts)

        got_payments = d.create_output_topic(branching.PAYMENTS_TOPIC, S, serdes.Double())
        assert [(r.key, r.value, r.timestamp) for r in got_payments.read_records_to_list()] == payments
        got_other = d.create_output_topic(branching.OTHER_TOPIC, S, json)
        assert got_other.read_key_values_to_list() == other

        summaries = d.create_output_topic(branching.SUMMARY_TOPIC, S, json)
        assert summaries.is_empty()  # summaries come from the punctuator only
        d.advance_wall_clock_time(branching.SUMMARY_INTERVAL_MS - 1)
        assert summaries.is_empty()
        d.advance_wall_clock_time(1)
        first = summaries.read_records_to_list()
        expected_first = [
            Record(c, {"customer": c, **balances[c]}, branching.SUMMARY_INTERVAL_MS)
            for c in sorted(balances)  # store order: by key bytes
        ]
        assert first == expected_first

        # more activity, then a late punctuation that skipped one interval
        events.pipe_input("erin", {"kind": "purchase", "amount": 1.0}, timestamp=8_000)
        d.advance_wall_clock_time(2 * branching.SUMMARY_INTERVAL_MS + 5)
        _, _, balances2 = expected_branching([*EVENTS, ("erin", {"kind": "purchase", "amount": 1.0}, 8_000)])
        second = summaries.read_records_to_list()
        now = 3 * branching.SUMMARY_INTERVAL_MS + 5
        assert second == [Record(c, {"customer": c, **balances2[c]}, now) for c in sorted(balances2)]
        assert dict(d.get_key_value_store(branching.STORE_NAME).all()) == balances2
