"""Window specifications, as Kafka Streams': TimeWindows (tumbling and hopping),
SessionWindows, SlidingWindows and JoinWindows. Times are milliseconds; window ends are
exclusive (``[start, end)``), except for sliding windows, whose ends are inclusive as in Kafka
Streams.

Example::

    TimeWindows.of_size_with_no_grace(60_000)                 # tumbling minutes
    TimeWindows.of_size_and_grace(60_000, 10_000).advance_by(15_000)   # hopping
    SessionWindows.of_inactivity_gap_with_no_grace(300_000)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from streams.errors import TopologyError

#: Kafka Streams' default grace before 3.0 was 24h; "no grace" means 0.
NO_GRACE = 0


def _positive(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise TopologyError(f"{name} must be a positive number of milliseconds, got {value!r}")
    return value


def _non_negative(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TopologyError(f"{name} must be >= 0 milliseconds, got {value!r}")
    return value


@dataclass(frozen=True)
class TimeWindows:
    """Fixed-size windows: tumbling (advance = size) or hopping (advance < size).

    A window ``[start, start + size)`` accepts records until stream time passes
    ``end + grace``; later records are dropped (and counted), never changing a closed window.
    """

    size_ms: int
    advance_ms: int
    grace_ms: int = NO_GRACE

    @classmethod
    def of_size_with_no_grace(cls, size_ms: int) -> TimeWindows:
        """Tumbling windows of ``size_ms`` that close as soon as stream time passes their end."""
        return cls(_positive("window size", size_ms), size_ms, 0)

    @classmethod
    def of_size_and_grace(cls, size_ms: int, grace_ms: int) -> TimeWindows:
        """Tumbling windows that accept out-of-order records for ``grace_ms`` after their end."""
        return cls(_positive("window size", size_ms), size_ms, _non_negative("grace", grace_ms))

    def advance_by(self, advance_ms: int) -> TimeWindows:
        """Hopping windows: a new window starts every ``advance_ms`` (0 < advance <= size)."""
        _positive("advance", advance_ms)
        if advance_ms > self.size_ms:
            raise TopologyError(f"advance ({advance_ms} ms) must not exceed the window size "
                                f"({self.size_ms} ms)")
        return replace(self, advance_ms=advance_ms)

    def windows_for(self, timestamp: int) -> list[tuple[int, int]]:
        """Every ``(start, end)`` containing ``timestamp``, earliest first (aligned to epoch 0)."""
        size, advance = self.size_ms, self.advance_ms
        start = (max(0, timestamp - size + advance) // advance) * advance
        out = []
        while start <= timestamp:
            out.append((start, start + size))
            start += advance
        return out

    @property
    def retention_ms(self) -> int:
        """How long a store must keep windows: size + grace."""
        return self.size_ms + self.grace_ms


@dataclass(frozen=True)
class SessionWindows:
    """Activity sessions per key: records closer than ``gap_ms`` join one session."""

    gap_ms: int
    grace_ms: int = NO_GRACE

    @classmethod
    def of_inactivity_gap_with_no_grace(cls, gap_ms: int) -> SessionWindows:
        """Sessions split by ``gap_ms`` of inactivity; closed as soon as stream time passes."""
        return cls(_positive("inactivity gap", gap_ms), 0)

    @classmethod
    def of_inactivity_gap_and_grace(cls, gap_ms: int, grace_ms: int) -> SessionWindows:
        """Sessions that accept late records for ``grace_ms`` after they end."""
        return cls(_positive("inactivity gap", gap_ms), _non_negative("grace", grace_ms))

    @property
    def retention_ms(self) -> int:
        """How long a store must keep sessions: gap + grace."""
        return self.gap_ms + self.grace_ms


@dataclass(frozen=True)
class SlidingWindows:
    """Windows of ``time_difference_ms`` defined by the records themselves (both ends
    inclusive), as Kafka Streams' SlidingWindows."""

    time_difference_ms: int
    grace_ms: int = NO_GRACE

    @classmethod
    def of_time_difference_with_no_grace(cls, time_difference_ms: int) -> SlidingWindows:
        """Sliding windows of ``time_difference_ms`` without grace."""
        return cls(_positive("time difference", time_difference_ms), 0)

    @classmethod
    def of_time_difference_and_grace(cls, time_difference_ms: int, grace_ms: int) -> SlidingWindows:
        """Sliding windows that accept late records for ``grace_ms``."""
        return cls(_positive("time difference", time_difference_ms),
                   _non_negative("grace", grace_ms))


@dataclass(frozen=True)
class JoinWindows:
    """How far apart in time two stream records may be to join: ``before_ms`` earlier and
    ``after_ms`` later than the left record."""

    before_ms: int
    after_ms: int
    grace_ms: int = NO_GRACE

    @classmethod
    def of_time_difference_with_no_grace(cls, time_difference_ms: int) -> JoinWindows:
        """Records at most ``time_difference_ms`` apart join."""
        d = _non_negative("time difference", time_difference_ms)
        return cls(d, d, 0)

    @classmethod
    def of_time_difference_and_grace(cls, time_difference_ms: int, grace_ms: int) -> JoinWindows:
        """As :meth:`of_time_difference_with_no_grace`, accepting late records for ``grace_ms``."""
        d = _non_negative("time difference", time_difference_ms)
        return cls(d, d, _non_negative("grace", grace_ms))

    def before(self, before_ms: int) -> JoinWindows:
        """A copy where right records up to ``before_ms`` earlier join."""
        return replace(self, before_ms=_non_negative("before", before_ms))

    def after(self, after_ms: int) -> JoinWindows:
        """A copy where right records up to ``after_ms`` later join."""
        return replace(self, after_ms=_non_negative("after", after_ms))

    @property
    def size_ms(self) -> int:
        """before + after."""
        return self.before_ms + self.after_ms
