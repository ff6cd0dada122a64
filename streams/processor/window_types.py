"""Window value types: a record key together with its window (Kafka Streams' ``Windowed``,
``TimeWindow``, ``SessionWindow``).

* :class:`TimeWindow` ``(start, end)`` — a fixed-size window, end exclusive in spirit
  (``end = start + size``);
* :class:`SessionWindow` ``(start, end)`` — a session, both ends inclusive (a session of one
  record has ``start == end``);
* :class:`Windowed` ``(key, window)`` — a record key together with its window: the key type of
  windowed aggregation results.

They are plain values shared by the windowed processors, the window and session stores
(``streams.state``) and the serdes of windowed keys (``streams.serdes``), so this module imports
nothing else of ``streams``.
"""

from __future__ import annotations

from typing import Any, Generic, NoReturn, TypeVar

__all__ = [
    "MAX_TIMESTAMP",
    "SessionWindow",
    "TimeWindow",
    "Windowed",
    "time_window_for_size",
]

K = TypeVar("K")

#: Largest timestamp a record or a store key can carry (Java's ``Long.MAX_VALUE``).
MAX_TIMESTAMP = (1 << 63) - 1

_set = object.__setattr__


def _immutable(self: object, *_args: object) -> NoReturn:
    # Serves as both __setattr__ and __delattr__.
    raise AttributeError(f"{type(self).__name__} is immutable")


class TimeWindow:
    """A time window ``[start, end)`` in ms, as produced by tumbling and hopping windows.

    Immutable, hashable, equal only to a ``TimeWindow`` with the same bounds. Kafka Streams
    requires ``start < end``; ``start == end`` is accepted here so that stores of zero-size
    windows (a join with no time difference) can still be read as windowed keys.

    Example::

        TimeWindow(0, 60_000).overlap(TimeWindow(30_000, 90_000))  # True
    """

    __slots__ = ("end", "start")
    start: int
    end: int

    def __init__(self, start: int, end: int) -> None:
        """Window from ``start`` (inclusive) to ``end`` (exclusive); ``0 <= start <= end``."""
        if not 0 <= start <= end:
            raise ValueError(f"TimeWindow needs 0 <= start <= end, got start={start}, end={end}")
        _set(self, "start", start)
        _set(self, "end", end)

    __setattr__ = _immutable
    __delattr__ = _immutable

    def overlap(self, other: TimeWindow) -> bool:
        """Whether the two windows share a point in time (``start < other.end`` and vice versa)."""
        if not isinstance(other, TimeWindow):
            raise TypeError(f"cannot compare windows of different types: {other!r}")
        return self.start < other.end and other.start < self.end

    def __eq__(self, other: object) -> bool:
        return type(other) is TimeWindow and self.start == other.start and self.end == other.end

    def __hash__(self) -> int:
        return hash((TimeWindow, self.start, self.end))

    def __repr__(self) -> str:
        return f"TimeWindow(start={self.start}, end={self.end})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (TimeWindow, (self.start, self.end))


class SessionWindow:
    """A session window ``[start, end]`` in ms, both ends inclusive (``0 <= start <= end``).

    Immutable, hashable, equal only to a ``SessionWindow`` with the same bounds.
    """

    __slots__ = ("end", "start")
    start: int
    end: int

    def __init__(self, start: int, end: int) -> None:
        """Session from ``start`` to ``end``, both inclusive."""
        if not 0 <= start <= end:
            raise ValueError(f"SessionWindow needs 0 <= start <= end, got start={start}, end={end}")
        _set(self, "start", start)
        _set(self, "end", end)

    __setattr__ = _immutable
    __delattr__ = _immutable

    def overlap(self, other: SessionWindow) -> bool:
        """Whether the sessions share a point in time (``start <= other.end`` and vice versa)."""
        if not isinstance(other, SessionWindow):
            raise TypeError(f"cannot compare windows of different types: {other!r}")
        return self.start <= other.end and other.start <= self.end

    def __eq__(self, other: object) -> bool:
        return type(other) is SessionWindow and self.start == other.start and self.end == other.end

    def __hash__(self) -> int:
        return hash((SessionWindow, self.start, self.end))

    def __repr__(self) -> str:
        return f"SessionWindow(start={self.start}, end={self.end})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (SessionWindow, (self.start, self.end))


class Windowed(Generic[K]):
    """A key and its window: the key of windowed aggregation results (Kafka Streams' ``Windowed``).

    Immutable and hashable (if the key is). Example::

        Windowed("alice", TimeWindow(0, 60_000))
    """

    __slots__ = ("key", "window")
    key: K
    window: TimeWindow | SessionWindow

    def __init__(self, key: K, window: TimeWindow | SessionWindow) -> None:
        """``key`` within ``window``."""
        _set(self, "key", key)
        _set(self, "window", window)

    __setattr__ = _immutable
    __delattr__ = _immutable

    def __eq__(self, other: object) -> bool:
        return type(other) is Windowed and self.key == other.key and self.window == other.window

    def __hash__(self) -> int:
        return hash((self.key, self.window))

    def __repr__(self) -> str:
        return f"Windowed({self.key!r}, {self.window!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Windowed, (self.key, self.window))


def time_window_for_size(start: int, window_size_ms: int) -> TimeWindow:
    """``TimeWindow(start, start + size)``, the end capped at the largest timestamp (as KS)."""
    end = start + window_size_ms
    return TimeWindow(start, end if end < MAX_TIMESTAMP else MAX_TIMESTAMP)
