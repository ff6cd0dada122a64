"""One behavioural suite for every KeyValueBytesStore (in-memory and RocksDB, via ``store``)."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from streams.errors import InvalidStateStoreError, StateStoreError

ORDERED = [
    b"",
    b"\x00",
    b"\x00\x00",
    b"\x01",
    b"\x7f",
    b"\x7f\xff",
    b"\x80",
    b"\xfe",
    b"\xff",
    b"\xff\x00",
    b"\xff\xff",
]


def fill(store: Any, keys: list[bytes]) -> None:
    for k in keys:
        store.put(k, b"v" + k)


def keys_of(items: Any) -> list[bytes]:
    return [k for k, _ in items]


def test_kind_flags(store: Any) -> None:
    assert store.name == "store"
    assert store.is_open
    assert store.persistent is (type(store).__name__ == "RocksDBKeyValueStore")


def test_get_put_overwrite(store: Any) -> None:
    assert store.get(b"k") is None
    store.put(b"k", b"1")
    assert store.get(b"k") == b"1"
    store.put(b"k", b"2")
    assert store.get(b"k") == b"2"


def test_empty_value_is_a_value_not_a_delete(store: Any) -> None:
    store.put(b"k", b"")
    assert store.get(b"k") == b""
    assert list(store.all()) == [(b"k", b"")]
    assert store.put_if_absent(b"k", b"x") == b""
    assert store.get(b"k") == b""


def test_iteration_uses_unsigned_byte_order(store: Any) -> None:
    shuffled = ORDERED[:]
    random.Random(7).shuffle(shuffled)
    fill(store, shuffled)
    assert keys_of(store.all()) == ORDERED
    assert keys_of(store.reverse_all()) == ORDERED[::-1]
    assert b"\x00" < b"\x7f" < b"\x80" < b"\xff"
    assert keys_of(store.range(b"\x7f", b"\x80")) == [b"\x7f", b"\x7f\xff", b"\x80"]
    assert store.get(b"\x80") == b"v\x80"


def test_range_is_inclusive_at_both_ends(store: Any) -> None:
    fill(store, [b"a", b"b", b"c", b"d", b"e"])
    assert keys_of(store.range(b"b", b"d")) == [b"b", b"c", b"d"]
    assert keys_of(store.range(b"bb", b"dd")) == [b"c", b"d"]
    assert keys_of(store.range(b"c", b"c")) == [b"c"]
    assert keys_of(store.range(None, b"b")) == [b"a", b"b"]
    assert keys_of(store.range(b"d", None)) == [b"d", b"e"]
    assert keys_of(store.range(None, None)) == [b"a", b"b", b"c", b"d", b"e"]
    assert list(store.range(b"x", b"z")) == []
    assert list(store.range(b"d", b"b")) == []  # from > to: empty, as in Kafka Streams


def test_reverse_range_is_inclusive_and_descending(store: Any) -> None:
    fill(store, [b"a", b"b", b"c", b"d", b"e"])
    assert keys_of(store.reverse_range(b"b", b"d")) == [b"d", b"c", b"b"]
    assert keys_of(store.reverse_range(b"bb", b"dd")) == [b"d", b"c"]
    assert keys_of(store.reverse_range(None, b"b")) == [b"b", b"a"]
    assert keys_of(store.reverse_range(b"d", None)) == [b"e", b"d"]
    assert keys_of(store.reverse_range(None, None)) == [b"e", b"d", b"c", b"b", b"a"]
    assert list(store.reverse_range(b"d", b"b")) == []
    assert list(store.reverse_range(b"0", b"1")) == []


def test_range_values(store: Any) -> None:
    fill(store, [b"a", b"b"])
    assert list(store.range(b"a", b"b")) == [(b"a", b"va"), (b"b", b"vb")]
    assert list(store.reverse_range(b"a", b"b")) == [(b"b", b"vb"), (b"a", b"va")]


def test_prefix_scan(store: Any) -> None:
    fill(store, [b"a", b"ab", b"abc", b"abd", b"ac", b"b", b"a\xff", b"a\xff\x00", b"a\xff\xff"])
    assert keys_of(store.prefix_scan(b"ab")) == [b"ab", b"abc", b"abd"]
    assert keys_of(store.prefix_scan(b"a\xff")) == [b"a\xff", b"a\xff\x00", b"a\xff\xff"]
    assert keys_of(store.prefix_scan(b"zz")) == []
    assert len(list(store.prefix_scan(b""))) == 9


def test_prefix_scan_with_ff_prefix(store: Any) -> None:
    fill(store, [b"\xfe\xff", b"\xff", b"\xff\x00", b"\xff\xff", b"\xff\xff\xff"])
    assert keys_of(store.prefix_scan(b"\xff")) == [
        b"\xff",
        b"\xff\x00",
        b"\xff\xff",
        b"\xff\xff\xff",
    ]
    assert keys_of(store.prefix_scan(b"\xff\xff")) == [b"\xff\xff", b"\xff\xff\xff"]
    assert keys_of(store.prefix_scan(b"\xfe")) == [b"\xfe\xff"]


def test_put_none_deletes(store: Any) -> None:
    fill(store, [b"a", b"b"])
    store.put(b"a", None)
    assert store.get(b"a") is None
    assert keys_of(store.all()) == [b"b"]
    store.put(b"never-there", None)
    assert store.get(b"never-there") is None


def test_put_if_absent(store: Any) -> None:
    assert store.put_if_absent(b"k", b"1") is None
    assert store.get(b"k") == b"1"
    assert store.put_if_absent(b"k", b"2") == b"1"
    assert store.get(b"k") == b"1"  # not overwritten


def test_delete_returns_old_value(store: Any) -> None:
    store.put(b"k", b"1")
    assert store.delete(b"k") == b"1"
    assert store.get(b"k") is None
    assert store.delete(b"k") is None
    assert store.delete(b"missing") is None


def test_put_all(store: Any) -> None:
    store.put(b"gone", b"x")
    store.put_all([(b"a", b"1"), (b"b", b"2"), (b"gone", None), (b"a", b"3")])
    assert list(store.all()) == [(b"a", b"3"), (b"b", b"2")]
    store.put_all(iter([(b"c", b"4")]))
    assert store.get(b"c") == b"4"


def test_delete_then_reinsert_is_scanned_once(store: Any) -> None:
    fill(store, [b"a", b"b", b"c"])
    assert keys_of(store.all()) == [b"a", b"b", b"c"]  # builds the in-memory index
    store.delete(b"b")
    store.put(b"b", b"again")
    store.put(b"d", b"new")
    store.delete(b"d")
    store.put(b"d", b"back")
    assert list(store.all()) == [(b"a", b"va"), (b"b", b"again"), (b"c", b"vc"), (b"d", b"back")]


def test_modification_during_iteration(store: Any) -> None:
    fill(store, [b"a", b"b", b"c", b"d"])
    it = store.all()
    first = next(it)
    store.put(b"bb", b"inserted")  # after the snapshot: not seen
    store.put(b"zz", b"inserted")
    store.delete(b"c")
    store.put(b"d", b"changed")
    rest = list(it)
    seen = [first[0], *keys_of(rest)]
    assert seen == sorted(seen)
    assert b"bb" not in seen and b"zz" not in seen
    assert set(seen) <= {b"a", b"b", b"c", b"d"}
    assert first == (b"a", b"va")
    # and the store itself has every change
    assert keys_of(store.all()) == [b"a", b"b", b"bb", b"d", b"zz"]


def test_delete_everything_while_iterating(store: Any) -> None:
    fill(store, [bytes([i]) for i in range(50)])
    seen = []
    for key, _ in store.range(None, None):
        seen.append(key)
        store.delete(key)
    assert seen == [bytes([i]) for i in range(50)]
    assert list(store.all()) == []


def test_several_open_iterators(store: Any) -> None:
    fill(store, [b"a", b"b", b"c"])
    it1, it2 = store.all(), store.reverse_all()
    assert next(it1)[0] == b"a"
    assert next(it2)[0] == b"c"
    assert keys_of(it1) == [b"b", b"c"]
    assert keys_of(it2) == [b"b", b"a"]


def test_approximate_num_entries(store: Any) -> None:
    assert store.approximate_num_entries() == 0
    fill(store, [bytes([i]) for i in range(100)])
    if store.persistent:
        store.flush()
        assert 90 <= store.approximate_num_entries() <= 110
    else:
        assert store.approximate_num_entries() == 100


def test_registers_restore_callback(store: Any, context: Any) -> None:
    assert context.registered["store"][0] is store
    store.put(b"old", b"1")
    store.put(b"keep", b"1")
    context.restore("store", [(b"a", b"1"), (b"b", b"2"), (b"old", None), (b"a", b"3")])
    assert list(store.all()) == [(b"a", b"3"), (b"b", b"2"), (b"keep", b"1")]


def test_flush_is_harmless(store: Any) -> None:
    store.put(b"a", b"1")
    store.flush()
    store.flush()
    assert store.get(b"a") == b"1"


def test_closed_store_refuses_access(store: Any) -> None:
    store.put(b"a", b"1")
    store.close()
    assert not store.is_open
    for call in (
        lambda: store.get(b"a"),
        lambda: store.put(b"a", b"2"),
        lambda: store.delete(b"a"),
        lambda: list(store.all()),
        lambda: list(store.range(b"a", b"b")),
        lambda: list(store.prefix_scan(b"a")),
        lambda: store.approximate_num_entries(),
    ):
        with pytest.raises(InvalidStateStoreError, match="store"):
            call()
    store.close()  # idempotent


def test_uninitialized_store_refuses_access(store_factory: Any) -> None:
    fresh = store_factory("fresh")
    assert not fresh.is_open
    with pytest.raises(InvalidStateStoreError, match="fresh"):
        fresh.get(b"a")
    with pytest.raises(InvalidStateStoreError, match="fresh"):
        fresh.put(b"a", b"1")


def test_iterator_raises_once_store_is_closed(store: Any) -> None:
    fill(store, [b"a", b"b", b"c"])
    it = store.all()
    next(it)
    store.close()
    with pytest.raises(InvalidStateStoreError):
        next(it)


def test_init_twice_is_an_error(store: Any, context: Any) -> None:
    with pytest.raises(StateStoreError, match="already open"):
        store.init(context)


def test_scans_from_another_thread_see_pending_writes(store: Any) -> None:
    """Interactive queries run on other threads; they must see the owner's writes, even unflushed."""
    fill(store, [b"a", b"b", b"c", b"d"])
    store.flush()
    assert keys_of(store.all()) == [b"a", b"b", b"c", b"d"]
    store.put(b"b", b"changed")
    store.delete(b"c")
    store.put(b"bb", b"new")
    store.put(b"e", b"new")
    results: dict[str, Any] = {}

    def query() -> None:
        results["all"] = list(store.all())
        results["rev"] = keys_of(store.reverse_all())
        results["range"] = keys_of(store.range(b"b", b"d"))
        results["rrange"] = keys_of(store.reverse_range(b"b", b"d"))
        results["prefix"] = keys_of(store.prefix_scan(b"b"))
        results["get"] = store.get(b"b")

    t = threading.Thread(target=query)
    t.start()
    t.join()
    assert results["all"] == [
        (b"a", b"va"),
        (b"b", b"changed"),
        (b"bb", b"new"),
        (b"d", b"vd"),
        (b"e", b"new"),
    ]
    assert results["rev"] == [b"e", b"d", b"bb", b"b", b"a"]
    assert results["range"] == [b"b", b"bb", b"d"]
    assert results["rrange"] == [b"d", b"bb", b"b"]
    assert results["prefix"] == [b"b", b"bb"]
    assert results["get"] == b"changed"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_operations_match_a_model(store: Any, seed: int) -> None:
    """Random puts, deletes and scans against a dict; exercises the lazy index and the overlay."""
    rng = random.Random(seed)
    model: dict[bytes, bytes] = {}
    universe = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 3))) for _ in range(60)]
    for step in range(1500):
        op = rng.random()
        key = rng.choice(universe)
        if op < 0.45:
            value = bytes([step % 256])
            store.put(key, value)
            model[key] = value
        elif op < 0.6:
            assert store.delete(key) == model.pop(key, None)
        elif op < 0.65:
            store.put(key, None)
            model.pop(key, None)
        elif op < 0.7:
            old = store.put_if_absent(key, b"pia")
            assert old == model.get(key)
            model.setdefault(key, b"pia")
        elif op < 0.8:
            assert store.get(key) == model.get(key)
        elif op < 0.85:
            store.flush()
        else:
            lo, hi = sorted([rng.choice(universe), rng.choice(universe)])
            expected = sorted((k, v) for k, v in model.items() if lo <= k <= hi)
            assert list(store.range(lo, hi)) == expected
            assert list(store.reverse_range(lo, hi)) == expected[::-1]
            prefix = key[:1]
            assert list(store.prefix_scan(prefix)) == sorted(
                (k, v) for k, v in model.items() if k.startswith(prefix)
            )
    assert list(store.all()) == sorted(model.items())
