package conformance;

import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TopologyConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.SessionStore;
import org.apache.kafka.streams.state.WindowStore;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The named topologies of the conformance suite. Each has a Python twin of the same name in
 * tests/conformance/conformance_topologies.py: keep the two files in step (same topics, same
 * functions, same parameters).
 *
 * <p>Conventions shared with the twins: keys and values are Strings (counts and sums Longs);
 * joiners write {@code left + "+" + right} with a missing side as {@code null}; windowed keys are
 * mapped to {@code key@start/end} before the sink.
 */
final class Topologies {
    record Built(Topology topology, Map<String, Deserializer<?>> outputs) {
    }

    interface Spec {
        Built build(Properties config);
    }

    static final Serde<String> S = Serdes.String();
    static final Serde<Long> L = Serdes.Long();
    static final Consumed<String, String> SS = Consumed.with(S, S);

    static final Map<String, Spec> ALL = new LinkedHashMap<>();

    // window parameters (ms), the same in the Python twins
    static final Duration SIZE = ms(10);
    static final Duration ADVANCE = ms(5);
    static final Duration GRACE = ms(5);
    static final Duration GAP = ms(5);
    static final Duration SESSION_GRACE = ms(3);
    static final Duration DIFF = ms(10);
    static final Duration JOIN_DIFF = ms(5);
    static final Duration JOIN_GRACE = ms(3);
    static final Duration RETENTION = ms(1_000_000);

    static Duration ms(final long v) {
        return Duration.ofMillis(v);
    }

    static String j(final String left, final String right) {
        return left + "+" + right;  // null prints as "null"
    }

    static String wkey(final Windowed<String> w) {
        return w.key() + "@" + w.window().start() + "/" + w.window().end();
    }

    /** A topology with one output topic "out" of String (or Long) values. */
    static void add(final String name, final boolean longValues, final Consumer<StreamsBuilder> body) {
        ALL.put(name, config -> {
            // the config reaches the builder too: the DSL store type (dsl.store.suppliers.class)
            final StreamsBuilder b = new StreamsBuilder(new TopologyConfig(new StreamsConfig(config)));
            body.accept(b);
            final Map<String, Deserializer<?>> outputs = new LinkedHashMap<>();
            outputs.put("out", longValues ? L.deserializer() : S.deserializer());
            return new Built(b.build(), outputs);
        });
    }

    private static KGroupedStream<String, String> grouped(final StreamsBuilder b) {
        return b.stream("in", SS).groupByKey(Grouped.with(S, S));
    }

    private static void windowedOut(final KTable<Windowed<String>, Long> t) {
        t.toStream((w, v) -> wkey(w)).to("out", Produced.with(S, L));
    }

    private static Materialized<String, Long, WindowStore<Bytes, byte[]>> windowRetention() {
        return Materialized.<String, Long, WindowStore<Bytes, byte[]>>with(S, L).withRetention(RETENTION);
    }

    private static Materialized<String, Long, SessionStore<Bytes, byte[]>> sessionRetention() {
        return Materialized.<String, Long, SessionStore<Bytes, byte[]>>with(S, L).withRetention(RETENTION);
    }

    private static String first(final String v) {
        return v.substring(0, 1);
    }

    /** The foreign key of a left value "x/fk" (null without a slash). */
    private static String fk(final String v) {
        final int i = v.indexOf('/');
        return i < 0 ? null : v.substring(i + 1);
    }

    static {
        // ---------------------------------------------------------------- stateless
        add("filter_map_values", false, b -> b.stream("in", SS)
            .filter((k, v) -> v == null || !v.startsWith("b"))
            .mapValues(v -> v == null ? null : v.toUpperCase())
            .to("out", Produced.with(S, S)));
        add("flat_map", false, b -> b.stream("in", SS)
            .flatMap((k, v) -> {
                final List<KeyValue<String, String>> out = new ArrayList<>();
                if (v != null) {
                    for (final String w : v.split(" ")) {
                        out.add(KeyValue.pair(w, k));
                    }
                }
                return out;
            })
            .to("out", Produced.with(S, S)));
        add("select_key_repartition", false, b -> b.stream("in", SS)
            .selectKey((k, v) -> v == null ? k : v.startsWith("k") ? null : first(v))
            .repartition(Repartitioned.<String, String>as("rekey").withKeySerde(S).withValueSerde(S))
            .mapValues((k, v) -> k + ":" + v)
            .to("out", Produced.with(S, S)));

        add("to_table", false, b -> b.stream("in", SS)
            .toTable(Materialized.<String, String, KeyValueStore<Bytes, byte[]>>with(S, S))
            .toStream().to("out", Produced.with(S, S)));

        // ---------------------------------------------------------------- aggregations
        add("count", true, b -> grouped(b).count().toStream().to("out", Produced.with(S, L)));
        add("group_by_count", true, b -> b.stream("in", SS)
            .groupBy((k, v) -> v, Grouped.with(S, S))
            .count().toStream().to("out", Produced.with(S, L)));
        add("reduce", false, b -> grouped(b)
            .reduce((a, v) -> a + "," + v).toStream().to("out", Produced.with(S, S)));

        // ---------------------------------------------------------------- table re-grouping
        add("table_group_by_aggregate", true, b -> b.table("tin", SS)
            .groupBy((k, v) -> KeyValue.pair(first(v), v), Grouped.with(S, S))
            .aggregate(() -> 0L, (k, v, a) -> a + v.length(), (k, v, a) -> a - v.length(),
                Materialized.with(S, L))
            .toStream().to("out", Produced.with(S, L)));
        add("table_group_by_reduce", true, b -> b.table("tin", SS)
            .groupBy((k, v) -> KeyValue.pair(first(v), (long) v.length()), Grouped.with(S, L))
            .reduce((a, v) -> a + v, (a, v) -> a - v)
            .toStream().to("out", Produced.with(S, L)));
        add("table_group_by_count", true, b -> b.table("tin", SS)
            .groupBy((k, v) -> KeyValue.pair(first(v), v), Grouped.with(S, S))
            .count().toStream().to("out", Produced.with(S, L)));

        // ---------------------------------------------------------------- KTable.filter
        add("table_filter", false, b -> b.table("tin", SS)
            .filter((k, v) -> v.length() % 2 == 0)
            .toStream().to("out", Produced.with(S, S)));
        add("table_filter_materialized", false, b -> b.table("tin", SS)
            .filter((k, v) -> v.length() % 2 == 0,
                Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("filtered")
                    .withKeySerde(S).withValueSerde(S))
            .toStream().to("out", Produced.with(S, S)));
        add("table_filter_source_materialized", false, b -> b.table("tin", SS,
                Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("source")
                    .withKeySerde(S).withValueSerde(S))
            .filter((k, v) -> v.length() % 2 == 0)
            .toStream().to("out", Produced.with(S, S)));
        add("table_filter_group_count", true, b -> b.table("tin", SS)
            .filter((k, v) -> v.length() % 2 == 0)
            .groupBy((k, v) -> KeyValue.pair(first(v), v), Grouped.with(S, S))
            .count().toStream().to("out", Produced.with(S, L)));

        add("table_map_values", false, b -> b.table("tin", SS)
            .mapValues(v -> v.toUpperCase())
            .toStream().to("out", Produced.with(S, S)));

        // ---------------------------------------------------------------- windows
        final TimeWindows tumbling = TimeWindows.ofSizeAndGrace(SIZE, GRACE);
        final TimeWindows hopping = TimeWindows.ofSizeAndGrace(SIZE, GRACE).advanceBy(ADVANCE);
        final SlidingWindows sliding = SlidingWindows.ofTimeDifferenceAndGrace(DIFF, GRACE);
        final SessionWindows sessions = SessionWindows.ofInactivityGapAndGrace(GAP, SESSION_GRACE);
        final Suppressed<Windowed<?>> final_ = Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded());

        // ---------------------------------------------------------------- cogroup (KIP-150)
        add("cogroup_aggregate", false, b -> b.stream("left", SS).groupByKey(Grouped.with(S, S))
            .<String>cogroup((k, v, agg) -> agg + "L" + v)
            .cogroup(b.stream("right", SS).groupByKey(Grouped.with(S, S)),
                (k, v, agg) -> agg + "R" + v)
            .aggregate(() -> "", Materialized.<String, String, KeyValueStore<Bytes, byte[]>>with(S, S))
            .toStream().to("out", Produced.with(S, S)));
        add("cogroup_tumbling", false, b -> b.stream("left", SS).groupByKey(Grouped.with(S, S))
            .<String>cogroup((k, v, agg) -> agg + "L" + v)
            .cogroup(b.stream("right", SS).groupByKey(Grouped.with(S, S)),
                (k, v, agg) -> agg + "R" + v)
            .windowedBy(tumbling)
            .aggregate(() -> "", Materialized.<String, String, WindowStore<Bytes, byte[]>>with(S, S)
                .withRetention(RETENTION))
            .toStream((w, v) -> wkey(w)).to("out", Produced.with(S, S)));
        add("cogroup_sliding", false, b -> b.stream("left", SS).groupByKey(Grouped.with(S, S))
            .<String>cogroup((k, v, agg) -> agg + "L" + v)
            .cogroup(b.stream("right", SS).groupByKey(Grouped.with(S, S)),
                (k, v, agg) -> agg + "R" + v)
            .windowedBy(sliding)
            .aggregate(() -> "", Materialized.<String, String, WindowStore<Bytes, byte[]>>with(S, S)
                .withRetention(RETENTION))
            .toStream((w, v) -> wkey(w)).to("out", Produced.with(S, S)));
        add("cogroup_session", false, b -> b.stream("left", SS).groupByKey(Grouped.with(S, S))
            .<String>cogroup((k, v, agg) -> agg + "L" + v)
            .cogroup(b.stream("right", SS).groupByKey(Grouped.with(S, S)),
                (k, v, agg) -> agg + "R" + v)
            .windowedBy(sessions)
            .aggregate(() -> "", (k, a1, a2) -> a1 + "+" + a2,
                Materialized.<String, String, SessionStore<Bytes, byte[]>>with(S, S)
                .withRetention(RETENTION))
            .toStream((w, v) -> wkey(w)).to("out", Produced.with(S, S)));

        add("tumbling_count", true, b -> windowedOut(grouped(b).windowedBy(tumbling).count()));
        add("hopping_count", true, b -> windowedOut(grouped(b).windowedBy(hopping).count()));
        add("sliding_count", true, b -> windowedOut(grouped(b).windowedBy(sliding).count()));
        add("session_count", true, b -> windowedOut(grouped(b).windowedBy(sessions).count()));

        add("tumbling_suppress", true, b -> windowedOut(grouped(b).windowedBy(tumbling).count().suppress(final_)));
        add("hopping_suppress", true, b -> windowedOut(grouped(b).windowedBy(hopping).count().suppress(final_)));
        add("sliding_suppress", true, b -> windowedOut(grouped(b).windowedBy(sliding).count().suppress(final_)));
        add("session_suppress", true, b -> windowedOut(grouped(b).windowedBy(sessions).count().suppress(final_)));

        final EmitStrategy onClose = EmitStrategy.onWindowClose();
        add("tumbling_emit_final", true, b -> windowedOut(grouped(b).windowedBy(tumbling).emitStrategy(onClose).count()));
        add("hopping_emit_final", true, b -> windowedOut(grouped(b).windowedBy(hopping).emitStrategy(onClose).count()));
        add("sliding_emit_final", true, b -> windowedOut(grouped(b).windowedBy(sliding).emitStrategy(onClose).count()));
        add("session_emit_final", true, b -> windowedOut(grouped(b).windowedBy(sessions).emitStrategy(onClose).count()));

        // the same with a long retention: default retention (size + grace) can drop a window from
        // the store before Kafka Streams' emit-final scan reaches it (a deliberate difference)
        add("tumbling_emit_final_retained", true, b -> windowedOut(grouped(b).windowedBy(tumbling).emitStrategy(onClose).count(windowRetention())));
        add("hopping_emit_final_retained", true, b -> windowedOut(grouped(b).windowedBy(hopping).emitStrategy(onClose).count(windowRetention())));
        add("sliding_emit_final_retained", true, b -> windowedOut(grouped(b).windowedBy(sliding).emitStrategy(onClose).count(windowRetention())));
        add("session_emit_final_retained", true, b -> windowedOut(grouped(b).windowedBy(sessions).emitStrategy(onClose).count(sessionRetention())));

        // ---------------------------------------------------------------- stream-table joins
        add("stream_table_join", false, b -> b.stream("left", SS)
            .join(b.table("right", SS), Topologies::j).to("out", Produced.with(S, S)));
        add("stream_table_left_join", false, b -> b.stream("left", SS)
            .leftJoin(b.table("right", SS), Topologies::j).to("out", Produced.with(S, S)));

        // after a key change: repartitioned first (a left join lets null keys through, KIP-962)
        add("select_key_table_join", false, b -> b.stream("left", SS)
            .selectKey((k, v) -> v == null ? k : v.endsWith("3") ? null : k)
            .join(b.table("right", SS), Topologies::j).to("out", Produced.with(S, S)));
        add("select_key_table_left_join", false, b -> b.stream("left", SS)
            .selectKey((k, v) -> v == null ? k : v.endsWith("3") ? null : k)
            .leftJoin(b.table("right", SS), Topologies::j).to("out", Produced.with(S, S)));

        // ---------------------------------------------------------------- stream-global table joins
        add("global_join", false, b -> {
            final GlobalKTable<String, String> g = b.globalTable("right", SS);
            b.stream("left", SS).join(g, (k, v) -> v == null ? null : first(v), Topologies::j)
                .to("out", Produced.with(S, S));
        });
        add("global_left_join", false, b -> {
            final GlobalKTable<String, String> g = b.globalTable("right", SS);
            b.stream("left", SS).leftJoin(g, (k, v) -> v == null ? null : first(v), Topologies::j)
                .to("out", Produced.with(S, S));
        });

        // ---------------------------------------------------------------- stream-stream joins
        final JoinWindows joinWindows = JoinWindows.ofTimeDifferenceAndGrace(JOIN_DIFF, JOIN_GRACE);
        final JoinWindows asymmetric = JoinWindows.ofTimeDifferenceAndGrace(JOIN_DIFF, JOIN_GRACE).before(ms(2));
        final StreamJoined<String, String, String> sj = StreamJoined.with(S, S, S);
        add("stream_stream_join", false, b -> b.stream("left", SS)
            .join(b.stream("right", SS), Topologies::j, joinWindows, sj).to("out", Produced.with(S, S)));
        add("stream_stream_left_join", false, b -> b.stream("left", SS)
            .leftJoin(b.stream("right", SS), Topologies::j, joinWindows, sj).to("out", Produced.with(S, S)));
        add("stream_stream_outer_join", false, b -> b.stream("left", SS)
            .outerJoin(b.stream("right", SS), Topologies::j, joinWindows, sj).to("out", Produced.with(S, S)));
        add("stream_stream_left_join_asymmetric", false, b -> b.stream("left", SS)
            .leftJoin(b.stream("right", SS), Topologies::j, asymmetric, sj).to("out", Produced.with(S, S)));

        // ---------------------------------------------------------------- table-table joins
        add("table_table_join", false, b -> b.table("left", SS)
            .join(b.table("right", SS), Topologies::j).toStream().to("out", Produced.with(S, S)));
        add("table_table_left_join", false, b -> b.table("left", SS)
            .leftJoin(b.table("right", SS), Topologies::j).toStream().to("out", Produced.with(S, S)));
        add("table_table_outer_join", false, b -> b.table("left", SS)
            .outerJoin(b.table("right", SS), Topologies::j).toStream().to("out", Produced.with(S, S)));

        // ---------------------------------------------------------------- foreign-key joins
        final Function<String, String> fkExtractor = Topologies::fk;
        add("fk_join", false, b -> b.table("left", SS)
            .join(b.table("right", SS), fkExtractor, Topologies::j).toStream().to("out", Produced.with(S, S)));
        add("fk_left_join", false, b -> b.table("left", SS)
            .leftJoin(b.table("right", SS), fkExtractor, Topologies::j).toStream().to("out", Produced.with(S, S)));

        // ---------------------------------------------------------------- more, in their own classes
        JoinOptionTopologies.addAll();
        VersionedTopologies.addAll();
    }

    private Topologies() {
    }
}
