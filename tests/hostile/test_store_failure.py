"""A store that is full or cannot be written does not hide the run: the probe still prints its JSON line(s) with the
real outcome, the Prometheus file still tells the truth about the run (and that the store failed), the exit code
is 3, stderr names the database and why, and runs already in the store stay whole.

Tests run as root, where ``chmod`` stops nothing, so "unwritable" is made of things root cannot write either: a path
whose parent is a regular file, a path that is a directory, and a database whose size SQLite has pinned (a full disk).
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import running_sandbox
from tests.reliability.test_crash_safety import FULL_STORE_PROBE

SCALE = 0.01


def _probe(*args: str, launcher: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = (launcher or [sys.executable, "-m", "probes"]) + ["run", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _runs(db: Path) -> dict[str, tuple[str, int]]:
    """run_id -> (outcome, event count), after an integrity check."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {rid: (outcome, n) for rid, outcome, n in conn.execute(
            "SELECT r.run_id, r.outcome, (SELECT COUNT(*) FROM run_events e WHERE e.run_id = r.run_id) FROM runs r")}
    finally:
        conn.close()


def _prom_value(text: str, metric: str) -> str:
    m = re.search(rf"^{re.escape(metric)} (\S+)$", text, re.M)
    assert m, f"{metric} missing from the prom file:\n{text}"
    return m.group(1)


def test_a_full_store_still_prints_and_writes_prom_exits_3_and_keeps_earlier_runs(tmp_path: Path) -> None:
    db, prom = tmp_path / "full.db", tmp_path / "pathwatch.prom"
    with running_sandbox(time_scale=SCALE) as sb:
        first = _probe("--url", sb.url, "--users", "3", "--db", str(db), "--quiet")
        assert first.returncode == 0, first.stderr
        before = _runs(db)
    with running_sandbox("orchestrator_crash", overrides={"crash_after_s": 0.5}, time_scale=SCALE) as sb:
        full = _probe("--url", sb.url, "--users", "50", "--db", str(db), "--json", "--prom-file", str(prom),
                      launcher=[sys.executable, "-c", FULL_STORE_PROBE])
    assert full.returncode == 3, (full.returncode, full.stderr)
    assert "Traceback" not in full.stderr
    assert str(db) in full.stderr and "full" in full.stderr, full.stderr
    printed = [json.loads(line) for line in full.stdout.splitlines()]
    assert len(printed) == 50 and {r["outcome"] for r in printed} == {"server_error"}, "every run is reported with its real outcome"
    text = prom.read_text()
    assert re.search(r'^probe_success\{target="127\.0\.0\.1",outcome="server_error"\} 0$', text, re.M), text
    assert _prom_value(text, 'probe_close_code{target="127.0.0.1"}') == "1011"
    assert _prom_value(text, "pathwatch_store_write_success") == "0"
    assert _runs(db) == before, "the full store keeps every earlier run, whole, and no part of the new batch"


def test_the_prom_file_says_the_store_worked_when_it_did(tmp_path: Path) -> None:
    db, prom = tmp_path / "ok.db", tmp_path / "pathwatch.prom"
    with running_sandbox(time_scale=SCALE) as sb:
        p = _probe("--url", sb.url, "--db", str(db), "--prom-file", str(prom), "--quiet")
    assert p.returncode == 0, p.stderr
    assert _prom_value(prom.read_text(), "pathwatch_store_write_success") == "1"
    nostore = tmp_path / "nostore.prom"
    with running_sandbox(time_scale=SCALE) as sb:
        q = _probe("--url", sb.url, "--no-store", "--prom-file", str(nostore), "--quiet")
    assert q.returncode == 0, q.stderr
    assert "pathwatch_store_write_success" not in nostore.read_text(), "no store, no claim about one"


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "plain-file").write_text("not a folder", encoding="utf-8")
    return tmp_path / "plain-file" / "pathwatch.db"


def _a_directory(tmp_path: Path) -> Path:
    d = tmp_path / "is-a-dir.db"
    d.mkdir()
    return d


@pytest.mark.parametrize("make_db", [_under_a_file, _a_directory], ids=["parent-is-a-file", "db-is-a-directory"])
def test_an_unwritable_store_still_prints_and_writes_prom_and_exits_3(tmp_path: Path, make_db) -> None:  # type: ignore[no-untyped-def]
    db, prom = make_db(tmp_path), tmp_path / "pathwatch.prom"
    with running_sandbox("orchestrator_crash", overrides={"crash_after_s": 0.5}, time_scale=SCALE) as sb:
        p = _probe("--url", sb.url, "--health-url", sb.health_url, "--db", str(db), "--json", "--prom-file", str(prom))
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr
    assert str(db) in p.stderr and "not writable" in p.stderr, p.stderr
    record = json.loads(p.stdout)
    assert (record["outcome"], record["close_code"], record["revision"]) == ("server_error", 1011, "netra-backend-staging-00290-h7q")
    text = prom.read_text()
    assert 'probe_success{target="127.0.0.1",outcome="server_error"} 0' in text
    assert _prom_value(text, "pathwatch_store_write_success") == "0"
    assert "server_error in agent_thinking" in p.stderr, "the person reading stderr still learns what the run found"


def test_a_loop_keeps_probing_and_reporting_while_the_store_fails(tmp_path: Path) -> None:
    db, prom = _under_a_file(tmp_path), tmp_path / "pathwatch.prom"
    with running_sandbox(time_scale=SCALE) as sb:
        p = _probe("--url", sb.url, "--db", str(db), "--json", "--prom-file", str(prom), "--every", "0.2", "--count", "3", "--quiet")
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert [json.loads(line)["outcome"] for line in p.stdout.splitlines()] == ["ok"] * 3
    assert p.stderr.count(str(db)) == 3, "each cycle says the store failed"
    text = prom.read_text()
    assert 'probe_success{target="127.0.0.1",outcome="ok"} 1' in text and _prom_value(text, "pathwatch_store_write_success") == "0"


def test_an_unwritable_prom_file_is_named_and_the_run_is_still_stored_and_printed(tmp_path: Path) -> None:
    db = tmp_path / "ok.db"
    prom = _under_a_file(tmp_path).with_name("pathwatch.prom")
    with running_sandbox(time_scale=SCALE) as sb:
        p = _probe("--url", sb.url, "--db", str(db), "--json", "--prom-file", str(prom))
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr and str(prom) in p.stderr
    record = json.loads(p.stdout)
    assert _runs(db)[record["run_id"]][0] == "ok"
