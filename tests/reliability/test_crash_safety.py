"""Kill -9 and a full store: the database stays whole and keeps every run already recorded.

The probe prints a run's JSON line only after the transaction holding it committed, so every line a
killed probe printed names a run that must be in the store. ``PATHWATCH_RELIABILITY_KILLS`` raises the
number of kills (``python -m bench reliability`` runs this suite with heavier settings).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from probes.phases import AGENT_EVENTS
from store.sqlite import open_store
from tests.conftest import poll, running_sandbox

KILLS = int(os.environ.get("PATHWATCH_RELIABILITY_KILLS", "100"))


def _probe_loop(url: str, db: Path) -> subprocess.Popen[str]:
    """A probe writing a batch of 24 runs about every 20 ms until it is killed."""
    return subprocess.Popen(
        [sys.executable, "-m", "probes", "run", "--url", url, "--every", "0.02", "--users", "24", "--timeout", "5", "--db", str(db), "--json", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db, timeout=5)
    try:
        return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # the first probe has not created the table yet
        return 0
    finally:
        conn.close()


def _check_whole(db: Path) -> set[str]:
    """Integrity, and no half-written run: every run has its events and its rollup count; returns the run ids."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {r[0] for r in conn.execute("SELECT run_id FROM runs")}
        rolled = conn.execute("SELECT COALESCE(SUM(n), 0) FROM run_hours").fetchone()[0]
        assert rolled == len(ids), f"rollup counts {rolled} runs, the runs table {len(ids)}: a run was half written"
        events: dict[str, list[tuple[int, str]]] = {}
        for run_id, seq, kind in conn.execute("SELECT run_id, seq, type FROM run_events ORDER BY run_id, seq"):
            events.setdefault(run_id, []).append((seq, kind))
        assert set(events) <= ids, "events without their run"
        for run_id, outcome in conn.execute("SELECT run_id, outcome FROM runs"):
            seqs = [s for s, _ in events.get(run_id, [])]
            assert seqs == list(range(len(seqs))), f"run {run_id} has a gap in its events"
            if outcome == "ok":
                kinds = [k for _, k in events[run_id]]
                assert all(e in kinds for e in AGENT_EVENTS), f"ok run {run_id} lost some of its events: {kinds}"
        return ids
    finally:
        conn.close()


def test_kill_9_at_random_moments_never_corrupts_or_loses_runs(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    rng = random.Random(20261125)
    stored: set[str] = set()
    printed_total = 0
    with running_sandbox(time_scale=0.01) as sb:
        for i in range(KILLS):
            proc = _probe_loop(sb.url, db)
            # Wait until this probe has written once (it is in its write loop), then kill it at a random moment.
            before = len(stored)
            poll(lambda p=proc, n=before: _count(db) > n or p.poll() is not None, deadline_s=30, every_s=0.005)
            time.sleep(rng.uniform(0.0, 0.25))  # the random moment of the kill, not a wait for anything
            proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == -signal.SIGKILL, f"kill {i}: the probe ended by itself ({proc.returncode}): {err}"
            # A kill can tear the last line (a JSON line can be longer than one atomic pipe write): only whole lines were printed.
            whole = out.split("\n")[:-1]
            printed = {json.loads(line)["run_id"] for line in whole if line.startswith("{")}
            printed_total += len(printed)
            now = _check_whole(db)
            assert printed <= now, f"kill {i}: {len(printed - now)} runs were reported but are not in the store"
            assert stored <= now, f"kill {i}: {len(stored - now)} earlier runs were lost"
            stored = now
    assert printed_total > KILLS, "the probe barely wrote anything before the kills; the test proved nothing"
    with open_store(db) as s:
        assert s.count_runs() == len(stored)


FULL_STORE_PROBE = textwrap.dedent(
    """
    # The probe CLI with SQLite's max_page_count pinned to the database's current size: a full disk, simulated.
    import sqlite3, sys
    _connect = sqlite3.connect
    def connect(*args, **kwargs):
        conn = _connect(*args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn
    sqlite3.connect = connect
    from probes.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_a_full_store_exits_3_names_the_problem_and_keeps_earlier_runs(tmp_path: Path) -> None:
    db = tmp_path / "full.db"
    with running_sandbox(time_scale=0.01) as sb:
        first = subprocess.run([sys.executable, "-m", "probes", "run", "--url", sb.url, "--users", "3", "--db", str(db), "--quiet"],
                               capture_output=True, text=True, timeout=60)
        assert first.returncode == 0, first.stderr
        before = _check_whole(db)
        full = subprocess.run([sys.executable, "-c", FULL_STORE_PROBE, "run", "--url", sb.url, "--users", "200", "--db", str(db), "--quiet"],
                              capture_output=True, text=True, timeout=60)
    assert full.returncode == 3, (full.returncode, full.stderr)
    assert "full" in full.stderr and str(db) in full.stderr, full.stderr
    assert "Traceback" not in full.stderr
    assert _check_whole(db) == before
