"""Versioned key-value stores (KIP-889): every value a key had, each valid from its timestamp
until the next one's, kept for ``history_retention_ms`` of stream time.

``put(key, value, timestamp)`` adds a version (None: a tombstone, the key deleted from then
on); ``get(key)`` is the latest version and ``get(key, as_of)`` the one valid at ``as_of``,
each a :class:`VersionedRecord` with ``valid_to`` (None while it is the latest). As in Kafka
Streams, the store's *observed stream time* T is the largest timestamp put so far: a put older
than ``T - history_retention_ms`` is refused (:data:`PUT_RETURN_CODE_NOT_PUT`) and a read as of
such a time returns None, unless the key's latest version is valid then (the latest
version never expires).

Layout: the store keeps, per key, its whole retained history in one value of a bytes
key-value store (in-memory or RocksDB), newest version first, so reading the latest version
decodes one entry. A put rewrites the key's history, dropping versions no read can reach any
more (valid only before ``T - history_retention_ms``). The observed stream time is kept under a
reserved key, written when the store flushes (before every commit).

Fault tolerance: the changelog carries the bytes store's writes, i.e. a key's whole retained
history per record, so a compacted changelog still restores every version a read can reach.
Kafka Streams' RocksDB versioned store logs one record per put instead (and sets
``min.compaction.lag.ms`` to keep history); the two changelogs are not interchangeable
(docs/state-stores.md, "Versioned key-value stores").
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from streams.errors import StateStoreError
from streams.serdes.base import Serde
from streams.state.api import KeyValueBytesStore, StateStoreContext, changelog_topic
from streams.state.stream_time import PersistedStreamTime
from streams.state.typed import _TypedBase

__all__ = [
    "PUT_RETURN_CODE_NOT_PUT",
    "PUT_RETURN_CODE_VALID_TO_UNDEFINED",
    "VersionedKeyValueStore",
    "VersionedRecord",
]

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

#: ``put`` returns this when the new version is the latest (Kafka Streams' constant, -1).
PUT_RETURN_CODE_VALID_TO_UNDEFINED = -1
#: ``put`` returns this when the version was too old to keep (Kafka Streams' Long.MIN_VALUE).
PUT_RETURN_CODE_NOT_PUT = -(2**63)

_ENTRY = struct.Struct(">qi")  # valid-from timestamp, value length (-1: tombstone)
_META_KEY = b"\x00"  # the observed stream time
_DATA = b"\x01"  # prefix of every user key, so no user key collides with the meta key

# one version: (valid from, value bytes or None for a tombstone)
_Version = tuple[int, bytes | None]


class VersionedRecord(Generic[V]):
    """One version of a key: ``value``, valid from ``timestamp`` until ``valid_to``
    (exclusive; None while it is the latest). Reads expose ``value`` and ``timestamp`` like a
    ``ValueAndTimestamp``, so table getters treat both alike."""

    __slots__ = ("timestamp", "valid_to", "value")

    def __init__(self, value: V, timestamp: int, valid_to: int | None = None) -> None:
        self.value = value
        self.timestamp = timestamp
        self.valid_to = valid_to

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, VersionedRecord) and self.value == other.value
                and self.timestamp == other.timestamp and self.valid_to == other.valid_to)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"VersionedRecord(value={self.value!r}, timestamp={self.timestamp}, "
                f"valid_to={self.valid_to})")


def encode_history(versions: list[_Version]) -> bytes:
    """``versions`` (newest first) as bytes: per version its timestamp, length and value."""
    parts: list[bytes] = []
    for ts, value in versions:
        if value is None:
            parts.append(_ENTRY.pack(ts, -1))
        else:
            parts.append(_ENTRY.pack(ts, len(value)))
            parts.append(value)
    return b"".join(parts)


def decode_history(data: bytes) -> list[_Version]:
    """The versions :func:`encode_history` wrote, newest first."""
    out: list[_Version] = []
    pos, end, size = 0, len(data), _ENTRY.size
    while pos < end:
        ts, n = _ENTRY.unpack_from(data, pos)
        pos += size
        if n < 0:
            out.append((ts, None))
        else:
            out.append((ts, data[pos:pos + n]))
            pos += n
    return out


def _latest(data: bytes) -> _Version:
    ts, n = _ENTRY.unpack_from(data, 0)
    return ts, None if n < 0 else data[_ENTRY.size:_ENTRY.size + n]


def insert_version(versions: list[_Version], ts: int, value: bytes | None) -> int | None:
    """Add (or replace) the version starting at ``ts`` in ``versions`` (newest first);
    return its ``valid_to`` (None: it is the latest)."""
    for i, (from_ts, _) in enumerate(versions):
        if ts == from_ts:
            versions[i] = (ts, value)
            return None if i == 0 else versions[i - 1][0]
        if ts > from_ts:
            versions.insert(i, (ts, value))
            return None if i == 0 else versions[i - 1][0]
    versions.append((ts, value))
    return None if len(versions) == 1 else versions[-2][0]


def expire(versions: list[_Version], horizon: int) -> None:
    """Drop the versions no read as of ``horizon`` or later can see: those whose validity
    ended at or before it, and a latest tombstone from before it (reading it or nothing is
    the same)."""
    keep = len(versions)
    for i in range(1, len(versions)):
        if versions[i - 1][0] <= horizon:  # version i ended when version i-1 began
            keep = i
            break
    del versions[keep:]
    if versions and versions[-1][1] is None and len(versions) == 1 and versions[0][0] <= horizon:
        versions.clear()


class VersionedKeyValueStore(_TypedBase[K, V, KeyValueBytesStore]):
    """A versioned key-value store of ``K`` to ``V`` (Kafka Streams'
    ``VersionedKeyValueStore``); see the module docstring.

    Example::

        store.put("alice", "admin", 100)
        store.put("alice", "user", 200)
        store.get("alice")           # VersionedRecord(value='user', timestamp=200, valid_to=None)
        store.get("alice", 150)      # VersionedRecord(value='admin', timestamp=100, valid_to=200)
    """

    __slots__ = ("_stream_time", "history_retention_ms")

    #: the constants of Kafka Streams' interface, on the class as there
    PUT_RETURN_CODE_VALID_TO_UNDEFINED = PUT_RETURN_CODE_VALID_TO_UNDEFINED
    PUT_RETURN_CODE_NOT_PUT = PUT_RETURN_CODE_NOT_PUT

    def __init__(self, inner: KeyValueBytesStore, key_serde: Serde[K], value_serde: Serde[V],
                 history_retention_ms: int) -> None:
        super().__init__(inner, key_serde, value_serde)
        if history_retention_ms < 0:
            raise StateStoreError(f"versioned store {inner.name!r}: history retention must not "
                                  f"be negative, got {history_retention_ms}")
        #: how far back in stream time versions stay readable
        self.history_retention_ms = history_retention_ms
        self._stream_time = PersistedStreamTime(inner, _META_KEY)

    def init(self, context: StateStoreContext) -> None:
        """Open the store; its observed stream time is read back at first use, after any
        restoration."""
        self._topic = changelog_topic(context.application_id, self._inner.name)
        self._stream_time.open(context)

    @property
    def observed_stream_time(self) -> int:
        """The largest timestamp put so far (restored with the store)."""
        return self._stream_time.value

    def flush(self) -> None:
        """Write the observed stream time if it moved, then flush the inner stores."""
        self._stream_time.flush()
        self._inner.flush()

    def close(self) -> None:
        """Keep the observed stream time locally; close the inner stores."""
        self._stream_time.close()
        self._inner.close()

    def _data_key(self, key: K) -> bytes:
        return _DATA + self._key_bytes(key)

    def put(self, key: K, value: V | None, timestamp: int) -> int:
        """Add the version of ``key`` valid from ``timestamp`` (None: a tombstone).

        Returns :data:`PUT_RETURN_CODE_VALID_TO_UNDEFINED` if it is now the latest version,
        the timestamp of the next newer version otherwise, or :data:`PUT_RETURN_CODE_NOT_PUT`
        if ``timestamp`` is older than the history retention allows (it is then dropped).
        """
        stream_time = self._stream_time.value
        if timestamp < stream_time - self.history_retention_ms:
            log.warning("versioned store %s: skipping put of an expired version (timestamp %d "
                        "< observed stream time %d - history retention %d)", self.name,
                        timestamp, stream_time, self.history_retention_ms)
            return PUT_RETURN_CODE_NOT_PUT
        stream_time = self._stream_time.advance(timestamp)
        data_key = self._data_key(key)
        vbytes = None if value is None else self._vse(self._topic, value)
        old = self._inner.get(data_key)
        versions = decode_history(old) if old else []
        valid_to = insert_version(versions, timestamp, vbytes)
        expire(versions, stream_time - self.history_retention_ms)
        if versions:
            self._inner.put(data_key, encode_history(versions))
        elif old is not None:
            self._inner.delete(data_key)
        return PUT_RETURN_CODE_VALID_TO_UNDEFINED if valid_to is None else valid_to

    def delete(self, key: K, timestamp: int) -> VersionedRecord[V] | None:
        """Put a tombstone for ``key`` at ``timestamp``; return the version it replaces there
        (the one valid at ``timestamp``), or None. An expired ``timestamp`` changes nothing."""
        if timestamp < self.observed_stream_time - self.history_retention_ms:
            return None
        existing = self.get(key, timestamp)
        self.put(key, None, timestamp)
        return existing

    def _value(self, data: bytes) -> V:
        value = self._vde(self._topic, data)
        if value is None:
            raise StateStoreError(f"versioned store {self.name!r}: the value serde read None "
                                  "from a stored value")
        return value

    def get(self, key: K, as_of_timestamp: int | None = None) -> VersionedRecord[V] | None:
        """The latest version of ``key`` (``as_of_timestamp`` None), or the version valid at
        ``as_of_timestamp``; None if there is none, it is a tombstone, or ``as_of_timestamp``
        is older than the history retention reaches (unless the latest version is valid then:
        the latest version never expires)."""
        data = self._inner.get(self._data_key(key))
        if not data:
            return None
        if as_of_timestamp is None:
            ts, vbytes = _latest(data)
            if vbytes is None:
                return None
            return VersionedRecord(self._value(vbytes), ts, None)
        if as_of_timestamp < self.observed_stream_time - self.history_retention_ms:
            # beyond the history retention only the latest version (never expiring, as in
            # Kafka Streams) may still answer
            ts, vbytes = _latest(data)
            if vbytes is None or ts > as_of_timestamp:
                return None
            return VersionedRecord(self._value(vbytes), ts, None)
        valid_to: int | None = None
        for ts, vbytes in decode_history(data):
            if ts <= as_of_timestamp:
                if vbytes is None:
                    return None
                return VersionedRecord(self._value(vbytes), ts, valid_to)
            valid_to = ts
        return None

    def versions(self, key: K) -> Iterator[VersionedRecord[V | None]]:
        """Every retained version of ``key``, newest first, tombstones as None values (Kafka
        Streams' ``MultiVersionedKeyQuery`` without bounds)."""
        data = self._inner.get(self._data_key(key))
        valid_to: int | None = None
        for ts, vbytes in decode_history(data or b""):
            value = None if vbytes is None else self._vde(self._topic, vbytes)
            yield VersionedRecord(value, ts, valid_to)
            valid_to = ts

    def approximate_num_entries(self) -> int:
        """Keys with a retained history (approximate, as the inner store's count)."""
        return max(self._inner.approximate_num_entries() - 1, 0)

    def __repr__(self) -> str:
        return (f"VersionedKeyValueStore(name={self.name!r}, "
                f"history_retention_ms={self.history_retention_ms})")


def unwrap(value: Any) -> Any:
    """``value.value`` for a VersionedRecord or ValueAndTimestamp, None for None."""
    return None if value is None else value.value
