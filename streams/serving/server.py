"""The HTTP server of one instance: store queries routed to the owner, Prometheus metrics,
health and readiness, the topology.

Built on the standard library's ``ThreadingHTTPServer``: the endpoints are few, small and
read-only, so a thread per request is plenty, it adds no dependency, and it runs beside the
stream threads without touching them. A request only reads stores (as ``store()`` does) and
the last placement, so it never blocks a stream thread. Off unless ``http.listen`` is set.

Routes (all ``GET``)::

    /stores/{store}/keys/{key}   a key's value (window stores: ?from=&to=; ?stale=true)
    /stores/{store}/all          every entry, paged (?limit=&after=)
    /stores/{store}/range        entries from..to, paged (?from=&to=&limit=&after=)
    /metrics                     Prometheus text format
    /health                      200 unless the instance failed or stopped
    /ready                       200 when RUNNING with no active task restoring
    /topology                    the topology (?format=mermaid for a Mermaid flowchart)

Errors are JSON, ``{"error": "..."}``, with a 4xx status for a bad request and 503 when the
answer is elsewhere and cannot be had (the owner is named); never a stack trace. With
``http.auth.token`` every route but ``/health`` and ``/ready`` wants
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from streams.errors import ConfigError
from streams.serving.forward import FORWARDED_HEADER, Reply
from streams.serving.store_queries import StoreQueries, error, json_reply

log = logging.getLogger(__name__)

_OPEN_ROUTES = ("/health", "/ready")
_DOWN = ("ERROR", "PENDING_ERROR", "NOT_RUNNING", "PENDING_SHUTDOWN")


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port``, ``:port`` or ``port`` (loopback) as a (host, port) to bind."""
    host, sep, port = str(listen).rpartition(":")
    if not port.isdigit():
        raise ConfigError(f"http.listen must be host:port or port, got {listen!r}")
    host = host.strip("[]") if sep else ""
    return host or "127.0.0.1", int(port)


class StreamsHttpServer:
    """Serves one :class:`~streams.runtime.kafka_streams.KafkaStreams` over HTTP."""

    def __init__(self, app: Any, listen: str, *, token: str | None = None,
                 forward_timeout: float = 5.0,
                 metrics: Callable[[], bytes] | None = None) -> None:
        self.app = app
        self.token = token
        self.queries = StoreQueries(app, token, forward_timeout)
        self.metrics = metrics
        host, port = parse_listen(listen)
        self._httpd = ThreadingHTTPServer((host, port), _handler_class(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the server listens on (the real port when 0 was asked for)."""
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=f"{self.app.client_id}-http")
        self._thread.start()
        log.info("%s: HTTP server on %s:%d", self.app.client_id, *self.address)

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    # ------------------------------------------------------------------ routing
    def handle(self, path_and_query: str, headers: Any) -> Reply:
        """The answer to ``GET path_and_query``."""
        parts = urlsplit(path_and_query)
        path = parts.path.rstrip("/") or "/"
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if self.token and path not in _OPEN_ROUTES and not self._authorized(headers):
            return error(401, "missing or wrong bearer token (Authorization: Bearer <token>)")
        forwarded = headers.get(FORWARDED_HEADER) is not None
        segments = [unquote(s) for s in path.strip("/").split("/")]
        if segments[0] == "stores" and len(segments) >= 3:
            store = segments[1]
            if segments[2] == "keys" and len(segments) == 4:
                return self.queries.key(store, segments[3], params, path_and_query, forwarded)
            if segments[2] in ("all", "range") and len(segments) == 3:
                return self.queries.scan(store, segments[2], params, forwarded)
        if path == "/health":
            state = self.app.state.value
            return json_reply(503 if state in _DOWN else 200, {"state": state})
        if path == "/ready":
            return self._ready()
        if path == "/topology":
            description = self.app.topology.describe()
            if params.get("format") == "mermaid":
                return Reply(200, description.to_mermaid().encode(), "text/plain; charset=utf-8")
            return Reply(200, str(description).encode(), "text/plain; charset=utf-8")
        if path == "/metrics" and self.metrics is not None:
            return Reply(200, self.metrics(), "text/plain; version=0.0.4; charset=utf-8")
        return error(404, f"no route {path!r}", routes=[
            "/stores/{store}/keys/{key}", "/stores/{store}/all", "/stores/{store}/range",
            "/metrics", "/health", "/ready", "/topology"])

    def _authorized(self, headers: Any) -> bool:
        given = headers.get("Authorization") or ""
        return hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode())

    def _ready(self) -> Reply:
        state = self.app.state.value
        restoring = sorted(str(t) for th in self.app.threads if th.task_manager is not None
                           for t in list(th.task_manager.tasks)
                           if t not in th.task_manager.running)
        if restoring:
            return json_reply(503, {"ready": False, "state": state, "reason": "tasks restoring",
                                    "restoring": restoring})
        if state != "RUNNING":
            return json_reply(503, {"ready": False, "state": state,
                                    "reason": f"state is {state}"})
        return json_reply(200, {"ready": True, "state": state})


def _handler_class(server: StreamsHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            try:
                reply = server.handle(self.path, self.headers)
            except Exception as exc:
                log.exception("HTTP %s failed", self.path)
                reply = error(500, f"internal error: {type(exc).__name__}: {exc}")
            self._send(reply)

        def _refuse(self) -> None:
            self._send(error(405, f"method {self.command} not allowed; only GET"))

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            if reply.status == 401:
                self.send_header("WWW-Authenticate", "Bearer")
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s: " + format, self.address_string(), *args)

    return Handler
