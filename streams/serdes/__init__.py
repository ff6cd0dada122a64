"""Serdes: turn keys and values into bytes and back.

Example::

    from streams import serdes
    serdes.Long().serialize("t", 1)  # b"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x01"
"""

from streams.serdes.base import BaseSerde, Headers, Serde

__all__ = ["BaseSerde", "Headers", "Serde"]
