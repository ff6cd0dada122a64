"""streams: Kafka Streams-style stream processing for Python."""
