package streamsbench;

import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.WindowedSerdes;

/**
 * The Kafka Streams side of {@code python3 -m benchmarks.compare}: one of four workloads,
 * chosen by the first argument, with the same user functions as the Python systems
 * (benchmarks/peers/common.py). Prints {@code FIRST <epoch ms>} on stdout when the first
 * record reaches user code; the harness watches the output topic and stops the process.
 *
 * <pre>
 * java -cp ... streamsbench.StreamsBench WORKLOAD --bootstrap B --input T --output T
 *      --app-id ID --state-dir DIR [--table T] [--commit-ms 1000] [--cache-bytes N]
 * </pre>
 */
public final class StreamsBench {
    static final long WINDOW_MS = 60_000L;
    static final long GRACE_MS = 10_000L;
    private static volatile boolean first;

    private StreamsBench() {
    }

    static void markFirst() {
        if (!first) {
            synchronized (StreamsBench.class) {
                if (!first) {
                    first = true;
                    System.out.println("FIRST " + System.currentTimeMillis());
                    System.out.flush();
                }
            }
        }
    }

    /** Stateless filter: the amount (last field) is at least 500.00; about half pass. */
    static boolean keep(String value) {
        markFirst();
        return Double.parseDouble(value.substring(value.lastIndexOf(',') + 1)) >= 500.0;
    }

    /** Stateless map: "id,event,amount" -> "id,EVENT,amount,length". */
    static String transform(String value) {
        String[] p = value.split(",", -1);
        return p[0] + "," + p[1].toUpperCase(Locale.ROOT) + "," + p[2] + "," + value.length();
    }

    public static void main(String[] argv) throws Exception {
        String workload = argv[0];
        Map<String, String> a = new HashMap<>();
        for (int i = 1; i + 1 < argv.length; i += 2) {
            a.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
        }
        Serde<String> s = Serdes.String();
        String in = a.get("input");
        String out = a.get("output");
        StreamsBuilder b = new StreamsBuilder();
        switch (workload) {
            case "stateless":
                b.stream(in, Consumed.with(s, s))
                    .filter((k, v) -> keep(v))
                    .mapValues(StreamsBench::transform)
                    .to(out, Produced.with(s, s));
                break;
            case "wordcount":
                b.stream(in, Consumed.with(s, s))
                    .flatMapValues(line -> {
                        markFirst();
                        return Arrays.asList(line.split(" "));
                    })
                    .groupBy((k, word) -> word, Grouped.with("words", s, s))
                    .count(Materialized.as("counts"))
                    .toStream()
                    .to(out, Produced.with(s, Serdes.Long()));
                break;
            case "windowed":
                b.stream(in, Consumed.with(s, s))
                    .peek((k, v) -> markFirst())
                    .groupByKey()
                    .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(WINDOW_MS),
                                                           Duration.ofMillis(GRACE_MS)))
                    .count(Materialized.as("window-counts"))
                    .toStream()
                    .to(out, Produced.with(
                        WindowedSerdes.timeWindowedSerdeFrom(String.class, WINDOW_MS), Serdes.Long()));
                break;
            case "join":
                KTable<String, String> customers =
                    b.table(a.get("table"), Consumed.with(s, s), Materialized.as("customers"));
                b.stream(in, Consumed.with(s, s))
                    .peek((k, v) -> markFirst())
                    .join(customers, (order, customer) -> order + "|" + customer)
                    .to(out, Produced.with(s, s));
                break;
            default:
                throw new IllegalArgumentException("unknown workload " + workload);
        }
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, a.get("app-id"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, a.get("bootstrap"));
        p.put(StreamsConfig.STATE_DIR_CONFIG, a.get("state-dir"));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.parseLong(a.getOrDefault("commit-ms", "1000")));
        if (a.containsKey("cache-bytes")) {
            p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, Long.parseLong(a.get("cache-bytes")));
        }
        p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

        KafkaStreams app = new KafkaStreams(b.build(), p);
        CountDownLatch done = new CountDownLatch(1);
        app.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            done.countDown();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler
                .StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            app.close(Duration.ofSeconds(10));
            done.countDown();
        }));
        app.start();
        done.await();
        app.close(Duration.ofSeconds(10));
        System.exit(1);  // only reached after a failure: the harness ends a healthy run
    }
}
