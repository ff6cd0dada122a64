"""Foreign-key KTable-KTable joins (Kafka's KIP-213): the subgraph behind
``left.join(right, foreign_key_extractor, joiner)`` and ``left.left_join(...)``.

Each left row points at one right row through ``foreign_key_extractor(value)`` (or
``(key, value)``); the result is keyed by the left table's key. Because the two tables are
partitioned by different keys, the join talks through two internal topics, exactly as Kafka
Streams does (names for ``name="n"``; generated ones in brackets)::

    left table ─> n-subscription-registration-processor ─> n-subscription-registration-sink
        ─> topic n-subscription-registration-topic   [KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-<i>-topic]
        ─> n-subscription-registration-source ─> n-subscription-receive (store n-subscription-store)
        ─> n-subscription-join-foreign (reads the right table) ─┐
    right table ─> n-foreign-join-subscription (prefix-scans the store) ─┴> n-subscription-response-sink
        ─> topic n-subscription-response-topic       [KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-<i+8>-topic]
        ─> n-subscription-response-source ─> n-subscription-response-resolver (reads the left table)
        ─> n-result ─> the joined KTable

The subscription topic is read with the right table (it must be co-partitioned with it), the
response topic with the left table; each copies the partition count of the side that reads it
(``InternalTopic.partitions_from``; see ``streams/runtime/internal_topics.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from streams.dsl.copartitioning import upstream_topics
from streams.dsl.functions import takes_key
from streams.dsl.params import Materialized
from streams.dsl.processors.fk_join import (
    ForeignKeyJoinResultProcessor,
    ForeignTableJoinProcessor,
    ResponseJoinProcessor,
    SubscriptionJoinProcessor,
    SubscriptionReceiveProcessor,
    SubscriptionSendProcessor,
)
from streams.dsl.processors.fk_join_formats import (
    SubscriptionResponseWrapperSerde,
    SubscriptionWrapperSerde,
    response_partitioner,
)
from streams.dsl.unknown_serde import UNKNOWN_SERDE, known_serde
from streams.errors import TopologyError
from streams.serdes import Bytes
from streams.topology.topology import Topology

if TYPE_CHECKING:
    from streams.dsl.ktable import KTable

# Kafka Streams' name prefixes (KTableImpl)
_FK = "KTABLE-FK-JOIN-"
_REGISTRATION = _FK + "SUBSCRIPTION-REGISTRATION-"
_RESPONSE = _FK + "SUBSCRIPTION-RESPONSE-"
_PROCESSOR = _FK + "SUBSCRIPTION-PROCESSOR-"
_RESOLVER = _FK + "SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-"
_STORE = _FK + "SUBSCRIPTION-STATE-STORE-"
_OUTPUT = _FK + "OUTPUT-"
_SINK = "KTABLE-SINK-"
_SOURCE = "KTABLE-SOURCE-"




def foreign_key_join(left: KTable, right: KTable, extractor: Callable[..., Any],
                     joiner: Callable[..., Any], materialized: Materialized | None,
                     name: str | None, left_join: bool,
                     other_partitioner: Callable[[str, Any, Any, int], int | None] | None = None
                     ) -> tuple[str, Any, Any, str | None]:
    """Build the foreign-key join of ``left`` with ``right`` (a KTable: the caller checks);
    see the module docstring. Returns the result node, its key and value serdes and its store
    (or None), from which ``KTable.join`` makes the joined table.

    ``materialized`` gives the result a store (queryable, readable by later joins, and the
    source of correct old values for downstream aggregations); without it the result has no
    store and forwards ``Change(new, None)``, as Kafka Streams' unmaterialized result does.
    """
    op = "left_join" if left_join else "join"
    if right._builder is not left._builder:
        raise TopologyError(f"KTable.{op}: both tables must come from the same StreamsBuilder")
    if left.window_store_name is not None or right.window_store_name is not None:
        raise TopologyError(f"KTable.{op}: a foreign-key join needs non-windowed tables")
    ext_wk = takes_key(extractor, 1, f"KTable.{op} (foreign key extractor)")
    wk = takes_key(joiner, 2, f"KTable.{op}")
    left_getter, right_getter = left.value_getter, right.value_getter
    b = left._builder
    topo = b.topology

    def named(suffix: str, prefix: str) -> str:
        # Kafka Streams' NamedInternal.suffixWithOrElseGet: an index is used either way
        return b.name_or_new(f"{name}{suffix}" if name else None, prefix)

    sub_topic = named("-subscription-registration", _REGISTRATION) + "-topic"
    send = named("-subscription-registration-processor", _REGISTRATION)
    sub_sink = named("-subscription-registration-sink", _SINK)
    sub_source = named("-subscription-registration-source", _SOURCE)
    sub_store = named("-subscription-store", _STORE)
    receive = named("-subscription-receive", _PROCESSOR)
    join_foreign = named("-subscription-join-foreign", _PROCESSOR)
    foreign_join = named("-foreign-join-subscription", _PROCESSOR)
    resp_topic = named("-subscription-response", _RESPONSE) + "-topic"
    resp_sink = named("-subscription-response-sink", _SINK)
    resp_source = named("-subscription-response-source", _SOURCE)
    resolver = named("-subscription-response-resolver", _RESOLVER)
    result = named("-result", _OUTPUT)
    # Kafka Streams' MaterializedInternal always names the result store (using an index)
    out_store = (materialized.name if materialized is not None and materialized.name
                 else b.new_name(_OUTPUT + "STATE-STORE-"))

    pk, fk = known_serde(left.key_serde), known_serde(right.key_serde)
    left_vs, right_vs = known_serde(left.value_serde), known_serde(right.value_serde)
    _require(topo, sub_sink, "key", right.key_serde,
             f"it writes the right table's keys to {sub_topic!r}")
    _require(topo, sub_sink, "key", left.key_serde,
             f"it writes the left table's keys to {sub_topic!r} and {resp_topic!r}")
    _require(topo, send, "value", left.value_serde,
             "it hashes the left table's values to detect stale join responses")
    _require(topo, resp_sink, "value", right.value_serde,
             f"it writes the right table's values to {resp_topic!r}")

    # left side: subscriptions out
    topo.add_processor(send, lambda: SubscriptionSendProcessor(
        send, sub_topic, extractor, ext_wk, left_join, fk, left_vs, left.versioned), left.node)
    _internal_topic(topo, sub_topic, upstream_topics(topo, right.node))
    # subscriptions go where the right table has the foreign key: its partitioner, if custom
    sub_partitioner = (None if other_partitioner is None else
                       lambda topic, key, value, n: other_partitioner(topic, key, None, n))
    topo.add_sink(sub_sink, sub_topic, send, key_serde=fk,
                  value_serde=SubscriptionWrapperSerde(pk), partitioner=sub_partitioner)

    # right side: subscriptions in, responses out
    # as in Kafka Streams, internal topics are always read from the beginning
    topo.add_source(sub_source, [sub_topic], key_serde=fk,
                    value_serde=SubscriptionWrapperSerde(pk), offset_reset="earliest")
    topo.add_processor(receive, lambda: SubscriptionReceiveProcessor(
        receive, sub_topic, sub_store, fk, pk), sub_source)
    # keyed by combined-key bytes; the stored wrappers hold the primary key's bytes
    # not cached: its processors scan it by prefix and forward on every change anyway
    topo.add_state_store(b.timestamped_store(sub_store, Materialized(caching=False), Bytes(),
                                             SubscriptionWrapperSerde(Bytes())), receive)
    topo.add_processor(join_foreign, lambda: SubscriptionJoinProcessor(
        join_foreign, right_getter), receive)
    topo.connect_processor_and_state_stores(join_foreign, *right_getter[0])
    topo.add_processor(foreign_join, lambda: ForeignTableJoinProcessor(
        foreign_join, sub_topic, sub_store, fk, pk, right.versioned), right.node)
    topo.connect_processor_and_state_stores(foreign_join, sub_store)
    _internal_topic(topo, resp_topic, upstream_topics(topo, left.node))
    topo.add_sink(resp_sink, resp_topic, join_foreign, foreign_join, key_serde=pk,
                  value_serde=SubscriptionResponseWrapperSerde(right_vs),
                  partitioner=response_partitioner)

    # left side: responses in, results out
    topo.add_source(resp_source, [resp_topic], key_serde=pk,
                    value_serde=SubscriptionResponseWrapperSerde(right_vs), offset_reset="earliest")
    topo.add_processor(resolver, lambda: ResponseJoinProcessor(
        resolver, sub_topic, left_getter, joiner, wk, left_join, left_vs), resp_source)
    topo.connect_processor_and_state_stores(resolver, *left_getter[0])
    store = left._materialize(result, out_store, materialized, UNKNOWN_SERDE)
    topo.add_processor(result, lambda: ForeignKeyJoinResultProcessor(result, store), resolver)
    vs: Any = UNKNOWN_SERDE
    if store is not None:
        topo.connect_processor_and_state_stores(result, store)
        if materialized is not None and materialized.value_serde is not None:
            vs = materialized.value_serde
    ks = left.key_serde
    if materialized is not None and materialized.key_serde is not None:
        ks = materialized.key_serde
    return result, ks, vs, store


def _require(topo: Topology, node: str, which: str, serde: Any, reason: str) -> None:
    if serde is UNKNOWN_SERDE:
        topo.require_serde(node, which, reason)


def _internal_topic(topo: Topology, topic: str, copartitioned_with: Iterable[str]) -> None:
    """Declare ``topic``; it takes the partition count of (and must be co-partitioned with)
    the topics of the side that reads it, not that of the side that writes it."""
    others = tuple(copartitioned_with)
    topo.add_internal_topic(topic, "repartition")
    topo.internal_topics[topic].partitions_from = others
    if others:
        topo.copartition((topic, *others))
