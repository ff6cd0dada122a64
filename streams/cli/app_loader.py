"""Find the application a ``streams run``/``describe`` command names, and assemble its config.

``MODULE:ATTR`` may name a ``KafkaStreams``, a ``Topology``, a ``StreamsBuilder``, or a function
returning one of them. Config is merged, later wins: the app's own config (a ``KafkaStreams``'
config, or a module-level ``CONFIG`` dict) < a config file < ``STREAMS_*`` environment
variables < ``--set key=value`` and the named flags.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from streams.errors import ConfigError, StreamsError
from streams.topology.topology import Topology


def load_target(spec: str) -> tuple[Topology, dict[str, Any]]:
    """Import ``MODULE:ATTR`` and return its topology and the config it carries (if any)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise StreamsError(f"expected MODULE:ATTR (e.g. examples.wordcount:app), got {spec!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the current directory is importable
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise StreamsError(f"cannot import module {module_name!r}: {exc}") from exc
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise StreamsError(f"module {module_name!r} has no attribute {attr!r}") from None
    module_config = getattr(module, "CONFIG", None)
    base = dict(module_config) if isinstance(module_config, Mapping) else {}
    return _resolve(target, base, spec)


def _resolve(target: Any, base: dict[str, Any], spec: str, depth: int = 0) -> tuple[Topology, dict[str, Any]]:
    from streams.dsl.builder import StreamsBuilder
    from streams.runtime.kafka_streams import KafkaStreams

    if isinstance(target, KafkaStreams):
        # the user's own settings, not the resolved ones: derived defaults (such as the commit
        # interval under exactly-once) must follow the command line's overrides
        return target.topology, {**base, **target.config.originals}
    if isinstance(target, Topology):
        return target, base
    if isinstance(target, StreamsBuilder):
        return target.build(), base
    if callable(target) and depth < 3:
        return _resolve(target(), base, spec, depth + 1)
    raise StreamsError(
        f"{spec} is a {type(target).__name__}; expected a KafkaStreams, Topology, StreamsBuilder "
        "or a function returning one"
    )


def read_config_file(path: str) -> dict[str, Any]:
    """Read ``.json``, ``.toml`` or Java-style ``.properties`` (``key=value`` lines)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    try:
        if p.suffix == ".json":
            data = json.loads(text)
        elif p.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            data = {}
            for n, line in enumerate(text.splitlines(), 1):
                line = line.strip()
                if not line or line.startswith(("#", "!")):
                    continue
                key, sep, value = line.partition("=")
                if not sep:
                    raise ConfigError(f"{path}:{n}: expected key=value, got {line!r}")
                data[key.strip()] = value.strip()
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys to values")
    return _flatten(data)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    # TOML tables ([consumer] session.timeout.ms = ...) become dotted keys
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def env_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``STREAMS_APPLICATION_ID=x`` -> ``application.id=x`` (``_`` becomes ``.``)."""
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for name, value in env.items():
        # STREAMS_KAFKA_* and STREAMS_TEST_* configure the local broker launcher, not the app
        if name.startswith("STREAMS_") and not name.startswith(("STREAMS_KAFKA_", "STREAMS_TEST_")):
            out[name[len("STREAMS_"):].lower().replace("_", ".")] = value
    return out


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """``["a.b=1", ...]`` -> ``{"a.b": "1"}``."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = value
    return out


def merge_config(base: Mapping[str, Any], file: str | None, sets: list[str],
                 flags: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Merge the config sources in precedence order."""
    merged = dict(base)
    if file:
        merged.update(read_config_file(file))
    merged.update(env_config(environ))
    merged.update(parse_sets(sets))
    merged.update({k: v for k, v in flags.items() if v is not None})
    if not merged.get("bootstrap.servers") and os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        merged["bootstrap.servers"] = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    return merged
