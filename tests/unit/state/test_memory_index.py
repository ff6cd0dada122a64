"""The in-memory store's chunked sorted key index, with chunks small enough to split and merge."""

from __future__ import annotations

import random
from typing import Any

import pytest

from streams.state import memory
from streams.state.memory import _SortedKeys, prefix_upper_bound


def test_prefix_upper_bound() -> None:
    assert prefix_upper_bound(b"ab") == b"ac"
    assert prefix_upper_bound(b"a\xff") == b"b"
    assert prefix_upper_bound(b"a\xff\xff") == b"b"
    assert prefix_upper_bound(b"\x00") == b"\x01"
    assert prefix_upper_bound(b"\xff") is None
    assert prefix_upper_bound(b"\xff\xff") is None
    assert prefix_upper_bound(b"") is None


@pytest.mark.parametrize("seed", range(5))
def test_sorted_keys_match_a_sorted_set(seed: int) -> None:
    rng = random.Random(seed)
    present = sorted({rng.randbytes(2) for _ in range(30)})
    index = _SortedKeys(present, chunk=4)
    model = set(present)
    for _ in range(2000):
        key = rng.randbytes(rng.randrange(1, 3))
        if key in model and rng.random() < 0.5:
            index.remove(key)
            model.discard(key)
        elif key not in model:
            index.add(key)
            model.add(key)
        lo, hi = sorted([rng.randbytes(1), rng.randbytes(2)])
        ordered = sorted(model)
        assert index.slice(None, None, True) == ordered
        assert index.slice(lo, hi, True) == [k for k in ordered if lo <= k <= hi]
        assert index.slice(lo, hi, False) == [k for k in ordered if lo <= k < hi]
        assert index.slice(lo, None, True) == [k for k in ordered if lo <= k]
        assert index.slice(None, hi, True) == [k for k in ordered if k <= hi]
    assert len(index) == len(model)


def test_empty_index() -> None:
    index = _SortedKeys([], chunk=4)
    assert index.slice(None, None, True) == []
    assert index.slice(b"a", b"b", True) == []
    index.add(b"a")
    index.remove(b"a")
    assert index.slice(None, None, True) == []
    assert len(index) == 0


def test_store_with_many_chunks(monkeypatch: Any, context: Any) -> None:
    monkeypatch.setattr(memory, "INDEX_CHUNK_SIZE", 8)
    store = memory.InMemoryKeyValueStore("many")
    store.init(context)
    rng = random.Random(11)
    model: dict[bytes, bytes] = {}
    for step in range(3000):
        key = rng.randbytes(2)
        if rng.random() < 0.3 and model:
            victim = rng.choice(list(model))
            store.delete(victim)
            del model[victim]
        else:
            store.put(key, b"%d" % step)
            model[key] = b"%d" % step
        if step % 37 == 0:
            lo, hi = sorted([rng.randbytes(2), rng.randbytes(2)])
            expected = sorted((k, v) for k, v in model.items() if lo <= k <= hi)
            assert list(store.range(lo, hi)) == expected
            assert list(store.reverse_range(lo, hi)) == expected[::-1]
    assert list(store.all()) == sorted(model.items())
    store.close()
