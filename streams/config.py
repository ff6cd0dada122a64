"""Application configuration with Kafka Streams' keys, validated up front.

Example::

    StreamsConfig({"application.id": "wordcount", "bootstrap.servers": "localhost:9092"},
                  num_stream_threads=2)   # keyword form: dots become underscores
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from streams.errors import ConfigError

AT_LEAST_ONCE = "at_least_once"
EXACTLY_ONCE_V2 = "exactly_once_v2"


@dataclass(frozen=True)
class _Key:
    default: Any
    doc: str
    check: Callable[[Any], Any] | None = None


def _int_min(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError("expected an integer")
        try:
            v = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected an integer, got {value!r}") from None
        if v < minimum:
            raise ValueError(f"must be >= {minimum}, got {v}")
        return v

    return check


def _one_of(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        v = str(value).lower()
        if v not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}; got {value!r}")
        return v

    return check


def _nonempty_str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return value


def _app_id(value: Any) -> str:
    v = _nonempty_str(value)
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    bad = sorted(set(v) - allowed)
    if bad:
        raise ValueError(
            f"may only contain letters, digits, '.', '_' and '-' (it prefixes topic names); "
            f"found {''.join(bad)!r}"
        )
    return v


def _serde(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = _serde_by_name(value)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot load serde {value!r}: {exc}") from None
    if isinstance(value, type):
        try:
            value = value()
        except TypeError as exc:
            raise ValueError(f"serde {value.__name__} needs arguments ({exc}); pass an instance") from None
    if not (hasattr(value, "serialize") and hasattr(value, "deserialize")):
        raise ValueError(f"expected a serde (with serialize/deserialize), got {value!r}")
    return value


def _checked(value: Any, check: Callable[[Any], Any]) -> Any:
    """Validate ``value`` with ``check`` but keep the user's value (resolved again per task)."""
    check(value)
    return value


def _check_handler(value: Any) -> None:
    from streams.handlers import resolve_handler

    try:
        resolve_handler(value, "handler")
    except ConfigError as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None


def _check_extractor(value: Any) -> None:
    from streams.errors import StreamsError
    from streams.processor.timestamps import resolve_extractor

    try:
        resolve_extractor(value)
    except StreamsError as exc:
        raise ValueError(str(exc)) from None


def _serde_by_name(name: str) -> Any:
    """``"String"``, ``"streams.serdes.Long"`` or ``"package.module:Attr"`` -> a serde class."""
    import importlib

    from streams import serdes

    if ":" in name:
        module, _, attr = name.partition(":")
        return getattr(importlib.import_module(module), attr)
    short = name.rsplit(".", 1)[-1]
    if name.startswith("streams.serdes") or "." not in name:
        found = getattr(serdes, short, None)
        if found is None:
            raise ValueError(f"no serde named {name!r} in streams.serdes")
        return found
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


#: Every key streams understands, with defaults and documentation (see docs/configuration.md).
KEYS: dict[str, _Key] = {
    "application.id": _Key(None, "Consumer group id, and prefix of internal topics.", _app_id),
    "bootstrap.servers": _Key(None, "Kafka brokers, host:port[,host:port].", _nonempty_str),
    "num.stream.threads": _Key(1, "Stream threads in this instance.", _int_min(1)),
    "commit.interval.ms": _Key(
        None, "How often to commit (default 30000, 100 under exactly_once_v2).", _int_min(0)
    ),
    "processing.guarantee": _Key(
        AT_LEAST_ONCE, "at_least_once or exactly_once_v2.", _one_of(AT_LEAST_ONCE, EXACTLY_ONCE_V2)
    ),
    "state.dir": _Key(
        os.path.join(tempfile.gettempdir(), "kafka-streams"), "Root of local state.", _nonempty_str
    ),
    "default.key.serde": _Key(None, "Serde for keys where none is given.", _serde),
    "default.value.serde": _Key(None, "Serde for values where none is given.", _serde),
    "default.timestamp.extractor": _Key(
        None, "Timestamp extractor (default: the record's timestamp, failing on negative ones).",
        lambda v: _checked(v, _check_extractor),
    ),
    "default.deserialization.exception.handler": _Key(
        "log_and_fail", "log_and_fail, log_and_continue, or a handler object.",
        lambda v: _checked(v, _check_handler),
    ),
    "processing.exception.handler": _Key(
        "log_and_fail", "log_and_fail, log_and_continue, or a handler object.",
        lambda v: _checked(v, _check_handler),
    ),
    "default.production.exception.handler": _Key(
        "fail", "fail, continue, or a handler object, for records the producer refuses.",
        lambda v: _checked(v, _check_handler),
    ),
    "errors.dead.letter.queue.topic.name": _Key(
        None, "Topic receiving records the handlers skip (with error headers)."
    ),
    "auto.offset.reset": _Key("earliest", "earliest or latest.", _one_of("earliest", "latest")),
    "statestore.cache.max.bytes": _Key(10 * 1024 * 1024, "Record cache size in bytes.", _int_min(0)),
    "replication.factor": _Key(-1, "Replication factor of internal topics (-1: broker default).",
                               _int_min(-1)),
    "num.standby.replicas": _Key(0, "Standby replicas per stateful task.", _int_min(0)),
    "acceptable.recovery.lag": _Key(
        10000, "Changelog records an instance's copy of a task's state may trail by and still "
        "count as caught up (a stateful task moves only to a caught-up instance).", _int_min(0)),
    "max.warmup.replicas": _Key(
        2, "Warm-up replicas (standbys catching up on a task meant to move to them) in the "
        "group at once.", _int_min(1)),
    "probing.rebalance.interval.ms": _Key(
        600000, "How long a thread whose warm-ups are partly caught up waits before it has "
        "the caught-up ones moved (with all caught up it does so at once).", _int_min(0)),
    "task.assignor": _Key(
        "streams", "streams: placement computed by every member (balanced, sticky, standbys, "
        "owner metadata); range: the classic range assignor as is (docs/assignment.md).",
        _one_of("streams", "range")),
    "max.task.idle.ms": _Key(0, "How long a task waits for data on all its inputs.", _int_min(-1)),
    "poll.ms": _Key(100, "Max time a poll blocks.", _int_min(0)),
    "buffered.records.per.partition": _Key(1000, "Records buffered per partition before pausing.",
                                           _int_min(1)),
    "max.poll.records": _Key(1000, "Max records fetched in one batch consume.", _int_min(1)),
    "client.id": _Key(None, "Prefix of client ids."),
    "application.server": _Key(None, "host:port of this instance for interactive queries."),
    "http.listen": _Key(
        None, "host:port (or a port, on loopback) the built-in HTTP server binds to: store "
        "queries routed to the owner, /metrics, /health, /ready, /topology. Unset: no server."),
    "http.auth.token": _Key(
        None, "Bearer token every HTTP route but /health and /ready requires (unset: none)."),
    "http.forward.timeout.ms": _Key(
        5000, "How long the HTTP server waits for another instance it forwards a query to.",
        _int_min(1)),
    "topology.optimization": _Key("none", "none or all.", _one_of("none", "all")),
    "default.dsl.store": _Key("rocksdb", "rocksDB or in_memory: store type for DSL operations.",
                              _one_of("rocksdb", "in_memory")),
    "state.cleanup.delay.ms": _Key(600000, "Delay before cleaning unowned task dirs.", _int_min(0)),
    "task.timeout.ms": _Key(300000, "How long a task may be blocked before failing.", _int_min(0)),
    "default.api.timeout.ms": _Key(
        30000, "How long start-up's admin calls (topic metadata, creating internal topics) may "
        "take; an unreachable cluster fails start() after this long.", _int_min(1)),
    "thread.stall.warning.ms": _Key(
        60000, "A stream thread whose loop has not come round for this long is reported as "
        "stalled (a warning with its stack, the stall listener); 0 turns the check off.",
        _int_min(0)),
    "restore.batch.size": _Key(10000, "Changelog records per restore batch.", _int_min(1)),
    "metrics.recording.level": _Key(
        "INFO", "INFO, DEBUG or TRACE: DEBUG adds per-task process metrics and the record "
        "cache's hit ratio to /metrics (any case).",
        lambda v: _one_of("info", "debug", "trace")(v).upper()),
}

#: Prefixes passed through to the Kafka clients (Kafka Streams' ``consumer.``, ``producer.`` ...).
CLIENT_PREFIXES = (
    "consumer.", "producer.", "admin.", "main.consumer.", "restore.consumer.",
    "global.consumer.", "topic.",
)
#: Unprefixed client settings that go to every client, as in Kafka Streams.
COMMON_CLIENT_PREFIXES = ("security.", "sasl.", "ssl.", "socket.", "client.rack", "debug",
                          "statistics.interval.ms", "log_level", "enable.ssl")


#: Kafka Streams 4's names (KIP-1056 dropped the ``default.`` prefix of the handler settings)
#: for the keys we know under their older names; either name works, not both
KEY_ALIASES: dict[str, str] = {
    "deserialization.exception.handler": "default.deserialization.exception.handler",
    "production.exception.handler": "default.production.exception.handler",
}


class StreamsConfig(Mapping[str, Any]):
    """Validated application config: known keys with defaults, plus client pass-throughs."""

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        merged: dict[str, Any] = dict(config or {})
        for k, v in kwargs.items():
            merged[k.replace("_", ".")] = v
        for alias, key in KEY_ALIASES.items():
            if alias in merged:
                if key in merged:
                    raise ConfigError(f"{alias!r} and {key!r} are one setting (the first is Kafka "
                                      "Streams 4's name for the second); give only one")
                merged[key] = merged.pop(alias)
        #: what the user gave, before defaults and derived values (used to re-derive on overrides)
        self.originals: dict[str, Any] = dict(merged)
        values: dict[str, Any] = {}
        for key, value in merged.items():
            spec = KEYS.get(key)
            if spec is None:
                if key.startswith(CLIENT_PREFIXES) or key.startswith(COMMON_CLIENT_PREFIXES):
                    values[key] = value
                    continue
                close = difflib.get_close_matches(key, KEYS, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"unknown config key {key!r}.{hint} Client settings take a prefix: "
                    "'consumer.', 'producer.' or 'admin.'."
                )
            if spec.check is not None and value is not None:
                try:
                    value = spec.check(value)
                except ValueError as exc:
                    raise ConfigError(f"invalid value for {key!r}: {exc}") from None
            values[key] = value
        for key, spec in KEYS.items():
            values.setdefault(key, spec.default)
        if values["commit.interval.ms"] is None:
            values["commit.interval.ms"] = (
                100 if values["processing.guarantee"] == EXACTLY_ONCE_V2 else 30000
            )
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def require(self, *keys: str) -> None:
        """Raise ConfigError if any of ``keys`` has no value."""
        missing = [k for k in keys if self._values.get(k) in (None, "")]
        if missing:
            raise ConfigError(f"missing required config: {', '.join(missing)}")

    def client_config(self, prefix: str, *, include_common: bool = True) -> dict[str, Any]:
        """Settings for one client kind: common client settings (unless ``include_common`` is
        False, as for ``topic.`` configs, which are not client settings) plus ``<prefix>``-prefixed
        ones."""
        out: dict[str, Any] = {}
        for key, value in self._values.items():
            if include_common and key.startswith(COMMON_CLIENT_PREFIXES):
                out[key] = value
        for key, value in self._values.items():
            if key.startswith(prefix):
                out[key[len(prefix):]] = value
        return out

    def with_overrides(self, **overrides: Any) -> StreamsConfig:
        """A copy with some keys replaced (dotted keys given with underscores)."""
        base = dict(self.originals)
        for k, v in overrides.items():
            base[k.replace("_", ".")] = v
        return StreamsConfig(base)

    def __repr__(self) -> str:
        return f"StreamsConfig({self._values!r})"
