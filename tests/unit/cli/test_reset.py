"""``streams reset`` without a broker: option parsing, topic and offset planning, refusals.

The cluster is replaced by :class:`FakeCluster` (same methods as ``streams.cli.reset.Cluster``),
which records every change asked of it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from streams import StreamsBuilder
from streams.cli import reset
from streams.cli.main import build_parser, main
from streams.errors import ConfigError
from streams.runtime.app_reset import (
    OffsetReset,
    ResetError,
    ResetPlan,
    ResetTarget,
    TopicChoice,
    choose_topics,
    format_millis,
    is_internal_topic,
    offset_resets,
    parse_datetime,
    parse_duration,
)
from streams.runtime.kafka_streams import (
    KafkaStreams,
    StateDirectoryLockedError,
    lock_state_dir,
    unlock_state_dir,
)

APP = "wc"


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["reset", *argv])


# ---------------------------------------------------------------- times and durations
@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-01T00:00:00Z", 1767225600000),
    ("2026-01-01T00:00:00", 1767225600000),  # no zone: UTC, as Kafka's tool
    ("2026-01-01T00:00:00.250Z", 1767225600250),
    ("2026-01-01T01:00:00+01:00", 1767225600000),
    ("2026-01-01T01:00:00+0100", 1767225600000),
    ("2025-12-31T19:00:00.5-05:00", 1767225600500),
])
def test_parse_datetime(text: str, expected: int) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize("text", ["2026-01-01", "2026-01-01 00:00:00", "2026-13-01T00:00:00",
                                  "yesterday", "2026-01-01T00:00:00+1", "2026-W01-1T00:00:00"])
def test_parse_datetime_rejects(text: str) -> None:
    with pytest.raises(ResetError, match="--to-datetime"):
        parse_datetime(text)


def test_format_millis_round_trips() -> None:
    assert format_millis(1767225600250) == "2026-01-01T00:00:00.250Z"
    assert parse_datetime(format_millis(1767225600250)) == 1767225600250


@pytest.mark.parametrize(("text", "expected"), [
    ("P1D", timedelta(days=1)),
    ("PT6H", timedelta(hours=6)),
    ("PT15M", timedelta(minutes=15)),
    ("P1DT12H30M", timedelta(days=1, hours=12, minutes=30)),
    ("PT0.5S", timedelta(seconds=0.5)),
    ("PT1,5S", timedelta(seconds=1.5)),
    ("pt2h", timedelta(hours=2)),
    ("PT0S", timedelta(0)),
])
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["P", "PT", "P1DT", "1D", "P1W", "P1M", "PT-1H", "-PT1H",
                                  "P1.5D", "6h", ""])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ResetError, match="--by-duration"):
        parse_duration(text)


def test_target_from_options() -> None:
    assert reset.target_from(parse(APP)) == ResetTarget()
    assert reset.target_from(parse(APP, "--to-earliest")).timestamp_ms is None
    at = reset.target_from(parse(APP, "--to-datetime", "2026-01-01T00:00:00Z"))
    assert at.timestamp_ms == 1767225600000
    assert "2026-01-01T00:00:00.000Z" in at.description
    back = reset.target_from(parse(APP, "--by-duration", "PT1H"), now=lambda: 1767229200.0)
    assert back.timestamp_ms == 1767225600000


def test_times_before_1970_are_not_taken_for_special_offsets() -> None:
    # -1 and -2 mean "latest" and "earliest" to ListOffsets
    assert ResetTarget.at_timestamp(parse_datetime("1969-12-31T23:59:59.999Z"), "x"
                                    ).timestamp_ms == 0
    back = reset.target_from(parse(APP, "--by-duration", "P30000D"), now=lambda: 1767225600.0)
    assert back.timestamp_ms == 0


# ---------------------------------------------------------------- argument parsing
def test_parser_defaults() -> None:
    args = parse(APP)
    assert args.application_id == APP
    assert (args.dry_run, args.state_dir, args.input_topics, args.config) == (False, None, None, [])
    assert args.timeout == 30.0


@pytest.mark.parametrize("pair", [("--to-datetime", "2026-01-01T00:00:00", "--by-duration", "P1D"),
                                  ("--to-earliest", "--by-duration", "P1D")])
def test_target_options_are_exclusive(pair: tuple[str, ...], capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    with pytest.raises(SystemExit):
        parse(APP, *pair)
    assert "not allowed with" in capsys.readouterr().err


def test_admin_config() -> None:
    args = parse(APP, "--config", "security.protocol=SSL", "--config", "sasl.password=a=b")
    conf = reset.admin_config(args, {"KAFKA_BOOTSTRAP_SERVERS": "env:9092"})
    assert conf["bootstrap.servers"] == "env:9092"
    assert conf["security.protocol"] == "SSL"
    assert conf["sasl.password"] == "a=b"  # only the first "=" separates
    args = parse(APP, "--bootstrap-servers", "flag:9092")
    assert reset.admin_config(args, {"KAFKA_BOOTSTRAP_SERVERS": "env:9092"})[
        "bootstrap.servers"] == "flag:9092"


def test_admin_config_errors() -> None:
    with pytest.raises(ConfigError, match="KAFKA_BOOTSTRAP_SERVERS"):
        reset.admin_config(parse(APP), {})
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        reset.admin_config(parse(APP, "--config", "novalue"), {"KAFKA_BOOTSTRAP_SERVERS": "x:1"})


def test_input_topics_option() -> None:
    assert reset.input_topics_from(parse(APP)) is None
    assert reset.input_topics_from(parse(APP, "--input-topics", "a, b,,a")) == ["a", "b", "a"]
    with pytest.raises(ResetError):
        reset.input_topics_from(parse(APP, "--input-topics", ","))


# ---------------------------------------------------------------- which topics
@pytest.mark.parametrize(("topic", "internal"), [
    ("wc-counts-repartition", True),
    ("wc-counts-changelog", True),
    ("wc-control", True),
    ("wc-orders-subscription-registration-topic", True),
    ("wc-orders-subscription-response-topic", True),
    ("wc-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic", True),
    ("wc-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic", True),
    ("lines", False),
    ("wc-lines", False),
    ("other-counts-changelog", False),
    ("wccounts-changelog", False),
    ("wc-changelog", False),  # no store name between the prefix and the suffix
    ("wc-control-2", False),
])
def test_is_internal_topic(topic: str, internal: bool) -> None:
    assert is_internal_topic(topic, APP) is internal


COMMITTED = {("lines", 0): 7, ("lines", 1): 3, ("wc-counts-repartition", 0): 11}
EXISTING = {"lines": 2, "wc-counts-repartition": 1, "wc-counts-changelog": 1, "wc-control": 1,
            "words": 1, "other-counts-changelog": 1}


def test_default_inputs_are_committed_non_internal_topics() -> None:
    choice = choose_topics(APP, COMMITTED, EXISTING, None, [APP])
    assert choice.inputs == ["lines"]
    assert choice.internal == ["wc-control", "wc-counts-changelog", "wc-counts-repartition"]
    assert choice.kept == {} and choice.gone == []


def test_explicit_inputs_override_and_are_never_deleted() -> None:
    choice = choose_topics(APP, COMMITTED, EXISTING, ["words", "wc-counts-changelog"], [])
    assert choice.inputs == ["words", "wc-counts-changelog"]
    assert "wc-counts-changelog" not in choice.internal
    assert "input topic" in choice.kept["wc-counts-changelog"]


def test_missing_explicit_input_is_refused() -> None:
    with pytest.raises(ResetError, match="nope"):
        choose_topics(APP, COMMITTED, EXISTING, ["lines", "nope"], [])


def test_committed_topic_that_is_gone_is_skipped() -> None:
    choice = choose_topics(APP, {**COMMITTED, ("deleted", 0): 1}, EXISTING, None, [])
    assert choice.inputs == ["lines"]
    assert choice.gone == ["deleted"]


def test_topics_of_an_application_with_a_longer_id_are_kept() -> None:
    existing = {**EXISTING, "wc-v2-counts-changelog": 1, "wc-v2-x-repartition": 1}
    committed = {**COMMITTED, ("wc-v2-x-repartition", 0): 4}  # read by group wc itself
    choice = choose_topics(APP, committed, existing, None, [APP, "wc-v2", "wc-restore"])
    assert "wc-v2-counts-changelog" not in choice.internal
    assert "'wc-v2'" in choice.kept["wc-v2-counts-changelog"]
    # committed by this application's group: its own, whatever the name looks like
    assert "wc-v2-x-repartition" in choice.internal
    # the runtime's own derived groups (wc-restore, ...) do not count as other applications
    assert "wc-counts-changelog" in choice.internal


def test_offset_resets_use_the_end_where_nothing_was_found() -> None:
    resets = offset_resets({"lines": 3}, {("lines", 0): 7},
                           found={("lines", 0): 2, ("lines", 1): -1, ("lines", 2): 0},
                           end={("lines", 0): 9, ("lines", 1): 5, ("lines", 2): 6})
    assert resets == [OffsetReset("lines", 0, 7, 2), OffsetReset("lines", 1, None, 5),
                      OffsetReset("lines", 2, None, 0)]
    with pytest.raises(ResetError, match="lines partition 1"):
        offset_resets({"lines": 2}, {}, found={("lines", 0): 0}, end={})


def test_plan_lines_and_summary(tmp_path: Path) -> None:
    choice = TopicChoice(inputs=["lines"], internal=["wc-counts-repartition", "wc-control"],
                         kept={"wc-v2-a-changelog": "it may belong to consumer group 'wc-v2'"})
    plan = ResetPlan.build(APP, ResetTarget(), choice, [OffsetReset("lines", 0, 7, 0)], COMMITTED,
                           tmp_path / APP, ["0_0", "kafka-streams-process-metadata"])
    text = "\n".join(plan.lines())
    assert "lines partition 0: 7 -> 0" in text
    assert "wc-counts-repartition (and the group's committed offsets of 1 partition(s))" in text
    assert "    wc-control\n" in text
    assert "not deleting wc-v2-a-changelog" in text
    assert f"wipe {tmp_path / APP} (2 entries: 0_0, kafka-streams-process-metadata)" in text
    assert plan.forgotten_offsets == 1
    summary = plan.summary()
    assert "reset 1 partition(s) of 1 input topic(s)" in summary
    assert "deleted 2 internal topic(s)" in summary and "wiped" in summary


# ---------------------------------------------------------------- run() on a fake cluster
class FakeCluster:
    """Stands in for ``reset.Cluster``; ``members`` is popped per call (last one sticks)."""

    instances: list[FakeCluster] = []
    members: list[int] = [0]

    def __init__(self, conf: Mapping[str, str], timeout: float) -> None:
        self.conf = dict(conf)
        self.altered: dict[tuple[str, int], int] | None = None
        self.deleted: list[str] | None = None
        self.offset_calls: list[str] = []
        self._members = list(FakeCluster.members)
        FakeCluster.instances.append(self)

    def active_members(self, group: str) -> int:
        return self._members.pop(0) if len(self._members) > 1 else self._members[0]

    def committed(self, group: str) -> dict[tuple[str, int], int]:
        return dict(COMMITTED)

    def topics(self) -> dict[str, int]:
        return dict(EXISTING)

    def groups(self) -> list[str]:
        return [APP]

    def offsets(self, partitions: Mapping[str, int], which: str,
                timestamp_ms: int = 0) -> dict[tuple[str, int], int]:
        self.offset_calls.append(which)
        value = {"earliest": 0, "latest": 50, "time": -1}[which]
        return {(t, p): value for t, n in partitions.items() for p in range(n)}

    def alter_offsets(self, group: str, offsets: Mapping[tuple[str, int], int]) -> None:
        self.altered = dict(offsets)

    def delete_topics(self, names: list[str], group: str) -> None:
        self.deleted = list(names)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeCluster]:
    monkeypatch.setattr(reset, "Cluster", FakeCluster)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "fake:9092")
    FakeCluster.instances = []
    FakeCluster.members = [0]
    return FakeCluster


def state_dir(tmp_path: Path) -> Path:
    """A state directory of ``wc`` holding a task directory and the process id file."""
    root = tmp_path / APP
    (root / "1_0" / "rocksdb").mkdir(parents=True)
    (root / "1_0" / ".checkpoint").write_text("x")
    (root / "kafka-streams-process-metadata").write_text("{}")
    return root


def test_refuses_while_the_group_has_members(fake: type[FakeCluster], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    fake.members = [2]
    root = state_dir(tmp_path)
    assert main(["reset", APP, "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "consumer group 'wc' has 2 active member(s)" in err
    assert "stop every instance" in err
    cluster = fake.instances[0]
    assert cluster.altered is None and cluster.deleted is None
    assert (root / "1_0" / ".checkpoint").exists()


def test_dry_run_changes_nothing(fake: type[FakeCluster], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    root = state_dir(tmp_path)
    assert main(["reset", APP, "--dry-run", "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "lines partition 0: 7 -> 0" in out and "lines partition 1: 3 -> 0" in out
    assert "wc-counts-changelog" in out and "wc-counts-repartition" in out
    assert "Dry run: nothing was changed." in out
    cluster = fake.instances[0]
    assert cluster.altered is None and cluster.deleted is None
    assert sorted(p.name for p in root.iterdir()) == ["1_0", "kafka-streams-process-metadata"]


def test_dry_run_reports_a_locked_state_directory(fake: type[FakeCluster], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = state_dir(tmp_path)
    lock = lock_state_dir(root, APP)
    try:
        assert main(["reset", APP, "--dry-run", "--state-dir", str(tmp_path)]) == 0
    finally:
        unlock_state_dir(lock)
    assert "the reset would refuse" in capsys.readouterr().out


def test_reset_changes_offsets_deletes_topics_and_wipes_state(
        fake: type[FakeCluster], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = state_dir(tmp_path)
    assert main(["reset", APP, "--state-dir", str(tmp_path)]) == 0
    cluster = fake.instances[0]
    assert cluster.altered == {("lines", 0): 0, ("lines", 1): 0}
    assert cluster.deleted == ["wc-control", "wc-counts-changelog", "wc-counts-repartition"]
    assert [p.name for p in root.iterdir()] == [".lock"]
    out = capsys.readouterr().out
    assert "Application 'wc': reset 2 partition(s) of 1 input topic(s)" in out
    assert "deleted 3 internal topic(s)" in out


def test_to_datetime_falls_back_to_the_end_offset(fake: type[FakeCluster]) -> None:
    assert main(["reset", APP, "--to-datetime", "2030-01-01T00:00:00Z",
                 "--input-topics", "words"]) == 0
    cluster = fake.instances[0]
    assert cluster.offset_calls == ["time", "latest"]
    assert cluster.altered == {("words", 0): 50}


def test_refuses_when_the_state_directory_is_locked(fake: type[FakeCluster], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    root = state_dir(tmp_path)
    lock = lock_state_dir(root, APP)  # what a running instance holds
    try:
        assert main(["reset", APP, "--state-dir", str(tmp_path)]) == 1
    finally:
        unlock_state_dir(lock)
    assert "locked by a running instance of 'wc'" in capsys.readouterr().err
    cluster = fake.instances[0]
    assert cluster.altered is None and cluster.deleted is None
    assert (root / "1_0" / ".checkpoint").exists()


def test_refuses_when_an_instance_starts_during_planning(fake: type[FakeCluster],
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    fake.members = [0, 1]
    assert main(["reset", APP]) == 1
    assert "now has 1 active member(s)" in capsys.readouterr().err
    assert fake.instances[0].altered is None


def test_missing_bootstrap_servers(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert main(["reset", APP]) == 1
    assert "--bootstrap-servers" in capsys.readouterr().err


def test_unknown_admin_setting_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    assert main(["reset", APP, "--config", "no.such.setting=1"]) == 1
    assert "no.such.setting" in capsys.readouterr().err


# ---------------------------------------------------------------- the shared wipe
def test_kafka_streams_cleanup_uses_the_same_lock(tmp_path: Path) -> None:
    builder = StreamsBuilder()
    builder.stream("in").to("out")
    app: Any = KafkaStreams(builder.build(), {"application.id": APP, "bootstrap.servers": "x:1",
                                              "state.dir": str(tmp_path)})
    root = state_dir(tmp_path)
    lock = lock_state_dir(root, APP)
    try:
        with pytest.raises(StateDirectoryLockedError):
            app.cleanup()
    finally:
        unlock_state_dir(lock)
    assert (root / "1_0").exists()
    app.cleanup()
    assert [p.name for p in root.iterdir()] == [".lock"]
