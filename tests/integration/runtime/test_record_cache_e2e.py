"""The record cache on the broker: a count forwards and logs once per key per commit.

With the cache, a key counted many times between two commits gives one output record and one
changelog record per commit; without it, one per input record. The final counts are the same.
"""

from __future__ import annotations

import collections

import pytest
from rt_helpers import committed, latest_values, wait_for

from streams import Consumed, Materialized, Produced, StreamsBuilder, serdes
from streams.testing import clients

pytestmark = pytest.mark.integration

KEYS = [f"k{i}" for i in range(10)]
RECORDS = 3000


def counting(input_topic: str, output_topic: str, caching: bool) -> object:
    s = serdes.String()
    builder = StreamsBuilder()
    (builder.stream(input_topic, Consumed(key_serde=s, value_serde=s))
     .group_by_key()
     .count(Materialized(name="counts", caching=caching))
     .to_stream()
     .to(output_topic, Produced(key_serde=s, value_serde=serdes.Long())))
    return builder.build()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("caching", [True, False])
def test_count_output_and_changelog_per_commit(caching, app_factory, topic_factory,
                                               kafka_bootstrap):
    source = topic_factory("events", partitions=1)
    output = topic_factory("counts", partitions=1)
    records = [(KEYS[i % len(KEYS)], "x") for i in range(RECORDS)]
    delivered = clients.produce(kafka_bootstrap, source, records)
    expected = collections.Counter(k for k, _ in records)

    # a long commit interval: the whole backlog is processed between two commits
    app = app_factory(counting(source, output, caching), commit_interval_ms=5000)
    app.start()
    app.wait_until_running(60)
    end = {0: max(d.offset for d in delivered) + 1}
    wait_for(lambda: committed(kafka_bootstrap, app.config["application.id"], source, end), 60,
             "the input to be committed")
    out = clients.consume_all(kafka_bootstrap, output, 30)
    changelog = clients.consume_all(
        kafka_bootstrap, f"{app.config['application.id']}-counts-changelog", 30)
    assert latest_values(kafka_bootstrap, output, serdes.Long()) == dict(expected)
    if caching:
        # every key at least once; far fewer than one per record (a few commits at most,
        # plus evictions: the cache is far larger than ten keys)
        assert len(KEYS) <= len(out) <= 4 * len(KEYS)
        assert len(KEYS) <= len(changelog) <= 4 * len(KEYS)
    else:
        assert len(out) == RECORDS
        assert len(changelog) == RECORDS
