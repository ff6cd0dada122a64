package conformance;

import static conformance.Topologies.S;
import static conformance.Topologies.SS;
import static conformance.Topologies.add;

import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KeyValueMapper;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.TableJoined;
import org.apache.kafka.streams.processor.StreamPartitioner;
import org.apache.kafka.streams.state.BuiltInDslStoreSuppliers;
import org.apache.kafka.streams.state.KeyValueStore;

import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Twins of the join option objects (StreamJoined, Joined, TableJoined), in
 * tests/conformance/conformance_join_options.py: keep the two files in step. The Python side
 * asks for these scenarios to be introspected (describe() and the topics written are compared
 * too), since what these options change is mostly names.
 */
final class JoinOptionTopologies {
    /** The key and the value's last digit ("a" with "x2": "a2"); the key for a null value. */
    static String lastDigitKey(final String k, final String v) {
        return v == null ? k : k + v.substring(v.length() - 1);
    }

    /** The key change of Topologies' select_key_table_* twins. */
    static String rekeyForJoin(final String k, final String v) {
        return v == null ? k : v.endsWith("3") ? null : k;
    }

    /** A custom partitioner, the same in Python: the key's length modulo the partitions. */
    static <V> StreamPartitioner<String, V> byLength() {
        return (topic, key, value, n) -> Optional.of(Set.of(key.length() % n));
    }

    private static String fk(final String v) {
        final int i = v.indexOf('/');
        return i < 0 ? null : v.substring(i + 1);
    }

    static void addAll() {
        final JoinWindows windows = JoinWindows.ofTimeDifferenceAndGrace(Topologies.JOIN_DIFF, Topologies.JOIN_GRACE);
        final Produced<String, String> out = Produced.with(S, S);

        // ---------------------------------------------------------------- StreamJoined
        add("stream_joined_join", false, b -> b.stream("left", SS)
            .join(b.stream("right", SS), Topologies::j, windows,
                StreamJoined.with(S, S, S).withName("sj").withStoreName("sj-store"))
            .to("out", out));
        add("stream_joined_left_join", false, b -> b.stream("left", SS)
            .leftJoin(b.stream("right", SS), Topologies::j, windows,
                StreamJoined.with(S, S, S).withName("sjl").withStoreName("sjl-store")
                    .withLoggingDisabled())
            .to("out", out));
        add("stream_joined_outer_join", false, b -> b.stream("left", SS)
            .outerJoin(b.stream("right", SS), Topologies::j, windows,
                StreamJoined.<String, String, String>as("sjo-store").withKeySerde(S).withValueSerde(S)
                    .withOtherValueSerde(S).withLoggingEnabled(Map.of("retention.ms", "86400000")))
            .to("out", out));
        add("stream_joined_in_memory", false, b -> b.stream("left", SS)
            .join(b.stream("right", SS), Topologies::j, windows,
                StreamJoined.with(S, S, S).withName("sjm")
                    .withDslStoreSuppliers(new BuiltInDslStoreSuppliers.InMemoryDslStoreSuppliers()))
            .to("out", out));
        final KeyValueMapper<String, String, String> lastDigit = JoinOptionTopologies::lastDigitKey;
        add("stream_joined_rekeyed_join", false, b -> b.stream("left", SS).selectKey(lastDigit)
            .join(b.stream("right", SS).selectKey(lastDigit), Topologies::j, windows,
                StreamJoined.with(S, S, S).withName("sjr"))
            .to("out", out));

        // ---------------------------------------------------------------- Joined
        add("joined_stream_table_join", false, b -> b.stream("left", SS)
            .join(b.table("right", SS), Topologies::j, Joined.with(S, S, S).withName("lookup"))
            .to("out", out));
        add("joined_stream_table_left_join", false, b -> b.stream("left", SS)
            .leftJoin(b.table("right", SS), Topologies::j, Joined.as("lookup-left"))
            .to("out", out));
        final KeyValueMapper<String, String, String> rekey = JoinOptionTopologies::rekeyForJoin;
        add("joined_select_key_table_join", false, b -> b.stream("left", SS).selectKey(rekey)
            .join(b.table("right", SS), Topologies::j, Joined.with(S, S, S).withName("rekeyed"))
            .to("out", out));
        add("joined_select_key_table_left_join", false, b -> b.stream("left", SS).selectKey(rekey)
            .leftJoin(b.table("right", SS), Topologies::j,
                Joined.<String, String, String>as("rekeyed-left").withKeySerde(S).withValueSerde(S)
                    .withOtherValueSerde(S))
            .to("out", out));

        // ---------------------------------------------------------------- TableJoined
        final Function<String, String> fkExtractor = JoinOptionTopologies::fk;
        add("table_joined_fk_join", false, b -> b.table("left", SS)
            .join(b.table("right", SS), fkExtractor, Topologies::j,
                TableJoined.with(byLength(), byLength()).withName("fk"))
            .toStream().to("out", out));
        add("table_joined_fk_left_join", false, b -> b.table("left", SS)
            .leftJoin(b.table("right", SS), fkExtractor, Topologies::j, TableJoined.as("fkl"),
                Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("fkl-result")
                    .withKeySerde(S).withValueSerde(S))
            .toStream().to("out", out));
    }

    private JoinOptionTopologies() {
    }
}
