"""What every store builder shares: store-name validation and the builder base class.

:class:`StoreBuilderBase` holds what the key-value (:mod:`streams.state.stores`), window and
session (:mod:`streams.state.window_store_builders`) store builders have in common: the
supplier, the serdes, logging and caching. It lives here, below both modules, so that
:class:`~streams.state.stores.Stores` can import the window and session builders.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Generic, Protocol, Self, TypeVar

from streams.errors import StateStoreError
from streams.serdes.base import Serde

__all__ = ["StoreBuilderBase", "validate_store_name"]

K = TypeVar("K")
V = TypeVar("V")

# Store names become part of the changelog topic name and a directory name, so they are held
# to Kafka's topic-name alphabet.
_LEGAL_NAME = re.compile(r"[a-zA-Z0-9._-]+")
_MAX_NAME_LENGTH = 200


def validate_store_name(name: str) -> str:
    """Return ``name`` if it is a legal store name, else raise :class:`StateStoreError`.

    Legal: 1-200 characters from ``[a-zA-Z0-9._-]``, not ``.`` or ``..`` (the name is used in
    the changelog topic ``<application.id>-<name>-changelog`` and as a directory name).
    """
    if (
        not isinstance(name, str)
        or not _LEGAL_NAME.fullmatch(name)
        or name in (".", "..")
        or len(name) > _MAX_NAME_LENGTH
    ):
        raise StateStoreError(
            f"invalid state store name {name!r}: use 1-{_MAX_NAME_LENGTH} characters from "
            "[a-zA-Z0-9._-] (it becomes part of the changelog topic name and a directory name)"
        )
    return name


class _Supplier(Protocol):
    """What the builders need of a supplier."""

    @property
    def name(self) -> str: ...
    @property
    def persistent(self) -> bool: ...


S = TypeVar("S", bound=_Supplier)


class StoreBuilderBase(Generic[K, V, S]):
    """What the key-value, window and session store builders share: the ``StoreBuilder`` shape.

    The ``with_*`` methods change the builder and return it, for chaining (as in Kafka
    Streams); :meth:`with_default_serdes` returns a copy. Logging is enabled by default.
    Caching is off by default; when enabled, a task puts the record cache
    (``streams.state.cache``) in front of key-value stores; window and session stores ignore it.
    """

    #: Kind of store named in error messages, the factory that makes this builder, and the
    #: class name shown by ``repr``.
    _kind = "state"
    _factory = "Stores.key_value_store_builder"
    _repr_name = "KeyValueStoreBuilder"

    def __init__(self, supplier: S, key_serde: Serde[K] | None, value_serde: Serde[V] | None) -> None:
        """Builder over ``supplier`` with the given serdes (None: filled in later)."""
        self._supplier = supplier
        self._key_serde = key_serde
        self._value_serde = value_serde
        self._logging_enabled = True
        self._log_config: dict[str, str] = {}
        self._caching_enabled = False

    @property
    def name(self) -> str:
        """Name of the stores built."""
        return self._supplier.name

    @property
    def supplier(self) -> S:
        """The supplier of the innermost bytes stores."""
        return self._supplier

    @property
    def persistent(self) -> bool:
        """Whether the built stores keep data on disk."""
        return self._supplier.persistent

    @property
    def key_serde(self) -> Serde[K] | None:
        """Key serde, or None if the default is still to be applied."""
        return self._key_serde

    @property
    def value_serde(self) -> Serde[V] | None:
        """Value serde, or None if the default is still to be applied."""
        return self._value_serde

    @property
    def logging_enabled(self) -> bool:
        """Whether built stores send their changes to a changelog topic."""
        return self._logging_enabled

    @property
    def log_config(self) -> dict[str, str]:
        """Extra topic configs for the changelog topic (a copy)."""
        return dict(self._log_config)

    @property
    def caching_enabled(self) -> bool:
        """Whether a task puts the record cache in front of the built stores."""
        return self._caching_enabled

    def with_logging_enabled(self, config: dict[str, Any] | None = None) -> Self:
        """Log changes to ``<application.id>-<name>-changelog``, with extra topic ``config``."""
        self._logging_enabled = True
        self._log_config = {str(k): str(v) for k, v in (config or {}).items()}
        return self

    def with_logging_disabled(self) -> Self:
        """Do not log changes: the store is not fault tolerant (it starts empty on a new host)."""
        self._logging_enabled = False
        self._log_config = {}
        return self

    def with_caching_enabled(self) -> Self:
        """Put the record cache in front of the built stores (key-value stores only)."""
        self._caching_enabled = True
        return self

    def with_caching_disabled(self) -> Self:
        """Do not cache."""
        self._caching_enabled = False
        return self

    def with_default_serdes(
        self, key_serde: Serde[Any] | None, value_serde: Serde[Any] | None
    ) -> Self:
        """A copy of this builder whose missing (None) serdes are replaced by the given ones."""
        other = copy.copy(self)
        other._log_config = dict(self._log_config)
        if other._key_serde is None:
            other._key_serde = key_serde
        if other._value_serde is None:
            other._value_serde = value_serde
        return other

    def _serdes(self) -> tuple[Serde[K], Serde[V]]:
        if self._key_serde is None or self._value_serde is None:
            missing = "key" if self._key_serde is None else "value"
            raise StateStoreError(
                f"{self._kind} store {self.name!r} has no {missing} serde: pass one to "
                f"{self._factory}(...) or configure the default serdes"
            )
        return self._key_serde, self._value_serde

    def _check_name(self, store_name: str) -> None:
        if store_name != self.name:
            raise StateStoreError(
                f"supplier for state store {self.name!r} returned a store named {store_name!r}"
            )

    def __repr__(self) -> str:
        return (
            f"{self._repr_name}(name={self.name!r}, supplier={self._supplier!r}, "
            f"logging_enabled={self._logging_enabled}, caching_enabled={self._caching_enabled})"
        )
