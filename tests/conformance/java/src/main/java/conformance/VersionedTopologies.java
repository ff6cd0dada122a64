package conformance;

import static conformance.Topologies.L;
import static conformance.Topologies.S;
import static conformance.Topologies.SS;
import static conformance.Topologies.add;
import static conformance.Topologies.ms;

import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

import java.time.Duration;
import java.util.function.Function;

/**
 * Twins of versioned tables and stream-table joins with a grace period, in
 * tests/conformance/conformance_versioned.py: keep the two files in step.
 */
final class VersionedTopologies {
    static final Duration HISTORY = ms(8);
    static final Duration JOIN_GRACE_PERIOD = ms(5);

    static KTable<String, String> versionedTable(final StreamsBuilder b, final String topic, final String store) {
        return b.table(topic, SS, Materialized.<String, String>as(
            Stores.persistentVersionedKeyValueStore(store, HISTORY)).withKeySerde(S).withValueSerde(S));
    }

    static KTable<String, String> versionedTable(final StreamsBuilder b, final String topic) {
        return versionedTable(b, topic, "vt");
    }

    private static String fk(final String v) {
        final int i = v.indexOf('/');
        return i < 0 ? null : v.substring(i + 1);
    }

    static void addAll() {
        add("versioned_table_to_stream", false, b -> versionedTable(b, "tin").toStream()
            .to("out", Produced.with(S, S)));
        add("versioned_table_filter", false, b -> versionedTable(b, "tin")
            .filter((k, v) -> !v.startsWith("b")).toStream().to("out", Produced.with(S, S)));
        add("versioned_table_group_by_count", true, b -> versionedTable(b, "tin")
            .groupBy((k, v) -> KeyValue.pair(v.substring(0, 1), v), Grouped.with(S, S))
            .count().toStream().to("out", Produced.with(S, L)));
        add("versioned_stream_table_join", false, b -> b.stream("left", SS)
            .join(versionedTable(b, "right"), Topologies::j).to("out", Produced.with(S, S)));
        add("versioned_stream_table_left_join", false, b -> b.stream("left", SS)
            .leftJoin(versionedTable(b, "right"), Topologies::j).to("out", Produced.with(S, S)));
        add("versioned_stream_table_join_grace", false, b -> b.stream("left", SS)
            .join(versionedTable(b, "right"), Topologies::j,
                Joined.with(S, S, S).withGracePeriod(JOIN_GRACE_PERIOD))
            .to("out", Produced.with(S, S)));
        add("versioned_stream_table_left_join_grace", false, b -> b.stream("left", SS)
            .leftJoin(versionedTable(b, "right"), Topologies::j,
                Joined.with(S, S, S, "graceful", JOIN_GRACE_PERIOD))
            .to("out", Produced.with(S, S)));
        add("versioned_table_table_join", false, b -> versionedTable(b, "left")
            .join(b.table("right", SS), Topologies::j).toStream().to("out", Produced.with(S, S)));
        add("versioned_table_table_left_join", false, b -> b.table("left", SS)
            .leftJoin(versionedTable(b, "right"), Topologies::j).toStream().to("out", Produced.with(S, S)));
        final Function<String, String> fkExtractor = VersionedTopologies::fk;
        add("versioned_fk_join", false, b -> versionedTable(b, "left")
            .join(versionedTable(b, "right", "vr"), fkExtractor, Topologies::j)
            .toStream().to("out", Produced.with(S, S)));
    }

    private VersionedTopologies() {
    }
}
