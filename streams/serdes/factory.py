"""Pick a serde from a Python type: ``serdes.from_type(int)`` is ``serdes.Long()``."""

from __future__ import annotations

import dataclasses
import types
import typing
import uuid
from typing import Any

import msgspec

from streams.errors import ConfigError
from streams.serdes.base import Serde
from streams.serdes.numeric import Double, Long
from streams.serdes.primitives import UUID, Boolean, Bytes, String, Void
from streams.serdes.structured import Json

__all__ = ["from_type"]

_BY_TYPE: dict[Any, type[Any]] = {
    bytes: Bytes,
    str: String,
    int: Long,
    float: Double,
    bool: Boolean,
    uuid.UUID: UUID,
    type(None): Void,
    None: Void,
}


def from_type(tp: Any) -> Serde[Any]:
    """Return the conventional serde for the Python type ``tp``.

    ============================================  ==============================
    ``tp``                                        serde
    ============================================  ==============================
    ``bytes``                                     ``Bytes()``
    ``str``                                       ``String()``
    ``int``                                       ``Long()`` (8 bytes, like Java)
    ``float``                                     ``Double()``
    ``bool``                                      ``Boolean()``
    ``uuid.UUID``                                 ``UUID()``
    ``None`` / ``type(None)``                     ``Void()``
    ``msgspec.Struct`` subclass, dataclass,       ``Json(tp)`` (typed JSON)
    ``TypedDict``, ``dict``, ``list``, generic
    aliases such as ``list[int]``
    ============================================  ==============================

    Anything else raises :class:`~streams.errors.ConfigError`; pass a serde explicitly then.

    Example::

        serdes.from_type(int)    # Long()
        serdes.from_type(Order)  # Json(type=Order)  (Order a msgspec.Struct)
    """
    serde_cls = _BY_TYPE.get(tp)
    if serde_cls is not None:
        return serde_cls()
    if isinstance(tp, type) and (
        issubclass(tp, msgspec.Struct | dict | list | tuple)
        or dataclasses.is_dataclass(tp)
        or typing.is_typeddict(tp)
    ):
        return Json(tp)
    if isinstance(tp, types.GenericAlias) or typing.get_origin(tp) is not None:
        return Json(tp)
    raise ConfigError(
        f"no default serde for {tp!r}; pass one explicitly (e.g. serdes.Json({tp!r}))"
    )
