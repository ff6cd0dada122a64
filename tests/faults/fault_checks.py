"""Exact checks of a fault scenario's topics: per-word count sequences, read read_committed."""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fault_traffic import _long

from streams import serdes
from streams.testing import clients

READ_COMMITTED = {"isolation.level": "read_committed"}


def read_sorted(bootstrap: str, topic: str, value_serde: Any = None,
                timeout: float = 30.0) -> list[clients.ConsumedRecord]:
    """Every record of ``topic``, read ``read_committed``, String keys, in partition and
    offset order."""
    records = clients.consume_all(bootstrap, topic, timeout, key_serde=serdes.String(),
                                  value_serde=value_serde, config=READ_COMMITTED)
    return sorted(records, key=lambda r: (r.partition, r.offset))


@dataclass(frozen=True)
class Update:
    """One count record: the count and where (and when) it is in its topic."""

    value: int | None
    partition: int
    offset: int
    timestamp: int


def count_sequences(records: list[clients.ConsumedRecord]
                    ) -> tuple[dict[str, list[Update]], list[str]]:
    """Count updates per word in offset order, and words found in more than one partition."""
    seqs: dict[str, list[Update]] = collections.defaultdict(list)
    where: dict[str, int] = {}
    split: list[str] = []
    for r in records:
        if where.setdefault(r.key, r.partition) != r.partition and r.key not in split:
            split.append(r.key)
        seqs[r.key].append(Update(_long(r.value), r.partition, r.offset, r.timestamp))
    return dict(seqs), split


def sequence_problems(what: str, seqs: dict[str, list[Update]],
                      expected: collections.Counter[str], exact: bool,
                      when: Callable[[int], str] | None = None) -> list[str]:
    """Lost, duplicated, replayed or rolled-back updates in per-word count sequences.

    A count that repeats is a duplicated update, one that goes down means the task went on
    from a stale state (updates lost, later ones counted from an older value), one that ends
    above the true count is an over-count, one that ends below it lost updates. ``when``
    formats a record timestamp (for the output topic, whose timestamps are append times).
    """
    lost: dict[str, dict[str, Any]] = {}
    wrong: dict[str, dict[str, Any]] = {}
    short = 0
    for word in sorted(set(seqs) | set(expected)):
        updates, n = seqs.get(word, []), expected.get(word, 0)
        seq = [u.value for u in updates]
        last = seq[-1] if seq else None
        view: dict[str, Any] = {"true count": n, "last": last, "updates": len(seq),
                                "first": seq[:3]}
        steps = []
        for a, b in itertools.pairwise(updates):
            if a.value is None or b.value is None or a.value >= b.value:
                kind = ("repeated" if a.value == b.value else
                        "went down" if a.value is not None and b.value is not None else "null")
                step = f"{kind}: {a.value} -> {b.value} at {what.split()[-1]}-{b.partition}@" \
                       f"{a.offset}->{b.offset}"
                if when is not None:
                    step += f" ({when(a.timestamp)} -> {when(b.timestamp)})"
                steps.append(step)
        if steps:
            wrong[word] = {**view, "steps": steps[:3]}
        elif last is None or last < n:
            lost[word] = view
            short += n - (last or 0)
        elif last > n:
            wrong[word] = {**view, "over-count by": last - n}
        elif exact and seq != list(range(1, n + 1)):
            lost[word] = {**view, "missing updates": sorted(set(range(1, n + 1)) - set(seq))[:8]}
    out = []
    if lost:
        out.append(f"LOST in {what}: {len(lost)} word(s) short of their true count, "
                   f"{short} of {sum(expected.values())} words uncounted; e.g. "
                   f"{dict(itertools.islice(lost.items(), 4))}")
    if wrong:
        kinds = sorted({step.split(":")[0] for v in wrong.values() for step in v.get("steps", ())}
                       | ({"over-count"} if any("over-count by" in v for v in wrong.values())
                          else set()))
        out.append(f"DUPLICATED/ROLLED BACK in {what}: {len(wrong)} word(s) whose count "
                   f"{' / '.join(kinds)} (exactly-once means strictly increasing to the true "
                   f"count): {wrong}")
    return out


def dump_records(path: Path, records: list[clients.ConsumedRecord]) -> None:
    """Write records as ``partition offset timestamp key value`` lines, for post-mortems."""
    with open(path, "w") as out:
        for r in records:
            value = _long(r.value) if isinstance(r.value, bytes) and len(r.value) in (8, 16) \
                else r.value
            out.write(f"{r.partition}\t{r.offset}\t{r.timestamp}\t{r.key}\t{value}\n")
