"""The Kafka-free core that runs a topology's tasks: shared by the runtime's stream threads
and by :class:`~streams.testing.TopologyTestDriver`. Nothing here imports a Kafka client."""
