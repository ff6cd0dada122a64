"""Finding the programs the local broker needs: ``java`` (17 or newer) and, to fetch jars, ``mvn``.

A missing or too old program raises :class:`~streams.errors.KafkaUnavailableError` that names
what to install.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from streams.errors import KafkaUnavailableError

__all__ = [
    "INSTALL_HINT",
    "MIN_JAVA_MAJOR",
    "JavaRuntime",
    "find_java",
    "find_maven",
    "parse_java_version",
]

#: Kafka 4 brokers need Java 17.
MIN_JAVA_MAJOR = 17
#: What to install on Debian/Ubuntu when java or mvn is missing.
INSTALL_HINT = "apt-get install openjdk-17-jre-headless maven"


@dataclass(frozen=True)
class JavaRuntime:
    """A ``java`` executable that is new enough to run the broker."""

    executable: str
    major: int
    version_text: str

    @property
    def fingerprint(self) -> str:
        """Short id of this exact JVM build; class-data archives are only valid for one build."""
        raw = f"{os.path.realpath(self.executable)}\n{self.version_text}".encode()
        return hashlib.sha256(raw).hexdigest()[:12]


def parse_java_version(text: str) -> int | None:
    """Major version from ``java -version`` output: ``"1.8.0_292"`` -> 8, ``"17.0.2"`` -> 17."""
    match = re.search(r'version "([^"]+)"', text)
    if not match:
        return None
    numbers = re.findall(r"\d+", match.group(1))
    if not numbers:
        return None
    first = int(numbers[0])
    if first == 1 and len(numbers) > 1:
        return int(numbers[1])
    return first


def _java_candidates() -> list[str]:
    java_home = os.environ.get("JAVA_HOME")
    found = []
    if java_home:
        candidate = os.path.join(java_home, "bin", "java")
        if os.access(candidate, os.X_OK):
            found.append(candidate)
    on_path = shutil.which("java")
    if on_path:
        found.append(on_path)
    return found


def find_java() -> JavaRuntime:
    """Locate ``java`` (``$JAVA_HOME/bin/java`` first, then ``PATH``) and check it is 17+.

    Raises :class:`KafkaUnavailableError` naming what to install when it is missing or too old.
    """
    candidates = _java_candidates()
    if not candidates:
        raise KafkaUnavailableError(
            f"Java {MIN_JAVA_MAJOR}+ is needed to run the local Kafka broker, but no `java` was "
            f"found (JAVA_HOME unset and nothing on PATH). Install it, e.g. "
            f"`{INSTALL_HINT}`, or set KAFKA_BOOTSTRAP_SERVERS to use a running cluster."
        )
    return _probe_java(candidates[0])


@lru_cache(maxsize=8)
def _probe_java(executable: str) -> JavaRuntime:
    try:
        proc = subprocess.run(
            [executable, "-version"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KafkaUnavailableError(
            f"could not run `{executable} -version`: {exc}. Install Java {MIN_JAVA_MAJOR}+, "
            f"e.g. `{INSTALL_HINT}`."
        ) from exc
    output = (proc.stderr or "") + (proc.stdout or "")
    major = parse_java_version(output)
    if major is None or major < MIN_JAVA_MAJOR:
        shown = output.strip().splitlines()[0] if output.strip() else "no version output"
        raise KafkaUnavailableError(
            f"Kafka 4 needs Java {MIN_JAVA_MAJOR} or newer, but {executable} is {shown!r}. "
            f"Install a newer JDK/JRE, e.g. `{INSTALL_HINT}`, and put it first on PATH or in "
            f"JAVA_HOME."
        )
    return JavaRuntime(executable=executable, major=major, version_text=output.strip())


def find_maven() -> str:
    """Path of ``mvn``; needed only the first time a Kafka version is fetched."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise KafkaUnavailableError(
            "Maven (`mvn`) is needed once to download the Kafka broker jars from Maven Central, "
            f"but it is not on PATH. Install it, e.g. `{INSTALL_HINT}`, or set "
            "KAFKA_BOOTSTRAP_SERVERS to use a running cluster."
        )
    return mvn
