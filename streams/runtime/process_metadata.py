"""The instance's process id, kept in its state directory across restarts.

The placement sends a task back to the instance that ran it by this id, so an instance that
restarts with its state directory is recognised and gets its tasks (and their local state)
back. Kafka Streams keeps its process id in the same way, in a file of the same name.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "kafka-streams-process-metadata"


def load_or_create_process_id(state_root: Path) -> str:
    """The process id stored in ``state_root``; a new one is stored if there is none or the
    file cannot be read (the instance then counts as new: its tasks may move)."""
    path = state_root / FILE_NAME
    try:
        found = json.loads(path.read_text())["processId"]
        if isinstance(found, str) and found:
            return found
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("could not read the process id in %s (%s); using a new one", path, exc)
    process_id = str(uuid.uuid4())
    state_root.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"processId": process_id}))
    tmp.replace(path)
    return process_id
