"""Suppression of intermediate table updates (``KTable.suppress``, KIP-328) and the emit
strategy of windowed aggregations (``emit_strategy``, KIP-825), as in Kafka Streams.

Value types:

* :class:`BufferConfig` -- how big the suppression buffer may grow and what happens when it is
  full: ``BufferConfig.unbounded()``, ``BufferConfig.max_records(n)``,
  ``BufferConfig.max_bytes(n)``, then ``.emit_early_when_full()`` or ``.shut_down_when_full()``.
* :class:`Suppressed` -- ``Suppressed.until_window_closes(buffer_config)`` (only the final result
  of each window) or ``Suppressed.until_time_limit(ms, buffer_config)`` (rate limiting).
* :class:`EmitStrategy` -- ``EmitStrategy.on_window_update()`` (default) or
  ``EmitStrategy.on_window_close()`` for ``windowed_by(...).emit_strategy(...)``.

Example::

    (builder.stream("clicks").group_by_key()
        .windowed_by(TimeWindows.of_size_and_grace(60_000, 10_000))
        .count()
        .suppress(Suppressed.until_window_closes(BufferConfig.unbounded()))
        .to_stream()
        .to("clicks-per-minute"))

The DSL wiring lives here too (:func:`build_suppress`, :func:`apply_emit_strategy`, the window
grace registry); the processor is in :mod:`streams.dsl.processors.suppress`, its buffer store
in :mod:`streams.dsl.processors.suppression_buffer`. The wiring works on the table it is given
and never makes one: ``KTable.suppress`` wraps what :func:`build_suppress` added in a new
KTable, so this module does not import :mod:`streams.dsl.ktable` (which imports it).
"""

from __future__ import annotations

import copy
import datetime
import enum
import weakref
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from streams.dsl.getters import GetterFactory
from streams.dsl.processors.suppress import KTableSuppressProcessor, suppressed_getter
from streams.dsl.processors.suppression_buffer import SuppressionBufferBuilder
from streams.dsl.unknown_serde import known_serde
from streams.errors import TopologyError
from streams.state.stores import Stores

if TYPE_CHECKING:
    from streams.dsl.builder import StreamsBuilder
    from streams.dsl.ktable import KTable

__all__ = [
    "BufferConfig",
    "BufferFullStrategy",
    "EmitStrategy",
    "Suppressed",
]


def _limit(what: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TopologyError(f"{what} must be a non-negative int, got {value!r}")
    return value


def _millis(what: str, value: int | datetime.timedelta) -> int:
    if isinstance(value, datetime.timedelta):
        value = value // datetime.timedelta(milliseconds=1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TopologyError(f"{what} must be a non-negative number of milliseconds (or a "
                            f"timedelta), got {value!r}")
    return value


class BufferFullStrategy(enum.Enum):
    """What a suppression buffer does when it exceeds its record or byte limit."""

    #: emit the oldest buffered records early until it is within its limits again
    EMIT = "emit"
    #: raise a StreamsError: the task (and the application) stops, as Kafka Streams shuts down
    SHUT_DOWN = "shut_down"


@dataclass(frozen=True)
class BufferConfig:
    """Size limits of a suppression buffer and what to do when they are exceeded.

    ``record_limit`` / ``byte_limit`` of None mean "no limit". A config that shuts down when
    full is *strict* (it never emits early); only strict configs are accepted by
    :meth:`Suppressed.until_window_closes`. Every ``with_*`` method returns a copy.

    The buffer is logged to ``<application.id>-<store>-changelog`` unless
    :meth:`with_logging_disabled` is used (then it is not fault tolerant).
    """

    record_limit: int | None = None
    byte_limit: int | None = None
    full_strategy: BufferFullStrategy = BufferFullStrategy.SHUT_DOWN
    logging_enabled: bool = True
    log_config: dict[str, str] = field(default_factory=dict)

    # ---- factories (Kafka Streams' static BufferConfig methods)
    @classmethod
    def unbounded(cls) -> BufferConfig:
        """No size limit: the buffer grows as the time bound requires. Strict."""
        return cls()

    @classmethod
    def max_records(cls, record_limit: int) -> BufferConfig:
        """At most ``record_limit`` keys; emits early when full (``emit_early_when_full``)."""
        return cls(record_limit=_limit("max_records", record_limit),
                   full_strategy=BufferFullStrategy.EMIT)

    @classmethod
    def max_bytes(cls, byte_limit: int) -> BufferConfig:
        """At most ``byte_limit`` bytes (see the docs for how entries are sized); emits early
        when full."""
        return cls(byte_limit=_limit("max_bytes", byte_limit), full_strategy=BufferFullStrategy.EMIT)

    # ---- modifiers
    def with_max_records(self, record_limit: int) -> BufferConfig:
        """A copy limited to ``record_limit`` keys (the full strategy is kept)."""
        return replace(self, record_limit=_limit("max_records", record_limit))

    def with_max_bytes(self, byte_limit: int) -> BufferConfig:
        """A copy limited to ``byte_limit`` bytes (the full strategy is kept)."""
        return replace(self, byte_limit=_limit("max_bytes", byte_limit))

    def with_no_bound(self) -> BufferConfig:
        """A strict copy without size limits."""
        return replace(self, record_limit=None, byte_limit=None,
                       full_strategy=BufferFullStrategy.SHUT_DOWN)

    def emit_early_when_full(self) -> BufferConfig:
        """When full, emit the oldest records early (not strict: may emit non-final results)."""
        return replace(self, full_strategy=BufferFullStrategy.EMIT)

    def shut_down_when_full(self) -> BufferConfig:
        """When full, stop the application with a StreamsError (strict: never emits early)."""
        return replace(self, full_strategy=BufferFullStrategy.SHUT_DOWN)

    def with_logging_disabled(self) -> BufferConfig:
        """Do not log the buffer to a changelog topic (buffered records are lost on failover)."""
        return replace(self, logging_enabled=False, log_config={})

    def with_logging_enabled(self, config: dict[str, Any] | None = None) -> BufferConfig:
        """Log the buffer, creating the changelog topic with the extra topic ``config``."""
        return replace(self, logging_enabled=True,
                       log_config={str(k): str(v) for k, v in (config or {}).items()})

    @property
    def is_strict(self) -> bool:
        """True when the buffer never emits early (it shuts down when full, or has no bound)."""
        return self.full_strategy is BufferFullStrategy.SHUT_DOWN


@dataclass(frozen=True)
class Suppressed:
    """How ``KTable.suppress`` holds back updates.

    ``window_close``: buffer each windowed key's latest update and emit it once stream time
    reaches the window's end plus the upstream windows' grace (``until_window_closes``).
    Otherwise emit each key's latest update ``time_to_wait_ms`` after its first buffered update
    (``until_time_limit``). ``name`` names the node and the buffer store (``<name>-store``).
    """

    window_close: bool
    time_to_wait_ms: int
    buffer_config: BufferConfig
    name: str | None = None

    @classmethod
    def until_window_closes(cls, buffer_config: BufferConfig) -> Suppressed:
        """Only the final result of each window of a windowed table.

        ``buffer_config`` must be strict (``BufferConfig.unbounded()`` or
        ``...shut_down_when_full()``): emitting early would break the final-result promise.
        """
        if not isinstance(buffer_config, BufferConfig):
            raise TopologyError(f"until_window_closes needs a BufferConfig, got {buffer_config!r}")
        if not buffer_config.is_strict:
            raise TopologyError(
                "Suppressed.until_window_closes needs a strict buffer config "
                "(BufferConfig.unbounded() or BufferConfig.max_records(n).shut_down_when_full()): "
                "a buffer that emits early would emit results that are not final"
            )
        return cls(True, 0, buffer_config)

    @classmethod
    def until_time_limit(cls, time_to_wait_ms: int | datetime.timedelta,
                         buffer_config: BufferConfig | None = None) -> Suppressed:
        """Emit a key's latest value ``time_to_wait_ms`` (stream time) after the key was first
        buffered; later updates replace the buffered value without restarting the timer.
        ``buffer_config`` defaults to ``BufferConfig.unbounded()``."""
        config = BufferConfig.unbounded() if buffer_config is None else buffer_config
        if not isinstance(config, BufferConfig):
            raise TopologyError(f"until_time_limit needs a BufferConfig, got {config!r}")
        return cls(False, _millis("time_to_wait", time_to_wait_ms), config)

    def with_name(self, name: str) -> Suppressed:
        """A copy whose node is called ``name`` and whose buffer store ``<name>-store``."""
        if not isinstance(name, str) or not name:
            raise TopologyError(f"a suppression name must be a non-empty string, got {name!r}")
        return replace(self, name=name)


class EmitStrategy:
    """When a windowed aggregation emits (KIP-825): on every update of a window (default) or
    only once, with the final result, when the window closes."""

    class StrategyType(enum.Enum):
        """The two strategies."""

        ON_WINDOW_UPDATE = "on_window_update"
        ON_WINDOW_CLOSE = "on_window_close"

    __slots__ = ("type",)

    def __init__(self, type: EmitStrategy.StrategyType) -> None:
        self.type = type

    @classmethod
    def on_window_update(cls) -> EmitStrategy:
        """Emit every update of a window (the default)."""
        return cls(cls.StrategyType.ON_WINDOW_UPDATE)

    @classmethod
    def on_window_close(cls) -> EmitStrategy:
        """Emit only the final result of a window, once stream time passes its end + grace."""
        return cls(cls.StrategyType.ON_WINDOW_CLOSE)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EmitStrategy) and other.type == self.type

    def __hash__(self) -> int:
        return hash(self.type)

    def __repr__(self) -> str:
        return f"EmitStrategy.{self.type.value}()"


# --------------------------------------------------------------------------- DSL wiring

#: per builder: node name of a windowed aggregation -> the grace its results close after
_WINDOW_GRACE: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


def register_window_grace(builder: StreamsBuilder, node: str, close_after_ms: int) -> None:
    """Record that the table node ``node`` holds windowed results whose window closes
    ``close_after_ms`` after its end (the windows' grace; for sessions grace + gap, as Kafka
    Streams' ``GraphGraceSearchUtil``). Windowed aggregations call this so that
    ``suppress(until_window_closes)`` can find the grace upstream."""
    _WINDOW_GRACE.setdefault(builder, {})[node] = close_after_ms


def find_window_grace(builder: StreamsBuilder, node: str) -> int:
    """The grace of the windowed aggregation(s) upstream of ``node`` (the largest, if several
    parents lead to one), walking up the topology as Kafka Streams does; TopologyError if a path
    upwards reaches a source without passing a windowed aggregation."""
    graces = _WINDOW_GRACE.get(builder, {})
    nodes = builder.topology.nodes

    def walk(name: str, chain: str) -> int:
        if name in graces:
            return graces[name]
        chain = name if not chain else f"{name}->{chain}"
        parents = list(getattr(nodes.get(name), "parents", ()) or ())
        if not parents:
            raise TopologyError(
                "Suppressed.until_window_closes: window close time is only defined for windowed "
                f"computations (windowed_by(...).count/reduce/aggregate); got [{chain}]. Use "
                "Suppressed.until_time_limit(...) for a table that is not windowed"
            )
        return max(walk(p, chain) for p in parents)

    return walk(node, "")


def build_suppress(table: KTable, suppressed: Suppressed, *, node: str | None = None,
                   store: str | None = None, close_after_ms: int | None = None,
                   by_window: bool = False) -> tuple[str, GetterFactory | None]:
    """Add the suppression node and its buffer store after ``table``; returns the node and how
    to read the suppressed table by key (None if ``table`` cannot be read so), from which
    ``KTable.suppress`` makes the suppressed table. ``node``/``store``/``close_after_ms``
    override the names and the window grace, and ``by_window`` emits the windows that close
    together by (end, start) (used by ``emit_strategy(EmitStrategy.on_window_close())``)."""
    if not isinstance(suppressed, Suppressed):
        raise TopologyError(
            f"KTable.suppress needs a Suppressed (Suppressed.until_window_closes(...) or "
            f"Suppressed.until_time_limit(...)), got {suppressed!r}"
        )
    b = table._builder
    b._check_open()
    topo = b.topology
    # Kafka Streams' order: the node name, then (unless named) the store name
    if node is None:
        node = suppressed.name or b.new_name("KTABLE-SUPPRESS-")
    if suppressed.window_close:
        duration = find_window_grace(b, table.node) if close_after_ms is None else close_after_ms
    else:
        duration = suppressed.time_to_wait_ms
    if store is None:
        store = f"{suppressed.name}-store" if suppressed.name else b.new_name(
            "KTABLE-SUPPRESS-STATE-STORE-")
    config = suppressed.buffer_config
    ks = known_serde(table.key_serde)
    vs = known_serde(table.value_serde)
    supplier: Any = (Stores.in_memory_key_value_store(store) if b.store_type(None) == "in_memory"
                     else Stores.persistent_key_value_store(store))
    topo.add_processor(node, lambda: KTableSuppressProcessor(
        node, store, duration, suppressed.window_close, config.record_limit, config.byte_limit,
        config.is_strict, suppressed.window_close, by_window), table.node)
    topo.add_state_store(SuppressionBufferBuilder(
        supplier, ks, vs, logging=config.logging_enabled, log_config=config.log_config), node)
    if ks is None:
        topo.require_serde(node, "key", f"its suppression buffer {store!r} stores the table's keys")
    if vs is None:
        topo.require_serde(node, "value",
                           f"its suppression buffer {store!r} stores the table's values")
    getter = None
    if table.store_name is not None or table._getter is not None:
        getter = suppressed_getter(table.value_getter, store)
    return node, getter


def apply_emit_strategy(table: KTable, strategy: EmitStrategy | None, close_after_ms: int,
                        window_store: str) -> KTable:
    """The windowed aggregation's table under ``strategy``: unchanged for on-window-update;
    for on-window-close, followed by a final-results suppression node
    ``<aggregation node>-EMIT-FINAL`` with buffer store ``<window store>-emit-final-buffer``
    (no generated index is used, so the names of later nodes are Kafka Streams' own)."""
    if strategy is None or strategy.type is EmitStrategy.StrategyType.ON_WINDOW_UPDATE:
        return table
    final = table._suppress(
        Suppressed.until_window_closes(BufferConfig.unbounded()),
        node=f"{table.node}-EMIT-FINAL", store=f"{window_store}-emit-final-buffer",
        close_after_ms=close_after_ms, by_window=True)
    final.window_store_name = table.window_store_name
    return final


def with_emit_strategy(windowed_stream: Any, strategy: EmitStrategy) -> Any:
    """A copy of a windowed grouped stream (``TimeWindowedKStream``, ``SessionWindowedKStream``)
    whose aggregations use ``strategy``."""
    if not isinstance(strategy, EmitStrategy):
        raise TopologyError(
            "emit_strategy needs EmitStrategy.on_window_close() or "
            f"EmitStrategy.on_window_update(), got {strategy!r}"
        )
    other = copy.copy(windowed_stream)
    other._emit_strategy = strategy
    return other


def windowed_result(table: KTable, strategy: EmitStrategy | None, close_after_ms: int,
                    final_close_after_ms: int | None = None) -> KTable:
    """Finish a windowed aggregation's table: register the grace that ``suppress`` looks up
    (``close_after_ms``: grace for time windows, grace + gap for sessions) and apply the emit
    strategy (closing after ``final_close_after_ms``, default ``close_after_ms``)."""
    register_window_grace(table._builder, table.node, close_after_ms)
    final = close_after_ms if final_close_after_ms is None else final_close_after_ms
    return apply_emit_strategy(table, strategy, final, table.window_store_name or table.node)
