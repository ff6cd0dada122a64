"""Avro serdes: schemaless fastavro, and the Confluent Schema Registry wire format."""

from __future__ import annotations

import copy
import itertools
import json
import pickle
import struct
from typing import Any

import pytest
from confluent_kafka.schema_registry import (
    Schema,
    SchemaReference,
    SchemaRegistryClient,
    SchemaRegistryError,
    topic_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from streams import serdes
from streams.errors import ConfigError, SerializationError

ORDER = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "amount", "type": "double"},
    ],
}
ORDER_V2 = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "currency", "type": "string", "default": "EUR"},
    ],
}
POINT = {"type": "record", "name": "P", "fields": [{"name": "x", "type": "long"}]}

_registry_names = itertools.count()


@pytest.fixture
def client() -> Any:
    """A fresh in-memory mock registry (confluent-kafka's ``mock://`` URL)."""
    return SchemaRegistryClient.new_client({"url": f"mock://streams-test-{next(_registry_names)}"})


# -- schemaless ------------------------------------------------------------------------------


def test_schemaless_known_bytes() -> None:
    serde = serdes.Avro(POINT)
    assert serde.serialize("t", {"x": 1}) == b"\x02"  # zig-zag varint
    assert serde.serialize("t", {"x": -1}) == b"\x01"
    assert serde.deserialize("t", b"\x02") == {"x": 1}
    assert serdes.Avro("string").serialize("t", "hi") == b"\x04hi"
    assert serdes.Avro('"long"').deserialize("t", b"\x80\x01") == 64


def test_schemaless_round_trip_and_json_string_schema() -> None:
    serde = serdes.Avro(json.dumps(ORDER))
    value = {"id": "o-1", "amount": 9.5}
    data = serde.serialize("orders", value)
    assert data == b"\x06o-1" + struct.pack("<d", 9.5)  # Avro doubles are little-endian
    assert serde.deserialize("orders", data) == value


def test_schemaless_none_is_a_tombstone() -> None:
    serde = serdes.Avro(ORDER)
    assert serde.serialize("t", None) is None
    assert serde.deserialize("t", None) is None


def test_schemaless_reader_schema_evolution() -> None:
    old = serdes.Avro(ORDER)
    new = serdes.Avro(ORDER, reader_schema=ORDER_V2)
    data = old.serialize("orders", {"id": "o-1", "amount": 1.0})
    assert new.deserialize("orders", data) == {"id": "o-1", "amount": 1.0, "currency": "EUR"}


def test_schemaless_errors_are_chained() -> None:
    serde = serdes.Avro(ORDER)
    with pytest.raises(SerializationError) as info:
        serde.serialize("orders", {"id": "o-1"})  # no amount
    assert info.value.topic == "orders"
    assert info.value.__cause__ is not None
    with pytest.raises(SerializationError) as info:
        serde.deserialize("orders", b"\x06o")  # truncated
    assert info.value.topic == "orders"
    assert isinstance(info.value.__cause__, EOFError)
    with pytest.raises(SerializationError):
        serdes.Avro(ORDER, strict=True).serialize("t", {"id": "a", "amount": 1.0, "extra": 1})


def test_invalid_schema_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid Avro schema"):
        serdes.Avro({"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]})
    with pytest.raises(ConfigError):
        serdes.Avro(42)
    with pytest.raises(ConfigError, match="schema_registry"):
        serdes.Avro(ORDER, is_key=True)


def test_schemaless_repr() -> None:
    assert repr(serdes.Avro(ORDER)) == "Avro(schema='shop.Order')"
    assert repr(serdes.Avro("long")) == "Avro(schema='long')"
    assert repr(serdes.Avro(ORDER, reader_schema=ORDER_V2)) == (
        "Avro(schema='shop.Order', reader_schema='shop.Order')"
    )


# -- Confluent wire format -------------------------------------------------------------------


def test_confluent_round_trip_and_wire_format(client: Any) -> None:
    serde = serdes.ConfluentAvro(ORDER, schema_registry=client)
    value = {"id": "o-1", "amount": 9.5}
    data = serde.serialize("orders", value)
    assert data is not None
    schema_id = client.get_latest_version("orders-value").schema_id
    assert data[0] == 0
    assert data[1:5] == struct.pack(">i", schema_id)
    assert data[5:] == serdes.Avro(ORDER).serialize("orders", value)
    assert serde.deserialize("orders", data) == value
    assert serde.serialize("orders", None) is None
    assert serde.deserialize("orders", None) is None


def test_confluent_key_serde_uses_key_subject(client: Any) -> None:
    serdes.ConfluentAvro("string", schema_registry=client, is_key=True).serialize("orders", "k")
    serdes.ConfluentAvro(ORDER, schema_registry=client).serialize(
        "orders", {"id": "a", "amount": 1}
    )
    assert sorted(client.get_subjects()) == ["orders-key", "orders-value"]


@pytest.mark.parametrize(
    ("strategy", "subject"),
    [
        ("topic", "orders-value"),
        ("record", "shop.Order"),
        ("topic_record", "orders-shop.Order"),
        (
            lambda topic, is_key, name: f"custom.{topic}.{is_key}.{name}",
            "custom.orders.False.shop.Order",
        ),
    ],
    ids=["topic", "record", "topic_record", "callable"],
)
def test_subject_name_strategies(client: Any, strategy: Any, subject: str) -> None:
    serde = serdes.ConfluentAvro(ORDER, schema_registry=client, subject_name_strategy=strategy)
    serde.serialize("orders", {"id": "a", "amount": 1.0})
    assert client.get_subjects() == [subject]


def test_record_strategy_needs_a_named_schema(client: Any) -> None:
    with pytest.raises(ConfigError, match="named record"):
        serdes.ConfluentAvro("string", schema_registry=client, subject_name_strategy="record")
    with pytest.raises(ConfigError, match="unknown subject_name_strategy"):
        serdes.ConfluentAvro(ORDER, schema_registry=client, subject_name_strategy="bogus")  # type: ignore[arg-type]


def test_confluent_bad_magic_byte(client: Any) -> None:
    serde = serdes.ConfluentAvro(ORDER, schema_registry=client)
    with pytest.raises(SerializationError, match="Unknown magic byte 0x01") as info:
        serde.deserialize("orders", b"\x01\x00\x00\x00\x01\x02")
    assert info.value.topic == "orders"
    assert "topic='orders'" in str(info.value)


def test_confluent_too_short(client: Any) -> None:
    serde = serdes.ConfluentAvro(ORDER, schema_registry=client)
    with pytest.raises(SerializationError, match="too short") as info:
        serde.deserialize("orders", b"\x00\x00")
    assert info.value.topic == "orders"
    assert isinstance(info.value.__cause__, struct.error)


def test_confluent_unknown_schema_id(client: Any) -> None:
    serde = serdes.ConfluentAvro(ORDER, schema_registry=client)
    with pytest.raises(SerializationError, match="schema id 4242") as info:
        serde.deserialize("orders", b"\x00" + struct.pack(">i", 4242) + b"\x02a")
    assert info.value.topic == "orders"
    assert isinstance(info.value.__cause__, SchemaRegistryError)


def test_confluent_non_avro_schema_id(client: Any) -> None:
    schema_id = client.register_schema("j-value", Schema('{"type": "object"}', "JSON"))
    serde = serdes.ConfluentAvro(schema_registry=client)
    with pytest.raises(SerializationError, match="not AVRO"):
        serde.deserialize("j", b"\x00" + struct.pack(">i", schema_id) + b"{}")


def test_confluent_bad_body_and_bad_value(client: Any) -> None:
    serde = serdes.ConfluentAvro(ORDER, schema_registry=client)
    data = serde.serialize("orders", {"id": "o-1", "amount": 1.0})
    assert data is not None
    with pytest.raises(SerializationError, match="Avro body") as info:
        serde.deserialize("orders", data[:7])
    assert isinstance(info.value.__cause__, EOFError)
    with pytest.raises(SerializationError) as info:
        serde.serialize("orders", {"id": 5})
    assert info.value.topic == "orders"
    assert info.value.__cause__ is not None


def test_interop_our_bytes_decode_with_confluent_deserializer(client: Any) -> None:
    data = serdes.ConfluentAvro(ORDER, schema_registry=client).serialize(
        "orders", {"id": "o-1", "amount": 9.5}
    )
    theirs = AvroDeserializer(client)
    ctx = SerializationContext("orders", MessageField.VALUE)
    assert theirs(data, ctx) == {"id": "o-1", "amount": 9.5}


def test_interop_confluent_serializer_bytes_decode_with_ours(client: Any) -> None:
    theirs = AvroSerializer(
        client, json.dumps(ORDER), conf={"subject.name.strategy": topic_subject_name_strategy}
    )
    data = theirs({"id": "o-2", "amount": 1.25}, SerializationContext("orders", MessageField.VALUE))
    ours = serdes.ConfluentAvro(schema_registry=client)  # deserialize-only: shape as written
    assert ours.deserialize("orders", data) == {"id": "o-2", "amount": 1.25}


def test_interop_key_subject_matches_confluent(client: Any) -> None:
    theirs = AvroSerializer(
        client, '"string"', conf={"subject.name.strategy": topic_subject_name_strategy}
    )
    theirs("k", SerializationContext("orders", MessageField.KEY))
    ours = serdes.ConfluentAvro("string", schema_registry=client, is_key=True)
    data = ours.serialize("orders", "k")
    assert data is not None
    # Same subject, same schema -> the id Confluent's serializer registered.
    assert client.get_subjects() == ["orders-key"]
    assert data[1:5] == struct.pack(">i", client.get_latest_version("orders-key").schema_id)


def test_auto_register_false_looks_up(client: Any) -> None:
    serde = serdes.ConfluentAvro(ORDER, schema_registry=client, auto_register=False)
    with pytest.raises(
        SerializationError, match="look up schema in subject 'orders-value'"
    ) as info:
        serde.serialize("orders", {"id": "a", "amount": 1.0})
    assert isinstance(info.value.__cause__, SchemaRegistryError)
    schema_id = client.register_schema("orders-value", serde.registered_schema)
    data = serde.serialize("orders", {"id": "a", "amount": 1.0})
    assert data is not None
    assert data[1:5] == struct.pack(">i", schema_id)


def test_use_latest_version(client: Any) -> None:
    client.register_schema("orders-value", Schema(json.dumps(ORDER), "AVRO"))
    v2 = client.register_schema("orders-value", Schema(json.dumps(ORDER_V2), "AVRO"))
    serde = serdes.ConfluentAvro(schema_registry=client, use_latest_version=True)
    data = serde.serialize("orders", {"id": "a", "amount": 1.0, "currency": "USD"})
    assert data is not None
    assert data[1:5] == struct.pack(">i", v2)
    assert serde.deserialize("orders", data) == {"id": "a", "amount": 1.0, "currency": "USD"}


def test_serialize_without_schema_fails_clearly(client: Any) -> None:
    serde = serdes.ConfluentAvro(schema_registry=client)
    with pytest.raises(SerializationError, match="no schema to write with") as info:
        serde.serialize("orders", {"id": "a"})
    assert info.value.topic == "orders"


def test_reader_schema_evolution_across_ids(client: Any) -> None:
    old = serdes.ConfluentAvro(ORDER, schema_registry=client)
    new = serdes.ConfluentAvro(ORDER_V2, schema_registry=client)
    old_bytes = old.serialize("orders", {"id": "a", "amount": 1.0})
    new_bytes = new.serialize("orders", {"id": "b", "amount": 2.0, "currency": "USD"})
    assert old_bytes is not None and new_bytes is not None
    assert old_bytes[1:5] != new_bytes[1:5]
    # The new app reads old records in its own shape (defaults filled in) ...
    assert new.deserialize("orders", old_bytes) == {"id": "a", "amount": 1.0, "currency": "EUR"}
    # ... and the old app reads new records in its shape (extra field dropped).
    assert old.deserialize("orders", new_bytes) == {"id": "b", "amount": 2.0}
    # A serde without a schema returns records as written.
    raw = serdes.ConfluentAvro(schema_registry=client)
    assert raw.deserialize("orders", new_bytes) == {"id": "b", "amount": 2.0, "currency": "USD"}
    explicit = serdes.ConfluentAvro(schema_registry=client, reader_schema=ORDER)
    assert explicit.deserialize("orders", new_bytes) == {"id": "b", "amount": 2.0}


def test_schema_references(client: Any) -> None:
    money = {
        "type": "record",
        "name": "Money",
        "namespace": "shop",
        "fields": [{"name": "cents", "type": "long"}],
    }
    client.register_schema("shop.Money", Schema(json.dumps(money), "AVRO"))
    invoice = {
        "type": "record",
        "name": "Invoice",
        "namespace": "shop",
        "fields": [{"name": "total", "type": "shop.Money"}],
    }
    schema = Schema(json.dumps(invoice), "AVRO", [SchemaReference("shop.Money", "shop.Money", 1)])
    serde = serdes.ConfluentAvro(schema, schema_registry=client)
    data = serde.serialize("invoices", {"total": {"cents": 150}})
    reader = serdes.ConfluentAvro(schema_registry=client)
    assert reader.deserialize("invoices", data) == {"total": {"cents": 150}}
    assert AvroDeserializer(client)(data, SerializationContext("invoices", MessageField.VALUE)) == {
        "total": {"cents": 150}
    }


def test_registry_is_asked_once_per_topic_and_id(client: Any) -> None:
    calls: list[str] = []

    class Counting:
        def __getattr__(self, name: str) -> Any:
            method = getattr(client, name)

            def counted(*args: Any, **kwargs: Any) -> Any:
                calls.append(name)
                return method(*args, **kwargs)

            return counted

    serde = serdes.ConfluentAvro(ORDER, schema_registry=Counting())
    reader = serdes.ConfluentAvro(schema_registry=Counting())
    for i in range(5):
        data = serde.serialize("orders", {"id": str(i), "amount": 1.0})
        reader.deserialize("orders", data)
    serde.serialize("other", {"id": "x", "amount": 1.0})
    assert calls.count("register_schema") == 2  # one per topic
    assert calls.count("get_schema") == 1  # one per schema id


def test_avro_with_schema_registry_is_confluent_avro(client: Any) -> None:
    serde = serdes.Avro(ORDER, schema_registry=client, is_key=True)
    assert isinstance(serde, serdes.ConfluentAvro)
    assert serde.is_key
    data = serde.serialize("orders", {"id": "a", "amount": 1.0})
    assert data is not None and data[0] == 0
    assert client.get_subjects() == ["orders-key"]


def test_registry_as_url_and_config_dict() -> None:
    by_url = serdes.ConfluentAvro(ORDER, schema_registry="mock://streams-url")
    data = by_url.serialize("orders", {"id": "a", "amount": 1.0})
    assert by_url.deserialize("orders", data) == {"id": "a", "amount": 1.0}
    by_conf = serdes.ConfluentAvro(ORDER, schema_registry={"url": "mock://streams-conf"})
    assert by_conf.deserialize(
        "orders", by_conf.serialize("orders", {"id": "b", "amount": 2.0})
    ) == {
        "id": "b",
        "amount": 2.0,
    }
    with pytest.raises(ConfigError):
        serdes.ConfluentAvro(ORDER, schema_registry=42)
    with pytest.raises(ConfigError):
        serdes.ConfluentAvro(ORDER, schema_registry=None)


def test_confluent_repr_hides_credentials(client: Any) -> None:
    serde = serdes.ConfluentAvro(
        ORDER, schema_registry="https://user:secret@registry.example:8081", is_key=True
    )
    text = repr(serde)
    assert "secret" not in text and "user" not in text
    assert text == (
        "ConfluentAvro(schema='shop.Order', schema_registry='https://registry.example:8081', "
        "is_key=True)"
    )
    assert repr(serdes.ConfluentAvro(schema_registry=client)) == (
        "ConfluentAvro(schema_registry='<MockSchemaRegistryClient>')"
    )


def test_copies(client: Any) -> None:
    raw = serdes.Avro(ORDER, reader_schema=ORDER_V2)
    for clone in (copy.copy(raw), copy.deepcopy(raw), pickle.loads(pickle.dumps(raw))):
        assert type(clone) is serdes.Avro
        assert (
            clone.deserialize("t", raw.serialize("t", {"id": "a", "amount": 1.0}))["currency"]
            == "EUR"
        )
    registry = serdes.ConfluentAvro(ORDER, schema_registry=client)
    assert copy.deepcopy(registry) is registry  # shares the client and its caches
