"""OffsetCheckpoint: Kafka Streams' .checkpoint format, atomic writes, corrupt files."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.errors import StateStoreError
from streams.state.checkpoint import CHECKPOINT_FILE_NAME, OffsetCheckpoint


def test_round_trip(tmp_path: Path) -> None:
    cp = OffsetCheckpoint(tmp_path / CHECKPOINT_FILE_NAME)
    offsets = {("app-counts-changelog", 3): 1042, ("app-seen-changelog", 3): 0, ("a.b_c-d", 10): 7}
    cp.write(offsets)
    assert cp.read() == offsets
    assert cp.path == tmp_path / ".checkpoint"


def test_file_format_matches_kafka_streams(tmp_path: Path) -> None:
    cp = OffsetCheckpoint(tmp_path / ".checkpoint")
    cp.write({("t2", 0): 5, ("t1", 1): 10})
    assert (tmp_path / ".checkpoint").read_text() == "0\n2\nt1 1 10\nt2 0 5\n"


def test_reads_a_file_written_by_kafka_streams(tmp_path: Path) -> None:
    path = tmp_path / ".checkpoint"
    path.write_text("0\n2\napp-store-changelog 0 15\napp-other-changelog 0 3\n")
    assert OffsetCheckpoint(path).read() == {
        ("app-store-changelog", 0): 15,
        ("app-other-changelog", 0): 3,
    }


def test_missing_or_empty_file_means_no_offsets(tmp_path: Path) -> None:
    assert OffsetCheckpoint(tmp_path / "nope").read() == {}
    (tmp_path / "empty").write_text("")
    assert OffsetCheckpoint(tmp_path / "empty").read() == {}


def test_write_replaces_and_leaves_no_temp_file(tmp_path: Path) -> None:
    cp = OffsetCheckpoint(tmp_path / "task" / ".checkpoint")  # parent created on demand
    cp.write({("t", 0): 1})
    cp.write({("t", 1): 2})
    assert cp.read() == {("t", 1): 2}
    assert sorted(p.name for p in (tmp_path / "task").iterdir()) == [".checkpoint"]
    cp.write({})
    assert cp.read() == {}


def test_negative_offsets_are_not_written(tmp_path: Path) -> None:
    cp = OffsetCheckpoint(tmp_path / ".checkpoint")
    cp.write({("t", 0): -1, ("t", 1): 9})
    assert cp.read() == {("t", 1): 9}


def test_delete(tmp_path: Path) -> None:
    cp = OffsetCheckpoint(tmp_path / ".checkpoint")
    cp.write({("t", 0): 1})
    cp.delete()
    assert not cp.path.exists()
    cp.delete()  # no error when absent
    assert cp.read() == {}


@pytest.mark.parametrize(
    "content",
    [
        "garbage",
        "1\n1\nt 0 1\n",  # unknown version
        "0\n2\nt 0 1\n",  # fewer entries than announced
        "0\n1\nt 0 1\nu 0 2\n",  # more entries than announced
        "0\n1\nt zero 1\n",
        "0\n1\nt 0\n",
        "0\n",
        "0\n-1\n",
    ],
)
def test_corrupt_file_raises_naming_the_path(tmp_path: Path, content: str) -> None:
    path = tmp_path / ".checkpoint"
    path.write_text(content)
    with pytest.raises(StateStoreError, match="corrupt checkpoint file") as info:
        OffsetCheckpoint(path).read()
    assert str(path) in str(info.value)


def test_binary_garbage_raises(tmp_path: Path) -> None:
    path = tmp_path / ".checkpoint"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(StateStoreError, match=str(path)):
        OffsetCheckpoint(path).read()


def test_topic_names_with_spaces_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(StateStoreError, match="topic name"):
        OffsetCheckpoint(tmp_path / ".checkpoint").write({("bad topic", 0): 1})
