"""Faust (faust-streaming) worker of ``benchmarks.compare`` (own venv; requirements-faust.txt).

    <venv>/bin/python -m benchmarks.peers.faust_worker WORKLOAD --bootstrap ... --input ...

Runs until SIGTERM. Tables use Faust's RocksDB store (``rocksdb://``, through ``rocksdict``)
unless ``--set store=memory://``. Faust has no DSL join: the stream-table join is a Table
whose changelog topic *is* the customers topic (Faust fills a table from its changelog before
its agents start, like a KTable restore) and an agent that looks each order up in it.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

from benchmarks.peers.common import (
    LONG,
    WINDOW_MS,
    exit_on_sigterm,
    join_value,
    keep_first,
    mark_first,
    parse_args,
    split_words,
    transform,
    windowed_key,
)

RAW = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}


def main(argv: list[str] | None = None) -> int:
    a = parse_args("faust_worker", argv)
    import faust

    app = faust.App(
        a.app_id,
        broker=f"kafka://{a.bootstrap}",
        store=a.settings.get("store", "rocksdb://"),
        datadir=a.state_dir,
        topic_partitions=4,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=a.commit_ms / 1000,
        web_enabled=False,
        autodiscover=False,
    )
    inp = app.topic(a.input, partitions=4, **RAW)
    out = app.topic(a.output, partitions=4, **RAW)

    if a.workload == "stateless":
        @app.agent(inp)
        async def stateless(stream: Any) -> None:
            async for event in stream.events():
                value = event.value.decode()
                if keep_first(value):
                    await out.send(key=event.key, value=transform(value).encode())

    elif a.workload == "wordcount":
        words = app.topic(f"{a.app_id}-words-repartition", partitions=4, internal=True, **RAW)
        counts = app.Table("counts", default=int, partitions=4, key_type=str, value_type=int)

        @app.agent(inp)
        async def split(stream: Any) -> None:
            async for line in stream:
                for word in split_words(line.decode()):
                    b = word.encode()
                    await words.send(key=b, value=b)

        @app.agent(words)
        async def count(stream: Any) -> None:
            async for event in stream.events():
                word = event.key.decode()
                n = counts[word] + 1
                counts[word] = n
                await out.send(key=event.key, value=LONG.pack(n))

    elif a.workload == "windowed":
        # event time: Faust windows use the record timestamp unless told otherwise; expiry is
        # by wall clock in Faust, so a long ``expires`` keeps the (old) windows open
        windows = app.Table("window-counts", default=int, partitions=4, key_type=str,
                            value_type=int,
                            ).tumbling(WINDOW_MS / 1000, expires=timedelta(days=3650))

        @app.agent(inp)
        async def windowed(stream: Any) -> None:
            async for event in stream.events():
                mark_first()
                user = event.key.decode()
                windows[user] += 1
                n = windows[user].current()
                ts = round(event.message.timestamp * 1000)
                await out.send(key=windowed_key(event.key, ts - ts % WINDOW_MS),
                               value=LONG.pack(n))

    else:  # join
        customers = app.Table("customers", partitions=4, key_type=bytes, value_type=bytes,
                              changelog_topic=app.topic(a.table, partitions=4, **RAW))
        # the topic holds plain strings: read it raw (Tables default to JSON for plain types)
        customers.key_serializer = customers.value_serializer = "raw"

        @app.agent(inp)
        async def join(stream: Any) -> None:
            async for event in stream.events():
                mark_first()
                customer = customers.get(event.key)
                if customer is not None:
                    await out.send(key=event.key, value=join_value(
                        event.value.decode(), customer.decode()).encode())

    exit_on_sigterm()
    sys.argv = ["faust_worker", "worker", "--loglevel", "warn", "--without-web"]
    app.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
