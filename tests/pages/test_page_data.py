"""The pages' data layer on real SQLite files: the shared read-only connection follows other processes' writes, and
filters are applied before the row limit, never after it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import streamlit as st

from analysis.frame import COLUMNS, matching, runs_frame
from pages import _data as data
from pages import _store
from store.sqlite import open_store
from tests.conftest import copy_store


@pytest.fixture
def db(story_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = copy_store(story_db, tmp_path / "pathwatch.db")
    monkeypatch.setenv("PATHWATCH_DB", str(path))
    monkeypatch.delenv("PATHWATCH_SETTINGS", raising=False)
    monkeypatch.setenv("PATHWATCH_READ_ONLY", "1")
    st.cache_data.clear()
    st.cache_resource.clear()
    return path


def _count() -> int:
    with _store.reading() as s:
        return s.count_runs()


def _all(db: Path):  # type: ignore[no-untyped-def]
    with open_store(db, read_only=True) as s:
        return runs_frame(s.run_rows(COLUMNS))


def test_the_shared_connection_is_read_only_and_kept(db: Path) -> None:
    with _store.reading() as first:
        assert first.read_only
    with _store.reading() as again:
        assert again is first, "one connection, kept by st.cache_resource"
    assert sorted(p.name for p in db.parent.iterdir()) == ["pathwatch.db"], "reading created no -wal or -shm"


def test_the_shared_connection_sees_what_another_process_wrote_and_closed(db: Path, story_runs) -> None:  # type: ignore[no-untyped-def]
    before = _count()
    with _store.reading() as first:
        assert first.immutable, "no writer: the file is read as immutable"
    with open_store(db) as writer:  # a cron probe: opens, writes, closes (its -wal is gone again)
        writer.save_runs([replace(r, run_id=f"later-{i}") for i, r in enumerate(story_runs[:5])])
    assert _count() == before + 5, "the changed file was noticed and reopened, not read from a stale cache"


def test_the_shared_connection_follows_a_writer_that_stays_open(db: Path, story_runs) -> None:  # type: ignore[no-untyped-def]
    before = _count()
    writer = open_store(db)
    try:
        writer.save_runs([replace(story_runs[0], run_id="live-1")])
        assert _count() == before + 1, "read through the writer's WAL"
        writer.save_runs([replace(story_runs[1], run_id="live-2")])
        assert _count() == before + 2
    finally:
        writer.close()
    assert _count() == before + 2


def test_filters_apply_before_the_limit(db: Path) -> None:
    df = _all(db)
    oldest_revision = str(df["revision"].iloc[0])
    got = data.newest_runs((), None, revision=oldest_revision, limit=5)
    expected = matching(df, revision=oldest_revision).tail(5)
    assert list(got["run_id"]) == list(expected["run_id"]), "the newest 5 runs of an old revision, though newer runs fill any 5-row page"
    crashes = data.newest_runs((), None, outcomes=("server_error",), failed_phase="agent_thinking", limit=3)
    assert list(crashes["run_id"]) == list(matching(df, outcomes=("server_error",), failed_phase="agent_thinking").tail(3)["run_id"])
    everything = data.newest_runs((), None, revision=oldest_revision, limit=10_000)
    assert len(everything) == len(matching(df, revision=oldest_revision)), "the whole window when fewer match than the limit"


def test_the_newest_runs_miss_none_that_share_a_start_time(db: Path, story_runs) -> None:  # type: ignore[no-untyped-def]
    """Runs started at the very same instant across a page boundary are all read (three regions probed at once)."""
    same = story_runs[-1].started_at
    with open_store(db) as writer:
        writer.save_runs([replace(r, run_id=f"tie-{i}", started_at=same) for i, r in enumerate(story_runs[:6])])
    st.cache_data.clear()
    got = data.newest_runs((), None, outcomes=tuple({r.outcome for r in story_runs[:6]}), limit=4)
    df = _all(db)
    expected = matching(df, outcomes=tuple({r.outcome for r in story_runs[:6]})).tail(4)
    assert sorted(got["run_id"]) == sorted(expected["run_id"])
