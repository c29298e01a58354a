"""``open_store(path, read_only=True)``: creates nothing, writes nothing, migrates nothing, and says clearly why it
cannot open a store that is missing, older, newer or not a Pathwatch store."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from store.errors import StoreError, StoreReadOnlyError
from store.schema import SCHEMA_VERSION
from store.sqlite import open_store
from tests.store.test_sqlite import make_run


def _state(folder: Path) -> dict[str, tuple[int, str]]:
    return {p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) for p in sorted(folder.iterdir())}


@pytest.fixture
def closed_store(tmp_path: Path) -> Path:
    db = tmp_path / "store" / "pathwatch.db"
    with open_store(db) as s:
        s.save_runs([make_run(i) for i in range(5)])
    assert [p.name for p in db.parent.iterdir()] == ["pathwatch.db"]
    return db


def test_reading_creates_and_changes_nothing(closed_store: Path) -> None:
    before = _state(closed_store.parent)
    with open_store(closed_store, read_only=True) as s:
        assert s.read_only and s.count_runs() == 5 and s.get_run("run-000003").outcome == "ok"
        with pytest.raises(StoreReadOnlyError, match="opened read-only; cannot save runs"):
            s.save_runs([make_run(99)])
        with pytest.raises(sqlite3.Error):
            s.conn.execute("DELETE FROM runs")  # even a raw statement cannot write
    assert _state(closed_store.parent) == before


def test_a_missing_store_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "nowhere" / "pathwatch.db"
    with pytest.raises(StoreError, match="no such file") as err:
        open_store(db, read_only=True)
    assert str(db) in str(err.value)
    assert not db.parent.exists()


@pytest.mark.parametrize(("version", "word"), [(SCHEMA_VERSION - 1, "older"), (SCHEMA_VERSION + 1, "newer")])
def test_an_older_or_newer_store_is_refused_and_not_migrated(closed_store: Path, version: int, word: str) -> None:
    conn = sqlite3.connect(closed_store)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()
    before = _state(closed_store.parent)
    with pytest.raises(StoreError, match=f"schema version {version} is {word}"):
        open_store(closed_store, read_only=True)
    assert _state(closed_store.parent) == before


@pytest.mark.parametrize(("content", "message"), [(b"", "not a Pathwatch store"), (b"hello, not sqlite " * 100, "not a database")])
def test_a_file_that_is_not_a_store_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    db = tmp_path / "other.db"
    db.write_bytes(content)
    with pytest.raises(StoreError, match=message) as err:
        open_store(db, read_only=True)
    assert str(db) in str(err.value) and db.read_bytes() == content


def test_an_immutable_reader_switches_to_the_wal_when_a_writer_appears(closed_store: Path) -> None:
    """Opened while no writer was connected, the reader reads the main file alone; once a probe writes, it reads
    through the probe's -wal and -shm (never creating them) and sees the new run."""
    reader = open_store(closed_store, read_only=True)
    assert reader.immutable and reader.count_runs() == 5
    with open_store(closed_store) as writer:
        writer.save_run(make_run(7_000))
        assert reader.count_runs() == 6 and not reader.immutable
        reader.close()
    assert [p.name for p in closed_store.parent.iterdir()] == ["pathwatch.db"], "the writer cleaned up; the reader left nothing"


def test_a_path_with_uri_characters_opens(tmp_path: Path) -> None:
    db = tmp_path / "odd ?#% name.db"
    with open_store(db) as s:
        s.save_run(make_run(1))
    with open_store(db, read_only=True) as s:
        assert s.count_runs() == 1
