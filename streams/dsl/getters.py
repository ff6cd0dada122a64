"""Value getters: how a join reads a KTable's current value for a key.

A materialized table reads its store; a table derived without a store (``filter``,
``map_values``) applies its function to its parent's value on read, as Kafka Streams'
KTableValueGetter chain does. A getter factory is the store names the reader must be
connected to, plus a function that, given the reader's context, returns ``get(key)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.processor.api import ProcessorContext
from streams.state.timestamped import ValueAndTimestamp

#: ``get(key)``, or ``get(key, as_of)`` for a versioned table: the value (and its timestamp)
Get = Callable[..., ValueAndTimestamp | None]
GetterFactory = tuple[tuple[str, ...], Callable[[ProcessorContext], Get]]


def store_getter(store: str) -> GetterFactory:
    """Read the table's (timestamped) store."""
    return (store,), lambda ctx: ctx.get_state_store(store).get


def filtered_getter(parent: GetterFactory, predicate: Callable[..., Any], with_key: bool,
                    negate: bool) -> GetterFactory:
    """The parent's value where it passes ``predicate`` (``negate`` flips it), else None."""
    stores, make_parent = parent

    def make(ctx: ProcessorContext) -> Get:
        get = make_parent(ctx)

        def filtered(key: Any, *as_of: int) -> ValueAndTimestamp | None:
            vt = get(key, *as_of)
            if vt is None:
                return None
            ok = predicate(key, vt.value) if with_key else predicate(vt.value)
            return vt if bool(ok) != negate else None

        return filtered

    return stores, make


def mapped_getter(parent: GetterFactory, mapper: Callable[..., Any], with_key: bool) -> GetterFactory:
    """The parent's value passed through ``mapper``."""
    stores, make_parent = parent

    def make(ctx: ProcessorContext) -> Get:
        get = make_parent(ctx)

        def mapped(key: Any, *as_of: int) -> ValueAndTimestamp | None:
            vt = get(key, *as_of)
            if vt is None:
                return None
            value = mapper(key, vt.value) if with_key else mapper(vt.value)
            return None if value is None else ValueAndTimestamp(value, vt.timestamp)

        return mapped

    return stores, make


def joined_getter(left: GetterFactory, right: GetterFactory, joiner: Callable[..., Any],
                  with_key: bool, mode: str) -> GetterFactory:
    """The current joined value of two tables (for a join result that has no store)."""

    def make(ctx: ProcessorContext) -> Get:
        get_left, get_right = left[1](ctx), right[1](ctx)

        def joined(key: Any) -> ValueAndTimestamp | None:
            lvt, rvt = get_left(key), get_right(key)
            lv = None if lvt is None else lvt.value
            rv = None if rvt is None else rvt.value
            if (mode == "inner" and (lv is None or rv is None)) or (mode == "left" and lv is None) \
                    or (lv is None and rv is None):
                return None
            value = joiner(key, lv, rv) if with_key else joiner(lv, rv)
            ts = max(vt.timestamp for vt in (lvt, rvt) if vt is not None)
            return None if value is None else ValueAndTimestamp(value, ts)

        return joined

    return left[0] + tuple(s for s in right[0] if s not in left[0]), make
