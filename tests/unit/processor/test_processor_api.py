"""The Processor API: lifecycle, Record, forward to all or one child, punctuation (stream time
and wall clock, as Kafka Streams schedules them), record metadata, stores, commit requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams import (
    STREAM_TIME,
    WALL_CLOCK_TIME,
    Consumed,
    Processor,
    ProcessorError,
    Produced,
    Record,
    StreamsBuilder,
    StreamsConfig,
    Topology,
    serdes,
)
from streams.engine.message import Message
from streams.engine.task import Task, TaskId
from streams.processor import RecordMetadata
from streams.state import Stores
from streams.testing import TopologyTestDriver

S, L, INT = serdes.String(), serdes.Long(), serdes.Integer()
APP = {"application.id": "app"}


def single_processor(supplier: Any, *stores: Any, out: bool = True) -> Topology:
    """in -> supplier's processor "p" -> out, with the given store builders connected."""
    topology = Topology()
    topology.add_source("src", ["in"], key_serde=S, value_serde=S)
    topology.add_processor("p", supplier, "src")
    for store in stores:
        topology.add_state_store(store, "p")
    if out:
        topology.add_sink("sink", "out", "p", key_serde=S, value_serde=S)
    return topology


# --------------------------------------------------------------------------- Record
def test_record_copies_and_equality() -> None:
    r = Record("k", "v", 5, [("h", b"1")])
    assert r.with_key("k2") == Record("k2", "v", 5, [("h", b"1")])
    assert r.with_value("v2") == Record("k", "v2", 5, [("h", b"1")])
    assert r.with_timestamp(9) == Record("k", "v", 9, [("h", b"1")])
    assert r.with_headers(None) == Record("k", "v", 5)
    assert r == Record("k", "v", 5, (("h", b"1"),))  # headers compared as sequences
    assert r != Record("k", "v", 6, [("h", b"1")])
    assert (r.key, r.value, r.timestamp, r.headers) == ("k", "v", 5, [("h", b"1")])
    assert repr(Record("k", 1, 2)) == "Record(key='k', value=1, timestamp=2)"


# --------------------------------------------------------------------------- lifecycle
def test_init_process_close_are_called_once_per_task_in_order() -> None:
    events: list[str] = []

    class Lifecycle(Processor):
        def init(self, context: Any) -> None:
            self.context = context
            events.append(f"init {context.application_id} {context.task_id}")

        def process(self, record: Record) -> None:
            events.append(f"process {record.value}")
            self.context.forward(record)

        def close(self) -> None:
            events.append("close")

    with TopologyTestDriver(single_processor(Lifecycle), {"application.id": "life"}) as d:
        d.create_input_topic("in", S, S).pipe_value_list(["a", "b"])
        assert d.create_output_topic("out", S, S).read_values_to_list() == ["a", "b"]
    assert events == ["init life 0_0", "process a", "process b", "close"]


def test_processor_failing_in_init_names_the_processor() -> None:
    class Broken(Processor):
        def init(self, context: Any) -> None:
            raise RuntimeError("boom")

    with pytest.raises(ProcessorError, match=r"processor 'p' of task 0_0 failed in init\(\): boom"):
        TopologyTestDriver(single_processor(Broken), APP)


# --------------------------------------------------------------------------- forward
class Router(Processor):
    """Forwards each record to the child named by its value, or to all children for "*"."""

    def process(self, record: Record) -> None:
        if record.value == "*":
            self.context.forward(record)
        else:
            self.context.forward(record.with_value(record.value.upper()), record.value)


def router_topology() -> Topology:
    topology = Topology()
    topology.add_source("src", ["in"], key_serde=S, value_serde=S)
    topology.add_processor("router", Router, "src")
    topology.add_sink("a", "topic-a", "router", key_serde=S, value_serde=S)
    topology.add_sink("b", "topic-b", "router", key_serde=S, value_serde=S)
    return topology


def test_forward_to_all_children_or_to_one_named_child() -> None:
    with TopologyTestDriver(router_topology(), APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list([("1", "a"), ("2", "b"), ("3", "*")])
        assert d.create_output_topic("topic-a", S, S).read_key_values_to_list() == [("1", "A"), ("3", "*")]
        assert d.create_output_topic("topic-b", S, S).read_key_values_to_list() == [("2", "B"), ("3", "*")]


def test_forward_to_an_unknown_child_fails_naming_the_children() -> None:
    with TopologyTestDriver(router_topology(), APP) as d, \
            pytest.raises(ProcessorError, match=r"forwarded to 'c'.*\(a, b\)"):
        d.create_input_topic("in", S, S).pipe_input("1", "c")


def test_forward_to_named_child_in_the_dsl() -> None:
    b = StreamsBuilder()
    routed = b.stream("in", Consumed(key_serde=S, value_serde=S)).process(Router, name="router")
    routed.to("topic-a", Produced(key_serde=S, value_serde=S, name="a"))
    routed.to("topic-b", Produced(key_serde=S, value_serde=S, name="b"))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, S).pipe_key_value_list([("1", "b"), ("2", "a")])
        assert d.create_output_topic("topic-a", S, S).read_key_values_to_list() == [("2", "A")]
        assert d.create_output_topic("topic-b", S, S).read_key_values_to_list() == [("1", "B")]


# --------------------------------------------------------------------------- metadata / time
def test_record_metadata_timestamp_headers_and_stream_time() -> None:
    seen: list[tuple[Any, ...]] = []

    class Inspect(Processor):
        def process(self, record: Record) -> None:
            c = self.context
            md = c.record_metadata()
            assert isinstance(md, RecordMetadata)
            seen.append((md.topic, md.partition, md.offset, c.topic, c.partition, c.offset,
                         c.timestamp, c.headers, c.current_stream_time_ms()))

    with TopologyTestDriver(single_processor(Inspect, out=False), APP) as d:
        i = d.create_input_topic("in", S, S)
        i.pipe_input("k", "v", 50, headers=[("trace", b"t1")])
        i.pipe_input("k", "v", 20)
        i.pipe_input("k", "v", 70)
    assert seen == [
        ("in", 0, 0, "in", 0, 0, 50, [("trace", b"t1")], 50),
        ("in", 0, 1, "in", 0, 1, 20, None, 50),   # stream time never goes back
        ("in", 0, 2, "in", 0, 2, 70, None, 70),
    ]


class Punctuating(Processor):
    """Schedules one punctuator; records (kind, callback time, stream time, metadata)."""

    def __init__(self, interval: int, ptype: Any, log: list[Any], cancel_after: int = 0) -> None:
        self.interval, self.ptype, self.log, self.cancel_after = interval, ptype, log, cancel_after

    def init(self, context: Any) -> None:
        self.context = context
        self.handle = context.schedule(self.interval, self.ptype, self.punctuate)
        self.fired = 0

    def punctuate(self, timestamp: int) -> None:
        self.fired += 1
        self.log.append(("punctuate", timestamp, self.context.timestamp,
                         self.context.record_metadata()))
        self.context.forward(Record("tick", str(timestamp), timestamp))
        if self.cancel_after and self.fired >= self.cancel_after:
            self.handle.cancel()

    def process(self, record: Record) -> None:
        self.log.append(("record", record.timestamp))


def test_stream_time_punctuation_aligned_to_zero_fires_on_data_and_skips_missed_intervals() -> None:
    log: list[Any] = []
    topology = single_processor(lambda: Punctuating(10, STREAM_TIME, log))
    with TopologyTestDriver(topology, APP) as d:
        i = d.create_input_topic("in", S, S)
        for ts in [3, 5, 12, 9, 45, 50, 51, 59, 60]:
            i.pipe_input("k", "v", ts)
        ticks = d.create_output_topic("out", S, S).read_records_to_list()
    assert [e[:2] for e in log] == [
        ("record", 3), ("punctuate", 3),      # first data: due at 0, fires at once
        ("record", 5),
        ("record", 12), ("punctuate", 12),    # passed 10
        ("record", 9),                        # out of order: stream time stays 12
        ("record", 45), ("punctuate", 45),    # 20, 30, 40 missed: one punctuation, not three
        ("record", 50), ("punctuate", 50),    # next boundary after 45 is 50
        ("record", 51), ("record", 59),
        ("record", 60), ("punctuate", 60),
    ]
    # inside a punctuator: context timestamp is the punctuation time, no record metadata
    assert all(e[2] == e[1] and e[3] is None for e in log if e[0] == "punctuate")
    assert ticks == [Record("tick", str(t), t) for t in (3, 12, 45, 50, 60)]


def test_stream_time_punctuation_does_not_fire_without_data() -> None:
    log: list[Any] = []
    with TopologyTestDriver(single_processor(lambda: Punctuating(10, STREAM_TIME, log)), APP) as d:
        d.advance_wall_clock_time(1_000_000)
    assert log == []


def test_wall_clock_punctuation_driven_by_advance_wall_clock_time() -> None:
    log: list[Any] = []
    topology = single_processor(lambda: Punctuating(100, WALL_CLOCK_TIME, log))
    with TopologyTestDriver(topology, APP, initial_wall_clock_time_ms=1_000) as d:
        d.create_input_topic("in", S, S).pipe_input("k", "v", 5_000)  # stream time: irrelevant
        d.advance_wall_clock_time(99)    # 1099: not yet (first due at start + interval)
        d.advance_wall_clock_time(1)     # 1100: fires
        d.advance_wall_clock_time(250)   # 1350: 1200 and 1300 missed, fires once
        d.advance_wall_clock_time(49)    # 1399: not yet, next is 1400
        d.advance_wall_clock_time(1)     # 1400: fires
        ticks = d.create_output_topic("out", S, S).read_records_to_list()
    assert [e[:2] for e in log] == [("record", 5_000), ("punctuate", 1100), ("punctuate", 1350),
                                    ("punctuate", 1400)]
    assert ticks == [Record("tick", str(t), t) for t in (1100, 1350, 1400)]


def test_cancelled_punctuator_stops_firing() -> None:
    log: list[Any] = []
    topology = single_processor(lambda: Punctuating(10, WALL_CLOCK_TIME, log, cancel_after=2))
    with TopologyTestDriver(topology, APP, initial_wall_clock_time_ms=0) as d:
        for _ in range(5):
            d.advance_wall_clock_time(10)
    assert [e[1] for e in log] == [10, 20]


def test_schedule_rejects_non_positive_interval() -> None:
    with pytest.raises(Exception, match="interval must be >= 1 ms"):
        TopologyTestDriver(single_processor(lambda: Punctuating(0, STREAM_TIME, [])), APP)


def test_failing_punctuator_raises_processor_error_naming_the_node() -> None:
    class Failing(Processor):
        def init(self, context: Any) -> None:
            context.schedule(5, WALL_CLOCK_TIME, self.boom)

        def boom(self, ts: int) -> None:
            raise ValueError("bad tick")

        def process(self, record: Record) -> None:
            pass

    with TopologyTestDriver(single_processor(Failing), APP, initial_wall_clock_time_ms=0) as d, \
            pytest.raises(ProcessorError, match=r"punctuator of processor 'p'.*task 0_0.*at time 5.*bad tick"):
        d.advance_wall_clock_time(5)


# --------------------------------------------------------------------------- stores
def test_key_value_store_protocol_through_a_processor() -> None:
    results: dict[str, Any] = {}

    class UseStore(Processor):
        def init(self, context: Any) -> None:
            self.store = context.get_state_store("kv")

        def process(self, record: Record) -> None:
            st = self.store
            st.put("b", 2)
            st.put("a", 1)
            st.put_all([("c", 3), ("ab", 12), ("d", 4)])
            results["get"] = (st.get("a"), st.get("missing"))
            results["put_if_absent"] = (st.put_if_absent("a", 100), st.put_if_absent("e", 5))
            results["delete"] = (st.delete("d"), st.delete("d"))
            st.put("c", None)  # put None deletes
            results["all"] = list(st.all())
            results["range"] = list(st.range("ab", "b"))
            results["open_range"] = list(st.range(None, "ab"))
            results["reverse_range"] = list(st.reverse_range("a", "e"))
            results["prefix"] = list(st.prefix_scan("a"))
            results["count"] = st.approximate_num_entries()

    store = Stores.key_value_store_builder(Stores.in_memory_key_value_store("kv"), S, INT)
    with TopologyTestDriver(single_processor(UseStore, store, out=False), APP) as d:
        d.create_input_topic("in", S, S).pipe_input("k", "v")
        assert list(d.get_key_value_store("kv").all()) == [("a", 1), ("ab", 12), ("b", 2), ("e", 5)]
    assert results == {
        "get": (1, None),
        "put_if_absent": (1, None),
        "delete": (4, None),
        "all": [("a", 1), ("ab", 12), ("b", 2), ("e", 5)],
        "range": [("ab", 12), ("b", 2)],
        "open_range": [("a", 1), ("ab", 12)],
        "reverse_range": [("e", 5), ("b", 2), ("ab", 12), ("a", 1)],
        "prefix": [("a", 1), ("ab", 12)],
        "count": 4,
    }


def test_store_iteration_follows_serialized_key_bytes_not_python_order() -> None:
    class Fill(Processor):
        def init(self, context: Any) -> None:
            self.store = context.get_state_store("ints")

        def process(self, record: Record) -> None:
            for k in (5, -1, 300, 0, -300):
                self.store.put(k, str(k))

    store = Stores.key_value_store_builder(Stores.in_memory_key_value_store("ints"), INT, S)
    with TopologyTestDriver(single_processor(Fill, store, out=False), APP) as d:
        d.create_input_topic("in", S, S).pipe_input("k", "v")
        # big-endian two's complement: negative numbers have the high bit set, so sort last
        assert [k for k, _ in d.get_key_value_store("ints").all()] == [0, 5, 300, -300, -1]


# --------------------------------------------------------------------------- commit, via a Task
class _Collector:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def send(self, topic: str, key: bytes | None, value: bytes | None, headers: Any,
             timestamp: int, partition: int | None = None) -> None:
        self.sent.append((topic, key, value, timestamp, partition))

    def partitions_for(self, topic: str) -> int | None:
        return None


def test_context_commit_sets_the_task_commit_flag_until_the_commit(tmp_path: Path) -> None:
    class CommitOnX(Processor):
        def process(self, record: Record) -> None:
            if record.value == "x":
                self.context.commit()
            self.context.forward(record)

    topology = single_processor(CommitOnX)
    config = StreamsConfig({"application.id": "c", "state.dir": str(tmp_path)})
    collector = _Collector()
    task = Task(TaskId(0, 3), topology, topology.subtopologies()[0], config, collector,
                wall_clock=lambda: 0, state_dir=tmp_path / "0_3")
    task.initialize()
    task.init_processors()
    task.add_records(("in", 3), [Message("in", 3, 40, 1, b"k", b"a")])
    task.process()
    assert task.commit_requested is False
    task.add_records(("in", 3), [Message("in", 3, 41, 2, b"k", b"x"),
                                  Message("in", 3, 42, 3, b"k", b"b")])
    task.process()
    assert task.commit_requested is True
    assert task.prepare_commit() == {("in", 3): 43}  # next offset to read
    assert task.commit_requested is False
    assert [s[2] for s in collector.sent] == [b"a", b"x", b"b"]
    task.close()
