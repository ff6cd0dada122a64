"""Checkpoint files: the changelog offsets up to which a task's local stores are known to be valid.

The format is Kafka Streams' ``.checkpoint`` file, so the files are readable by the same tools::

    0                       <- version
    2                       <- number of entries
    app-counts-changelog 3 1042
    app-seen-changelog 3 77

One ``topic partition offset`` line per entry (Kafka topic names cannot contain spaces). The
file is replaced atomically (write a temporary file, fsync, rename, fsync the directory), so a
crash leaves either the old checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from streams.errors import StateStoreError

__all__ = ["CHECKPOINT_FILE_NAME", "OffsetCheckpoint"]

#: Name of a task's checkpoint file inside its state directory.
CHECKPOINT_FILE_NAME = ".checkpoint"

_VERSION = 0

log = logging.getLogger(__name__)


class OffsetCheckpoint:
    """Reads and writes one checkpoint file of ``(topic, partition) -> offset``.

    Example::

        cp = OffsetCheckpoint(task_dir / ".checkpoint")
        cp.write({("app-counts-changelog", 3): 1042})
        cp.read()  # {("app-counts-changelog", 3): 1042}
    """

    def __init__(self, path: Path | str) -> None:
        """Checkpoint stored at ``path`` (the file need not exist yet)."""
        self._path = Path(path)

    @property
    def path(self) -> Path:
        """The checkpoint file's path."""
        return self._path

    def read(self) -> dict[tuple[str, int], int]:
        """The offsets in the file; empty if it does not exist.

        Raises :class:`StateStoreError` naming the file if it is unreadable or malformed; the
        runtime then treats the task as having no checkpoint.
        """
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise StateStoreError(f"could not read checkpoint file {self._path}: {exc}") from exc
        lines = text.splitlines()
        if not lines or not "".join(lines).strip():
            return {}  # an empty file is treated as absent, as Kafka Streams does
        try:
            version = int(lines[0].strip())
            if version != _VERSION:
                raise ValueError(f"unsupported version {version}")
            expected = int(lines[1].strip())
            if expected < 0:
                raise ValueError(f"negative entry count {expected}")
            entries = [line for line in lines[2:] if line.strip()]
            if len(entries) != expected:
                raise ValueError(f"expected {expected} entries but found {len(entries)}")
            offsets: dict[tuple[str, int], int] = {}
            for line in entries:
                parts = line.split()
                if len(parts) != 3:
                    raise ValueError(f"malformed entry {line!r}")
                topic, partition, offset = parts[0], int(parts[1]), int(parts[2])
                offsets[(topic, partition)] = offset
        except (ValueError, IndexError) as exc:
            raise StateStoreError(f"corrupt checkpoint file {self._path}: {exc}") from exc
        return offsets

    def write(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Atomically replace the file with ``offsets``.

        Negative offsets (meaning "unknown") are skipped with a warning, as Kafka Streams does,
        so that a restart restores those partitions in full.
        """
        valid: list[tuple[str, int, int]] = []
        for (topic, partition), offset in offsets.items():
            if offset < 0:
                log.warning(
                    "not checkpointing invalid offset %d for %s-%d in %s",
                    offset,
                    topic,
                    partition,
                    self._path,
                )
                continue
            if not topic or any(c.isspace() for c in topic):
                raise StateStoreError(f"cannot checkpoint topic name {topic!r} in {self._path}")
            valid.append((topic, partition, offset))
        body = [str(_VERSION), str(len(valid))]
        body.extend(f"{topic} {partition} {offset}" for topic, partition, offset in sorted(valid))
        data = ("\n".join(body) + "\n").encode("utf-8")

        tmp = self._path.with_name(self._path.name + ".tmp")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path)
            _fsync_dir(self._path.parent)
        except OSError as exc:
            raise StateStoreError(f"could not write checkpoint file {self._path}: {exc}") from exc

    def delete(self) -> None:
        """Remove the file (no error if it does not exist)."""
        try:
            self._path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StateStoreError(f"could not delete checkpoint file {self._path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"OffsetCheckpoint({str(self._path)!r})"


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable. Not every platform can open a directory (Windows).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
