"""Differential conformance: every topology of :mod:`conformance_topologies` is run on seeded
random inputs through Kafka Streams' own ``TopologyTestDriver`` (the ground truth, Java, see
``java/``) and through ours, and the outputs are compared record by record: topic, key, value,
timestamp, order, and the input record after which each output came out.

The Java side is built once (Maven, cached under ``~/.cache/streams/conformance``) and run as
one JVM for the whole session; without ``java`` (or without ``mvn`` before the first build), or
if the build fails, every test here is skipped with the reason.

``KNOWN`` lists the differences we keep on purpose (Kafka Streams quirks we do not copy): a
seed that differs only in the way the entry explains is an ``xfail``; any other difference
fails; each entry's minimal example must still differ (so a change shows up).

See docs/conformance.md; reproduce or shrink a failure with
``python3 tests/conformance/conformance_harness.py minimize NAME SEED``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conformance_harness import (
    JavaSide,
    Result,
    Scenario,
    Unavailable,
    describe_diff,
    fmt_result,
    fmt_scenario,
    generate,
    names_diff,
    normalize_describe,
    run_python,
)
from conformance_topologies import JOIN_DIFF, TWINS

#: Seeds run with in-memory stores on both sides (fast), and with RocksDB stores (the default
#: store type; Kafka Streams' driver flushes RocksDB after every record, so fewer of them).
SEEDS = {"in_memory": range(12), "rocksdb": range(100, 103)}
CASES = [(name, seed, store) for store, seeds in SEEDS.items() for name in sorted(TWINS)
         for seed in seeds]


# ---------------------------------------------------------------------------- known differences
@dataclass(frozen=True)
class Observed:
    """One compared case, for a known difference's explainer: the input, both outputs, and a
    way to run more inputs on the Java side."""

    scenario: Scenario
    java: Result
    python: Result
    run_java: Callable[[Scenario], Result]


def _records(result: Result) -> dict[str, list[dict[str, Any]]]:
    outputs: dict[str, list[dict[str, Any]]] = result.get("outputs", {})
    return outputs


def _unjoined(r: dict[str, Any]) -> bool:
    v = r["value"]
    return isinstance(v, str) and (v.endswith("+null") or v.startswith("null+"))


def _as_multiset(result: Result) -> dict[str, list[tuple[Any, ...]]]:
    return {t: sorted((repr(r["key"]), repr(r["value"]), r["timestamp"]) for r in recs)
            for t, recs in _records(result).items()}


def kafka_emits_unjoined_later(o: Observed) -> bool:
    """True when the outputs differ only in unjoined (``x+null`` / ``null+y``) results that we
    emit **earlier** than Kafka Streams:

    * joined results are identical, record for record (after the same input too);
    * every unjoined result of Kafka Streams is also ours (same key, value, timestamp), emitted
      after the same input or an earlier one;
    * the unjoined results only we emitted are ones Kafka Streams emits too, later: with a
      record far in the future appended to each input (which makes Kafka Streams scan all
      waiting records), both sides emit the same records, except
    * unjoined results of ours that Kafka Streams never emits because, while it held them
      back, a late partner joined the record (a record of the other side with the same key,
      inside the record's join window, arriving after we emitted it): a consequence of the
      same delay (the joined result itself is in both outputs).
    """
    java, python = o.java, o.python
    if "error" in java or "error" in python or names_diff(java, python) is not None:
        return False
    only_ours: list[dict[str, Any]] = []
    for topic in set(_records(java)) | set(_records(python)):
        j, p = _records(java).get(topic, []), _records(python).get(topic, [])
        if [r for r in j if not _unjoined(r)] != [r for r in p if not _unjoined(r)]:
            return False
        ours = [r for r in p if _unjoined(r)]
        for r in (r for r in j if _unjoined(r)):
            match = next((x for x in ours if (x["key"], x["value"], x["timestamp"]) ==
                          (r["key"], r["value"], r["timestamp"]) and x["input"] <= r["input"]),
                         None)
            if match is None:
                return False
            ours.remove(match)
        only_ours += ours
    end = max((r["timestamp"] for r in o.scenario["inputs"]), default=0) + 1000
    flushed = {**o.scenario, "inputs": [*o.scenario["inputs"], *(
        {"topic": t, "key": "~flush", "value": "flush", "timestamp": end}
        for t in ("left", "right"))]}
    theirs, mine = _as_multiset(o.run_java(flushed)), _as_multiset(run_python(flushed))
    rescued = [(repr(r["key"]), repr(r["value"]), r["timestamp"]) for r in only_ours
               if _rescued_later(o.scenario, r)]
    for topic in set(theirs) | set(mine):
        extra = list(mine.get(topic, []))
        for r in theirs.get(topic, []):
            if r not in extra:
                return False  # Kafka Streams emits something we never do
            extra.remove(r)
        for r in extra:  # ours only, even flushed: each must be a rescued one
            if r not in rescued:
                return False
            rescued.remove(r)
    return True


#: (before, after) of the stream-stream join twins' windows (JoinWindows), for
#: kafka_emits_unjoined_later
JOIN_BEFORE_AFTER = {"stream_stream_left_join_asymmetric": (2, 5)}


def _rescued_later(scenario: Scenario, r: dict[str, Any]) -> bool:
    """Whether a record of the other side that joins the unjoined result ``r``'s record (same
    key, inside its window) arrived after ``r`` was emitted."""
    before, after = JOIN_BEFORE_AFTER.get(scenario["topology"], (JOIN_DIFF, JOIN_DIFF))
    left, t = r["value"].endswith("+null"), r["timestamp"]
    lo, hi = (t - before, t + after) if left else (t - after, t + before)
    other = "right" if left else "left"
    return any(i > r["input"] and x["topic"] == other and x["key"] == r["key"]
               and x["value"] is not None and lo <= x["timestamp"] <= hi
               for i, x in enumerate(scenario["inputs"]))


def kafka_loses_closed_windows(o: Observed) -> bool:
    """True when Kafka Streams' output is ours with some records missing, and those are the
    windows its default retention loses: with a long retention (the ``<name>_retained`` twin,
    same input) Kafka Streams' output is exactly ours."""
    if "error" in o.java or "error" in o.python:
        return False
    for topic in set(_records(o.java)) | set(_records(o.python)):
        ours = iter(_records(o.python).get(topic, []))
        if not all(any(r == x for x in ours) for r in _records(o.java).get(topic, [])):
            return False
    retained = {**o.scenario, "topology": o.scenario["topology"] + "_retained"}
    return describe_diff(o.run_java(retained), o.python) is None


# ---- join options (StreamJoined, Joined, TableJoined): differences in names
_JOIN_STORE_OURS = re.compile(r"^[\w.-]+-(this|other|outer-this|outer-other|left-shared|"
                              r"outer-shared)-join-store$")
_JOIN_STORE_KAFKA = re.compile(r"^KSTREAM-(JOINTHIS|JOINOTHER|OUTERTHIS|OUTEROTHER|OUTERSHARED)-"
                               r"\d{10}-store$")


def kafka_generates_join_store_names(o: Observed) -> bool:
    """True when the outputs are the same and the names differ only in the stores of a
    stream-stream join named by ``name`` / ``StreamJoined.with_name`` without a store name:
    ours ``<name>-this-join-store`` (``-other-``, ``-left-shared-``, ...), Kafka Streams'
    generated ``KSTREAM-JOINTHIS-<i>-store`` (...); with our store names replaced by Kafka
    Streams' (paired through the processors that own them), both describe() texts and the
    topics written (the stores' changelogs) are the same."""
    java, python = o.java, o.python
    if "error" in java or "error" in python or java["outputs"] != python["outputs"]:
        return False
    if not isinstance(java.get("describe"), str) or not isinstance(python.get("describe"), str):
        return False

    def stores(text: str) -> dict[str, list[str]]:
        return {m[1]: m[2].split(", ") for m in re.finditer(
            r"Processor: (\S+) \(stores: \[(.*)\]\)", text)}

    ours, theirs = stores(python["describe"]), stores(java["describe"])
    rename: dict[str, str] = {}
    for node, names in ours.items():
        for mine, kafka in zip(sorted(names), sorted(theirs.get(node, []))):
            # a windowed node owns one store; a join node's are paired by kind (the shared
            # store sorts after the other side's in both spellings)
            if mine != kafka:
                if not (_JOIN_STORE_OURS.match(mine) and _JOIN_STORE_KAFKA.match(kafka)):
                    return False
                if rename.setdefault(mine, kafka) != kafka:
                    return False
    if not rename or len(set(rename.values())) != len(rename):
        return False

    def renamed(text: str) -> str:
        return re.sub(r"[\w.-]+", lambda m: rename.get(m[0], m[0]), text)

    topics = [renamed(t.removeprefix("conformance-").removesuffix("-changelog"))
              for t in python.get("topics", [])]
    expected = [t.removeprefix("conformance-").removesuffix("-changelog")
                for t in java.get("topics", [])]
    return (normalize_describe(renamed(python["describe"])) == normalize_describe(
        java["describe"]) and sorted(topics) == sorted(expected))


@dataclass(frozen=True)
class Known:
    """A deliberate difference: why, how to recognize it, and a minimal input showing it."""

    reason: str
    explains: Callable[[Observed], bool]
    example: list[tuple[str, str | None, str | None, int]]  # (topic, key, value, timestamp)


_UNJOINED = (
    "deliberate: Kafka Streams emits unjoined left/outer stream-stream results later than their "
    "window closes (emitNonJoinedOuterRecords' early exit never fires for a left join, so the "
    "time it waits for is the newest waiting record's, not the oldest's); we emit each as soon "
    "as stream time passes its window end + grace")
_EMIT_FINAL_RETENTION = (
    "deliberate: with the default retention (window size + grace; sessions: gap + grace) "
    "Kafka Streams' emit-on-window-close loses a window when one record moves stream time "
    "past its close and its retention at once: the record expires the window from the store "
    "before the emit scan reads it. We emit it (see the *_emit_final_retained twins for the "
    "strict comparison)")

_NAMED_JOIN_STORES = (
    "deliberate: a stream-stream join named with name= or StreamJoined.with_name but without a "
    "store name names its stores (and so their changelogs) after the name, <name>-this-join-store "
    "etc.; Kafka Streams keeps the generated KSTREAM-JOINTHIS-<i>-store names unless "
    "StreamJoined.withStoreName is given (renaming them now would orphan existing changelogs)")

KNOWN: dict[str, Known] = {
    # b@0 is emitted at stream time 10; Kafka Streams' scan then stops its clock at a@3 (the
    # last record it looked at), so at 11 it skips the scan and a@2 (closed at 5 + 3 + 2 = 10)
    # waits for a later record
    "stream_stream_left_join": Known(_UNJOINED, kafka_emits_unjoined_later, [
        ("left", "b", "x1", 0), ("left", "a", "x2", 2), ("left", "a", "x3", 3),
        ("right", "c", "Y1", 10), ("right", "c", "Y2", 11)]),
    "stream_stream_outer_join": Known(_UNJOINED, kafka_emits_unjoined_later, [
        ("left", "b", "x1", 0), ("left", "a", "x2", 2), ("left", "a", "x3", 3),
        ("right", "c", "Y1", 10), ("right", "c", "Y2", 11)]),
    "stream_stream_left_join_asymmetric": Known(_UNJOINED, kafka_emits_unjoined_later, [
        ("left", "c", "x3", 2), ("left", "a", "x1", 6), ("left", "b", "x1", 10),
        ("left", "c", "x1", 12), ("right", "b", "Y1", 15)]),
    "tumbling_emit_final": Known(_EMIT_FINAL_RETENTION, kafka_loses_closed_windows, [
        ("in", "a", "x", 0), ("in", "b", "x", 20)]),
    "hopping_emit_final": Known(_EMIT_FINAL_RETENTION, kafka_loses_closed_windows, [
        ("in", "a", "x", 0), ("in", "b", "x", 20)]),
    "sliding_emit_final": Known(_EMIT_FINAL_RETENTION, kafka_loses_closed_windows, [
        ("in", "a", "x", 9), ("in", "b", "x", 36)]),
    "session_emit_final": Known(_EMIT_FINAL_RETENTION, kafka_loses_closed_windows, [
        ("in", "a", "x", 0), ("in", "b", "x", 20)]),
    # ---- join options (conformance_join_options.py)
    "stream_joined_left_join": Known(_UNJOINED, kafka_emits_unjoined_later, [
        ("left", "b", "x1", 0), ("left", "a", "x2", 2), ("left", "a", "x3", 3),
        ("right", "c", "Y1", 10), ("right", "c", "Y2", 11)]),
    "stream_joined_outer_join": Known(_UNJOINED, kafka_emits_unjoined_later, [
        ("left", "b", "x1", 0), ("left", "a", "x2", 2), ("left", "a", "x3", 3),
        ("right", "c", "Y1", 10), ("right", "c", "Y2", 11)]),
    "stream_joined_in_memory": Known(_NAMED_JOIN_STORES, kafka_generates_join_store_names, [
        ("left", "a", "x1", 0), ("right", "a", "Y1", 1)]),
    "stream_joined_rekeyed_join": Known(_NAMED_JOIN_STORES, kafka_generates_join_store_names, [
        ("left", "a", "x1", 0), ("right", "a", "Y1", 1)]),
}


_IN_MEMORY_STORES = (
    "deliberate: Kafka Streams' in-memory stores behave unlike its RocksDB stores (its default) "
    "here, and we behave as the RocksDB ones: its in-memory session store emits sessions that "
    "close together in key order, not by (end, start); its in-memory join window store lets a "
    "record with a None value expire the older records of its side")


def kafka_in_memory_store_quirk(o: Observed) -> bool:
    """True when the case ran with in-memory stores and Kafka Streams with RocksDB stores, on
    the same input, gives exactly our output."""
    if o.scenario["store"] != "in_memory" or "error" in o.python:
        return False
    return describe_diff(o.run_java({**o.scenario, "store": "rocksdb"}), o.python) is None


#: Kafka Streams' store-type quirks, per topology: checked after ``KNOWN``, with an example
#: each that must keep differing
IN_MEMORY_QUIRKS: dict[str, list[tuple[str, str | None, str | None, int]]] = {
    "session_emit_final_retained": [
        ("in", "c", "x", 0), ("in", "c", "x", 3), ("in", "b", "x", 3), ("in", "b", "x", 20)],
    "session_emit_final": [
        ("in", "c", "x", 0), ("in", "c", "x", 3), ("in", "b", "x", 3), ("in", "b", "x", 20)],
    "stream_stream_left_join_asymmetric": [
        ("right", "c", "Y2", 3), ("right", "b", None, 16), ("left", "c", "x2", 1)],
}


def example_scenario(name: str, store: str = "in_memory") -> Scenario:
    scenario: Scenario = {"topology": name, "store": store, "inputs": [
        {"topic": t, "key": k, "value": v, "timestamp": ts} for t, k, v, ts in KNOWN[name].example]}
    if TWINS[name].introspect:
        scenario["introspect"] = True
    return scenario


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def java_side() -> Iterator[JavaSide]:
    """One JVM for the session (skips every test when the Java side cannot run here)."""
    try:
        side = JavaSide()
    except Unavailable as e:
        pytest.skip(f"conformance suite skipped: {e}")
    try:
        yield side
    finally:
        side.close()


@pytest.fixture(scope="session")
def java_results(java_side: JavaSide) -> dict[tuple[str, int, str], Result]:
    """Kafka Streams' outputs for every case, computed in one batch."""
    scenarios = [generate(TWINS[name], seed, store=store) for name, seed, store in CASES]
    return dict(zip(CASES, java_side.run_many(scenarios)))


# ---------------------------------------------------------------------------- tests
def report(scenario: Scenario, java: Result, python: Result, diff: str,
           seed: int | None = None) -> str:
    shrink = f"minimize {scenario['topology']}"
    if seed is not None:
        shrink += f" {seed}" + (" --rocksdb" if scenario["store"] == "rocksdb" else "")
    return (f"{scenario['topology']} ({scenario['store']} stores) differs from Kafka Streams:\n"
            f"{diff}\n\ninput:\n{fmt_scenario(scenario)}\n\nKafka Streams:\n{fmt_result(java)}"
            f"\n\nstreams:\n{fmt_result(python)}\n\nshrink it with: python3 "
            f"tests/conformance/conformance_harness.py {shrink}")


@pytest.mark.parametrize(("name", "seed", "store"), CASES)
def test_conformance(java_side: JavaSide, java_results: dict[tuple[str, int, str], Result],
                     name: str, seed: int, store: str) -> None:
    scenario = generate(TWINS[name], seed, store=store)
    java, python = java_results[(name, seed, store)], run_python(scenario)
    diff = describe_diff(java, python)
    if diff is None:
        return
    observed = Observed(scenario, java, python, java_side.run)
    known = KNOWN.get(name)
    if known is not None and known.explains(observed):
        pytest.xfail(known.reason)
    if name in IN_MEMORY_QUIRKS and kafka_in_memory_store_quirk(observed):
        pytest.xfail(_IN_MEMORY_STORES)
    pytest.fail(report(scenario, java, python, diff, seed), pytrace=False)


@pytest.mark.parametrize("name", sorted(IN_MEMORY_QUIRKS))
def test_in_memory_store_quirk_still_differs(java_side: JavaSide, name: str) -> None:
    """Strict: each quirk's example still differs with in-memory stores, and only so."""
    scenario: Scenario = {"topology": name, "store": "in_memory", "inputs": [
        {"topic": t, "key": k, "value": v, "timestamp": ts}
        for t, k, v, ts in IN_MEMORY_QUIRKS[name]]}
    java, python = java_side.run(scenario), run_python(scenario)
    if describe_diff(java, python) is None:
        pytest.fail(f"the in-memory store quirk of {name} is gone: remove it from "
                    f"IN_MEMORY_QUIRKS.\n{fmt_result(java)}", pytrace=False)
    if not kafka_in_memory_store_quirk(Observed(scenario, java, python, java_side.run)):
        pytest.fail(report(scenario, java, python, describe_diff(java, python) or ""),
                    pytrace=False)
    pytest.xfail(_IN_MEMORY_STORES)


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_difference_still_differs(java_side: JavaSide, name: str) -> None:
    """Strict: the minimal example of a known difference must still differ, in the known way;
    when it stops differing, remove the entry from KNOWN (and from docs/conformance.md)."""
    scenario = example_scenario(name)
    java, python = java_side.run(scenario), run_python(scenario)
    diff = describe_diff(java, python)
    if diff is None:
        pytest.fail(f"the known difference of {name} is gone (same output on its example): "
                    f"remove it from KNOWN.\n{fmt_result(java)}", pytrace=False)
    if not KNOWN[name].explains(Observed(scenario, java, python, java_side.run)):
        pytest.fail(report(scenario, java, python, diff), pytrace=False)
    pytest.xfail(KNOWN[name].reason)


def test_every_twin_has_a_java_topology(java_side: JavaSide) -> None:
    java_names = set(java_side.names())
    assert java_names == set(TWINS), (
        f"only in Java: {sorted(java_names - set(TWINS))}; "
        f"only in Python: {sorted(set(TWINS) - java_names)}")


def test_known_names_exist() -> None:
    assert set(KNOWN) <= set(TWINS) and set(IN_MEMORY_QUIRKS) <= set(TWINS)


# ---------------------------------------------------------------------------- the comparison itself
def _rec(key: str, value: Any, ts: int, after: int) -> dict[str, Any]:
    return {"key": key, "value": value, "timestamp": ts, "input": after}


def test_describe_diff_sees_every_field_and_the_order() -> None:
    base = {"outputs": {"out": [_rec("a", "x", 1, 0), _rec("b", "y", 2, 1)]}}
    assert describe_diff(base, {"outputs": {"out": list(base["outputs"]["out"])}}) is None
    changes = [
        [_rec("A", "x", 1, 0), _rec("b", "y", 2, 1)],  # key
        [_rec("a", "X", 1, 0), _rec("b", "y", 2, 1)],  # value
        [_rec("a", None, 1, 0), _rec("b", "y", 2, 1)],  # tombstone
        [_rec("a", "x", 5, 0), _rec("b", "y", 2, 1)],  # timestamp
        [_rec("a", "x", 1, 1), _rec("b", "y", 2, 1)],  # emitted later
        [_rec("b", "y", 2, 1), _rec("a", "x", 1, 0)],  # order
        [_rec("a", "x", 1, 0)],  # missing
        [_rec("a", "x", 1, 0), _rec("b", "y", 2, 1), _rec("b", "y", 2, 1)],  # extra
    ]
    for change in changes:
        assert describe_diff(base, {"outputs": {"out": change}}) is not None, change
    assert describe_diff(base, {"outputs": {"out": [], "other": []}}) is not None
    assert describe_diff(base, {"error": "boom"}) is not None


def test_explainers_accept_only_their_difference() -> None:
    joined, unjoined = _rec("a", "x1+Y1", 5, 3), _rec("b", "x2+null", 1, 4)
    java = {"outputs": {"out": [joined, unjoined]}}
    earlier = {"outputs": {"out": [{**unjoined, "input": 2}, joined]}}
    none: Scenario = {"topology": "stream_stream_left_join", "store": "in_memory", "inputs": []}

    def flushed_other(_scenario: Scenario) -> Result:
        return {"outputs": {"out": []}}

    def unjoined_later(j: Result, p: Result,
                       run: Callable[[Scenario], Result] = run_python) -> bool:
        # run: the "Java side" for the flushed input (default: agrees with ours)
        return kafka_emits_unjoined_later(Observed(none, j, p, run))

    assert unjoined_later(java, earlier)
    assert unjoined_later({"outputs": {"out": [joined]}}, earlier)
    # ours never emitted by Kafka Streams, even once flushed: not this difference
    assert not unjoined_later({"outputs": {"out": [joined]}}, earlier, flushed_other)
    assert not unjoined_later(java, {"outputs": {"out": [joined]}})  # ours missing
    assert not unjoined_later(java, {"outputs": {"out": [{**unjoined, "input": 9}, joined]}})
    assert not unjoined_later(java, {"outputs": {"out": [{**joined, "value": "x1+Y2"},
                                                          unjoined]}})  # a joined one changed

    # an unjoined result of ours that a late partner (right 'b' @5, input #5) joined while
    # Kafka Streams still held it back: the joined result is in both outputs
    rescue: Scenario = {"topology": "stream_stream_outer_join", "store": "in_memory", "inputs": [
        {"topic": t, "key": k, "value": v, "timestamp": ts} for t, k, v, ts in [
            ("left", "a", "x2", 0), ("left", "b", "x2", 3), ("left", "b", "x3", 7),
            ("left", "a", "x3", 9), ("right", "b", "Y1", 12), ("right", "b", "Y1", 5)]]}
    a0, b3 = _rec("a", "x2+null", 0, 3), _rec("b", "x2+null", 3, 4)
    joins = [_rec("b", "x3+Y1", 12, 4), _rec("b", "x2+Y1", 5, 5), _rec("b", "x3+Y1", 7, 5)]
    kafka, mine = {"outputs": {"out": [a0, *joins]}}, {"outputs": {"out": [a0, b3, *joins]}}

    def without_b3(scenario: Scenario) -> Result:
        # the "Java side" once flushed: ours without the rescued result
        result = run_python(scenario)
        return {"outputs": {"out": [r for r in result["outputs"]["out"]
                                    if (r["key"], r["value"]) != ("b", "x2+null")]}}

    assert kafka_emits_unjoined_later(Observed(rescue, kafka, mine, without_b3))
    # ... but not when no partner came after it (Kafka Streams must emit it too) ...
    early = {**rescue, "inputs": rescue["inputs"][:5]}
    assert not kafka_emits_unjoined_later(Observed(
        early, {"outputs": {"out": [a0, joins[0]]}}, {"outputs": {"out": [a0, b3, joins[0]]}},
        without_b3))
    # ... nor when Kafka Streams emits something we never do
    assert not kafka_emits_unjoined_later(Observed(
        rescue, kafka, mine, lambda sc: {"outputs": {"out": [
            *without_b3(sc)["outputs"]["out"], _rec("z", "x9+null", 1, 6)]}}))

    w1, w2 = _rec("a@0/10", 1, 3, 5), _rec("b@0/10", 2, 4, 5)
    ours = {"outputs": {"out": [w1, w2]}}
    windows: Scenario = {"topology": "tumbling_emit_final", "store": "in_memory", "inputs": []}

    def loses(j: Result, retained: Result = ours) -> bool:
        return kafka_loses_closed_windows(Observed(windows, j, ours, lambda sc: retained))

    assert loses({"outputs": {"out": [w2]}})
    assert loses({"outputs": {"out": []}})
    assert not loses({"outputs": {"out": []}}, {"outputs": {"out": [w2]}})  # not retention
    assert not loses({"outputs": {"out": [w2, w1]}})  # order
    assert not loses({"outputs": {"out": [{**w2, "value": 3}]}})  # value


def test_join_store_name_explainer_accepts_only_that_renaming() -> None:
    def described(this: str, other: str, changelog: str) -> Result:
        text = (f"Topologies:\n   Sub-topology: 0\n"
                f"    Processor: j-this-windowed (stores: [{this}])\n"
                f"    Processor: j-this-join (stores: [{other}])\n")
        return {"outputs": {"out": [_rec("a", "x1+Y1", 1, 1)]}, "describe": text,
                "topics": [f"conformance-{changelog}-changelog", "out"]}

    kafka = described("KSTREAM-JOINTHIS-0000000004-store", "KSTREAM-JOINOTHER-0000000005-store",
                      "KSTREAM-JOINTHIS-0000000004-store")
    none: Scenario = {"topology": "stream_joined_in_memory", "store": "in_memory", "inputs": []}

    def explains(ours: Result) -> bool:
        return kafka_generates_join_store_names(Observed(none, kafka, ours, run_python))

    assert explains(described("j-this-join-store", "j-other-join-store", "j-this-join-store"))
    assert not explains(kafka)  # no renaming at all
    assert not explains(described("j-this-join-store", "j-other-join-store",
                                  "j-other-join-store"))  # the wrong changelog
    assert not explains(described("j-this-join-store", "j-this-join-store",
                                  "j-this-join-store"))  # two stores made one
    assert not explains(described("my-store", "j-other-join-store", "my-store"))  # not a join's
    assert not explains({**described("j-this-join-store", "j-other-join-store",
                                     "j-this-join-store"), "outputs": {"out": []}})  # outputs


def test_normalize_describe_ignores_only_list_order() -> None:
    a = "    Processor: p (stores: [s2, s1])\n      --> c2, c1\n      <-- q, r\n"
    b = "    Processor: p (stores: [s1, s2])\n      --> c1, c2\n      <-- r, q\n"
    assert normalize_describe(a) == normalize_describe(b)
    assert normalize_describe(a) != normalize_describe(a.replace("s2", "s3"))
    assert normalize_describe(a) != normalize_describe(a.replace("<-- q, r", "<-- q"))
    assert names_diff({"describe": a, "topics": ["x"]}, {"describe": b, "topics": ["x"]}) is None
    assert names_diff({"describe": a, "topics": ["x"]}, {"describe": b, "topics": ["y"]})
