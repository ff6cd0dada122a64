"""The settings of every Kafka client the runtime creates, built in one place.

Stream threads, the global thread and the start-up check
(:mod:`streams.runtime.client_check`) all take their client settings from here, so what the
check validates is what the runtime uses. Order of precedence in each: our defaults, then the
user's ``consumer.``/``producer.`` settings, then the client-specific prefix
(``main.consumer.``, ``restore.consumer.``, ``global.consumer.``), then the settings that
correctness rests on, which are not the user's to change.
"""

from __future__ import annotations

from typing import Any

from streams.config import EXACTLY_ONCE_V2, StreamsConfig

#: Producer settings streams starts from: durable, ordered, and partitioned as Java clients
#: do; delivery reports only for failures (no per-record callback on the hot path)
PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    "partitioner": "murmur2_random",
    "linger.ms": 5,
    "delivery.report.only.error": True,
}

#: Kafka Streams' exactly-once default (librdkafka's is 60 s): a crashed thread's open
#: transaction blocks read_committed readers of what it wrote, its own repartition topics
#: included, until the broker aborts it after this long
EOS_TRANSACTION_TIMEOUT_MS = 10_000


def _eos(config: StreamsConfig) -> bool:
    return bool(config["processing.guarantee"] == EXACTLY_ONCE_V2)


def main_consumer_config(config: StreamsConfig, thread_name: str,
                         thread_index: int = 1) -> dict[str, Any]:
    """A stream thread's consumer in the application's group. A static member id
    (``group.instance.id``) gets the thread index appended, one static member per thread,
    as Kafka Streams does."""
    cfg: dict[str, Any] = {
        "bootstrap.servers": config["bootstrap.servers"],
        "client.id": f"{thread_name}-consumer",
        "auto.offset.reset": config["auto.offset.reset"],
        "enable.partition.eof": False,
        # librdkafka's default (1000 ms) stalls the fetcher whenever its queue fills, which
        # a Python consumer hits constantly; measured 1.7x faster in benchmarks/
        "fetch.queue.backoff.ms": 100,
    }
    cfg.update(config.client_config("consumer."))
    cfg.update(config.client_config("main.consumer."))
    # one group, commits only after processing, co-partitioned assignment, no reading of
    # aborted writes
    cfg["group.id"] = config["application.id"]
    if cfg.get("group.instance.id"):
        cfg["group.instance.id"] = f"{cfg['group.instance.id']}-{thread_index}"
    cfg["enable.auto.commit"] = False
    cfg["partition.assignment.strategy"] = "range"
    if _eos(config):
        cfg["isolation.level"] = "read_committed"
    return cfg


def restore_consumer_config(config: StreamsConfig, thread_name: str) -> dict[str, Any]:
    """A stream thread's restore consumer: assigned changelog partitions, never subscribed."""
    cfg: dict[str, Any] = {
        "bootstrap.servers": config["bootstrap.servers"],
        "client.id": f"{thread_name}-restore-consumer",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "fetch.max.bytes": 52428800,
        "fetch.queue.backoff.ms": 100,
        # restoration reads up to a known end offset: a fetch at that end must not sit out
        # librdkafka's default 500 ms waiting for records that will not come
        "fetch.wait.max.ms": 10,
    }
    if _eos(config):
        cfg["isolation.level"] = "read_committed"
    cfg.update(config.client_config("consumer."))
    cfg.update(config.client_config("restore.consumer."))
    cfg.pop("group.instance.id", None)  # never joins a group: a static id is the main consumer's
    cfg["group.id"] = f"{config['application.id']}-restore"
    return cfg


def producer_config(config: StreamsConfig, thread_name: str,
                    transactional_id: str) -> dict[str, Any]:
    """A stream thread's producer; under exactly-once transactional with ``transactional_id``."""
    cfg: dict[str, Any] = {**PRODUCER_DEFAULTS, "bootstrap.servers": config["bootstrap.servers"],
                           "client.id": f"{thread_name}-producer"}
    cfg.update(config.client_config("producer."))
    if _eos(config):
        cfg["transactional.id"] = transactional_id
        cfg.setdefault("transaction.timeout.ms", EOS_TRANSACTION_TIMEOUT_MS)
    return cfg


def thread_admin_config(config: StreamsConfig, thread_name: str) -> dict[str, Any]:
    """A stream thread's admin client (it describes the group at each rebalance)."""
    return {"bootstrap.servers": config["bootstrap.servers"], "client.id": f"{thread_name}-admin",
            **config.client_config("admin.")}


def global_consumer_config(config: StreamsConfig, client_id: str) -> dict[str, Any]:
    """The global thread's consumer: assigned every partition of the global topics."""
    cfg: dict[str, Any] = {
        "bootstrap.servers": config["bootstrap.servers"],
        "group.id": f"{config['application.id']}-global",
        "client.id": f"{client_id}-global-consumer",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
    }
    cfg.update(config.client_config("consumer."))
    cfg.update(config.client_config("global.consumer."))
    cfg.pop("group.instance.id", None)  # assigned, never joins: a static id is the main consumer's
    if _eos(config):
        cfg["isolation.level"] = "read_committed"
    return cfg
