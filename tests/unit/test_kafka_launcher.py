"""Unit tests of the local Kafka launcher: everything that needs no broker."""

from __future__ import annotations

import base64
import multiprocessing
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.cli import main as cli_main
from streams.cli.local_kafka import parse_overrides
from streams.errors import KafkaUnavailableError
from streams.testing import clients
from streams.testing.local_kafka import (
    DEFAULT_KAFKA_VERSION,
    INSTALL_HINT,
    LocalKafka,
    NodeSpec,
    broker_config,
    broker_properties,
    cluster,
    distribution,
    generate_cluster_id,
    jvm_command,
    logs,
    parse_java_version,
    processes,
    render_log4j2_config,
    render_pom,
    render_properties,
    resolve_kafka,
)
from streams.testing.local_kafka import java as java_finder


def _write_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The whole PATH: no java, no mvn, just what the fake scripts use; no JAVA_HOME."""
    bin_path = tmp_path / "bin"
    bin_path.mkdir()
    for tool in ("sh", "mkdir", "touch", "sleep"):
        found = shutil.which(tool)
        assert found, tool
        (bin_path / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    java_finder._probe_java.cache_clear()
    yield bin_path
    java_finder._probe_java.cache_clear()


def _fake_java(bin_dir: Path, version: str, run_body: str = "exit 0\n") -> Path:
    return _write_script(
        bin_dir / "java",
        'case "$1" in -version) echo "openjdk version \\"' + version + '\\" 2024-01-01" >&2; '
        "exit 0;; esac\n" + run_body,
    )


def _spec(tmp_path: Path, node_id: int = 0, port: int = 9092, cport: int = 9093) -> NodeSpec:
    return NodeSpec(
        node_id=node_id, port=port, controller_port=cport, directory=tmp_path / f"n{node_id}"
    )


# ---- java / maven -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_292"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ('openjdk version "23-ea" 2024-09-17', 23),
        ('openjdk version "11.0.2" 2019-01-15', 11),
        ("no version here", None),
    ],
)
def test_parse_java_version(text: str, major: int | None) -> None:
    assert parse_java_version(text) == major


def test_missing_java_names_what_to_install(bin_dir: Path) -> None:
    with pytest.raises(KafkaUnavailableError) as info:
        java_finder.find_java()
    message = str(info.value)
    assert INSTALL_HINT in message
    assert "KAFKA_BOOTSTRAP_SERVERS" in message


def test_old_java_is_rejected(bin_dir: Path) -> None:
    _fake_java(bin_dir, "11.0.2")
    with pytest.raises(KafkaUnavailableError, match=r"Java 17 or newer.*11\.0\.2") as info:
        java_finder.find_java()
    assert INSTALL_HINT in str(info.value)


def test_new_java_is_accepted(bin_dir: Path) -> None:
    _fake_java(bin_dir, "21.0.1")
    java = java_finder.find_java()
    assert java.major == 21
    assert java.executable == str(bin_dir / "java")
    assert len(java.fingerprint) == 12


def test_java_home_wins_over_path(
    bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_java(bin_dir, "11.0.2")
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    _fake_java(home / "bin", "17.0.1")
    monkeypatch.setenv("JAVA_HOME", str(home))
    assert java_finder.find_java().major == 17


def test_missing_maven_names_what_to_install(bin_dir: Path) -> None:
    with pytest.raises(KafkaUnavailableError, match="Maven") as info:
        java_finder.find_maven()
    assert INSTALL_HINT in str(info.value)


def test_start_without_java_fails_before_touching_anything(bin_dir: Path) -> None:
    kafka = LocalKafka()
    with pytest.raises(KafkaUnavailableError, match="openjdk-17"):
        kafka.start()
    assert not kafka.is_running()


# ---- configuration rendering ---------------------------------------------------------------


def test_single_node_properties(tmp_path: Path) -> None:
    node = _spec(tmp_path)
    props = broker_properties(node, [node])
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "0"
    assert props["controller.quorum.voters"] == "0@127.0.0.1:9093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert props["log.dirs"] == str(node.data_dir)
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
        "default.replication.factor",
    ):
        assert props[key] == "1", key


def test_three_node_properties(tmp_path: Path) -> None:
    nodes = [_spec(tmp_path, i, 9000 + i, 9100 + i) for i in range(3)]
    props = broker_properties(nodes[1], nodes)
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == (
        "0@127.0.0.1:9100,1@127.0.0.1:9101,2@127.0.0.1:9102"
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9001,CONTROLLER://127.0.0.1:9101"
    assert props["default.replication.factor"] == "3"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["share.coordinator.state.topic.min.isr"] == "2"


def test_overrides_win_and_values_are_rendered(tmp_path: Path) -> None:
    node = _spec(tmp_path)
    props = broker_properties(
        node, [node], {"auto.create.topics.enable": True, "num.partitions": 6}
    )
    assert props["auto.create.topics.enable"] == "true"
    assert props["num.partitions"] == "6"


def test_render_properties_escapes() -> None:
    text = render_properties({"a.b": "x", "odd:key": "C:\\dir", "k=v": "multi\nline"})
    lines = text.splitlines()
    assert lines[0].startswith("#")
    assert "a.b=x" in lines
    assert "odd\\:key=C:\\\\dir" in lines
    assert "k\\=v=multi\\nline" in lines


def test_log4j2_config_logs_to_file(tmp_path: Path) -> None:
    text = render_log4j2_config(tmp_path / "server.log")
    assert f"appender.file.fileName = {tmp_path / 'server.log'}" in text
    assert "rootLogger.level = INFO" in text
    assert "shutdownHook = disable" in text


def test_pom_lists_broker_and_logging_binding() -> None:
    pom = render_pom("4.1.0", log4j_version="2.24.3")
    assert "<artifactId>kafka_2.13</artifactId><version>4.1.0</version>" in pom
    assert "<artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version>" in pom
    assert "<artifactId>log4j-core</artifactId><version>2.24.3</version>" in pom


def test_cluster_id_is_kafka_uuid_shaped() -> None:
    ids = {generate_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cid in ids:
        assert len(cid) == 22
        assert not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = broker_config.free_ports(6)
    assert len(set(ports)) == 6
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_version_and_cache_root_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(distribution.ENV_VERSION, raising=False)
    assert distribution.kafka_version() == DEFAULT_KAFKA_VERSION
    monkeypatch.setenv(distribution.ENV_VERSION, "4.0.0")
    assert distribution.kafka_version() == "4.0.0"
    monkeypatch.setenv(distribution.ENV_CACHE, str(tmp_path / "c"))
    assert distribution.cache_root() == tmp_path / "c"
    monkeypatch.delenv(distribution.ENV_CACHE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert distribution.cache_root() == tmp_path / "xdg" / "streams" / "kafka"


# ---- jar resolution ------------------------------------------------------------------------

_FAKE_MVN = r"""
for arg in "$@"; do
  case "$arg" in -DoutputDirectory=*) out="${arg#-DoutputDirectory=}";; esac
done
echo run >> "$MVN_COUNTER"
sleep 0.5
mkdir -p "$out"
touch "$out/kafka_2.13-9.9.9.jar" "$out/log4j-core-2.25.5.jar"
"""


def _resolve_in_child(root: str, path: str, counter: str) -> None:
    os.environ["PATH"] = path
    os.environ["MVN_COUNTER"] = counter
    resolve_kafka("9.9.9", Path(root))


def test_resolve_skips_maven_when_cache_is_complete(bin_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "cache" / "9.9.9"
    (home / "libs").mkdir(parents=True)
    (home / ".complete").write_text("{}")
    dist = resolve_kafka("9.9.9", tmp_path / "cache")  # no mvn on PATH: must not be needed
    assert dist.libs == home / "libs"
    assert dist.classpath == str(home / "libs" / "*")


def test_resolve_runs_maven_once_even_when_racing(
    bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_script(bin_dir / "mvn", _FAKE_MVN)
    counter = tmp_path / "mvn-runs"
    root = tmp_path / "cache"
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_resolve_in_child, args=(str(root), os.environ["PATH"], str(counter)))
        for _ in range(3)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert counter.read_text().splitlines() == ["run"]
    assert (root / "9.9.9" / "libs" / "kafka_2.13-9.9.9.jar").is_file()
    assert (root / "9.9.9" / ".complete").is_file()
    assert (root / "9.9.9" / "pom.xml").is_file()
    assert not list(root.glob(".9.9.9.tmp-*")), "staging directories must not be left behind"


def test_resolve_reports_maven_failure(bin_dir: Path, tmp_path: Path) -> None:
    _write_script(
        bin_dir / "mvn",
        'echo "[ERROR] Could not find artifact org.apache.kafka:kafka_2.13:jar:9.9.9"\nexit 1\n',
    )
    root = tmp_path / "cache"
    with pytest.raises(KafkaUnavailableError, match="Could not find artifact") as info:
        resolve_kafka("9.9.9", root)
    assert "exit 1" in str(info.value)
    assert not (root / "9.9.9").exists()
    assert not list(root.glob(".9.9.9.tmp-*"))


def test_resolve_without_maven_names_what_to_install(bin_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(KafkaUnavailableError, match="mvn"):
        resolve_kafka("9.9.9", tmp_path / "cache")


# ---- start-up failures ---------------------------------------------------------------------


def test_failed_start_reports_the_jvm_output_and_cleans_up(
    bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A "java" that passes the version check but dies like a broken broker would.
    _fake_java(bin_dir, "17.0.9", 'echo "Error: boom, the broker cannot start"\nexit 1\n')
    cache = tmp_path / "cache"
    (cache / "9.9.9" / "libs").mkdir(parents=True)
    (cache / "9.9.9" / ".complete").write_text("{}")
    monkeypatch.setenv(distribution.ENV_CACHE, str(cache))
    monkeypatch.setenv(jvm_command.ENV_CDS, "0")
    monkeypatch.setattr(cluster.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    kafka = LocalKafka(version="9.9.9", startup_timeout=20)
    with pytest.raises(KafkaUnavailableError) as info:
        kafka.start()
    message = str(info.value)
    assert "formatting KRaft storage failed" in message
    assert "boom, the broker cannot start" in message
    assert list((tmp_path / "tmp").iterdir()) == [], "the data directory must be removed"


def test_problem_lines_pick_errors_out_of_a_noisy_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    noise = "[t] INFO shutting down\n" * 300
    log.write_text(
        "[t] INFO starting\n"
        "[t] ERROR Unable to start acceptor for PLAINTEXT\n"
        "org.apache.kafka.common.KafkaException: Socket server failed to bind: Address already in use.\n"
        "Caused by: java.net.BindException: Address already in use\n" + noise
    )
    problems = logs._problem_lines(log)
    assert any("Address already in use" in line for line in problems)
    assert all("shutting down" not in line for line in problems)
    assert logs._read_tail(log, 2) == ["[t] INFO shutting down"] * 2


def test_sweep_removes_only_dirs_of_dead_owners(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / "streams-kafka-stale"
    stale.mkdir()
    (stale / "owner.pid").write_text(f"{dead.pid}\n")
    alive = tmp_path / "streams-kafka-alive"
    alive.mkdir()
    (alive / "owner.pid").write_text(f"{os.getpid()}\n")
    foreign = tmp_path / "streams-kafka-foreign"
    foreign.mkdir()
    removed = processes.sweep_stale_data_dirs(tmp_path)
    assert removed == [stale]
    assert alive.is_dir()
    assert foreign.is_dir()


def test_local_kafka_requires_start(tmp_path: Path) -> None:
    kafka = LocalKafka()
    with pytest.raises(RuntimeError, match="not started"):
        _ = kafka.bootstrap_servers
    with pytest.raises(ValueError):
        LocalKafka(nodes=0)
    assert "stopped" in repr(kafka)
    kafka.stop()  # idempotent, also before start


# ---- clients and CLI -----------------------------------------------------------------------


def test_record_encoding_rules() -> None:
    assert clients._to_bytes("ä", "t", None, "key") == "ä".encode()
    assert clients._to_bytes(b"\x00", "t", None, "key") == b"\x00"
    assert clients._to_bytes(None, "t", None, "value") is None
    with pytest.raises(TypeError, match="serde"):
        clients._to_bytes(42, "t", None, "value")

    class Upper:
        def serialize(self, topic: str, value: object, headers: object = None) -> bytes:
            return str(value).upper().encode()

    assert clients._to_bytes("abc", "t", Upper(), "value") == b"ABC"


def test_cli_registers_subcommands() -> None:
    parser = cli_main.build_parser()
    args = parser.parse_args(["local-kafka", "--nodes", "3", "--port", "19092", "-c", "a=b"])
    assert args._command == "local-kafka"
    assert args.nodes == 3 and args.port == 19092 and args.config == ["a=b"]
    assert parser.parse_args(["demo"])._command == "demo"


def test_cli_skips_commands_not_written_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        cli_main, "COMMANDS", [*cli_main.COMMANDS, ("later", "streams.cli.not_written_yet")]
    )
    parser = cli_main.build_parser()
    assert parser.parse_args(["demo"])._command == "demo"
    with pytest.raises(SystemExit):
        parser.parse_args(["later"])


def test_cli_reports_a_broken_command_only_when_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "broken_cmd_for_test.py").write_text("raise RuntimeError('half-written')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        cli_main, "COMMANDS", [*cli_main.COMMANDS, ("broken", "broken_cmd_for_test")]
    )
    parser = cli_main.build_parser()
    assert parser.parse_args(["demo"])._command == "demo"
    with pytest.raises(RuntimeError, match="half-written"):
        cli_main.main(["broken"])


def test_cli_without_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main([]) == 2
    assert "local-kafka" in capsys.readouterr().err


def test_parse_overrides() -> None:
    assert parse_overrides(["a=1", " b = x=y "]) == {"a": "1", "b": "x=y"}
    assert parse_overrides(None) == {}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_overrides(["novalue"])
