"""Interactive queries of window and session stores through ``KafkaStreams.store()``."""

from __future__ import annotations

import pytest
from rt_helpers import wait_for

from streams import (
    Consumed,
    Materialized,
    SessionWindows,
    StreamsBuilder,
    TimeWindows,
    serdes,
)
from streams.errors import InvalidStateStoreError
from streams.processor.window_types import SessionWindow, TimeWindow, Windowed
from streams.testing import clients
from streams.testing.clients import ProducerRecord

pytestmark = pytest.mark.integration

MINUTE = 60_000


@pytest.mark.timeout(120)
@pytest.mark.parametrize("cache_bytes", [0, 10 * 1024 * 1024])  # reads from the store / cache
def test_window_and_session_stores_are_queryable(cache_bytes, app_factory, topic_factory,
                                                 kafka_bootstrap):
    views = topic_factory("views", partitions=2)
    s = serdes.String()
    builder = StreamsBuilder()
    grouped = builder.stream(views, Consumed(key_serde=s, value_serde=s)).group_by_key()
    # long graces: retention (size or gap + grace) keeps alice's first window and session
    # while the test reads, whether the record cache has flushed them or not
    grouped.windowed_by(TimeWindows.of_size_and_grace(MINUTE, 5 * MINUTE)).count(
        Materialized(name="per-minute"))
    grouped.windowed_by(SessionWindows.of_inactivity_gap_and_grace(MINUTE, 5 * MINUTE)).count(
        Materialized(name="sessions"))
    app = app_factory(builder.build(), statestore_cache_max_bytes=cache_bytes)
    app.start()
    app.wait_until_running(60)

    # alice: 3 views in minute 0, 1 in minute 2 (a new session: more than a minute later);
    # bob: 2 views in minute 1
    records = [("alice", 1_000), ("alice", 20_000), ("alice", 50_000), ("bob", 61_000),
               ("bob", 62_000), ("alice", 170_000)]
    clients.produce(kafka_bootstrap, views,
                    [ProducerRecord(k, "v", timestamp=ts) for k, ts in records])

    minutes = app.store("per-minute")
    wait_for(lambda: minutes.get("alice", 2 * MINUTE) == 1 and minutes.get("bob", MINUTE) == 2,
             60, "the last counts to be queryable")
    assert minutes.get("alice", 0) == 3
    assert minutes.get("alice", MINUTE) is None
    assert list(minutes.fetch("alice", 0, 10 * MINUTE)) == [(0, 3), (2 * MINUTE, 1)]
    assert list(minutes.backward_fetch("alice", 0, 10 * MINUTE)) == [(2 * MINUTE, 1), (0, 3)]
    every = dict(minutes.fetch_all(0, 10 * MINUTE))
    assert every == {Windowed("alice", TimeWindow(0, MINUTE)): 3,
                     Windowed("bob", TimeWindow(MINUTE, 2 * MINUTE)): 2,
                     Windowed("alice", TimeWindow(2 * MINUTE, 3 * MINUTE)): 1}
    assert dict(minutes.all()) == every

    sessions = app.store("sessions")
    wait_for(lambda: sessions.fetch_session("alice", 170_000, 170_000) == 1, 30,
             "alice's second session")
    assert dict(sessions.fetch("alice")) == {
        Windowed("alice", SessionWindow(1_000, 50_000)): 3,
        Windowed("alice", SessionWindow(170_000, 170_000)): 1}
    assert dict(sessions.find_sessions("bob", 0, 10 * MINUTE)) == {
        Windowed("bob", SessionWindow(61_000, 62_000)): 2}
    assert len(dict(sessions.all())) == 3

    app.close(30)
    with pytest.raises(InvalidStateStoreError, match="per-minute"):
        minutes.get("alice", 0)
