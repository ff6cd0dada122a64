"""How DSL operators call user functions: with the value only, or with the key too.

Kafka Streams has ValueMapper and ValueMapperWithKey; in Python the function's signature
decides, once, when the topology is built: ``lambda v: ...`` gets the value,
``lambda k, v: ...`` gets key and value.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from streams.errors import TopologyError


def positional_arity(fn: Callable[..., Any]) -> int | None:
    """Number of positional parameters ``fn`` accepts (None if it takes ``*args`` or is opaque)."""
    bounds = _positional_bounds(fn)
    if bounds is None or bounds[1] is None:
        return None
    return bounds[1]


def _positional_bounds(fn: Callable[..., Any]) -> tuple[int, int | None] | None:
    """(required, maximum) positional parameters of ``fn``; maximum None with ``*args``;
    None when the signature cannot be read (a builtin type, say)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    required = 0
    total: int | None = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            total = None
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if total is not None:
                total += 1
            if p.default is p.empty:
                required += 1
    return required, total


def takes_key(fn: Callable[..., Any], value_args: int, op: str) -> bool:
    """True when ``fn`` wants the key before its ``value_args`` value arguments.

    Decided by the parameters without defaults: ``value_args + 1`` required parameters means
    "key first"; otherwise the function is called with the values only, so ``str.split``
    (one required parameter, optional others) is a value mapper.

    Example: ``takes_key(lambda k, v: v, 1, "map_values")`` is True.
    """
    if not callable(fn):
        raise TopologyError(f"{op}: expected a function, got {fn!r}")
    bounds = _positional_bounds(fn)
    if bounds is None:
        return False
    required, total = bounds
    if required == value_args + 1:
        return True
    if required <= value_args and (total is None or total >= value_args):
        return False
    raise TopologyError(
        f"{op}: function {getattr(fn, '__name__', fn)!r} takes {required} required positional "
        f"argument(s); it must take {value_args} (value) or {value_args + 1} (key, value)"
    )


def require_arity(fn: Callable[..., Any], n: int, op: str, what: str) -> None:
    """Fail at build time when ``fn`` cannot be called with ``n`` positional arguments."""
    if not callable(fn):
        raise TopologyError(f"{op}: expected a function ({what}), got {fn!r}")
    got = positional_arity(fn)
    if got is not None and got < n:
        raise TopologyError(
            f"{op}: function {getattr(fn, '__name__', fn)!r} takes {got} positional argument(s), "
            f"but it is called as {what}"
        )
