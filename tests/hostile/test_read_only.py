"""Read-only means read-only: with ``PATHWATCH_READ_ONLY=1`` (or ``[dashboard] read_only = true``) every page renders
from a store whose bytes, times and folder listing do not change at all: no ``-wal``, no ``-shm``, no new file,
no migration. Server errors fetched from the log file are kept in the browser session instead of the store.
A missing store is named on the page, never created.

Tests run as root, where ``chmod`` stops no write, so the files are also made read-only for the record but the
proof is in the bytes, the modification times and the listing.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.sqlite import open_store
from tests.conftest import copy_store
from tests.pages.harness import PAGES, app_test, open_page, shown_text


def _snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file in the folder: size, modification time (ns) and content hash."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.iterdir())}


@pytest.fixture
def frozen(story_db: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the story store, without stored server errors (so the pages must fetch them), then frozen."""
    folder = tmp_path / "frozen"
    folder.mkdir()
    db = copy_store(story_db, folder / "pathwatch.db")
    with open_store(db) as s, s.write("forget server logs") as conn:
        conn.execute("DELETE FROM server_logs")
    assert sorted(p.name for p in folder.iterdir()) == ["pathwatch.db"], "the writer cleaned up its -wal/-shm on close"
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        yield db
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)


def _crashed_run(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    try:
        return conn.execute("SELECT run_id FROM runs WHERE close_code = 1011 ORDER BY started_ts DESC LIMIT 1").fetchone()[0]
    finally:
        conn.close()


def test_every_page_renders_read_only_and_the_store_is_untouched(frozen: Path, story_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _snapshot(frozen.parent)
    crashed = _crashed_run(frozen)
    for page in PAGES:
        at = open_page(app_test(frozen, monkeypatch, PATHWATCH_READ_ONLY="1", PATHWATCH_SERVER_LOG=str(story_log)), page)
        assert not at.exception, (page, [e.message for e in at.exception])
        assert at.title and not [e.value for e in at.error if "store" in e.value or "read" in e.value], (page, shown_text(at))
        assert any("Read-only view" in c.value for c in at.sidebar.caption), page
        assert _snapshot(frozen.parent) == before, f"{page} changed the store's folder"
    # The run's detail fetches the server's traceback from the log file: shown, and kept in the session only.
    at = app_test(frozen, monkeypatch, PATHWATCH_READ_ONLY="1", PATHWATCH_SERVER_LOG=str(story_log))
    at.query_params["run"] = crashed
    at.run()
    at.switch_page("pages/runs.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(f"Run {crashed}" in h.value for h in at.subheader)
    assert any("AttributeError" in c.value for c in at.code), "the server's traceback sits next to the run"
    kept = at.session_state["pw_session_server_logs"]
    assert any(row["run_id"] == crashed for row in kept.values())
    # The incident page reads the log for its window too, and shows the signature without storing it.
    at.switch_page("pages/incidents.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("`AttributeError: 'NoneType' object has no attribute 'create_execution_context' at agent_service_core.py:544`" in m.value
               for m in at.markdown), shown_text(at)
    assert _snapshot(frozen.parent) == before, "fetched server errors never reached the store"
    with open_store(frozen, read_only=True) as s:
        assert s.server_logs_between(float("-inf"), float("inf")) == []


def test_read_only_from_the_settings_file_touches_nothing(frozen: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text("[dashboard]\nread_only = true\n", encoding="utf-8")
    before = _snapshot(frozen.parent)
    at = open_page(app_test(frozen, monkeypatch, PATHWATCH_SETTINGS=str(settings)), "pages/incidents.py")
    assert not at.exception and not at.error, shown_text(at)
    assert not [b for b in at.button if "save" in str(b.key)], "no editor in read-only mode"
    assert _snapshot(frozen.parent) == before


def test_a_missing_store_is_named_not_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere" / "pathwatch.db"
    for page in PAGES:
        at = open_page(app_test(missing, monkeypatch, PATHWATCH_READ_ONLY="1"), page)
        assert not at.exception, (page, [e.message for e in at.exception])
        assert any(str(missing) in e.value and "no such file" in e.value for e in at.error), (page, shown_text(at))
    assert not missing.parent.exists(), "read-only mode created no folder and no store"


def test_a_store_under_a_file_makes_the_dashboard_read_only_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that cannot be written (here: its folder is a file, which stops root too) switches the dashboard to
    read-only without being asked: the page names the missing store instead of failing to create it."""
    (tmp_path / "plain-file").write_text("x", encoding="utf-8")
    db = tmp_path / "plain-file" / "pathwatch.db"
    at = open_page(app_test(db, monkeypatch), PAGES[0])
    assert not at.exception
    assert any(str(db) in e.value and "no such file" in e.value for e in at.error), shown_text(at)


def test_a_live_writer_is_read_through_its_wal_and_nothing_is_added(frozen: Path, tmp_path: Path) -> None:
    """While a probe holds the store open (its -wal and -shm exist), read-only pages see its newest commits."""
    live = tmp_path / "live"
    live.mkdir()
    db = copy_store(frozen, live / "pathwatch.db")
    writer = open_store(db)
    try:
        before_runs = writer.count_runs()
        with writer.write("delete one run") as conn:
            conn.execute("DELETE FROM runs WHERE run_id = (SELECT run_id FROM runs ORDER BY started_ts LIMIT 1)")
        names = sorted(p.name for p in live.iterdir())
        assert names == ["pathwatch.db", "pathwatch.db-shm", "pathwatch.db-wal"]
        with open_store(db, read_only=True) as reader:
            assert not reader.immutable
            assert reader.count_runs() == before_runs - 1, "the reader sees the writer's commit still in the WAL"
        assert sorted(p.name for p in live.iterdir()) == names
    finally:
        writer.close()
