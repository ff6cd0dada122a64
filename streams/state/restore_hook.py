"""A store context that tells a wrapping store when its inner store was restored into."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.state.api import ChangelogWriter, RestoreCallback, StateStore, StateStoreContext

__all__ = ["RestoreHookContext"]


class RestoreHookContext:
    """The store context a wrapping store hands its inner bytes store: the same as its own,
    except that the restore callback the inner store registers also calls ``on_restore``
    after each batch (the wrapper then knows state it derived from the inner store is
    stale: the suppression buffer's time index, a versioned store's stream time)."""

    def __init__(self, context: StateStoreContext, on_restore: Callable[[], None]) -> None:
        self._context = context
        self._on_restore = on_restore

    @property
    def application_id(self) -> str:
        return self._context.application_id

    @property
    def task_id(self) -> str:
        return self._context.task_id

    @property
    def state_dir(self) -> Path | None:
        return self._context.state_dir

    @property
    def changelog_writer(self) -> ChangelogWriter | None:
        return self._context.changelog_writer

    @property
    def timestamp(self) -> int:
        return self._context.timestamp

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def register(self, store: StateStore, restore: RestoreCallback) -> None:
        on_restore = self._on_restore

        def restore_and_reindex(batch: list[tuple[bytes, bytes | None]]) -> None:
            restore(batch)
            on_restore()

        self._context.register(store, restore_and_reindex)
