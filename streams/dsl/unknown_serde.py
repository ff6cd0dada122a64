"""The marker of a serde the DSL cannot infer (:data:`UNKNOWN_SERDE`).

Each KStream, KTable and grouped stream carries the serdes of its keys and values as far as
the DSL knows them, and each is one of:

* a serde: given by ``Consumed``/``Grouped``/``Materialized``/``Produced``/..., or kept from
  upstream because the operation left the key or value unchanged;
* ``None``: none was given (e.g. a source without serdes): the config's
  ``default.key.serde``/``default.value.serde`` applies, nothing is recorded;
* :data:`UNKNOWN_SERDE`: an operation changed the key or the value (``map``, ``process``, an
  aggregation, ...), so the upstream serde no longer applies and none was given. The config's
  default applies as well, but wherever such keys or values are serialized (a sink, a
  repartition topic, a store) the DSL records a
  :class:`~streams.topology.topology.SerdeRequirement`, so that building the topology with a
  config lacking the default fails at once and names the node that needs a serde.

Serdes handed to the topology (sinks, sources, store builders) are never the marker:
:func:`known_serde` turns it into ``None``. This module imports nothing else of the DSL.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["UNKNOWN_SERDE", "known_serde"]


class _UnknownSerde:
    """Type of :data:`UNKNOWN_SERDE` (one instance)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown serde>"


#: A serde the DSL cannot infer after a key- or value-changing operation: it must come from
#: Grouped/Materialized/Produced or the config's defaults (see the module docstring). Compare
#: with ``is``.
UNKNOWN_SERDE: Final[Any] = _UnknownSerde()


def known_serde(serde: Any) -> Any:
    """``serde``, or None for :data:`UNKNOWN_SERDE` (what the topology is given)."""
    return None if serde is UNKNOWN_SERDE else serde
