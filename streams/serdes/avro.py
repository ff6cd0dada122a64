"""Avro serdes on fastavro: schemaless (raw Avro binary) and Confluent Schema Registry.

* :class:`Avro` writes the bare Avro binary encoding of one schema, like Avro's
  ``BinaryEncoder``: no header, so both sides must agree on the schema out of band.
* :class:`ConfluentAvro` writes Confluent's wire format (magic byte ``0``, 4-byte big-endian
  schema id, Avro binary body), registering/looking up schemas in Schema Registry, so the
  records interoperate with Java's ``KafkaAvroSerializer``/``KafkaAvroDeserializer``,
  confluent-kafka-python, Kafka Connect and ksqlDB.
  ``Avro(schema, schema_registry=...)`` is a shorthand that returns a :class:`ConfluentAvro`.

Values are what fastavro reads and writes: records are ``dict``s, unions may use fastavro's
tuple notation, logical types map to ``datetime``/``Decimal``/``uuid.UUID``.

Example::

    schema = {"type": "record", "name": "Order", "namespace": "shop",
              "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"}]}
    raw = serdes.Avro(schema)
    sr = serdes.ConfluentAvro(schema, schema_registry="http://localhost:8081")
"""

from __future__ import annotations

import io
import json
import struct
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Literal

import fastavro

from streams.errors import ConfigError, SerializationError
from streams.serdes.base import BaseSerde, Headers, _deserialize_error, _serialize_error

__all__ = ["Avro", "AvroSchema", "ConfluentAvro", "SubjectNameStrategy"]

#: An Avro schema: a dict (record, enum, ...), a list (union), a JSON string, a primitive
#: type name such as ``"long"``, or a ``confluent_kafka.schema_registry.Schema``
#: (:class:`ConfluentAvro` only; the way to pass schema references).
AvroSchema = Mapping[str, Any] | list[Any] | str | Any

#: How :class:`ConfluentAvro` names the Schema Registry subject: ``"topic"`` (Confluent's
#: default ``TopicNameStrategy``: ``<topic>-key`` / ``<topic>-value``), ``"record"``
#: (``RecordNameStrategy``: the record's full name), ``"topic_record"``
#: (``TopicRecordNameStrategy``: ``<topic>-<record full name>``), or a callable
#: ``(topic, is_key, record_full_name_or_None) -> subject``.
SubjectNameStrategy = (
    Literal["topic", "record", "topic_record"] | Callable[[str, bool, str | None], str]
)

_MAGIC_BYTE = 0
_HEADER = struct.Struct(">bi")  # magic byte, schema id (Java: ByteBuffer.get(), getInt())
_HEADER_SIZE = _HEADER.size


def _schema_text_and_obj(schema: AvroSchema) -> tuple[str, Any]:
    """Return the schema as JSON text and as a Python object (for fastavro)."""
    if isinstance(schema, str):
        try:
            return schema, json.loads(schema)
        except ValueError:
            return json.dumps(schema), schema  # a bare primitive name such as "long"
    if isinstance(schema, Mapping | list):
        obj = dict(schema) if isinstance(schema, Mapping) else schema
        return json.dumps(obj, separators=(",", ":")), obj
    raise ConfigError(
        f"Avro schema must be a dict, list or JSON string, got {type(schema).__name__}"
    )


def _parse(obj: Any, named_schemas: dict[str, Any] | None = None, what: str = "schema") -> Any:
    try:
        return fastavro.parse_schema(obj, named_schemas=named_schemas)
    except Exception as exc:
        raise ConfigError(f"invalid Avro {what}: {exc}") from exc


def _full_name(parsed: Any) -> str | None:
    if isinstance(parsed, dict) and parsed.get("type") in ("record", "enum", "fixed", "error"):
        name = parsed.get("name")
        return str(name) if name is not None else None
    return None


def _schema_label(parsed: Any) -> str:
    name = _full_name(parsed)
    if name is not None:
        return name
    if isinstance(parsed, str):
        return parsed
    if isinstance(parsed, dict):
        return str(parsed.get("type"))
    return "union" if isinstance(parsed, list) else type(parsed).__name__


class Avro(BaseSerde[Any]):
    """Schemaless Avro binary: the encoding of ``schema`` with nothing in front of it.

    The schema is parsed once. ``reader_schema`` (optional) enables schema evolution: data is
    read as written with ``schema`` and resolved into ``reader_schema`` (added fields take
    their defaults, removed fields are dropped). ``strict=True`` makes ``serialize`` reject
    records with fields the schema does not have (fastavro's ``strict``).

    Passing ``schema_registry=`` returns a :class:`ConfluentAvro` instead (the Confluent wire
    format); the other keyword arguments then are :class:`ConfluentAvro`'s.

    Example::

        serde = serdes.Avro({"type": "record", "name": "P",
                             "fields": [{"name": "x", "type": "long"}]})
        serde.serialize("points", {"x": 1})  # b"\\x02"   (zig-zag varint of 1)
        serde.deserialize("points", b"\\x02")  # {'x': 1}
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Avro:
        if cls is Avro and kwargs.get("schema_registry") is not None:
            return super().__new__(ConfluentAvro)
        return super().__new__(cls)

    def __init__(
        self,
        schema: AvroSchema,
        *,
        reader_schema: AvroSchema | None = None,
        strict: bool = False,
        schema_registry: Any = None,
        **registry_options: Any,
    ) -> None:
        if registry_options:
            raise ConfigError(
                f"Avro serde: unexpected options {sorted(registry_options)} "
                "(these need schema_registry=..., which selects ConfluentAvro)"
            )
        _, obj = _schema_text_and_obj(schema)
        self.schema = _parse(obj)
        self.reader_schema = (
            None
            if reader_schema is None
            else _parse(_schema_text_and_obj(reader_schema)[1], what="reader schema")
        )
        if self.reader_schema == self.schema:
            self.reader_schema = None
        self.strict = strict

    def serialize(self, topic: str, value: Any, headers: Headers | None = None) -> bytes | None:
        """Write ``value`` as Avro binary with ``schema``."""
        if value is None:
            return None
        try:
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, self.schema, value, strict=self.strict)
            return buf.getvalue()
        except Exception as exc:
            raise _serialize_error(self, topic, value, exc) from exc

    def deserialize(self, topic: str, data: bytes | None, headers: Headers | None = None) -> Any:
        """Read Avro binary written with ``schema`` (resolved into ``reader_schema`` if set)."""
        if data is None:
            return None
        try:
            return fastavro.schemaless_reader(io.BytesIO(data), self.schema, self.reader_schema)
        except Exception as exc:
            raise _deserialize_error(self, topic, data, exc) from exc

    def __repr__(self) -> str:
        args = f"schema={_schema_label(self.schema)!r}"
        if self.reader_schema is not None:
            args += f", reader_schema={_schema_label(self.reader_schema)!r}"
        return f"Avro({args})"


def _registry_label(registry: Any) -> str:
    if isinstance(registry, str):
        url = registry
    elif isinstance(registry, Mapping):
        url = str(registry.get("url", "?"))
    else:
        return f"<{type(registry).__name__}>"
    parts = urllib.parse.urlsplit(url.split(",")[0])
    if parts.username or parts.password:  # never print credentials
        host = parts.hostname or ""
        parts = parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host)
    return urllib.parse.urlunsplit(parts)


def _make_client(registry: Any) -> Any:
    try:
        from confluent_kafka.schema_registry import SchemaRegistryClient
    except ImportError as exc:  # the schemaregistry extras are optional
        raise ConfigError(
            "ConfluentAvro needs confluent-kafka's Schema Registry support: "
            "pip install 'confluent-kafka[schemaregistry,avro]'"
        ) from exc
    if isinstance(registry, str):
        return SchemaRegistryClient.new_client({"url": registry})
    if isinstance(registry, Mapping):
        return SchemaRegistryClient.new_client(dict(registry))
    if callable(getattr(registry, "get_schema", None)):
        return registry
    raise ConfigError(
        "schema_registry must be a SchemaRegistryClient, a URL or a client config dict, "
        f"got {type(registry).__name__}"
    )


class ConfluentAvro(Avro):
    """Avro in Confluent's Schema Registry wire format (interoperates with Java/Connect/ksqlDB).

    Bytes: ``0x00`` (magic byte), the schema id as a 4-byte big-endian int, then the Avro
    binary body. Serializing registers ``schema`` under the subject (``auto_register=True``,
    like the Java serializer's ``auto.register.schemas``) or looks it up
    (``auto_register=False``), once per topic; deserializing fetches the writer's schema by
    the id in the record, once per id. Both are cached for the life of the serde.

    Args:
        schema: the schema to write with (dict, JSON string, or a
            ``confluent_kafka.schema_registry.Schema``, which may carry references). Optional
            for a serde that only deserializes.
        schema_registry: a ``confluent_kafka.schema_registry.SchemaRegistryClient``, a URL
            (``"http://host:8081"``; ``"mock://name"`` gives confluent-kafka's in-memory
            mock registry, a separate one per client: share the client object) or a client
            config dict (``{"url": ..., "basic.auth.user.info":
            ...}``). Share one client between serdes to share its caches.
        is_key: whether this serde handles record keys; the default ``"topic"`` strategy
            then uses the ``<topic>-key`` subject instead of ``<topic>-value``.
        subject_name_strategy: ``"topic"`` (default), ``"record"``, ``"topic_record"`` or a
            callable ``(topic, is_key, record_full_name) -> subject`` (see
            :data:`SubjectNameStrategy`).
        auto_register: register ``schema`` if the subject does not have it yet.
        use_latest_version: write with the subject's latest registered schema instead of
            ``schema`` (Java's ``use.latest.version``); looked up once per topic.
        reader_schema: the shape records are returned in. Defaults to ``schema``; when
            neither is given, records are returned as written.
        normalize_schemas: ask the registry to normalize schemas on register/lookup.
        strict: reject records with fields the schema does not have.

    Errors (bad magic byte, unknown schema id, registry failures, encoding failures) raise
    :class:`~streams.errors.SerializationError` naming the topic.

    Example::

        orders = serdes.ConfluentAvro(ORDER_SCHEMA, schema_registry="http://localhost:8081")
        data = orders.serialize("orders", {"id": "o-1", "amount": 9.5})
        data[:1]                               # b"\\x00"
        int.from_bytes(data[1:5], "big")       # the registered schema id
        keys = serdes.ConfluentAvro(KEY_SCHEMA, schema_registry=client, is_key=True)
    """

    def __init__(
        self,
        schema: AvroSchema | None = None,
        *,
        schema_registry: Any,
        is_key: bool = False,
        subject_name_strategy: SubjectNameStrategy = "topic",
        auto_register: bool = True,
        use_latest_version: bool = False,
        reader_schema: AvroSchema | None = None,
        normalize_schemas: bool = False,
        strict: bool = False,
    ) -> None:
        if schema_registry is None:
            raise ConfigError("ConfluentAvro needs schema_registry=(client, URL or config dict)")
        self.client = _make_client(schema_registry)
        self._registry_label = _registry_label(schema_registry)
        self.is_key = is_key
        self.auto_register = auto_register
        self.use_latest_version = use_latest_version
        self.normalize_schemas = normalize_schemas
        self.strict = strict
        self._strategy_label = (
            subject_name_strategy
            if isinstance(subject_name_strategy, str)
            else getattr(subject_name_strategy, "__name__", repr(subject_name_strategy))
        )
        self._subject_for = self._make_strategy(subject_name_strategy)

        self.registered_schema: Any = None  # confluent_kafka Schema to register / look up
        self.schema: Any = None
        if schema is not None:
            self.registered_schema, self.schema = self._load_own_schema(schema)
        self._record_name = _full_name(self.schema)
        if subject_name_strategy in ("record", "topic_record") and self._record_name is None:
            raise ConfigError(
                f"subject_name_strategy={subject_name_strategy!r} needs a named record schema"
            )
        self.reader_schema = (
            _parse(_schema_text_and_obj(reader_schema)[1], what="reader schema")
            if reader_schema is not None
            else self.schema
        )
        # topic -> (wire-format header, parsed writer schema); schema id -> (writer, reader)
        self._writers: dict[str, tuple[bytes, Any]] = {}
        self._readers: dict[int, tuple[Any, Any]] = {}
        self._parsed_by_id: dict[int, Any] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> ConfluentAvro:
        # The registry client holds connections and locks; the serde is safe to share.
        return self

    # -- set-up ---------------------------------------------------------------------------

    def _make_strategy(self, strategy: SubjectNameStrategy) -> Callable[[str], str]:
        suffix = "-key" if self.is_key else "-value"
        if strategy == "topic":
            return lambda topic: topic + suffix
        if strategy == "record":
            return lambda topic: self._record_name or ""
        if strategy == "topic_record":
            return lambda topic: f"{topic}-{self._record_name}"
        if callable(strategy):
            return lambda topic: strategy(topic, self.is_key, self._record_name)
        raise ConfigError(
            f"unknown subject_name_strategy {strategy!r}; use 'topic', 'record', "
            "'topic_record' or a callable (topic, is_key, record_name) -> subject"
        )

    def _load_own_schema(self, schema: AvroSchema) -> tuple[Any, Any]:
        from confluent_kafka.schema_registry import Schema

        if isinstance(schema, Schema):
            if schema.schema_type not in (None, "AVRO"):
                raise ConfigError(f"ConfluentAvro needs an AVRO schema, got {schema.schema_type}")
            named: dict[str, Any] = {}
            try:
                self._resolve_references(schema, named, set())
            except Exception as exc:
                raise ConfigError(f"could not resolve Avro schema references: {exc}") from exc
            text, obj = _schema_text_and_obj(schema.schema_str)
            return schema, _parse(obj, named)
        text, obj = _schema_text_and_obj(schema)
        return Schema(text, "AVRO"), _parse(obj)

    def _resolve_references(self, schema: Any, named: dict[str, Any], seen: set[Any]) -> None:
        """Parse every schema ``schema`` references (depth first) into ``named``."""
        for ref in schema.references or ():
            key = (ref.subject, ref.version)
            if key in seen:
                continue
            seen.add(key)
            referenced = self.client.get_version(ref.subject, ref.version).schema
            self._resolve_references(referenced, named, seen)
            fastavro.parse_schema(json.loads(referenced.schema_str), named_schemas=named)

    def _writer_for(self, topic: str) -> tuple[bytes, Any]:
        """Register or look up the schema for ``topic``'s subject; cache header and schema."""
        subject = self._subject_for(topic)
        if self.registered_schema is None and not self.use_latest_version:
            raise SerializationError(
                f"{self!r} has no schema to write with (pass schema=... or "
                "use_latest_version=True)",
                topic=topic,
            )
        try:
            if self.use_latest_version:
                latest = self.client.get_latest_version(subject)
                schema_id = latest.schema_id
                writer = self._parse_registered(schema_id, latest.schema)
            elif self.auto_register:
                schema_id = self.client.register_schema(
                    subject, self.registered_schema, normalize_schemas=self.normalize_schemas
                )
                writer = self.schema
            else:
                schema_id = self.client.lookup_schema(
                    subject, self.registered_schema, normalize_schemas=self.normalize_schemas
                ).schema_id
                writer = self.schema
        except Exception as exc:
            action = (
                "fetch the latest schema of"
                if self.use_latest_version
                else "register schema under"
                if self.auto_register
                else "look up schema in"
            )
            raise SerializationError(
                f"{self!r} could not {action} subject {subject!r}: {exc}", topic=topic
            ) from exc
        plan = (_HEADER.pack(_MAGIC_BYTE, schema_id), writer)
        self._writers[topic] = plan
        return plan

    def _parse_registered(self, schema_id: int, schema: Any) -> Any:
        parsed = self._parsed_by_id.get(schema_id)
        if parsed is None:
            if schema.schema_type not in (None, "AVRO"):
                raise ValueError(
                    f"schema id {schema_id} is a {schema.schema_type} schema, not AVRO"
                )
            named: dict[str, Any] = {}
            self._resolve_references(schema, named, set())
            parsed = fastavro.parse_schema(json.loads(schema.schema_str), named_schemas=named)
            self._parsed_by_id[schema_id] = parsed
        return parsed

    def _reader_for(self, topic: str, schema_id: int) -> tuple[Any, Any]:
        """Fetch the writer schema for ``schema_id``; cache it with the reader to resolve into."""
        try:
            writer = self._parse_registered(schema_id, self.client.get_schema(schema_id))
        except Exception as exc:
            raise SerializationError(
                f"{self!r} could not get Avro schema id {schema_id} from the registry: {exc}",
                topic=topic,
            ) from exc
        reader = self.reader_schema
        if reader is not None and reader == writer:
            reader = None
        plan = (writer, reader)
        self._readers[schema_id] = plan
        return plan

    # -- hot path -------------------------------------------------------------------------

    def serialize(self, topic: str, value: Any, headers: Headers | None = None) -> bytes | None:
        """Write ``value`` as magic byte + schema id + Avro binary."""
        if value is None:
            return None
        plan = self._writers.get(topic) or self._writer_for(topic)
        try:
            buf = io.BytesIO()
            buf.write(plan[0])
            fastavro.schemaless_writer(buf, plan[1], value, strict=self.strict)
            return buf.getvalue()
        except Exception as exc:
            raise _serialize_error(self, topic, value, exc) from exc

    def deserialize(self, topic: str, data: bytes | None, headers: Headers | None = None) -> Any:
        """Read a Confluent-framed Avro record, fetching the writer's schema by id."""
        if data is None:
            return None
        try:
            magic, schema_id = _HEADER.unpack_from(data)
        except Exception as exc:
            raise _deserialize_error(
                self, topic, data, "too short for the Confluent wire format (needs 5+ bytes)"
            ) from exc
        if magic != _MAGIC_BYTE:
            raise _deserialize_error(
                self,
                topic,
                data,
                f"Unknown magic byte {magic & 0xFF:#04x} (Confluent wire format starts with 0x00)",
            )
        plan = self._readers.get(schema_id) or self._reader_for(topic, schema_id)
        try:
            buf = io.BytesIO(data)
            buf.seek(_HEADER_SIZE)
            return fastavro.schemaless_reader(buf, plan[0], plan[1])
        except Exception as exc:
            raise _deserialize_error(
                self, topic, data, f"Avro body of schema id {schema_id}: {exc}"
            ) from exc

    def __repr__(self) -> str:
        args = []
        if self.schema is not None:
            args.append(f"schema={_schema_label(self.schema)!r}")
        args.append(f"schema_registry={self._registry_label!r}")
        if self.is_key:
            args.append("is_key=True")
        if self._strategy_label != "topic":
            args.append(f"subject_name_strategy={self._strategy_label!r}")
        if self.use_latest_version:
            args.append("use_latest_version=True")
        return f"ConfluentAvro({', '.join(args)})"
