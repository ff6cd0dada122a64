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
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    count = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def takes_key(fn: Callable[..., Any], value_args: int, op: str) -> bool:
    """True when ``fn`` wants the key before its ``value_args`` value arguments.

    Example: ``takes_key(lambda k, v: v, 1, "map_values")`` is True.
    """
    if not callable(fn):
        raise TopologyError(f"{op}: expected a function, got {fn!r}")
    n = positional_arity(fn)
    if n is None:
        return False
    if n == value_args + 1:
        return True
    if n == value_args:
        return False
    # a bound method or a callable object with defaults: be strict only when too few
    if n < value_args:
        raise TopologyError(
            f"{op}: function {getattr(fn, '__name__', fn)!r} takes {n} positional argument(s); "
            f"it must take {value_args} (value) or {value_args + 1} (key, value)"
        )
    return True


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
