"""The command line of a node's JVM: heap, collector and JIT flags, log4j2 config, classpath and
main class, and the class-data-sharing (CDS) archive it reads or writes.

The archive (classes parsed and verified once, then memory-mapped) roughly halves the JVM's
share of start-up. It is tied to one JVM build and jar set, so it lives in the version's cache
directory under the JVM's fingerprint (:meth:`KafkaDistribution.cds_archive`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from streams.testing.local_kafka.broker_config import NodeSpec
from streams.testing.local_kafka.distribution import KafkaDistribution
from streams.testing.local_kafka.java import JavaRuntime

__all__ = [
    "BROKER_MAIN_CLASS",
    "ENV_CDS",
    "STORAGE_TOOL_MAIN_CLASS",
    "archive_options",
    "cds_enabled",
    "install_archive",
    "java_command",
]

BROKER_MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_MAIN_CLASS = "kafka.tools.StorageTool"

ENV_CDS = "STREAMS_KAFKA_CDS"


def java_command(
    java: JavaRuntime,
    dist: KafkaDistribution,
    spec: NodeSpec,
    main_class: str,
    *,
    heap: str,
    fast_start: bool,
    archive: Sequence[str],
    jvm_options: Sequence[str],
) -> list[str]:
    """``java`` running ``main_class`` of ``dist`` for node ``spec``: our flags, then the
    ``archive`` options, then ``jvm_options`` (so they win), then classpath and main class.

    ``fast_start`` adds C1-only JIT (``-XX:TieredStopAtLevel=1``).
    """
    cmd = [
        java.executable,
        f"-Xmx{heap}",
        "-Xss1m",
        # One small collector thread instead of G1's machinery: faster start, fine for tests.
        "-XX:+UseSerialGC",
        "-XX:-UsePerfData",
        "-Xshare:auto",
        "-Djava.awt.headless=true",
        "-Djava.net.preferIPv4Stack=true",
        f"-Dlog4j2.configurationFile=file:{spec.log4j_file}",
        f"-Dkafka.logs.dir={spec.directory}",
    ]
    if fast_start:
        cmd.append("-XX:TieredStopAtLevel=1")
    cmd += archive
    cmd += jvm_options
    cmd += ["-cp", dist.classpath, main_class]
    return cmd


def cds_enabled() -> bool:
    """Whether JVMs use a class-data-sharing archive: unless ``$STREAMS_KAFKA_CDS`` is ``0``."""
    return os.environ.get(ENV_CDS, "1") != "0"


def archive_options(archive: Path, *, may_write: bool) -> tuple[list[str], Path | None]:
    """JVM options using the class-data archive ``archive`` if it exists; otherwise, when
    ``may_write``, options writing one at exit to a fresh staging path next to it.

    Returns the options and the staging path (``None`` unless the JVM is to write one), which
    :func:`install_archive` moves into place once that JVM has exited.
    """
    if archive.is_file():
        return [f"-XX:SharedArchiveFile={archive}"], None
    if not may_write:
        return [], None
    staging = archive.with_name(f"{archive.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    return [f"-XX:ArchiveClassesAtExit={staging}"], staging


def install_archive(staging: Path, archive: Path | None, exit_code: int | None) -> None:
    """Move the archive a JVM wrote to ``staging`` into place at ``archive`` when the JVM exited
    cleanly (``exit_code`` 0 or 143) and wrote something; otherwise delete the staging file."""
    # 143 = exit after SIGTERM: the JVM ran its exit path and finished writing the archive.
    clean = exit_code in (0, 143)
    if clean and staging.is_file() and staging.stat().st_size > 0 and archive is not None:
        with contextlib.suppress(OSError):
            os.replace(staging, archive)
            return
    with contextlib.suppress(OSError):
        staging.unlink()
