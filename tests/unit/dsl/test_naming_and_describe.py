"""Node naming as Kafka Streams does it, sub-topologies, describe() text and Mermaid."""

from __future__ import annotations

import re

from streams import (
    Branched,
    Consumed,
    Grouped,
    Materialized,
    Processor,
    Produced,
    Repartitioned,
    StreamsBuilder,
    Topology,
    serdes,
)
from streams.state import Stores

S, L = serdes.String(), serdes.Long()
STR = Consumed(key_serde=S, value_serde=S)


def wordcount() -> Topology:
    b = StreamsBuilder()
    (b.stream("streams-plaintext-input", STR)
     .flat_map_values(lambda v: v.lower().split())
     .group_by(lambda k, v: v, Grouped(key_serde=S))
     .count(Materialized(name="counts-store"))
     .to_stream()
     .to("streams-wordcount-output", Produced(key_serde=S, value_serde=L)))
    return b.build()


WORDCOUNT_DESCRIPTION = """\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [streams-plaintext-input])
      --> KSTREAM-FLATMAPVALUES-0000000001
    Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])
      --> KSTREAM-KEY-SELECT-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])
      --> counts-store-repartition-filter
      <-- KSTREAM-FLATMAPVALUES-0000000001
    Processor: counts-store-repartition-filter (stores: [])
      --> counts-store-repartition-sink
      <-- KSTREAM-KEY-SELECT-0000000002
    Sink: counts-store-repartition-sink (topic: counts-store-repartition)
      <-- counts-store-repartition-filter

  Sub-topology: 1
    Source: counts-store-repartition-source (topics: [counts-store-repartition])
      --> KSTREAM-AGGREGATE-0000000003
    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts-store])
      --> KTABLE-TOSTREAM-0000000007
      <-- counts-store-repartition-source
    Processor: KTABLE-TOSTREAM-0000000007 (stores: [])
      --> KSTREAM-SINK-0000000008
      <-- KSTREAM-AGGREGATE-0000000003
    Sink: KSTREAM-SINK-0000000008 (topic: streams-wordcount-output)
      <-- KTABLE-TOSTREAM-0000000007

"""


def test_wordcount_description_matches_kafka_streams_character_for_character() -> None:
    # Kafka Streams' TopologyDescription: the first sub-topology is indented by three spaces,
    # the following ones by two, and every sub-topology ends with a blank line.
    assert str(wordcount().describe()) == WORDCOUNT_DESCRIPTION


def test_subtopologies_split_at_the_repartition_topic_with_stores_attached() -> None:
    subs = wordcount().subtopologies()
    assert [(s.id, s.source_topics, s.sink_topics, s.stores) for s in subs] == [
        (0, ("streams-plaintext-input",), ("counts-store-repartition",), ()),
        (1, ("counts-store-repartition",), ("streams-wordcount-output",), ("counts-store",)),
    ]


def test_generated_names_for_every_stateless_operator() -> None:
    b = StreamsBuilder()
    s = b.stream("in", STR)
    s.filter(bool).map_values(str.upper).map(lambda k, v: (k, v)).flat_map(lambda k, v: [])
    s.flat_map_values(list).select_key(lambda v: v).peek(print).foreach(print)
    s.merge(b.stream("other", STR)).to("out")
    assert list(b.build().nodes) == [
        "KSTREAM-SOURCE-0000000000", "KSTREAM-FILTER-0000000001", "KSTREAM-MAPVALUES-0000000002",
        "KSTREAM-MAP-0000000003", "KSTREAM-FLATMAP-0000000004", "KSTREAM-FLATMAPVALUES-0000000005",
        "KSTREAM-KEY-SELECT-0000000006", "KSTREAM-PEEK-0000000007", "KSTREAM-FOREACH-0000000008",
        "KSTREAM-SOURCE-0000000009", "KSTREAM-MERGE-0000000010", "KSTREAM-SINK-0000000011",
    ]


def test_user_names_replace_generated_ones_but_still_use_an_index() -> None:
    b = StreamsBuilder()
    (b.stream("in", Consumed(key_serde=S, value_serde=S, name="read-in"))
     .filter(bool, name="keep")
     .map_values(str.upper)
     .to("out", Produced(name="write-out")))
    assert list(b.build().nodes) == ["read-in", "keep", "KSTREAM-MAPVALUES-0000000002", "write-out"]


def test_process_with_a_user_name_uses_no_index() -> None:
    b = StreamsBuilder()
    s = b.stream("in", STR)
    s.process(Processor, name="mine").process_values(Processor, name="theirs").process(Processor)
    assert list(b.build().nodes) == ["KSTREAM-SOURCE-0000000000", "mine", "theirs",
                                     "KSTREAM-PROCESSOR-0000000001"]


def test_split_branch_names_splitter_plus_name_or_position_and_zero_for_default() -> None:
    b = StreamsBuilder()
    branches = (b.stream("in", STR).split()
                .branch(lambda v: v == "a")
                .branch(lambda v: v == "b", Branched.as_("bee"))
                .branch(lambda v: v == "c")
                .default_branch())
    assert list(branches) == ["KSTREAM-BRANCH-00000000011", "KSTREAM-BRANCH-0000000001bee",
                              "KSTREAM-BRANCH-00000000013", "KSTREAM-BRANCH-00000000010"]
    b.stream("next", STR)  # each branch used one index: 2, 3, 4, 5
    assert "KSTREAM-SOURCE-0000000006" in b.build().nodes


def test_named_split_prefixes_branch_names() -> None:
    b = StreamsBuilder()
    branches = (b.stream("in", STR).split(name="route-")
                .branch(bool, name="yes").default_branch(name="no"))
    assert list(branches) == ["route-yes", "route-no"]
    node = b.build().nodes["route-"]
    assert node.children == ["route-yes", "route-no"]


def test_generated_repartition_names_follow_kafka_streams() -> None:
    b = StreamsBuilder()
    s = b.stream("in", STR)
    s.map(lambda k, v: (v, k)).group_by_key(Grouped(key_serde=S, value_serde=S)).count()
    topology = b.build()
    # store 2, aggregate 3, then sink 4, filter 5 and source 6 (generated, since the store's
    # name is generated)
    assert list(topology.nodes) == [
        "KSTREAM-SOURCE-0000000000", "KSTREAM-MAP-0000000001", "KSTREAM-FILTER-0000000005",
        "KSTREAM-SINK-0000000004", "KSTREAM-SOURCE-0000000006", "KSTREAM-AGGREGATE-0000000003"]
    assert list(topology.internal_topics) == ["KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition"]


def test_explicit_repartition_names_named_and_generated() -> None:
    b = StreamsBuilder()
    s = b.stream("in", STR)
    s.repartition().to("a")
    s.repartition(Repartitioned(name="mine")).to("b")
    topology = b.build()
    # each repartition has its None-key filter (KIP-962), named as in Kafka Streams
    assert list(topology.nodes) == [
        "KSTREAM-SOURCE-0000000000",
        "KSTREAM-FILTER-0000000003", "KSTREAM-SINK-0000000002", "KSTREAM-SOURCE-0000000004",
        "KSTREAM-SINK-0000000005",
        "mine-repartition-filter", "mine-repartition-sink", "mine-repartition-source",
        "KSTREAM-SINK-0000000009"]
    assert list(topology.internal_topics) == ["KSTREAM-REPARTITION-0000000001-repartition",
                                              "mine-repartition"]


def test_table_naming_store_first_then_source_then_table_source() -> None:
    b = StreamsBuilder()
    b.table("t", STR)
    b.table("u", Consumed(key_serde=S, value_serde=S, name="users"))
    topology = b.build()
    assert list(topology.nodes) == ["KSTREAM-SOURCE-0000000001", "KTABLE-SOURCE-0000000002",
                                    "users", "users-table-source"]
    assert list(topology.stores) == ["t-STATE-STORE-0000000000", "u-STATE-STORE-0000000003"]


def test_ktable_operation_names_and_materialized_store_names() -> None:
    b = StreamsBuilder()
    (b.table("t", STR, Materialized(name="tbl"))
     .filter(bool, Materialized())
     .map_values(len)
     .group_by(lambda k, v: (str(v), k), Grouped(key_serde=S, value_serde=S))
     .count())
    topology = b.build()
    assert list(topology.nodes) == [
        "KSTREAM-SOURCE-0000000000", "KTABLE-SOURCE-0000000001", "KTABLE-FILTER-0000000003",
        "KTABLE-MAPVALUES-0000000004", "KTABLE-SELECT-0000000005", "KSTREAM-SINK-0000000007",
        "KSTREAM-SOURCE-0000000008", "KTABLE-AGGREGATE-0000000009"]
    assert list(topology.stores) == ["tbl", "KTABLE-FILTER-STATE-STORE-0000000002",
                                     "KTABLE-AGGREGATE-STATE-STORE-0000000006"]
    assert list(topology.internal_topics) == ["KTABLE-AGGREGATE-STATE-STORE-0000000006-repartition"]


def test_grouped_table_with_names() -> None:
    b = StreamsBuilder()
    (b.table("t", STR, Materialized(name="tbl"))
     .group_by(lambda k, v: (v, k), Grouped(name="regroup", key_serde=S, value_serde=S))
     .reduce(lambda a, v: a + v, lambda a, v: a, Materialized(name="r"), name="reducer"))
    topology = b.build()
    assert list(topology.nodes)[2:] == ["regroup-select", "reducer-sink", "reducer-source", "reducer"]
    assert list(topology.internal_topics) == ["regroup-repartition"]


def test_global_table_description() -> None:
    b = StreamsBuilder()
    b.global_table("g", STR)
    b.stream("x", STR).to(lambda k, v, r: "y")
    assert str(b.build().describe()) == (
        "Topologies:\n"
        "   Sub-topology: 0 for global store (will not generate tasks)\n"
        "    Source: KTABLE-SOURCE-0000000001 (topics: [g])\n"
        "      --> KTABLE-SOURCE-0000000002\n"
        "    Processor: KTABLE-SOURCE-0000000002 (stores: [g-STATE-STORE-0000000000])\n"
        "      --> none\n"
        "      <-- KTABLE-SOURCE-0000000001\n"
        "  Sub-topology: 1\n"
        "    Source: KSTREAM-SOURCE-0000000003 (topics: [x])\n"
        "      --> KSTREAM-SINK-0000000004\n"
        "    Sink: KSTREAM-SINK-0000000004 (extractor class: <lambda>)\n"
        "      <-- KSTREAM-SOURCE-0000000003\n"
        "\n"
    )


def test_describe_orders_nodes_by_subtree_size_then_name() -> None:
    b = StreamsBuilder()
    s = b.stream("in", STR)
    s.to("short")                                       # size 1
    s.filter(bool, name="b-long").map_values(str.upper).to("long")   # size 3
    s.filter(bool, name="a-mid").to("mid")             # size 2
    s.filter(bool, name="a-long").map_values(str.lower).to("long2")  # size 3
    text = str(b.build().describe())
    assert "      --> a-long, b-long, a-mid, KSTREAM-SINK-0000000001\n" in text
    names = re.findall(r"^    \w+: (\S+)", text, flags=re.MULTILINE)
    assert names == [
        "KSTREAM-SOURCE-0000000000", "a-long", "b-long", "KSTREAM-MAPVALUES-0000000003",
        "KSTREAM-MAPVALUES-0000000008", "a-mid", "KSTREAM-SINK-0000000001",
        "KSTREAM-SINK-0000000004", "KSTREAM-SINK-0000000006", "KSTREAM-SINK-0000000009"]


def test_processor_api_topology_description_lists_connected_stores() -> None:
    topology = Topology()
    topology.add_source("src", ["in"])
    topology.add_processor("p1", Processor, "src")
    topology.add_processor("p2", Processor, "p1")
    topology.add_state_store(
        Stores.key_value_store_builder(Stores.in_memory_key_value_store("s1"), S, S), "p1", "p2")
    topology.add_state_store(
        Stores.key_value_store_builder(Stores.in_memory_key_value_store("s2"), S, S), "p2")
    topology.add_sink("sink", "out", "p2")
    assert str(topology.describe()) == (
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: src (topics: [in])\n"
        "      --> p1\n"
        "    Processor: p1 (stores: [s1])\n"
        "      --> p2\n"
        "      <-- src\n"
        "    Processor: p2 (stores: [s1, s2])\n"
        "      --> sink\n"
        "      <-- p1\n"
        "    Sink: sink (topic: out)\n"
        "      <-- p2\n"
        "\n"
    )


def test_nodes_sharing_a_store_join_one_subtopology() -> None:
    topology = Topology()
    topology.add_source("a", ["ta"]).add_processor("pa", Processor, "a")
    topology.add_source("b", ["tb"]).add_processor("pb", Processor, "b")
    assert len(topology.subtopologies()) == 2
    topology.add_state_store(
        Stores.key_value_store_builder(Stores.in_memory_key_value_store("shared"), S, S), "pa", "pb")
    subs = topology.subtopologies()
    assert [(s.nodes, s.source_topics, s.stores) for s in subs] == [
        (("a", "pa", "b", "pb"), ("ta", "tb"), ("shared",))]
    assert topology.copartition_groups == [frozenset({"ta", "tb"})]


def test_mermaid_rendering() -> None:
    b = StreamsBuilder()
    b.stream("in", STR).group_by_key().count(Materialized(name="c")).to_stream().to("o")
    assert b.build().describe().to_mermaid() == "\n".join([
        "flowchart TD",
        '  subgraph sub0["Sub-topology 0"]',
        '    n0["KSTREAM-SOURCE-0000000000"]',
        '    n1["KSTREAM-AGGREGATE-0000000001"]',
        '    n2["KTABLE-TOSTREAM-0000000002"]',
        '    n3["KSTREAM-SINK-0000000003"]',
        "  end",
        "  t4 --> n0",
        "  n0 --> n1",
        "  n1 --> n2",
        "  n1 -.- s5",
        "  n2 --> n3",
        "  n3 --> t6",
        '  t4(["in"])',
        '  t6(["o"])',
        '  s5[("c")]',
    ])


def test_mermaid_of_a_repartitioned_topology_has_one_subgraph_per_subtopology() -> None:
    text = wordcount().describe().to_mermaid()
    assert text.startswith("flowchart TD\n")
    assert text.count("  subgraph ") == 2
    assert '["Sub-topology 1"]' in text
    assert '(["counts-store-repartition"])' in text
    assert '[("counts-store")]' in text
    # the repartition topic links the two sub-topologies: written by one, read by the other
    topic_id = re.search(r'  (t\d+)\(\["counts-store-repartition"\]\)', text).group(1)  # type: ignore[union-attr]
    assert re.search(rf"  n\d+ --> {topic_id}\n", text)
    assert re.search(rf"  {topic_id} --> n\d+\n", text)
