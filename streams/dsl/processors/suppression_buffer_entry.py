"""The entries of the suppression buffer and their bytes (what the buffer's store and changelog
hold, see :mod:`streams.dsl.processors.suppression_buffer`).

Entry layout (the changelog's value bytes): 8-byte buffer time, 8-byte timestamp of the latest
update, then the prior value, the latest update's old value and its new value (each a 4-byte
length, ``-1`` for None, and the bytes of the table's value serde), then the latest update's
headers (a 4-byte count, ``-1`` for None; each a length-prefixed UTF-8 name and a
length-prefixed value). All integers are big-endian.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from streams.errors import StateStoreError

__all__ = ["BufferedEntry", "decode_entry", "encode_entry"]

_TIMES = struct.Struct(">qq")
_INT = struct.Struct(">i")


class BufferedEntry(NamedTuple):
    """One decoded buffer entry (bytes as the table's serdes wrote them)."""

    buffer_time: int
    timestamp: int
    prior: bytes | None
    old: bytes | None
    new: bytes | None
    headers: list[tuple[str, bytes | None]] | None


def _put_part(out: list[bytes], data: bytes | None) -> None:
    if data is None:
        out.append(_INT.pack(-1))
    else:
        out.append(_INT.pack(len(data)))
        out.append(data)


def encode_entry(entry: BufferedEntry) -> bytes:
    """The stored (and logged) bytes of ``entry``; see the module docstring for the layout."""
    out = [_TIMES.pack(entry.buffer_time, entry.timestamp)]
    _put_part(out, entry.prior)
    _put_part(out, entry.old)
    _put_part(out, entry.new)
    if entry.headers is None:
        out.append(_INT.pack(-1))
    else:
        out.append(_INT.pack(len(entry.headers)))
        for name, value in entry.headers:
            _put_part(out, name.encode("utf-8"))
            if isinstance(value, str):
                value = value.encode("utf-8")
            _put_part(out, None if value is None else bytes(value))
    return b"".join(out)


def decode_entry(data: bytes) -> BufferedEntry:
    """Inverse of :func:`encode_entry`; StateStoreError on malformed bytes."""
    try:
        buffer_time, timestamp = _TIMES.unpack_from(data, 0)
        pos = _TIMES.size

        def part() -> bytes | None:
            nonlocal pos
            (n,) = _INT.unpack_from(data, pos)
            pos += 4
            if n < 0:
                return None
            if pos + n > len(data):
                raise ValueError("truncated")
            chunk = bytes(data[pos : pos + n])
            pos += n
            return chunk

        prior, old, new = part(), part(), part()
        (count,) = _INT.unpack_from(data, pos)
        pos += 4
        headers: list[tuple[str, bytes | None]] | None = None
        if count >= 0:
            headers = []
            for _ in range(count):
                name = part()
                headers.append(((name or b"").decode("utf-8"), part()))
        if pos != len(data):
            raise ValueError(f"{len(data) - pos} trailing bytes")
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise StateStoreError(f"malformed suppression buffer entry ({len(data)} bytes): {exc}") from exc
    return BufferedEntry(buffer_time, timestamp, prior, old, new, headers)
