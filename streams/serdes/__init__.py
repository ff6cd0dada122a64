"""Serdes: turn keys and values into bytes and back.

Java-compatible primitives (same bytes as Kafka's ``Serdes.*``): :class:`Bytes`,
:class:`String`, :class:`Short`, :class:`Integer`, :class:`Long`, :class:`Float`,
:class:`Double`, :class:`Boolean`, :class:`UUID`, :class:`Void`, :class:`List`.
Structured: :class:`Json`, :class:`MsgPack` (msgspec, optionally typed), :class:`Avro`
(schemaless) and :class:`ConfluentAvro` (Schema Registry wire format).

Every serde maps ``None`` to ``None`` (tombstones) and raises
:class:`streams.errors.SerializationError` naming the topic, with the cause chained.

Example::

    from streams import serdes
    serdes.Long().serialize("t", 1)  # b"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x01"
    serdes.Json().deserialize("t", b'{"a": 1}')  # {'a': 1}
"""

from streams.serdes.avro import Avro, AvroSchema, ConfluentAvro, SubjectNameStrategy
from streams.serdes.base import BaseSerde, Headers, Serde, is_bytes_serde
from streams.serdes.factory import from_type
from streams.serdes.lists import List
from streams.serdes.numeric import Double, Float, Integer, Long, Short
from streams.serdes.primitives import UUID, Boolean, Bytes, String, Void
from streams.serdes.structured import Json, MsgPack
from streams.serdes.windowed_keys import SessionWindowedSerde, TimeWindowedSerde

__all__ = [
    "UUID",
    "Avro",
    "AvroSchema",
    "BaseSerde",
    "Boolean",
    "Bytes",
    "ConfluentAvro",
    "Double",
    "Float",
    "Headers",
    "Integer",
    "Json",
    "List",
    "Long",
    "MsgPack",
    "Serde",
    "SessionWindowedSerde",
    "Short",
    "String",
    "SubjectNameStrategy",
    "TimeWindowedSerde",
    "Void",
    "from_type",
    "is_bytes_serde",
]
