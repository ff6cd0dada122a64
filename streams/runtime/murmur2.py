"""The Java producer's default partitioner for keyed records: murmur2 of the key bytes.

librdkafka's ``murmur2_random`` partitioner (what the runtime's producers use) picks the same
partition for a keyed record. The owner metadata uses it to find a key's partition
(``query_metadata_for_key``); tests use it, via :mod:`streams.testing.murmur2`, to predict
where a key lands.

Example::

    murmur2_partition(b"user-1", 6)   # the partition a Java or streams producer writes to
"""

from __future__ import annotations

_SEED, _M, _R = 0x9747B28C, 0x5BD1E995, 24


def murmur2_partition(key: bytes, partitions: int) -> int:
    """The Java client's default partition for a record keyed ``key`` (murmur2, made
    positive, modulo ``partitions``)."""
    length = len(key)
    h = (_SEED ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(key[i:i + 4], "little")
        k = (k * _M) & 0xFFFFFFFF
        k ^= k >> _R
        k = (k * _M) & 0xFFFFFFFF
        h = (h * _M) & 0xFFFFFFFF
        h ^= k
    tail = key[length - length % 4:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * _M) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * _M) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions
