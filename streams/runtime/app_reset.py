"""What ``streams reset`` does, decided without talking to the cluster.

:mod:`streams.cli.reset` gathers the facts (committed offsets, topics, offsets found by time)
and carries out the :class:`ResetPlan` built here; everything in this module is pure, so the
choice of topics and offsets is tested without a broker.

Which topics are the application's:

* **internal topics** (deleted): ``<application.id>-`` followed by a name ending in
  ``-repartition`` or ``-changelog``, a foreign-key join's subscription topics (as in Kafka
  Streams' ``StreamsResetter.matchesInternalTopicFormat``), and ``<application.id>-control``
  (the shutdown-request topic of :mod:`streams.runtime.app_control`);
* **input topics** (offsets reset): the ``--input-topics`` given, or else every other topic the
  consumer group (the application id) has committed offsets for.

Example::

    target = ResetTarget.at_timestamp(parse_datetime("2026-01-01T00:00:00Z"), "...")
    topics = choose_topics("wc", committed, existing, explicit_inputs=None, other_groups=[])
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streams.errors import StreamsError
from streams.runtime.app_control import control_topic

#: (topic, partition)
Partition = tuple[str, int]

#: suffixes of Kafka Streams' internal topic names (after ``<application.id>-``)
INTERNAL_SUFFIXES = ("-repartition", "-changelog", "-subscription-registration-topic",
                     "-subscription-response-topic")
# an unnamed foreign-key join's topics: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic
_FK_TOPIC = re.compile(r".+-KTABLE-FK-JOIN-SUBSCRIPTION-(REGISTRATION|RESPONSE)-\d+-topic")
#: consumer groups the runtime itself derives from the application id (they never commit, but
#: must not be taken for another application whose id starts with this one's)
OWN_GROUP_SUFFIXES = ("-restore", "-global", "-control")

# 2026-01-01T00:00:00[.sss][Z|+hh:mm|+hhmm]: Kafka's --to-datetime format; no zone means UTC
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?")
# PnDTnHnMnS as java.time.Duration.parse reads it, without negative parts
_DURATION = re.compile(
    r"P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:[.,]\d{1,9})?)S)?)?",
    re.IGNORECASE)


class ResetError(StreamsError):
    """``streams reset`` cannot do what was asked (bad option, active group, missing topic)."""


def parse_datetime(text: str) -> int:
    """``YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm]`` as epoch milliseconds; no zone means UTC, as
    in Kafka's reset tool."""
    if not _DATETIME.fullmatch(text):
        raise ResetError(f"invalid --to-datetime {text!r}: expected YYYY-MM-DDTHH:mm:SS[.sss] "
                         "with an optional zone (Z, +hh:mm or -hh:mm), e.g. 2026-01-01T00:00:00Z")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ResetError(f"invalid --to-datetime {text!r}: {exc}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # integer arithmetic: timestamp() is a float, which could round a millisecond off
    return (parsed - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration ``PnDTnHnMnS`` (days, hours, minutes, seconds; any part may be left
    out, seconds may have a fraction), as ``java.time.Duration.parse`` reads it."""
    m = _DURATION.fullmatch(text)
    # "P" and "PT" match the pattern with every part missing
    if m is None or not any(m.groupdict().values()) or text.upper().endswith("T"):
        raise ResetError(f"invalid --by-duration {text!r}: expected an ISO 8601 duration "
                         "PnDTnHnMnS, e.g. P1D, PT6H, P1DT12H30M, PT0.5S")
    parts = {k: v or "0" for k, v in m.groupdict().items()}
    return timedelta(days=int(parts["d"]), hours=int(parts["h"]), minutes=int(parts["m"]),
                     seconds=float(parts["s"].replace(",", ".")))


def format_millis(ms: int) -> str:
    """Epoch milliseconds as an ISO 8601 UTC time, for the plan."""
    t = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ResetTarget:
    """Where input offsets go: the earliest offset, or the first record at/after a time."""

    #: epoch ms; None means the earliest offset
    timestamp_ms: int | None = None
    #: how the plan names the target
    description: str = "the earliest offset"

    @classmethod
    def at_timestamp(cls, timestamp_ms: int, origin: str) -> ResetTarget:
        """The first record at or after ``timestamp_ms``; ``origin`` is what the user gave.
        Times before 1970 become 1970: negative timestamps mean "latest" (-1) and "earliest"
        (-2) to the ListOffsets request."""
        timestamp_ms = max(0, timestamp_ms)
        return cls(timestamp_ms, f"the first record at or after {format_millis(timestamp_ms)} "
                                 f"({origin}; the end offset where there is none)")


def is_internal_topic(topic: str, application_id: str) -> bool:
    """Whether ``topic`` is named like one of ``application_id``'s internal topics."""
    if topic == control_topic(application_id):
        return True
    rest = topic.removeprefix(f"{application_id}-")
    if rest == topic or not rest:
        return False
    return rest.endswith(INTERNAL_SUFFIXES) or _FK_TOPIC.fullmatch(topic) is not None


@dataclass
class TopicChoice:
    """The topics a reset touches."""

    #: topics whose offsets are reset
    inputs: list[str] = field(default_factory=list)
    #: internal topics to delete
    internal: list[str] = field(default_factory=list)
    #: topics named like internal ones that are left alone, and why
    kept: dict[str, str] = field(default_factory=dict)
    #: default input topics (committed offsets) that no longer exist
    gone: list[str] = field(default_factory=list)


def choose_topics(application_id: str, committed: Mapping[Partition, int],
                  existing: Collection[str], explicit_inputs: Sequence[str] | None,
                  other_groups: Collection[str]) -> TopicChoice:
    """Input and internal topics of ``application_id``.

    ``committed``: the group's committed offsets; ``existing``: every topic on the cluster;
    ``explicit_inputs``: ``--input-topics`` (None: the committed non-internal topics);
    ``other_groups``: every consumer group id on the cluster. Raises :class:`ResetError` if an
    explicit input topic does not exist.

    An explicit input topic is never deleted, even when named like an internal topic (Kafka's
    KAFKA-7930). A topic named like an internal one that the group has no committed offsets
    for, and whose name also starts with ``<group>-`` for another group whose id starts with
    ``<application.id>-``, is kept: it is more likely that application's (application ``wc``
    must not delete ``wc-v2-counts-changelog`` of application ``wc-v2``).
    """
    choice = TopicChoice()
    committed_topics = {t for t, _ in committed}
    if explicit_inputs is not None:
        missing = [t for t in explicit_inputs if t not in existing]
        if missing:
            raise ResetError(f"input topic(s) {', '.join(missing)} do not exist; nothing was "
                             "changed")
        choice.inputs = list(dict.fromkeys(explicit_inputs))
    else:
        for t in sorted(committed_topics):
            if is_internal_topic(t, application_id):
                continue
            (choice.inputs if t in existing else choice.gone).append(t)
    own = {f"{application_id}{s}" for s in OWN_GROUP_SUFFIXES}
    longer = sorted((g for g in other_groups
                     if g.startswith(f"{application_id}-") and g not in own), key=len)
    for t in sorted(existing):
        if not is_internal_topic(t, application_id):
            continue
        if t in choice.inputs:
            choice.kept[t] = "it is an input topic"
            continue
        owner = next((g for g in longer if t.startswith(f"{g}-")), None)
        if owner is not None and t not in committed_topics:
            choice.kept[t] = (f"it may belong to consumer group {owner!r}; delete it by hand "
                              "if it is this application's")
            continue
        choice.internal.append(t)
    return choice


@dataclass(frozen=True)
class OffsetReset:
    """One input partition's committed offset: now (None if none) and after the reset."""

    topic: str
    partition: int
    current: int | None
    new: int


def offset_resets(partitions: Mapping[str, int], committed: Mapping[Partition, int],
                  found: Mapping[Partition, int], end: Mapping[Partition, int]) -> list[OffsetReset]:
    """The new offset of every partition of the input topics (``partitions``: topic ->
    partition count). ``found``: the offset the target resolved to per partition, -1 where
    there is none (no record at or after the time): those go to their ``end`` offset."""
    out = []
    for topic in partitions:
        for p in range(partitions[topic]):
            new = found.get((topic, p), -1)
            if new < 0:
                if (topic, p) not in end:
                    raise ResetError(f"no offset found for {topic} partition {p}")
                new = end[(topic, p)]
            out.append(OffsetReset(topic, p, committed.get((topic, p)), new))
    return out


@dataclass
class ResetPlan:
    """Everything a reset changes; :meth:`lines` is what ``--dry-run`` prints."""

    application_id: str
    target: ResetTarget
    offsets: list[OffsetReset] = field(default_factory=list)
    #: internal topics to delete, with the partitions the group has committed offsets for
    delete_topics: dict[str, list[int]] = field(default_factory=dict)
    #: topics named like internal ones that are left alone, and why
    kept: dict[str, str] = field(default_factory=dict)
    #: default input topics (committed offsets) that no longer exist
    gone: list[str] = field(default_factory=list)
    #: the local state directory to wipe (``<state dir>/<application.id>``), if asked for
    state_root: Path | None = None
    #: what is in it now (None: it does not exist)
    state_entries: list[str] | None = None

    @classmethod
    def build(cls, application_id: str, target: ResetTarget, choice: TopicChoice,
              offsets: list[OffsetReset], committed: Mapping[Partition, int],
              state_root: Path | None = None,
              state_entries: list[str] | None = None) -> ResetPlan:
        """Put the parts together."""
        delete = {t: sorted(p for tt, p in committed if tt == t) for t in choice.internal}
        return cls(application_id, target, offsets, delete, dict(choice.kept), list(choice.gone),
                   state_root, state_entries)

    @property
    def forgotten_offsets(self) -> int:
        """Committed offsets that go away with the deleted topics."""
        return sum(len(ps) for ps in self.delete_topics.values())

    def lines(self) -> list[str]:
        """The plan, one line per change, for people."""
        app = self.application_id
        out = [f"Reset of application {app!r} (consumer group {app!r}):"]
        if self.offsets:
            out.append(f"  committed offsets of the input topics, to {self.target.description}:")
            for o in self.offsets:
                current = "none" if o.current is None else str(o.current)
                out.append(f"    {o.topic} partition {o.partition}: {current} -> {o.new}")
        else:
            out.append("  no input topics: no committed offset changes")
        for t in self.gone:
            out.append(f"  skipped input topic {t}: it no longer exists")
        if self.delete_topics:
            out.append("  internal topics to delete:")
            for t, ps in self.delete_topics.items():
                note = f" (and the group's committed offsets of {len(ps)} partition(s))" \
                    if ps else ""
                out.append(f"    {t}{note}")
        else:
            out.append("  no internal topics to delete")
        for t, why in self.kept.items():
            out.append(f"  not deleting {t}: {why}")
        if self.state_root is not None:
            if self.state_entries is None:
                out.append(f"  local state: {self.state_root} does not exist, nothing to wipe")
            else:
                shown = ", ".join(self.state_entries[:5]) + (
                    ", ..." if len(self.state_entries) > 5 else "")
                out.append(f"  local state: wipe {self.state_root} "
                           f"({len(self.state_entries)} entries{': ' + shown if shown else ''})")
        else:
            out.append("  local state: not touched (no --state-dir); call KafkaStreams.cleanup() "
                       "or delete <state.dir>/" + app + " on every instance")
        return out

    def summary(self) -> str:
        """One line saying what was done (after a successful reset)."""
        topics = sorted({o.topic for o in self.offsets})
        parts = [f"reset {len(self.offsets)} partition(s) of {len(topics)} input topic(s) to "
                 f"{self.target.description}",
                 f"deleted {len(self.delete_topics)} internal topic(s)"]
        if self.state_root is not None:
            parts.append(f"wiped {self.state_root}" if self.state_entries is not None
                         else "no local state to wipe")
        return f"Application {self.application_id!r}: " + "; ".join(parts) + "."
