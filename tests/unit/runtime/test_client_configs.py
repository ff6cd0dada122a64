"""The client settings the runtime builds: user settings by prefix, and the ones it forces."""

from __future__ import annotations

from typing import Any

import pytest

from streams import StreamsConfig
from streams.runtime.client_configs import (
    global_consumer_config,
    main_consumer_config,
    producer_config,
    restore_consumer_config,
)


def _config(**extra: Any) -> StreamsConfig:
    return StreamsConfig({"application.id": "app", "bootstrap.servers": "b:9092", **extra})


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once_v2"])
def test_prefixes_apply_in_order_and_correctness_settings_win(guarantee: str) -> None:
    cfg = _config(**{"processing.guarantee": guarantee, "consumer.session.timeout.ms": 6000,
                     "consumer.fetch.min.bytes": 5, "main.consumer.fetch.min.bytes": 10,
                     "restore.consumer.fetch.min.bytes": 20, "global.consumer.fetch.min.bytes": 30,
                     "consumer.enable.auto.commit": True, "main.consumer.group.id": "other"})
    main = main_consumer_config(cfg, "T-1")
    restore = restore_consumer_config(cfg, "T-1")
    glob = global_consumer_config(cfg, "cid")
    assert (main["fetch.min.bytes"], restore["fetch.min.bytes"], glob["fetch.min.bytes"]) == \
        (10, 20, 30)
    assert main["session.timeout.ms"] == restore["session.timeout.ms"] == 6000
    assert main["group.id"] == "app" and main["enable.auto.commit"] is False
    assert restore["group.id"] == "app-restore" and glob["group.id"] == "app-global"
    assert main["bootstrap.servers"] == "b:9092"
    assert (main["client.id"], restore["client.id"], glob["client.id"]) == \
        ("T-1-consumer", "T-1-restore-consumer", "cid-global-consumer")
    isolation = "read_committed" if guarantee == "exactly_once_v2" else None
    assert main.get("isolation.level") == restore.get("isolation.level") == \
        glob.get("isolation.level") == isolation


def test_the_producer_is_transactional_only_under_exactly_once() -> None:
    alos = producer_config(_config(), "T-1", "app-cid-1")
    assert "transactional.id" not in alos and alos["client.id"] == "T-1-producer"
    eos = producer_config(_config(**{"processing.guarantee": "exactly_once_v2"}), "T-1",
                          "app-cid-1")
    assert eos["transactional.id"] == "app-cid-1"
    assert eos["transaction.timeout.ms"] == 10_000  # Kafka Streams' default, not librdkafka's
    mine = producer_config(_config(**{"processing.guarantee": "exactly_once_v2",
                                      "producer.transaction.timeout.ms": 30_000}), "T-1", "x")
    assert mine["transaction.timeout.ms"] == 30_000


def test_a_static_member_id_is_one_per_thread_and_only_for_the_main_consumer() -> None:
    cfg = _config(**{"consumer.group.instance.id": "node-7"})
    assert main_consumer_config(cfg, "T-1", 1)["group.instance.id"] == "node-7-1"
    assert main_consumer_config(cfg, "T-2", 2)["group.instance.id"] == "node-7-2"
    assert "group.instance.id" not in restore_consumer_config(cfg, "T-1")
    assert "group.instance.id" not in global_consumer_config(cfg, "cid")
    assert "group.instance.id" not in main_consumer_config(_config(), "T-1", 1)
