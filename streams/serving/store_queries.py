"""Store queries over HTTP, answered by whichever instance holds the data.

* ``/stores/{store}/keys/{key}``: the owner of the key's partition answers (one hop away at
  most, :mod:`streams.serving.forward`); ``stale=true`` lets a standby copy answer too.
  Window stores take ``from`` and ``to`` (epoch ms) and answer the key's windows; session
  stores answer the key's sessions.
* ``/stores/{store}/all`` and ``/stores/{store}/range?from=..&to=..`` (key-value stores):
  every instance holding the store is asked for its part (``scope=local``), the parts are
  merged in key order, and ``limit`` entries come back with a ``next`` cursor for the page
  after (``after=<cursor>``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import msgspec

from streams.errors import InvalidStateStoreError
from streams.runtime.streams_metadata import HostInfo, KeyQueryMetadata
from streams.serdes.primitives import Bytes
from streams.serving.forward import OwnerUnreachable, Reply, forward
from streams.serving.keys import KeyTextError, checked_key, key_text, parse_key, to_json

#: entries per page when a request gives no ``limit``, and the most it may ask for
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


def json_reply(status: int, payload: Any) -> Reply:
    """A JSON answer."""
    return Reply(status, to_json(payload))


def error(status: int, reason: str, **more: Any) -> Reply:
    """A JSON error answer: ``{"error": reason, ...}``."""
    return json_reply(status, {"error": reason, **more})


class StoreQueries:
    """Answers the store routes for one instance (``app``: its :class:`KafkaStreams`)."""

    def __init__(self, app: Any, token: str | None, timeout: float) -> None:
        self.app = app
        self.token = token
        self.timeout = timeout
        server = app.config["application.server"]
        #: this instance as the owner metadata names it (None: no application.server)
        self.me: HostInfo | None = HostInfo.parse(server) if server else None

    # ------------------------------------------------------------------ helpers
    def _builder(self, store: str) -> Any:
        builder = self.app.topology.stores.get(store)
        if builder is None:
            raise _Refused(error(404, f"no state store named {store!r}",
                                 stores=sorted(self.app.topology.stores)))
        return builder

    def _key_serde(self, builder: Any) -> Any:
        return builder.key_serde or self.app.config.get("default.key.serde") or Bytes()

    def _key(self, store: str, text: str, serde: Any) -> Any:
        try:
            return checked_key(text, serde, store)
        except KeyTextError as exc:
            raise _Refused(error(400, f"store {store!r}: {exc}")) from exc

    def _local(self, store: str, stale: bool, read: Callable[[Any], Any]) -> Reply:
        try:
            return json_reply(200, read(self.app.store(store, stale=stale)))
        except InvalidStateStoreError as exc:
            return error(503, str(exc), retry=True)
        except _Refused as refused:
            return refused.reply

    # ------------------------------------------------------------------ keys
    def key(self, store: str, text: str, params: Mapping[str, str], path_and_query: str,
            forwarded: bool) -> Reply:
        """``/stores/{store}/keys/{key}``."""
        try:
            builder = self._builder(store)
            serde = self._key_serde(builder)
            key = self._key(store, text, serde)
            read = self._reader(builder, store, key, text, params)
        except _Refused as refused:
            return refused.reply
        stale = params.get("stale", "false").lower() == "true"
        if self.me is None:
            return self._local(store, stale, read)  # a single instance answers for all
        meta = self.app.query_metadata_for_key(store, key, serde)
        if meta == KeyQueryMetadata.NOT_AVAILABLE:
            return error(503, f"the owner of key {text!r} of store {store!r} is not known "
                         "right now (the group is rebalancing); retry", retry=True)
        if meta.active_host == self.me or (stale and self.me in meta.standby_hosts):
            return self._local(store, stale, read)
        if forwarded:
            return error(503, f"this instance ({self.me}) no longer holds key {text!r} of store "
                         f"{store!r}, its owner is {meta.active_host}: the placement changed; "
                         "retry", owner=str(meta.active_host), retry=True)
        targets = [meta.active_host, *(meta.standby_hosts if stale else [])]
        failures = []
        for host in targets:
            try:
                return forward(host, path_and_query, self.token, self.timeout)
            except OwnerUnreachable as exc:
                failures.append(str(exc))
        return error(503, f"the owner of key {text!r} of store {store!r} is unreachable: "
                     + "; ".join(failures), owner=str(meta.active_host))

    def _reader(self, builder: Any, store: str, key: Any, text: str,
                params: Mapping[str, str]) -> Callable[[Any], Any]:
        """How to read ``key`` from a local view of ``store``, by the store's kind."""
        kind = builder.store_type
        if kind in ("window", "timestamped_window"):
            lo = _int_param(params, "from", 0)
            hi = _int_param(params, "to", 2**63 - 1)
            size = getattr(getattr(builder, "supplier", None), "window_size_ms", None)
            return lambda view: {"store": store, "key": key, "windows": [
                {"start": start, "end": None if size is None else start + int(size),
                 "value": value} for start, value in view.fetch(key, lo, hi)]}
        if kind == "session":
            return lambda view: {"store": store, "key": key, "sessions": [
                {"start": wk.window.start, "end": wk.window.end, "value": value}
                for wk, value in view.fetch(key)]}

        def read(view: Any) -> Any:
            value = view.get(key)
            if value is None:
                raise _Refused(error(404, f"key {text!r} not found in store {store!r}"))
            return {"store": store, "key": key, "value": value}

        return read

    # ------------------------------------------------------------------ scans
    def scan(self, store: str, kind: str, params: Mapping[str, str], forwarded: bool) -> Reply:
        """``/stores/{store}/all`` and ``/stores/{store}/range``."""
        try:
            builder = self._builder(store)
            if builder.store_type not in ("key_value", "timestamped_key_value"):
                return error(400, f"store {store!r} is a {builder.store_type} store: query it "
                             "by key (/stores/{store}/keys/{key}, with from and to for windows)")
            serde = self._key_serde(builder)
            limit = _int_param(params, "limit", DEFAULT_LIMIT)
            if not 1 <= limit <= MAX_LIMIT:
                return error(400, f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
            bounds = None
            if kind == "range":
                if "from" not in params or "to" not in params:
                    return error(400, "a range needs both from and to (keys)")
                bounds = (self._key(store, params["from"], serde),
                          self._key(store, params["to"], serde))
            after = self._key(store, params["after"], serde) if "after" in params else None
        except _Refused as refused:
            return refused.reply
        stale = params.get("stale", "false").lower() == "true"
        local = params.get("scope") == "local" or forwarded or self.me is None
        entries: list[tuple[bytes, Any, Any]] = []
        if local:
            try:
                entries = self._local_page(store, serde, bounds, after, limit, stale)
            except InvalidStateStoreError:
                entries = []  # no task of this store here right now: nothing to add
            return json_reply(200, {"entries": [{"key": k, "value": v} for _, k, v in entries]})
        failures: list[str] = []
        for host in self._holders(store):
            if host == self.me:
                try:
                    entries += self._local_page(store, serde, bounds, after, limit, stale)
                except InvalidStateStoreError:
                    pass
                continue
            query = {**params, "scope": "local"}
            path = f"/stores/{quote(store, safe='')}/{kind}?{urlencode(query)}"
            try:
                reply = forward(host, path, self.token, self.timeout)
            except OwnerUnreachable as exc:
                failures.append(str(exc))
                continue
            if reply.status != 200:
                failures.append(f"{host} answered {reply.status}: {reply.body[:200]!r}")
                continue
            for e in msgspec.json.decode(reply.body)["entries"]:
                # the key came back as JSON: read it again as the serde's value
                key = parse_key(key_text(e["key"], serde), serde)
                entries.append((serde.serialize(store, key), key, e["value"]))
        if failures:
            return error(503, f"not every instance holding store {store!r} answered: "
                         + "; ".join(failures), retry=True)
        entries.sort(key=lambda e: e[0])
        page = entries[:limit]
        more = len(entries) > limit
        return json_reply(200, {
            "entries": [{"key": k, "value": v} for _, k, v in page],
            "next": key_text(page[-1][1], serde) if more and page else None})

    def _holders(self, store: str) -> list[HostInfo]:
        hosts = [m.host_info for m in self.app.streams_metadata_for_store(store)]
        if self.me is not None and self.me not in hosts:
            hosts.append(self.me)
        return sorted(set(hosts), key=str)

    def _local_page(self, store: str, serde: Any, bounds: tuple[Any, Any] | None, after: Any,
                    limit: int, stale: bool) -> list[tuple[bytes, Any, Any]]:
        """Up to ``limit`` + 1 of this instance's entries after ``after``, in key order. The
        local scans come in serialized-key order already: the page starts at the cursor and
        stops when full, instead of reading the whole store."""
        view = self.app.store(store, stale=stale)
        lo, hi = bounds if bounds is not None else (None, None)
        floor = serde.serialize(store, after) if after is not None else None
        if floor is not None and (lo is None or floor > serde.serialize(store, lo)):
            lo = after
        out: list[tuple[bytes, Any, Any]] = []
        for k, v in view.range(lo, hi):
            kb = serde.serialize(store, k)
            if floor is not None and kb <= floor:
                continue  # the cursor itself, shown on the page before
            out.append((kb, k, v))
            if len(out) > limit:
                break
        return out


class _Refused(Exception):
    """Carries an error answer out of nested helpers."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    if name not in params:
        return default
    try:
        return int(params[name])
    except ValueError as exc:
        raise _Refused(error(400, f"{name} must be an integer, not {params[name]!r}")) from exc

