"""plan_topics: start-up's pure decision of partition counts and internal topics (no broker)."""

from __future__ import annotations

import pytest

from streams import (
    Consumed,
    Grouped,
    Materialized,
    Produced,
    Repartitioned,
    StreamsBuilder,
    serdes,
)
from streams.errors import TopologyError
from streams.runtime.internal_topics import MissingSourceTopicError, TopicPlan, plan_topics

S = serdes.String()
APP = "app"


def wordcount(source: str = "lines", sink: str = "counts", materialized: Materialized | None = None):
    b = StreamsBuilder()
    (b.stream(source, Consumed(key_serde=S, value_serde=S))
     .flat_map_values(str.split)
     .group_by(lambda w: w, Grouped(key_serde=S, value_serde=S))
     .count(materialized or Materialized(name="counts"))
     .to_stream().to(sink, Produced(key_serde=S, value_serde=serdes.Long())))
    return b.build()


def test_wordcount_plan_follows_the_input_partition_count():
    plan = plan_topics(wordcount(), APP, {"lines": 6, "counts": 2})
    assert isinstance(plan, TopicPlan)
    assert plan.subtopology_partitions == {0: 6, 1: 6}
    assert plan.internal == {
        "app-counts-repartition": (6, {"cleanup.policy": "delete"}),
        "app-counts-changelog": (6, {"cleanup.policy": "compact"}),
    }
    assert plan.source_partitions == {"lines": 6, "app-counts-repartition": 6}


def test_sources_must_exist():
    # (output topics must exist too: see tests/unit/runtime/test_startup_validation.py)
    with pytest.raises(MissingSourceTopicError) as info:
        plan_topics(wordcount(), APP, {"counts": 1})
    message = str(info.value)
    assert "lines" in message and "create" in message and repr(APP) in message
    # internal topics are never "missing": they are created
    assert "repartition" not in message


def test_every_missing_source_is_named_once_sorted():
    b = StreamsBuilder()
    b.stream(["zeta", "alpha"]).to("out")
    b.stream("present").to("out2")
    with pytest.raises(MissingSourceTopicError, match=r"alpha, zeta do not exist"):
        plan_topics(b.build(), APP, {"present": 1})


def test_global_table_source_must_exist_and_has_no_changelog():
    b = StreamsBuilder()
    b.global_table("regions", Consumed(key_serde=S, value_serde=S), Materialized(name="names"))
    b.stream("in").to("out")
    with pytest.raises(MissingSourceTopicError, match="regions"):
        plan_topics(b.build(), APP, {"in": 1})
    b = StreamsBuilder()
    b.global_table("regions", Consumed(key_serde=S, value_serde=S), Materialized(name="names"))
    b.stream("in").to("out")
    plan = plan_topics(b.build(), APP, {"in": 3, "regions": 5, "out": 1})
    assert plan.internal == {}
    assert plan.source_partitions["regions"] == 5
    assert 5 not in plan.subtopology_partitions.values()  # global sub-topology is not a task group


def test_explicit_repartition_count_wins_and_propagates_downstream():
    b = StreamsBuilder()
    (b.stream("orders", Consumed(key_serde=S, value_serde=S))
     .repartition(Repartitioned(name="fixed", num_partitions=2))
     .group_by(lambda v: v, Grouped(key_serde=S, value_serde=S, name="again"))
     .count(Materialized(name="c"))
     .to_stream().to("out", Produced(key_serde=S, value_serde=serdes.Long())))
    plan = plan_topics(b.build(), APP, {"orders": 8, "out": 1})
    assert plan.subtopology_partitions == {0: 8, 1: 2, 2: 2}
    assert plan.internal["app-fixed-repartition"][0] == 2
    # the implicit repartition downstream follows the sub-topology writing it (2, not 8)
    assert plan.internal["app-again-repartition"][0] == 2
    assert plan.internal["app-c-changelog"][0] == 2


def test_changelog_configs_come_from_materialized_and_logging_can_be_off():
    topology = wordcount(materialized=Materialized(
        name="counts", log_config={"min.compaction.lag.ms": "100", "segment.ms": "60000"}))
    plan = plan_topics(topology, APP, {"lines": 1, "counts": 1})
    assert plan.internal["app-counts-changelog"] == (1, {
        "cleanup.policy": "compact", "min.compaction.lag.ms": "100", "segment.ms": "60000"})
    plan = plan_topics(wordcount(materialized=Materialized(name="counts", logging=False)), APP,
                       {"lines": 1, "counts": 1})
    assert "app-counts-changelog" not in plan.internal
    assert "app-counts-repartition" in plan.internal


def test_internal_topic_names_use_the_application_id():
    plan = plan_topics(wordcount(), "other-app", {"lines": 1, "counts": 1})
    assert set(plan.internal) == {"other-app-counts-repartition", "other-app-counts-changelog"}


def test_copartition_mismatch_names_topics_counts_and_the_fix():
    b = StreamsBuilder()
    (b.stream(["left", "right"], Consumed(key_serde=S, value_serde=S))
     .group_by_key().count(Materialized(name="c"))
     .to_stream().to("out", Produced(key_serde=S, value_serde=serdes.Long())))
    topology = b.build()
    assert plan_topics(topology, APP, {"left": 4, "right": 4, "out": 1}).subtopology_partitions == {0: 4}
    with pytest.raises(TopologyError) as info:
        plan_topics(topology, APP, {"left": 4, "right": 3, "out": 1})
    message = str(info.value)
    assert "co-partitioned" in message
    assert "left=4" in message and "right=3" in message
    assert "Repartitioned(num_partitions=" in message


def test_declared_copartition_group_across_subtopologies_is_checked():
    b = StreamsBuilder()
    b.stream("a").to("x")
    b.stream("b").to("y")
    topology = b.build()
    topology.copartition(["a", "b"])  # what a join declares
    plan_topics(topology, APP, {"a": 2, "b": 2, "x": 1, "y": 1})
    with pytest.raises(TopologyError, match="a=2, b=5"):
        plan_topics(topology, APP, {"a": 2, "b": 5, "x": 1, "y": 1})


def test_subtopology_reading_repartition_topics_of_unequal_size_is_rejected():
    # a sub-topology fed by two repartition topics of different upstream sizes: its inputs
    # must be co-partitioned, so the mismatch is reported. (Kafka Streams would instead give
    # both unfixed repartition topics the larger count; here the user fixes one side.)
    b = StreamsBuilder()
    left = b.stream("small", Consumed(key_serde=S, value_serde=S)).repartition(
        Repartitioned(name="l"))
    right = b.stream("big", Consumed(key_serde=S, value_serde=S)).repartition(
        Repartitioned(name="r"))
    (left.merge(right).group_by_key().count(Materialized(name="m"))
     .to_stream().to("out", Produced(key_serde=S, value_serde=serdes.Long())))
    with pytest.raises(TopologyError, match="co-partitioned"):
        plan_topics(b.build(), APP, {"small": 2, "big": 3, "out": 1})


def _merged_users():
    b = StreamsBuilder()
    (b.stream("a", Consumed(key_serde=S, value_serde=S))
     .merge(b.stream("b", Consumed(key_serde=S, value_serde=S)))
     .to("out", Produced(key_serde=S, value_serde=S)))
    return b.build()


def test_a_merge_of_unequal_topics_is_allowed_with_the_placement_not_with_range():
    existing = {"a": 2, "b": 3, "out": 1}
    with pytest.raises(TopologyError, match="a=2, b=3"):
        plan_topics(_merged_users(), APP, existing)  # strict: range hands out partitions
    plan = plan_topics(_merged_users(), APP, existing, strict=False)
    assert plan.subtopology_partitions == {0: 3}  # as many tasks as the largest input


@pytest.mark.parametrize("kind", ["stream-stream", "stream-table", "table-table"])
def test_a_join_of_unequal_topics_is_refused_whatever_the_assignor(kind):
    from streams import JoinWindows

    b = StreamsBuilder()
    c = Consumed(key_serde=S, value_serde=S)
    if kind == "stream-stream":
        b.stream("a", c).join(b.stream("b", c), lambda x, y: x,
                              JoinWindows.of_time_difference_with_no_grace(1000)).to("out")
    elif kind == "stream-table":
        b.stream("a", c).join(b.table("b", c), lambda x, y: x).to("out")
    else:
        b.table("a", c).join(b.table("b", c), lambda x, y: x).to_stream().to("out")
    topology = b.build()
    assert frozenset({"a", "b"}) in topology.declared_copartition_groups
    for strict in (True, False):
        with pytest.raises(TopologyError, match="a=2, b=3"):
            plan_topics(topology, APP, {"a": 2, "b": 3, "out": 1}, strict=strict)


def test_repartition_topics_read_together_must_agree_with_the_placement_too():
    b = StreamsBuilder()
    left = b.stream("small", Consumed(key_serde=S, value_serde=S)).repartition(
        Repartitioned(name="l"))
    right = b.stream("big", Consumed(key_serde=S, value_serde=S)).repartition(
        Repartitioned(name="r"))
    left.merge(right).to("out", Produced(key_serde=S, value_serde=S))
    with pytest.raises(TopologyError, match="co-partitioned"):
        plan_topics(b.build(), APP, {"small": 2, "big": 3, "out": 1}, strict=False)


def test_an_aggregation_right_on_unequal_topics_is_refused_with_the_placement_too():
    b = StreamsBuilder()
    (b.stream(["a", "b"], Consumed(key_serde=S, value_serde=S)).group_by_key()
     .count(Materialized(name="c")).to_stream()
     .to("out", Produced(key_serde=S, value_serde=serdes.Long())))
    with pytest.raises(TopologyError, match="a=2, b=3"):
        plan_topics(b.build(), APP, {"a": 2, "b": 3, "out": 1}, strict=False)
