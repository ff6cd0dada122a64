"""Error handling in a Task (deserialization, processing, dead-letter topic, invalid timestamps)
and the order in which a Task takes records from several partitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from task_helpers import Msg, two_topic_task

from streams import (
    Consumed,
    ProcessorError,
    Produced,
    ProductionError,
    Record,
    SerializationError,
    StreamsBuilder,
    StreamsError,
    Topology,
    serdes,
)
from streams.handlers import ErrorContext, Response
from streams.processor.timestamps import ConsumedRecord
from streams.testing import TopologyTestDriver

S, INT = serdes.String(), serdes.Integer()
APP = {"application.id": "app"}


def divider() -> Topology:
    """in (string key, int value) -> 100 // value (node "div") -> out."""
    b = StreamsBuilder()
    (b.stream("in", Consumed(key_serde=S, value_serde=INT))
     .map_values(lambda v: 100 // v, name="div")
     .to("out", Produced(key_serde=S, value_serde=INT)))
    return b.build()


def int_bytes(n: int) -> bytes:
    return INT.serialize("in", n)


# --------------------------------------------------------------------------- deserialization
def test_deserialization_error_names_topic_partition_offset() -> None:
    with TopologyTestDriver(divider(), APP) as d:
        raw = d.create_input_topic("in", S)  # value given as bytes
        raw.pipe_input("k", int_bytes(4))
        with pytest.raises(SerializationError) as err:
            raw.pipe_input("k", b"abc")
    e = err.value
    assert (e.topic, e.partition, e.offset) == ("in", 0, 1)
    assert "topic='in', partition=0, offset=1" in str(e)
    assert str(e).startswith("Integer(): ")  # the serde's own message, then the location
    assert e.__cause__ is not None  # the original error stays chained


def test_log_and_continue_skips_bad_records_and_the_dead_letter_topic_gets_them() -> None:
    config = {**APP, "default.deserialization.exception.handler": "log_and_continue",
              "errors.dead.letter.queue.topic.name": "dlq"}
    with TopologyTestDriver(divider(), config) as d:
        raw = d.create_input_topic("in", S)
        raw.pipe_input("k1", int_bytes(4), timestamp=1, headers=[("origin", b"test")])
        raw.pipe_input("k2", b"abc", timestamp=2, headers=[("origin", b"test")])
        raw.pipe_input("k3", int_bytes(50), timestamp=3)
        assert d.create_output_topic("out", S, INT).read_key_values_to_list() == [("k1", 25), ("k3", 2)]
        dead = d.create_output_topic("dlq").read_records_to_list()
    assert len(dead) == 1
    rec = dead[0]
    assert (rec.key, rec.value, rec.timestamp) == (b"k2", b"abc", 2)  # original bytes
    headers = dict(rec.headers)
    assert headers["origin"] == b"test"
    assert headers["__streams.errors.exception"] == b"SerializationError"
    assert headers["__streams.errors.topic"] == b"in"
    assert headers["__streams.errors.partition"] == b"0"
    assert headers["__streams.errors.offset"] == b"1"
    assert headers["__streams.errors.node"] == b"KSTREAM-SOURCE-0000000000"
    assert b"Integer" in headers["__streams.errors.message"]


def test_log_and_continue_without_dead_letter_topic_only_skips() -> None:
    config = {**APP, "default.deserialization.exception.handler": "log_and_continue"}
    with TopologyTestDriver(divider(), config) as d:
        raw = d.create_input_topic("in", S)
        raw.pipe_input("k", b"x")
        raw.pipe_input("k", int_bytes(10))
        assert d.create_output_topic("out", S, INT).read_values_to_list() == [10]
        assert d.produced_topic_names() == {"out"}


# --------------------------------------------------------------------------- processing
def test_exception_in_user_function_names_node_task_and_record() -> None:
    with TopologyTestDriver(divider(), APP) as d:
        i = d.create_input_topic("in", S, INT)
        i.pipe_input("k", 5)
        with pytest.raises(ProcessorError) as err:
            i.pipe_input("k", 0)
    msg = str(err.value)
    assert "processor 'div'" in msg
    assert "task 0_0" in msg
    assert "topic='in', partition=0, offset=1" in msg
    assert "ZeroDivisionError" in msg
    assert isinstance(err.value.__cause__, ZeroDivisionError)


def test_exception_in_a_downstream_subtopology_names_its_task_and_internal_topic() -> None:
    b = StreamsBuilder()
    (b.stream("in", Consumed(key_serde=S, value_serde=INT)).select_key(lambda v: str(v))
     .repartition()
     .filter(lambda v: 1 // (v - 7) >= 0 or True, name="picky").to("out"))
    with TopologyTestDriver(b.build(), {**APP, "default.key.serde": S}) as d, \
            pytest.raises(ProcessorError) as err:
        d.create_input_topic("in", S, INT).pipe_input("k", 7)
    msg = str(err.value)
    assert "processor 'picky' failed in task 1_0" in msg
    assert "topic='app-KSTREAM-REPARTITION-0000000002-repartition'" in msg


def test_processing_log_and_continue_with_dead_letter_topic() -> None:
    config = {**APP, "processing.exception.handler": "log_and_continue",
              "errors.dead.letter.queue.topic.name": "dlq"}
    with TopologyTestDriver(divider(), config) as d:
        i = d.create_input_topic("in", S, INT)
        i.pipe_key_value_list([("a", 5), ("b", 0), ("c", 50)])
        assert d.create_output_topic("out", S, INT).read_key_values_to_list() == [("a", 20), ("c", 2)]
        dead = d.create_output_topic("dlq").read_records_to_list()
    assert [(r.key, r.value) for r in dead] == [(b"b", int_bytes(0))]
    headers = dict(dead[0].headers)
    assert headers["__streams.errors.node"] == b"div"
    assert headers["__streams.errors.exception"] == b"ZeroDivisionError"
    assert headers["__streams.errors.offset"] == b"1"


def test_custom_handler_object_decides_per_record() -> None:
    seen: list[tuple[Any, ...]] = []

    class OnlyZeroDivision:
        def handle(self, context: ErrorContext, exception: BaseException) -> Response:
            seen.append((context.node, context.task_id, context.offset, type(exception).__name__))
            return Response.CONTINUE if isinstance(exception, ZeroDivisionError) else Response.FAIL

    b = StreamsBuilder()
    (b.stream("in", Consumed(key_serde=S, value_serde=INT))
     .map_values(lambda v: 100 // v if v >= 0 else int("bad"), name="calc")
     .to("out", Produced(key_serde=S, value_serde=INT)))
    with TopologyTestDriver(b.build(), {**APP, "processing.exception.handler": OnlyZeroDivision}) as d:
        i = d.create_input_topic("in", S, INT)
        i.pipe_input("k", 0)
        i.pipe_input("k", 10)
        with pytest.raises(ProcessorError, match="ValueError"):
            i.pipe_input("k", -1)
        assert d.create_output_topic("out", S, INT).read_values_to_list() == [10]
    assert seen == [("calc", "0_0", 0, "ZeroDivisionError"), ("calc", "0_0", 2, "ValueError")]


# --------------------------------------------------------------------------- production
def _refusing_sink() -> Topology:
    """in -> out, where writing a value above 99 is refused as the producer refuses a record
    too large (the collector raises ProductionError synchronously)."""
    def check(v: int) -> int:
        if v > 99:
            raise ProductionError(f"could not send to topic 'out': value {v} too large")
        return v

    b = StreamsBuilder()
    (b.stream("in", Consumed(key_serde=S, value_serde=INT))
     .map_values(check, name="send")
     .to("out", Produced(key_serde=S, value_serde=INT)))
    return b.build()


def test_a_refused_send_fails_by_default_naming_the_record() -> None:
    config = {**APP, "processing.exception.handler": "log_and_continue"}  # not its to judge
    with TopologyTestDriver(_refusing_sink(), config) as d:
        i = d.create_input_topic("in", S, INT)
        i.pipe_input("a", 1)
        with pytest.raises(ProcessorError, match=r"partition=0, offset=1\).*too large"):
            i.pipe_input("b", 100)


def test_production_handler_continue_skips_and_dead_letters_the_input_record() -> None:
    config = {**APP, "default.production.exception.handler": "continue",
              "errors.dead.letter.queue.topic.name": "dlq"}
    with TopologyTestDriver(_refusing_sink(), config) as d:
        i = d.create_input_topic("in", S, INT)
        i.pipe_key_value_list([("a", 1), ("b", 100), ("c", 3)])
        assert d.create_output_topic("out", S, INT).read_key_values_to_list() == [("a", 1),
                                                                                  ("c", 3)]
        dead = d.create_output_topic("dlq").read_records_to_list()
    assert [(r.key, r.value) for r in dead] == [(b"b", int_bytes(100))]
    assert dict(dead[0].headers)["__streams.errors.exception"] == b"ProductionError"


def test_an_invalid_production_handler_is_a_config_error() -> None:
    with pytest.raises(StreamsError, match=r"default\.production\.exception\.handler"):
        TopologyTestDriver(_refusing_sink(), {**APP, "default.production.exception.handler":
                                              "retry_forever"})


# --------------------------------------------------------------------------- timestamps
def test_negative_timestamp_fails_by_default() -> None:
    with TopologyTestDriver(divider(), APP) as d, \
            pytest.raises(StreamsError, match=r"invalid \(negative\) timestamp -1.*offset=0"):
        d.create_input_topic("in", S, INT).pipe_input("k", 1, timestamp=-1)


def test_negative_timestamp_skipped_with_log_and_skip_extractor() -> None:
    config = {**APP, "default.timestamp.extractor": "LogAndSkipOnInvalidTimestamp"}
    with TopologyTestDriver(divider(), config) as d:
        d.create_input_topic("in", S, INT).pipe_record_list([
            Record("a", 1, -5), Record("b", 2, 8)])
        assert d.create_output_topic("out", S, INT).read_records_to_list() == [Record("b", 50, 8)]


def test_negative_timestamp_replaced_by_partition_time() -> None:
    config = {**APP, "default.timestamp.extractor": "UsePartitionTimeOnInvalidTimestamp"}
    with TopologyTestDriver(divider(), config) as d:
        i = d.create_input_topic("in", S, INT)
        with pytest.raises(StreamsError, match="no partition time is known yet"):
            i.pipe_input("a", 1, timestamp=-1)
        i.pipe_record_list([Record("b", 2, 30), Record("c", 4, 10), Record("d", 5, -1)])
        assert d.create_output_topic("out", S, INT).read_records_to_list() == [
            Record("b", 50, 30), Record("c", 25, 10), Record("d", 20, 30)]


def test_consumed_timestamp_extractor_reads_the_value() -> None:
    def from_value(record: ConsumedRecord, partition_time: int) -> int:
        assert record.topic == "in" and record.partition == 0
        return int(record.value["ts"])

    b = StreamsBuilder()
    (b.stream("in", Consumed(key_serde=S, value_serde=serdes.Json(), timestamp_extractor=from_value))
     .to("out", Produced(key_serde=S, value_serde=serdes.Json())))
    with TopologyTestDriver(b.build(), APP) as d:
        d.create_input_topic("in", S, serdes.Json()).pipe_input("k", {"ts": 1234}, timestamp=1)
        assert d.create_output_topic("out", S, serdes.Json()).read_record().timestamp == 1234


def test_exception_in_a_timestamp_extractor_names_the_record() -> None:
    def broken(record: ConsumedRecord, partition_time: int) -> int:
        return int(record.value["missing"])

    b = StreamsBuilder()
    b.stream("in", Consumed(key_serde=S, value_serde=serdes.Json(),
                            timestamp_extractor=broken)).to("out")
    with TopologyTestDriver(b.build(), APP) as d, \
            pytest.raises(StreamsError, match=r"topic='in', partition=0, offset=0"):
        d.create_input_topic("in", S, serdes.Json()).pipe_input("k", {"ts": 1})


# --------------------------------------------------------------------------- several partitions in one Task
def test_task_takes_the_smallest_head_timestamp_across_partitions(tmp_path: Path) -> None:
    task, collector, seen = two_topic_task(tmp_path)
    assert str(task.id) == "0_2"
    task.add_records(("left", 2), [Msg("left", 2, 0, 10, "L0"), Msg("left", 2, 1, 30, "L1"),
                                   Msg("left", 2, 2, 20, "L2")])
    task.add_records(("right", 2), [Msg("right", 2, 0, 15, "R0"), Msg("right", 2, 1, 25, "R1")])
    assert task.buffered() == 5
    assert task.buffered_for(("left", 2)) == 3
    assert task.process(max_records=2) == 2
    assert task.process() == 3
    # heads compared each time: L0(10) R0(15) R1(25) L1(30) then L2(20) (order within a
    # partition is kept; stream time is the largest timestamp seen so far)
    assert seen == [("left", 0, 10), ("right", 0, 15), ("right", 1, 25), ("left", 1, 30),
                    ("left", 2, 30)]
    assert [v for _, v, _ in collector.sent] == [b"L0", b"R0", b"R1", b"L1", b"L2"]
    assert [ts for _, _, ts in collector.sent] == [10, 15, 25, 30, 20]
    assert task.stream_time == 30
    assert task.consumed_offsets() == {("left", 2): 2, ("right", 2): 1}
    assert task.prepare_commit() == {("left", 2): 3, ("right", 2): 2}
    task.close()


def test_task_rejects_records_of_a_topic_it_does_not_read(tmp_path: Path) -> None:
    task, _, _ = two_topic_task(tmp_path)
    with pytest.raises(StreamsError, match="'other', which it does not read"):
        task.add_records(("other", 2), [Msg("other", 2, 0, 1, "x")])
    task.close()
