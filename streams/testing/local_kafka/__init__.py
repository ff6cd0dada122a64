"""Start a real Apache Kafka 4.x broker (KRaft, no ZooKeeper, no Docker) for tests and demos.

The official broker artifacts (``org.apache.kafka:kafka_2.13``) and their runtime dependencies
are fetched from Maven Central with ``mvn`` once, into a cache reused by every later run; each
:class:`LocalKafka` then formats fresh KRaft storage in a temporary directory and runs the
broker with ``java -cp 'libs/*' kafka.Kafka server.properties`` on free loopback ports.

Example::

    from streams.testing.local_kafka import LocalKafka

    with LocalKafka() as kafka:
        kafka.create_topic("words", partitions=3)
        kafka.produce("words", [("k", "hello")])
        print(kafka.consume("words", 1))

``LocalKafka(nodes=3)`` runs three combined broker+controller nodes with a static controller
quorum; :meth:`LocalKafka.stop_node` / :meth:`LocalKafka.start_node` take one down and bring it
back with its data, and :meth:`LocalKafka.pause_node` / :meth:`LocalKafka.resume_node` freeze one
(SIGSTOP) and let it go on (SIGCONT).

Environment variables:

``STREAMS_KAFKA_VERSION``
    Kafka version to run (default :data:`DEFAULT_KAFKA_VERSION`; 4.x only).
``STREAMS_KAFKA_CACHE``
    Cache root (default ``~/.cache/streams/kafka``); jars go to ``<root>/<version>/libs``.
``STREAMS_KAFKA_JVM_OPTS``
    Extra JVM options appended to the broker command line (split like a shell would).
``STREAMS_KAFKA_CDS``
    ``0`` disables the class-data-sharing archive that roughly halves JVM start-up.
``STREAMS_KAFKA_KEEP_DATA``
    ``1`` keeps the data directory (logs, configs) after stop, for post-mortems.

The JVM runs in its own process group and, on Linux, is told to die with its parent
(``PR_SET_PDEATHSIG``), so even ``kill -9`` of the Python process leaves no broker behind.
The parent is the *thread* that started it: start brokers from a long-lived thread (the main
thread in pytest and the CLI).

Modules, one job each:

- :mod:`~streams.testing.local_kafka.java`: finding ``java`` (17+) and ``mvn``.
- :mod:`~streams.testing.local_kafka.distribution`: the Kafka version, the jar cache, and
  fetching the broker's jars with Maven.
- :mod:`~streams.testing.local_kafka.broker_config`: node ports and files, rendered
  ``server.properties`` and log4j2 config, cluster ids, free ports.
- :mod:`~streams.testing.local_kafka.jvm_command`: a node's ``java`` command line and its
  class-data-sharing archive.
- :mod:`~streams.testing.local_kafka.processes`: process groups, signals, termination,
  clean-up at exit and of stale data directories.
- :mod:`~streams.testing.local_kafka.logs`: log tails and error lines for failure reports.
- :mod:`~streams.testing.local_kafka.readiness`: waiting until started nodes answer.
- :mod:`~streams.testing.local_kafka.cluster`: :class:`LocalKafka` itself.
"""

from streams.testing.local_kafka.broker_config import (
    NodeSpec,
    broker_properties,
    free_ports,
    generate_cluster_id,
    render_log4j2_config,
    render_properties,
)
from streams.testing.local_kafka.cluster import LocalKafka
from streams.testing.local_kafka.distribution import (
    DEFAULT_KAFKA_VERSION,
    LOG4J_VERSION,
    KafkaDistribution,
    cache_root,
    kafka_version,
    render_pom,
    resolve_kafka,
)
from streams.testing.local_kafka.java import (
    INSTALL_HINT,
    JavaRuntime,
    find_java,
    find_maven,
    parse_java_version,
)
from streams.testing.local_kafka.jvm_command import BROKER_MAIN_CLASS, STORAGE_TOOL_MAIN_CLASS
from streams.testing.local_kafka.processes import sweep_stale_data_dirs

__all__ = [
    "BROKER_MAIN_CLASS",
    "DEFAULT_KAFKA_VERSION",
    "INSTALL_HINT",
    "LOG4J_VERSION",
    "STORAGE_TOOL_MAIN_CLASS",
    "JavaRuntime",
    "KafkaDistribution",
    "LocalKafka",
    "NodeSpec",
    "broker_properties",
    "cache_root",
    "find_java",
    "find_maven",
    "free_ports",
    "generate_cluster_id",
    "kafka_version",
    "parse_java_version",
    "render_log4j2_config",
    "render_pom",
    "render_properties",
    "resolve_kafka",
    "sweep_stale_data_dirs",
]
