"""One hop to another instance: a query this instance cannot answer goes to the one that
can (found with the owner metadata), and its answer comes back as it is.

A forwarded request carries :data:`FORWARDED_HEADER`; an instance receiving one never
forwards again (if it no longer owns the key, the placement changed under the request and it
says so), so a request crosses at most one hop and can never loop.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from streams.runtime.streams_metadata import HostInfo

FORWARDED_HEADER = "X-Streams-Forwarded"


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, body and its content type."""

    status: int
    body: bytes
    content_type: str = "application/json"


class OwnerUnreachable(Exception):
    """The instance a request was meant for did not answer."""


def forward(host: HostInfo, path_and_query: str, token: str | None, timeout: float) -> Reply:
    """GET ``path_and_query`` from ``host``; its answer, whatever the status. Raises
    :class:`OwnerUnreachable` when it cannot be reached in ``timeout`` seconds."""
    url = f"http://{host.host}:{host.port}{path_and_query}"
    request = urllib.request.Request(url, headers={FORWARDED_HEADER: "1"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, response.read(),
                         response.headers.get("Content-Type", "application/json"))
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read(), exc.headers.get("Content-Type", "application/json"))
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OwnerUnreachable(f"{host} did not answer: {reason}") from exc
