"""The typed key-value store processors and queries see (Kafka Streams' MeteredKeyValueStore role).

:class:`KeyValueStore` turns keys and values into bytes with the store's serdes and delegates to
a :class:`~streams.state.api.KeyValueBytesStore` (usually a changelogging layer over an
in-memory or RocksDB store). The serde topic is the store's changelog topic,
``<application.id>-<store>-changelog``, as in Kafka Streams.

This layer runs once per store access per record, so it is kept thin: serializer and inner-store
methods are bound to attributes at ``init``, and every method is one or two calls deep. Before
``init`` and after ``close`` those attributes point to a function that raises
:class:`InvalidStateStoreError`, which is how a closed store is detected without a per-call
check.

:class:`ReadOnlyKeyValueStoreView` is what interactive queries (``app.store(name)``) hand out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from streams.errors import InvalidStateStoreError, StateStoreError
from streams.serdes.base import Serde
from streams.state.api import KeyValueBytesStore, StateStore, StateStoreContext, changelog_topic

if TYPE_CHECKING:
    from streams.state.api import ReadOnlyKeyValueStore

__all__ = ["KeyValueStore", "ReadOnlyKeyValueStoreView"]

K = TypeVar("K")
V = TypeVar("V")
P = TypeVar("P")
S = TypeVar("S", bound=StateStore)

_BytesIter = Iterator[tuple[bytes, bytes]]


class _TypedBase(Generic[K, V, S]):
    """Serde plumbing and lifecycle shared by the typed key-value, window and session stores."""

    __slots__ = ("_inner", "_kde", "_kse", "_topic", "_vde", "_vse", "key_serde", "value_serde")

    def __init__(self, inner: S, key_serde: Serde[K], value_serde: Serde[V]) -> None:
        if key_serde is None or value_serde is None:
            raise StateStoreError(f"state store {inner.name!r} needs a key serde and a value serde")
        self._inner: S = inner
        #: Serde of the keys.
        self.key_serde: Serde[K] = key_serde
        #: Serde of the values.
        self.value_serde: Serde[V] = value_serde
        self._topic = ""
        self._kse: Callable[[str, K | None], bytes | None] = key_serde.serialize
        self._kde: Callable[[str, bytes | None], K | None] = key_serde.deserialize
        self._vse: Callable[[str, V | None], bytes | None] = value_serde.serialize
        self._vde: Callable[[str, bytes | None], V | None] = value_serde.deserialize

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The store's name."""
        return self._inner.name

    @property
    def persistent(self) -> bool:
        """True when the innermost store keeps data on disk."""
        return self._inner.persistent

    @property
    def is_open(self) -> bool:
        """True between :meth:`init` and :meth:`close`."""
        return self._inner.is_open

    @property
    def inner(self) -> S:
        """The wrapped bytes store (the changelogging layer, or the store itself)."""
        return self._inner

    @property
    def serde_topic(self) -> str:
        """The topic passed to the serdes: the store's changelog topic (empty before init)."""
        return self._topic

    def init(self, context: StateStoreContext) -> None:
        """Open the inner stores for ``context``'s task; serdes use the changelog topic."""
        self._topic = changelog_topic(context.application_id, self._inner.name)
        self._inner.init(context)

    def flush(self) -> None:
        """Flush the inner stores."""
        self._inner.flush()

    def close(self) -> None:
        """Close the inner stores; later access raises ``InvalidStateStoreError``."""
        self._inner.close()

    def _key_bytes(self, key: K) -> bytes:
        data = self._kse(self._topic, key)
        if data is None:
            raise StateStoreError(f"state store {self._inner.name!r} does not accept None keys")
        return data

    def _bound(self, key: K | None) -> bytes | None:
        return None if key is None else self._kse(self._topic, key)


class KeyValueStore(_TypedBase[K, V, KeyValueBytesStore]):
    """A key-value store of ``K`` to ``V`` over a bytes store, using the given serdes.

    ``put(key, None)`` deletes, as in Kafka Streams. Iteration order is the byte order of the
    serialized keys (so, e.g., big-endian ``Long`` keys of the same sign sort numerically).

    Example::

        store = KeyValueStore(InMemoryKeyValueStore("counts"), String(), Long())
        store.init(context)
        store.put("alice", 3)
        store.get("alice")  # 3
    """

    __slots__ = (
        "_all",
        "_delete",
        "_get",
        "_open",
        "_prefix_scan",
        "_put",
        "_put_all",
        "_put_if_absent",
        "_range",
        "_reverse_all",
        "_reverse_range",
    )

    def __init__(
        self, inner: KeyValueBytesStore, key_serde: Serde[K], value_serde: Serde[V]
    ) -> None:
        """Wrap ``inner``; nothing is opened until :meth:`init`."""
        super().__init__(inner, key_serde, value_serde)
        self._open = False
        self._get: Callable[[bytes], bytes | None]
        self._put: Callable[[bytes, bytes | None], None]
        self._put_if_absent: Callable[[bytes, bytes | None], bytes | None]
        self._put_all: Callable[[Iterable[tuple[bytes, bytes | None]]], None]
        self._delete: Callable[[bytes], bytes | None]
        self._range: Callable[[bytes | None, bytes | None], _BytesIter]
        self._reverse_range: Callable[[bytes | None, bytes | None], _BytesIter]
        self._all: Callable[[], _BytesIter]
        self._reverse_all: Callable[[], _BytesIter]
        self._prefix_scan: Callable[[bytes], _BytesIter]
        self._bind_unavailable("not initialized")

    def _bind_unavailable(self, state: str) -> None:
        message = (
            f"state store {self._inner.name!r} is {state}; it may have been closed or migrated "
            "to another instance"
        )

        def unavailable(*_args: Any) -> NoReturn:
            raise InvalidStateStoreError(message)

        self._get = self._put = self._put_if_absent = self._put_all = unavailable
        self._delete = self._range = self._reverse_range = unavailable
        self._all = self._reverse_all = self._prefix_scan = unavailable

    def _bind_open(self) -> None:
        inner = self._inner
        self._get = inner.get
        self._put = inner.put
        self._put_if_absent = inner.put_if_absent
        self._put_all = inner.put_all
        self._delete = inner.delete
        self._range = inner.range
        self._reverse_range = inner.reverse_range
        self._all = inner.all
        self._reverse_all = inner.reverse_all
        self._prefix_scan = inner.prefix_scan

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True between :meth:`init` and :meth:`close`."""
        return self._open and self._inner.is_open

    def init(self, context: StateStoreContext) -> None:
        """Open the inner stores for ``context``'s task and bind the serdes to the changelog topic."""
        self._topic = changelog_topic(context.application_id, self._inner.name)
        self._inner.init(context)
        self._bind_open()
        self._open = True

    def close(self) -> None:
        """Close the inner stores; later access raises :class:`InvalidStateStoreError`."""
        self._open = False
        self._bind_unavailable("closed")
        self._inner.close()

    # -- point operations ------------------------------------------------------------------

    def get(self, key: K) -> V | None:
        """The value stored under ``key``, or None."""
        t = self._topic
        data = self._kse(t, key)
        if data is None:
            return None
        return self._vde(t, self._get(data))

    def put(self, key: K, value: V | None) -> None:
        """Store ``value`` under ``key``; ``None`` deletes the key."""
        t = self._topic
        data = self._kse(t, key)
        if data is None:
            raise StateStoreError(f"state store {self._inner.name!r} does not accept None keys")
        self._put(data, self._vse(t, value))

    def put_if_absent(self, key: K, value: V | None) -> V | None:
        """Store ``value`` only if ``key`` has no value; return the value that was there."""
        t = self._topic
        return self._vde(t, self._put_if_absent(self._key_bytes(key), self._vse(t, value)))

    def put_all(self, entries: Iterable[tuple[K, V | None]]) -> None:
        """``put`` every (key, value) pair, in order."""
        t, key_bytes, vse = self._topic, self._key_bytes, self._vse
        self._put_all([(key_bytes(k), vse(t, v)) for k, v in entries])

    def delete(self, key: K) -> V | None:
        """Remove ``key``; return its old value (None if it had none)."""
        return self._vde(self._topic, self._delete(self._key_bytes(key)))

    def approximate_num_entries(self) -> int:
        """The inner store's (approximate) number of keys."""
        return self._inner.approximate_num_entries()

    def set_flush_listener(self, listener: Callable[[K, V | None, V | None], None]) -> bool:
        """With a record cache below: call ``listener(key, new, old)`` for every cached update
        when it is flushed, and return True (the caller forwards from the listener instead of
        on every write). Without one: False."""
        register = getattr(self._inner, "set_flush_listener", None)
        if register is None:
            return False

        def flushed(key: bytes, new: bytes | None, old: bytes | None) -> None:
            t, vde = self._topic, self._vde
            listener(self._kde(t, key),  # type: ignore[arg-type]
                     None if new is None else vde(t, new), None if old is None else vde(t, old))

        return bool(register(flushed))

    # -- scans -----------------------------------------------------------------------------
    # Each scan opens the inner iterator immediately (fixing its snapshot) and only the
    # deserialization is lazy.

    def range(self, from_key: K | None, to_key: K | None) -> Iterator[tuple[K, V]]:
        """Entries with ``from_key <= key <= to_key`` (by serialized bytes), ascending."""
        return self._typed(self._range(self._bound(from_key), self._bound(to_key)))

    def reverse_range(self, from_key: K | None, to_key: K | None) -> Iterator[tuple[K, V]]:
        """Entries with ``from_key <= key <= to_key`` (by serialized bytes), descending."""
        return self._typed(self._reverse_range(self._bound(from_key), self._bound(to_key)))

    def all(self) -> Iterator[tuple[K, V]]:
        """Every entry, ascending by serialized key."""
        return self._typed(self._all())

    def reverse_all(self) -> Iterator[tuple[K, V]]:
        """Every entry, descending by serialized key."""
        return self._typed(self._reverse_all())

    def prefix_scan(self, prefix: P, prefix_serde: Serde[P] | None = None) -> Iterator[tuple[K, V]]:
        """Entries whose serialized key starts with the serialized ``prefix``.

        ``prefix_serde`` serializes the prefix; by default the key serde is used (which suits,
        e.g., string keys: ``prefix_scan("user-")``).
        """
        if prefix_serde is not None:
            data = prefix_serde.serialize(self._topic, prefix)
        else:
            data = self._kse(self._topic, prefix)  # type: ignore[arg-type]
        return self._typed(self._prefix_scan(data or b""))

    def _typed(self, items: _BytesIter) -> Iterator[tuple[K, V]]:
        t, kde, vde = self._topic, self._kde, self._vde
        for key, value in items:
            yield kde(t, key), vde(t, value)  # type: ignore[misc]  # non-None bytes -> value

    def __repr__(self) -> str:
        return (
            f"KeyValueStore(name={self.name!r}, key_serde={self.key_serde!r}, "
            f"value_serde={self.value_serde!r})"
        )


class ReadOnlyKeyValueStoreView(Generic[K, V]):
    """Read-only access to a :class:`KeyValueStore`, for interactive queries.

    Reads raise :class:`InvalidStateStoreError` while the store is not open (closed during a
    rebalance, migrated, or not yet initialized): callers should re-fetch the store and retry.
    Writes always raise :class:`InvalidStateStoreError`.
    """

    __slots__ = ("_store",)

    def __init__(self, store: KeyValueStore[K, V]) -> None:
        """Wrap ``store``; the view stays valid only as long as the store is open."""
        self._store = store

    @property
    def name(self) -> str:
        """The store's name."""
        return self._store.name

    def _check(self) -> KeyValueStore[K, V]:
        store = self._store
        if not store.is_open:
            raise InvalidStateStoreError(
                f"state store {store.name!r} is not open (closed, migrated to another instance, "
                "or not yet initialized); fetch the store again and retry"
            )
        return store

    def get(self, key: K) -> V | None:
        """The value stored under ``key``, or None."""
        return self._check().get(key)

    def range(self, from_key: K | None, to_key: K | None) -> Iterator[tuple[K, V]]:
        """Entries with ``from_key <= key <= to_key``, ascending; None is unbounded."""
        return self._check().range(from_key, to_key)

    def reverse_range(self, from_key: K | None, to_key: K | None) -> Iterator[tuple[K, V]]:
        """Entries with ``from_key <= key <= to_key``, descending; None is unbounded."""
        return self._check().reverse_range(from_key, to_key)

    def all(self) -> Iterator[tuple[K, V]]:
        """Every entry, ascending."""
        return self._check().all()

    def reverse_all(self) -> Iterator[tuple[K, V]]:
        """Every entry, descending."""
        return self._check().reverse_all()

    def prefix_scan(self, prefix: Any, prefix_serde: Any = None) -> Iterator[tuple[K, V]]:
        """Entries whose serialized key starts with the serialized ``prefix``."""
        return self._check().prefix_scan(prefix, prefix_serde)

    def approximate_num_entries(self) -> int:
        """The store's (approximate) number of keys."""
        return self._check().approximate_num_entries()

    def _read_only(self, operation: str) -> NoReturn:
        raise InvalidStateStoreError(
            f"state store {self._store.name!r} is read-only here: {operation} is not allowed "
            "through an interactive-query view"
        )

    def put(self, key: K, value: V | None) -> NoReturn:
        """Always raises :class:`InvalidStateStoreError`: the view is read-only."""
        self._read_only("put")

    def put_if_absent(self, key: K, value: V | None) -> NoReturn:
        """Always raises :class:`InvalidStateStoreError`: the view is read-only."""
        self._read_only("put_if_absent")

    def put_all(self, entries: Iterable[tuple[K, V | None]]) -> NoReturn:
        """Always raises :class:`InvalidStateStoreError`: the view is read-only."""
        self._read_only("put_all")

    def delete(self, key: K) -> NoReturn:
        """Always raises :class:`InvalidStateStoreError`: the view is read-only."""
        self._read_only("delete")

    def __repr__(self) -> str:
        return f"ReadOnlyKeyValueStoreView(name={self.name!r})"


if TYPE_CHECKING:

    def _is_state_store(store: KeyValueStore[Any, Any]) -> StateStore:
        return store

    def _is_readable(store: KeyValueStore[str, int]) -> ReadOnlyKeyValueStore[str, int]:
        return store

    def _view_is_readable(
        view: ReadOnlyKeyValueStoreView[str, int],
    ) -> ReadOnlyKeyValueStore[str, int]:
        return view
