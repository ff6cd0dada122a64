"""The broker's jars: which Kafka version, where they are cached, and fetching them with Maven.

The official broker artifacts (``org.apache.kafka:kafka_2.13``) and their runtime dependencies
are fetched from Maven Central with ``mvn`` once, into a cache reused by every later run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from streams.errors import KafkaUnavailableError
from streams.testing.local_kafka.java import JavaRuntime, find_maven
from streams.testing.local_kafka.logs import _tail_lines

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "LOG4J_VERSION",
    "KafkaDistribution",
    "cache_root",
    "kafka_version",
    "render_pom",
    "resolve_kafka",
]

log = logging.getLogger(__name__)

#: Kafka release used unless ``STREAMS_KAFKA_VERSION`` says otherwise (latest 4.x on Central).
DEFAULT_KAFKA_VERSION = "4.4.0"
#: Scala binary version of the broker artifact (4.x ships only 2.13).
SCALA_BINARY_VERSION = "2.13"
#: Kafka 4 logs through slf4j 1.7 into log4j2; the broker pom leaves the binding out (the
#: distribution tarball adds it), so we add log4j-slf4j-impl, pinning api/core to one version.
LOG4J_VERSION = "2.25.5"
#: Pinned so the result does not depend on whatever old plugin Maven's super-POM defaults to.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

ENV_VERSION = "STREAMS_KAFKA_VERSION"
ENV_CACHE = "STREAMS_KAFKA_CACHE"

_MARKER = ".complete"


def kafka_version() -> str:
    """The Kafka version to run: ``$STREAMS_KAFKA_VERSION`` or :data:`DEFAULT_KAFKA_VERSION`."""
    return os.environ.get(ENV_VERSION, "").strip() or DEFAULT_KAFKA_VERSION


def cache_root() -> Path:
    """Root of the jar cache: ``$STREAMS_KAFKA_CACHE`` or ``~/.cache/streams/kafka``."""
    configured = os.environ.get(ENV_CACHE, "").strip()
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "streams" / "kafka"


@dataclass(frozen=True)
class KafkaDistribution:
    """A complete, cached set of broker jars for one Kafka version."""

    version: str
    home: Path

    @property
    def libs(self) -> Path:
        """Directory holding every jar of the broker's runtime classpath."""
        return self.home / "libs"

    @property
    def classpath(self) -> str:
        """A ``java -cp`` wildcard entry; the JVM expands it, keeping the command line short."""
        return str(self.libs / "*")

    def cds_archive(self, java: JavaRuntime) -> Path:
        """Where the class-data-sharing archive for this JVM build lives (may not exist yet)."""
        return self.home / f"cds-{java.fingerprint}.jsa"


def render_pom(version: str, log4j_version: str = LOG4J_VERSION) -> str:
    """A throwaway pom whose runtime classpath is exactly what the broker needs."""
    deps = [
        ("org.apache.kafka", f"kafka_{SCALA_BINARY_VERSION}", version),
        ("org.apache.logging.log4j", "log4j-api", log4j_version),
        ("org.apache.logging.log4j", "log4j-core", log4j_version),
        ("org.apache.logging.log4j", "log4j-slf4j-impl", log4j_version),
    ]
    dep_xml = "\n".join(
        "    <dependency>"
        f"<groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version>"
        "</dependency>"
        for g, a, v in deps
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>streams.local</groupId>
  <artifactId>kafka-broker-classpath</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{dep_xml}
  </dependencies>
</project>
"""


def _is_complete(home: Path) -> bool:
    return (home / _MARKER).is_file() and (home / "libs").is_dir()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def resolve_kafka(
    version: str | None = None,
    root: Path | None = None,
    *,
    timeout: float = 900.0,
) -> KafkaDistribution:
    """Return the cached broker jars for ``version``, fetching them with ``mvn`` if needed.

    When ``<root>/<version>/.complete`` exists nothing else happens (no ``mvn`` needed).
    Otherwise, under an exclusive file lock, ``mvn dependency:copy-dependencies`` copies the
    runtime classpath into a private temporary directory which is then renamed into place, so
    concurrent callers (parallel test runs) never see a half-filled directory and fetch once.
    """
    version = version or kafka_version()
    root = root if root is not None else cache_root()
    home = root / version
    dist = KafkaDistribution(version=version, home=home)
    if _is_complete(home):
        return dist
    with _file_lock(root / f".{version}.lock"):
        if _is_complete(home):
            return dist
        mvn = find_maven()
        staging = Path(tempfile.mkdtemp(prefix=f".{version}.tmp-", dir=root))
        try:
            _run_maven(mvn, version, staging, timeout)
            # mkdtemp makes it private; the cache may be shared (CI caches, other users).
            staging.chmod(0o755)
            if home.exists():
                # Left by an older, interrupted layout; nothing else writes here without the lock.
                shutil.rmtree(home)
            os.rename(staging, home)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return dist


def _run_maven(mvn: str, version: str, staging: Path, timeout: float) -> None:
    pom = staging / "pom.xml"
    pom.write_text(render_pom(version))
    libs = staging / "libs"
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={libs}",
    ]
    log.info("fetching Apache Kafka %s jars from Maven Central: %s", version, shlex.join(cmd))
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            cwd=staging,
        )
    except subprocess.TimeoutExpired as exc:
        raise KafkaUnavailableError(
            f"`mvn` did not finish fetching Kafka {version} within {timeout:.0f} s"
        ) from exc
    if proc.returncode != 0:
        output = _tail_lines((proc.stdout or "") + (proc.stderr or ""), 30)
        raise KafkaUnavailableError(
            f"`mvn` failed (exit {proc.returncode}) fetching org.apache.kafka:kafka_"
            f"{SCALA_BINARY_VERSION}:{version} from Maven Central. Is the version right and "
            f"Maven Central reachable?\n--- mvn output (tail) ---\n{output}"
        )
    jars = sorted(p.name for p in libs.glob("*.jar")) if libs.is_dir() else []
    expected = f"kafka_{SCALA_BINARY_VERSION}-{version}.jar"
    if expected not in jars:
        raise KafkaUnavailableError(
            f"`mvn` succeeded but {expected} is missing from {libs} (got {len(jars)} jars)"
        )
    marker = {
        "version": version,
        "log4j": LOG4J_VERSION,
        "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.monotonic() - started, 1),
        "jars": jars,
    }
    (staging / _MARKER).write_text(json.dumps(marker, indent=2) + "\n")
