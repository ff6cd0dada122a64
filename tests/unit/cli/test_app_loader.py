"""``streams run/describe`` plumbing without a broker: finding the app, merging its config."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from streams.cli import app_loader
from streams.cli.app_loader import (
    env_config,
    load_target,
    merge_config,
    parse_sets,
    read_config_file,
)
from streams.cli.main import build_parser, main
from streams.cli.run import build_config
from streams.errors import ConfigError, StreamsError
from streams.topology.topology import Topology

APP_SOURCE = '''
from streams import StreamsBuilder
from streams.runtime.kafka_streams import KafkaStreams

CONFIG = {"application.id": "from-module", "commit.interval.ms": 1000, "poll.ms": 10}


def build():
    b = StreamsBuilder()
    b.stream("in-topic").filter(lambda k, v: v is not None).to("out-topic")
    return b


builder = build()
topology = build().build()
app = KafkaStreams(build().build(), {"application.id": "from-app",
                                     "bootstrap.servers": "app-host:9092",
                                     "poll.ms": 20})


def make_topology():
    return build().build()


def make_app():
    return app


class Holder:
    inner = build().build()


not_an_app = 42


def returns_junk():
    return "junk"
'''


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh importable module holding every kind of target; returns its name."""
    name = f"loader_app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(APP_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("STREAMS_") or key == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(key)


# ---------------------------------------------------------------------- MODULE:ATTR
@pytest.mark.parametrize("attr", ["topology", "builder", "make_topology", "build", "Holder.inner"])
def test_topology_like_targets_resolve_to_a_topology_with_the_module_config(module, attr):
    topology, config = load_target(f"{module}:{attr}")
    assert isinstance(topology, Topology)
    assert [s.source_topics for s in topology.subtopologies()] == [("in-topic",)]
    assert config == {"application.id": "from-module", "commit.interval.ms": 1000, "poll.ms": 10}


@pytest.mark.parametrize("attr", ["app", "make_app"])
def test_kafka_streams_target_brings_its_own_config_over_the_module_config(module, attr):
    topology, config = load_target(f"{module}:{attr}")
    assert isinstance(topology, Topology)
    assert config["application.id"] == "from-app"
    assert config["bootstrap.servers"] == "app-host:9092"
    assert config["poll.ms"] == 20
    assert config["commit.interval.ms"] == 1000  # only in CONFIG: kept


@pytest.mark.parametrize(("spec", "match"), [
    ("no-colon", "expected MODULE:ATTR"),
    (":attr", "expected MODULE:ATTR"),
    ("module:", "expected MODULE:ATTR"),
    ("no_such_module_xyz:app", "cannot import module 'no_such_module_xyz'"),
])
def test_bad_specs_say_what_is_wrong(spec, match):
    with pytest.raises(StreamsError, match=match):
        load_target(spec)


def test_missing_attribute_and_wrong_types(module):
    with pytest.raises(StreamsError, match="has no attribute 'nope'"):
        load_target(f"{module}:nope")
    with pytest.raises(StreamsError, match="is a int; expected a KafkaStreams, Topology"):
        load_target(f"{module}:not_an_app")
    with pytest.raises(StreamsError, match="is a str"):
        load_target(f"{module}:returns_junk")


# ---------------------------------------------------------------------- config files
def test_properties_file(tmp_path):
    path = tmp_path / "app.properties"
    path.write_text(textwrap.dedent("""\
        # a comment
        ! another comment
        application.id = props-app
        bootstrap.servers=h1:9092,h2:9092

        consumer.sasl.jaas.config=a=b;c=d
    """))
    assert read_config_file(str(path)) == {
        "application.id": "props-app",
        "bootstrap.servers": "h1:9092,h2:9092",
        "consumer.sasl.jaas.config": "a=b;c=d",  # only the first '=' splits
    }
    path.write_text("application.id\n")
    with pytest.raises(ConfigError, match=r"app.properties:1: expected key=value"):
        read_config_file(str(path))


def test_json_file(tmp_path):
    path = tmp_path / "app.json"
    path.write_text(json.dumps({"application.id": "json-app", "num.stream.threads": 3,
                                "consumer": {"session.timeout.ms": 6000}}))
    assert read_config_file(str(path)) == {
        "application.id": "json-app", "num.stream.threads": 3, "consumer.session.timeout.ms": 6000}
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        read_config_file(str(path))
    path.write_text("{nope")
    with pytest.raises(ConfigError, match="is not valid"):
        read_config_file(str(path))


def test_toml_file_tables_become_dotted_keys(tmp_path):
    path = tmp_path / "app.toml"
    path.write_text(textwrap.dedent("""\
        "application.id" = "toml-app"
        "commit.interval.ms" = 250

        [consumer]
        "session.timeout.ms" = 6000

        [producer]
        "linger.ms" = 20
    """))
    assert read_config_file(str(path)) == {
        "application.id": "toml-app",
        "commit.interval.ms": 250,
        "consumer.session.timeout.ms": 6000,
        "producer.linger.ms": 20,
    }
    path.write_text("= broken")
    with pytest.raises(ConfigError, match="is not valid"):
        read_config_file(str(path))


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        read_config_file(str(tmp_path / "missing.properties"))


# ---------------------------------------------------------------------- env, --set, merging
def test_env_config_maps_streams_variables_to_keys():
    env = {"STREAMS_APPLICATION_ID": "env-app", "STREAMS_NUM_STREAM_THREADS": "2",
           "STREAMS_KAFKA_VERSION": "4.0.0", "STREAMS_KAFKA_CACHE": "/c",
           "STREAMS_TEST_DOCKER": "1", "OTHER": "x"}
    assert env_config(env) == {"application.id": "env-app", "num.stream.threads": "2"}


def test_parse_sets():
    assert parse_sets(["a.b=1", "c=x=y", "empty="]) == {"a.b": "1", "c": "x=y", "empty": ""}
    for bad in ("novalue", "=1"):
        with pytest.raises(ConfigError, match="--set expects key=value"):
            parse_sets([bad])


def test_merge_precedence_file_env_set_flags(tmp_path):
    path = tmp_path / "c.properties"
    path.write_text("a=file\nb=file\nc=file\nd=file\nfile.only=1\n")
    base = {"a": "base", "b": "base", "c": "base", "d": "base", "e": "base"}
    env = {"STREAMS_B": "env", "STREAMS_C": "env", "STREAMS_D": "env"}
    merged = merge_config(base, str(path), ["c=set", "d=set"], {"d": "flag", "unset": None},
                          environ=env)
    assert merged == {"a": "file", "b": "env", "c": "set", "d": "flag", "e": "base",
                      "file.only": "1"}


def test_kafka_bootstrap_servers_is_only_a_fallback(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "fallback:9092")
    assert merge_config({}, None, [], {}, environ={})["bootstrap.servers"] == "fallback:9092"
    merged = merge_config({}, None, ["bootstrap.servers=given:9092"], {}, environ={})
    assert merged["bootstrap.servers"] == "given:9092"


def test_run_arguments_merge_in_order(module, tmp_path, monkeypatch):
    path = tmp_path / "run.toml"
    path.write_text('"application.id" = "file-app"\n"poll.ms" = 30\n"commit.interval.ms" = 5\n'
                    '"num.stream.threads" = 4\n')
    monkeypatch.setenv("STREAMS_COMMIT_INTERVAL_MS", "77")
    monkeypatch.setenv("STREAMS_NUM_STREAM_THREADS", "5")
    args = build_parser().parse_args([
        "run", f"{module}:make_app", "-c", str(path), "-s", "num.stream.threads=6",
        "--set", "state.dir=/from-set", "--state-dir", "/from-flag",
        "--bootstrap-servers", "flag:9092",
    ])
    topology, config = build_config(args)
    assert isinstance(topology, Topology)
    assert config["application.id"] == "file-app"  # file over the app's own config
    assert config["poll.ms"] == 30  # file over the app
    assert config["commit.interval.ms"] == "77"  # env over file
    assert config["num.stream.threads"] == "6"  # --set over env
    assert config["state.dir"] == "/from-flag"  # flags over --set
    assert config["bootstrap.servers"] == "flag:9092"
    from streams.config import StreamsConfig

    validated = StreamsConfig(config)  # strings from env/--set validate like the real thing
    assert validated["num.stream.threads"] == 6 and validated["commit.interval.ms"] == 77


def test_relative_module_is_found_from_the_current_directory(tmp_path, monkeypatch):
    name = f"cwd_app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        "from streams import StreamsBuilder\nb = StreamsBuilder()\nb.stream('x').to('y')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    try:
        topology, _ = app_loader.load_target(f"{name}:b")
        assert isinstance(topology, Topology)
    finally:
        sys.modules.pop(name, None)


# ---------------------------------------------------------------------- the commands
def test_describe_prints_the_topology(module, capsys):
    assert main(["describe", f"{module}:builder"]) == 0
    out = capsys.readouterr().out
    assert "Topologies:" in out
    assert "Sub-topology: 0" in out
    assert "(topics: [in-topic])" in out
    assert "(topic: out-topic)" in out


def test_describe_mermaid(module, capsys):
    assert main(["describe", f"{module}:app", "--mermaid"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart TD")
    assert '(["in-topic"])' in out


def test_describe_reports_errors_without_a_traceback(capsys):
    assert main(["describe", "no_such_module_xyz:app"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("streams describe: error: cannot import module 'no_such_module_xyz'")
    assert "Traceback" not in err


def test_run_without_required_config_fails_cleanly(module, capsys, caplog):
    root = logging.getLogger()
    level = root.level
    try:
        # the module's CONFIG has an application.id but nothing names the brokers
        assert main(["run", f"{module}:topology"]) == 1
    finally:
        root.setLevel(level)
    # one line, as for a failed start(), and no traceback
    out = capsys.readouterr().err + caplog.text
    assert "could not start: missing required config: bootstrap.servers" in out
    assert "Traceback" not in out
