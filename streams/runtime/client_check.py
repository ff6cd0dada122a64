"""Start-up check of the Kafka client settings, before any thread starts.

librdkafka validates a client's configuration when the client is created, which the runtime
does inside each stream thread. A misspelt ``consumer.sesion.timeout.ms`` would then kill the
thread with a raw ``KafkaException: No such configuration property``. :func:`check_client_configs`
builds every client the runtime will build, with the same settings, once, at ``start()``:
creating a client is local (without ``bootstrap.servers`` it opens no connection), so this
costs milliseconds. A rejected setting becomes a :class:`~streams.errors.ConfigError` that
names the user's key (``consumer.sesion.timeout.ms``), the clients it went to, and where one
is obvious, the property meant.

Example::

    check_client_configs(config, topology, client_id)   # raises ConfigError

:func:`startup_admin` creates the admin client start-up uses, with a log that reports each
distinct librdkafka line once (see :mod:`streams.runtime.client_log`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from streams.config import COMMON_CLIENT_PREFIXES, KEYS, StreamsConfig
from streams.errors import ConfigError
from streams.runtime.client_configs import (
    global_consumer_config,
    main_consumer_config,
    producer_config,
    restore_consumer_config,
)
from streams.runtime.client_log import CollapsingClientLog
from streams.runtime.client_supplier import ClientSupplier
from streams.topology.topology import Topology

#: librdkafka's configuration reference, named in the error
CONFIGURATION_DOC = "https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md"

#: Commonly used librdkafka properties: candidates for "did you mean" on an unknown one.
#: (librdkafka offers no list of its properties through confluent-kafka.)
KNOWN_PROPERTIES: tuple[str, ...] = (
    "bootstrap.servers", "client.id", "client.rack", "group.id", "group.instance.id",
    "group.protocol", "group.remote.assignor", "session.timeout.ms", "heartbeat.interval.ms",
    "max.poll.interval.ms", "auto.offset.reset", "enable.auto.commit", "auto.commit.interval.ms",
    "enable.auto.offset.store", "enable.partition.eof", "isolation.level",
    "partition.assignment.strategy", "fetch.min.bytes", "fetch.max.bytes", "fetch.wait.max.ms",
    "fetch.error.backoff.ms", "fetch.queue.backoff.ms", "max.partition.fetch.bytes",
    "queued.min.messages", "queued.max.messages.kbytes", "check.crcs",
    "coordinator.query.interval.ms", "allow.auto.create.topics", "acks", "request.required.acks",
    "enable.idempotence", "enable.gapless.guarantee", "linger.ms", "queue.buffering.max.ms",
    "batch.size", "batch.num.messages", "compression.type", "compression.codec",
    "compression.level", "retries", "message.send.max.retries", "retry.backoff.ms",
    "retry.backoff.max.ms", "request.timeout.ms", "message.timeout.ms", "delivery.timeout.ms",
    "transaction.timeout.ms", "transactional.id", "queue.buffering.max.messages",
    "queue.buffering.max.kbytes", "max.in.flight.requests.per.connection", "max.in.flight",
    "partitioner", "sticky.partitioning.linger.ms", "message.max.bytes",
    "receive.message.max.bytes", "socket.timeout.ms", "socket.keepalive.enable",
    "socket.send.buffer.bytes", "socket.receive.buffer.bytes",
    "socket.connection.setup.timeout.ms", "socket.nagle.disable", "connections.max.idle.ms",
    "reconnect.backoff.ms", "reconnect.backoff.max.ms", "metadata.max.age.ms",
    "topic.metadata.refresh.interval.ms", "topic.metadata.refresh.sparse", "api.version.request",
    "broker.address.family", "client.dns.lookup", "security.protocol", "sasl.mechanism",
    "sasl.mechanisms", "sasl.username", "sasl.password", "sasl.kerberos.service.name",
    "sasl.oauthbearer.method", "sasl.oauthbearer.client.id", "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.token.endpoint.url", "sasl.oauthbearer.scope", "ssl.ca.location",
    "ssl.certificate.location", "ssl.key.location", "ssl.key.password",
    "ssl.endpoint.identification.algorithm", "enable.ssl.certificate.verification",
    "statistics.interval.ms", "debug", "log_level", "log.connection.close",
)

#: Java client settings with no librdkafka equivalent, and what to do instead
_JAVA_ONLY = {
    "key.serializer": "streams serializes keys itself: use Produced(key_serde=...) or "
                      "default.key.serde",
    "value.serializer": "streams serializes values itself: use Produced(value_serde=...) or "
                        "default.value.serde",
    "key.deserializer": "streams deserializes keys itself: use Consumed(key_serde=...) or "
                        "default.key.serde",
    "value.deserializer": "streams deserializes values itself: use Consumed(value_serde=...) "
                          "or default.value.serde",
}


class _Discard:
    """A probe client's ``logger``: what librdkafka says while validating is not news to
    anyone (without a bootstrap server it warns that it cannot connect), and without a
    logger it would print to stderr."""

    def log(self, level: int, msg: str, *args: Any) -> None:
        """Drop the line."""


_silent = _Discard()

_QUOTED = re.compile(r'property:? "([^"]+)"|`([^`]+)`')


class ClientSpec:
    """One client the runtime creates: its settings and which user keys they came from."""

    def __init__(self, name: str, factory: Callable[[dict[str, Any]], Any],
                 conf: dict[str, Any], prefixes: tuple[str, ...], config: StreamsConfig) -> None:
        self.name = name
        self.factory = factory
        self.conf = conf
        #: librdkafka property -> the user's key that set it (the last prefix in order wins)
        self.origin: dict[str, str] = {}
        for key in config:
            if key.startswith(COMMON_CLIENT_PREFIXES):
                self.origin[key] = key
        for prefix in prefixes:
            for prop in config.client_config(prefix, include_common=False):
                self.origin[prop] = prefix + prop
        # a setting streams overrides (group.id, ...) is not the user's to blame
        self.origin = {prop: key for prop, key in self.origin.items()
                       if prop in conf and conf[prop] == config[key]}


def client_specs(config: StreamsConfig, topology: Topology, client_id: str) -> list[ClientSpec]:
    """The clients a running instance creates, with the settings it gives them.

    Built by :mod:`streams.runtime.client_configs`, as the runtime builds them, for the
    first stream thread. ``bootstrap.servers`` is left out so that validating connects
    nowhere.
    """
    app_id = config["application.id"]
    thread = f"{client_id}-StreamThread-1"
    main = main_consumer_config(config, thread)
    restore = restore_consumer_config(config, thread)
    # a probe id: the thread's own id must not be touched before the thread fences with it
    producer = producer_config(config, thread, f"{app_id}-{client_id}-config-check")
    specs = [
        ClientSpec("main consumer", Consumer, main, ("consumer.", "main.consumer."), config),
        ClientSpec("restore consumer", Consumer, restore, ("consumer.", "restore.consumer."),
                   config),
        ClientSpec("producer", Producer, producer, ("producer.",), config),
        ClientSpec("admin client", AdminClient, config.client_config("admin."), ("admin.",),
                   config),
    ]
    if any(s.is_global for s in topology.subtopologies()) or \
            config.client_config("global.consumer.", include_common=False):
        glob = global_consumer_config(config, client_id)
        specs.append(ClientSpec("global consumer", Consumer, glob,
                                ("consumer.", "global.consumer."), config))
    for spec in specs:
        spec.conf.pop("bootstrap.servers", None)
    return specs


def _create(spec: ClientSpec, conf: dict[str, Any]) -> str | None:
    """Create and free the client; librdkafka's complaint, or None if it took the settings."""
    try:
        client = spec.factory({**conf, "logger": _silent})
    except (KafkaException, TypeError, ValueError) as exc:
        err = exc.args[0] if exc.args else exc
        return str(err.str() if hasattr(err, "str") else err).strip()
    close = getattr(client, "close", None)
    if callable(close):
        close()
    return None


def _culprit(spec: ClientSpec, conf: dict[str, Any], problem: str) -> str | None:
    """The property (set by the user) that ``problem`` is about."""
    for match in _QUOTED.finditer(problem):
        prop = match.group(1) or match.group(2)
        if prop in spec.origin and prop in conf:
            return prop
    # aliases (linger.ms is reported as queue.buffering.max.ms) and conflicts between two
    # settings name something else: find the user's setting whose removal changes the verdict
    for prop in conf:
        if prop in spec.origin:
            rest = {k: v for k, v in conf.items() if k != prop}
            if _create(spec, rest) != problem:
                return prop
    return None


def _hint(user_key: str, prop: str, problem: str) -> str:
    if not problem.startswith("No such configuration property"):
        return ""
    prefix = user_key[: len(user_key) - len(prop)]
    if prop in _JAVA_ONLY:
        return _JAVA_ONLY[prop]
    if prop in KEYS:
        return f"{prop!r} is a streams setting: give it without the {prefix!r} prefix"
    close = difflib.get_close_matches(prop, KNOWN_PROPERTIES, n=1, cutoff=0.8)
    return f"did you mean {prefix + close[0]!r}?" if close else ""


def _shown(key: str, value: Any) -> str:
    # the message ends up in logs: never print a secret
    secret = any(w in key for w in ("password", "secret", "key.pem", "token"))
    return key if secret else f"{key}={value}"


def check_client_configs(config: StreamsConfig, topology: Topology, client_id: str) -> None:
    """Create every Kafka client the runtime would create, once; raise :class:`ConfigError`
    naming each setting librdkafka rejects (all of them, not just the first)."""
    # user key -> (librdkafka's reason, hint, clients that rejected it)
    found: dict[str, tuple[str, str, list[str]]] = {}
    unattributed: list[str] = []
    for spec in client_specs(config, topology, client_id):
        conf = dict(spec.conf)
        for _ in range(len(conf) + 1):  # each round removes one bad setting
            problem = _create(spec, conf)
            if problem is None:
                break
            prop = _culprit(spec, conf, problem)
            if prop is None:
                unattributed.append(f"the {spec.name} rejected its settings: {problem}")
                break
            user_key = spec.origin[prop]
            if user_key in found:
                found[user_key][2].append(spec.name)
            else:
                found[user_key] = (problem, _hint(user_key, prop, problem), [spec.name])
            del conf[prop]
    if not found and not unattributed:
        return
    parts = [f"{_shown(key, config[key])} (given to the {', '.join(clients)}): "
             + problem.rstrip(". ") + (f", {hint}" if hint else "")
             for key, (problem, hint, clients) in found.items()]
    listed = "; ".join(parts + [p.rstrip(". ") for p in unattributed])
    raise ConfigError(
        "invalid Kafka client setting" + ("s" if len(parts) + len(unattributed) > 1 else "")
        + f": {listed}{'' if listed.endswith('?') else '.'} Client settings take librdkafka's "
        f"property names ({CONFIGURATION_DOC})"
    )


def startup_admin(config: StreamsConfig, supplier: ClientSupplier
                  ) -> tuple[AdminClient, CollapsingClientLog]:
    """The admin client start-up uses, and its log (each distinct line said once)."""
    client_log = CollapsingClientLog("start-up admin client")
    conf = {"bootstrap.servers": config["bootstrap.servers"], **config.client_config("admin."),
            "logger": client_log}
    return supplier.get_admin(conf), client_log
