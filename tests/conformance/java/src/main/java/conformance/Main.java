package conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.BuiltInDslStoreSuppliers;
import org.apache.kafka.streams.test.TestRecord;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Runs named topologies ({@link Topologies}) through Kafka Streams' TopologyTestDriver.
 *
 * <p>Protocol: JSON lines on stdin, one answer line per input line on stdout.
 * A line is a scenario {@code {"topology": name, "store": "in_memory"|"rocksdb", "inputs":
 * [{"topic", "key", "value", "timestamp"}...]}} or a JSON list of them; the answer is
 * {@code {"outputs": {topic: [{"key", "value", "timestamp", "input"}...]}}} (or
 * {@code {"error": text}}), or a list of those. {@code "input"} is the index of the input record
 * whose processing produced the output; {@code "store"} (default rocksdb) is the DSL store type.
 * With {@code "introspect": true} the answer also has {@code "describe"} (the text of
 * {@code topology.describe()}) and {@code "topics"} (the sorted names of every topic the driver
 * wrote to: sinks, repartition topics and changelogs), to compare the names of nodes, stores
 * and internal topics.
 * {@code --list} prints the topology names and exits.
 *
 * <p>Each scenario gets a fresh driver with record caches off, the mocked wall clock at 0 and
 * Kafka Streams' internal emit throttles at 0, as its own tests do.
 */
public final class Main {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static Path stateRoot;
    private static int runs;

    public static void main(final String[] args) throws IOException {
        if (args.length > 0 && args[0].equals("--list")) {
            System.out.println(JSON.writeValueAsString(new ArrayList<>(Topologies.ALL.keySet())));
            return;
        }
        final Path shm = Path.of("/dev/shm");
        // RocksDB stores are flushed after every record (the driver commits each): on tmpfs
        stateRoot = Files.isDirectory(shm) && Files.isWritable(shm)
            ? Files.createTempDirectory(shm, "streams-conformance-")
            : Files.createTempDirectory("streams-conformance-");
        Runtime.getRuntime().addShutdownHook(new Thread(Main::deleteStateRoot));
        final BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        final BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            final JsonNode request = JSON.readTree(line);
            final JsonNode answer;
            if (request.isArray()) {
                final ArrayNode list = JSON.createArrayNode();
                for (final JsonNode scenario : request) {
                    list.add(runSafely(scenario));
                }
                answer = list;
            } else {
                answer = runSafely(request);
            }
            out.write(JSON.writeValueAsString(answer));
            out.write('\n');
            out.flush();
        }
    }

    private static ObjectNode runSafely(final JsonNode scenario) {
        try {
            return run(scenario);
        } catch (final Throwable e) {
            final StringWriter trace = new StringWriter();
            e.printStackTrace(new PrintWriter(trace));
            final ObjectNode error = JSON.createObjectNode();
            error.put("error", trace.toString());
            return error;
        }
    }

    private static ObjectNode run(final JsonNode scenario) throws IOException {
        final String name = scenario.get("topology").asText();
        final Topologies.Spec spec = Topologies.ALL.get(name);
        if (spec == null) {
            throw new IllegalArgumentException("unknown topology " + name);
        }
        final Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "conformance");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "dummy:1234");
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateRoot.resolve("run-" + (runs++)).toString());
        // Kafka Streams' own tests set these wall-clock throttles to 0; the driver's clock
        // never moves here, so with the 1 s default most final results would never be emitted.
        props.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_WINDOWED_AGGREGATION, 0L);
        props.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_OUTER_JOIN_SPURIOUS_RESULTS_FIX, 0L);
        final String store = scenario.has("store") ? scenario.get("store").asText() : "rocksdb";
        props.put(StreamsConfig.DSL_STORE_SUPPLIERS_CLASS_CONFIG, switch (store) {
            case "rocksdb" -> BuiltInDslStoreSuppliers.RocksDBDslStoreSuppliers.class;
            case "in_memory" -> BuiltInDslStoreSuppliers.InMemoryDslStoreSuppliers.class;
            default -> throw new IllegalArgumentException("unknown store type " + store);
        });
        final Topologies.Built built = spec.build(props);
        final ObjectNode result = JSON.createObjectNode();
        final ObjectNode outputs = result.putObject("outputs");
        final boolean introspect = scenario.has("introspect") && scenario.get("introspect").asBoolean();
        if (introspect) {
            result.put("describe", built.topology().describe().toString());
        }
        try (TopologyTestDriver driver = new TopologyTestDriver(built.topology(), props, Instant.ofEpochMilli(0))) {
            final Map<String, TestInputTopic<String, String>> inputs = new HashMap<>();
            final Map<String, TestOutputTopic<String, ?>> readers = new HashMap<>();
            for (final Map.Entry<String, Deserializer<?>> o : built.outputs().entrySet()) {
                readers.put(o.getKey(), driver.createOutputTopic(
                    o.getKey(), Serdes.String().deserializer(), o.getValue()));
                outputs.putArray(o.getKey());
            }
            int index = 0;
            for (final JsonNode record : scenario.get("inputs")) {
                final String topic = record.get("topic").asText();
                final TestInputTopic<String, String> input = inputs.computeIfAbsent(topic,
                    t -> driver.createInputTopic(t, new StringSerializer(), new StringSerializer()));
                input.pipeInput(text(record.get("key")), text(record.get("value")),
                    record.get("timestamp").asLong());
                for (final Map.Entry<String, TestOutputTopic<String, ?>> r : readers.entrySet()) {
                    final ArrayNode list = (ArrayNode) outputs.get(r.getKey());
                    for (final TestRecord<String, ?> out : r.getValue().readRecordsToList()) {
                        final ObjectNode o = list.addObject();
                        o.put("key", out.key());
                        final Object value = out.value();
                        if (value == null) {
                            o.putNull("value");
                        } else if (value instanceof Long l) {
                            o.put("value", l);
                        } else {
                            o.put("value", value.toString());
                        }
                        o.put("timestamp", out.timestamp());
                        o.put("input", index);
                    }
                }
                index++;
            }
            if (introspect) {
                final ArrayNode topics = result.putArray("topics");
                new TreeSet<>(driver.producedTopicNames()).forEach(topics::add);
            }
        }
        return result;
    }

    private static String text(final JsonNode node) {
        return node == null || node.isNull() ? null : node.asText();
    }

    private static void deleteStateRoot() {
        try (Stream<Path> paths = Files.walk(stateRoot)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (final IOException ignored) {
            // best effort
        }
    }

    private Main() {
    }
}
