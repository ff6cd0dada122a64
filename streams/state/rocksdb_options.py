"""Options of the RocksDB stores: the defaults, the config-setter hook and the raw-mode check.

Every RocksDB store (key-value, window and session segments) starts from
:func:`default_rocksdb_options` unless given its own ``rocksdict.Options``, and lets a
:data:`RocksDBConfigSetter` adjust them before it opens (Kafka Streams'
``rocksdb.config.setter``). The databases are opened in ``rocksdict`` raw mode, so keys and
values are the bytes given to the store; :func:`opened_in_raw_mode` checks that after opening.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from rocksdict import BlockBasedOptions, Cache, DBCompactionStyle, DBCompressionType, Options

__all__ = [
    "DEFAULT_MAX_PENDING_WRITES",
    "RocksDBConfigSetter",
    "default_rocksdb_options",
    "opened_in_raw_mode",
]

#: Pending writes a RocksDB store keeps in memory before it writes them early, between commits
#: (see :mod:`streams.state.rocksdb`).
DEFAULT_MAX_PENDING_WRITES = 10_000

#: Called as ``setter(store_name, options)`` to adjust a store's options before it opens
#: (the role of Kafka Streams' ``rocksdb.config.setter``).
RocksDBConfigSetter = Callable[[str, Options], None]


def default_rocksdb_options() -> Options:
    """Fresh default options for one store (raw mode; tune via a config setter).

    Close to Kafka Streams' defaults, scaled for many small stores per process: a bloom filter
    (10 bits/key) so that ``get`` on absent keys — the common case for a new aggregation key —
    rarely touches disk; a 16 MiB block cache; three 16 MiB write buffers; LZ4 compression;
    universal compaction (lower write amplification, as Kafka Streams uses); modest background
    parallelism; and at most two info-log files kept.
    """
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.increase_parallelism(max(2, min(4, os.cpu_count() or 2)))
    table = BlockBasedOptions()
    table.set_bloom_filter(10, False)
    table.set_block_cache(Cache(16 * 1024 * 1024))
    options.set_block_based_table_factory(table)
    options.set_write_buffer_size(16 * 1024 * 1024)
    options.set_max_write_buffer_number(3)
    options.set_compression_type(DBCompressionType.lz4())
    options.set_compaction_style(DBCompactionStyle.universal())
    options.set_keep_log_file_num(2)
    return options


def opened_in_raw_mode(path: Path) -> bool:
    """Whether rocksdict opened the database at ``path`` in raw mode (True if unknown)."""
    try:
        config = json.loads((path / "rocksdict-config.json").read_text())
    except (OSError, ValueError):
        return True
    return bool(config.get("raw_mode", True))
