"""Eight probe processes and incident detection write while the dashboard's pages read the same store.

Every run a probe reported is stored exactly once, and no writer, detector or page ever shows
"database is locked" (or any other error) to a user.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import running_sandbox
from tests.pages.harness import PAGES, app_test, open_page, shown_text

WRITERS, USERS, CYCLES = 8, 5, 20


def test_eight_probes_detection_and_the_dashboard_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "shared.db"
    with running_sandbox("orchestrator_crash", time_scale=0.02) as sb:
        # Output goes to files: a pipe nobody reads until the end would block a probe once it filled.
        outs = [(tmp_path / f"writer-{w}.out").open("w+") for w in range(WRITERS)]
        errs = [(tmp_path / f"writer-{w}.err").open("w+") for w in range(WRITERS)]
        probes = [
            subprocess.Popen([sys.executable, "-m", "probes", "run", "--url", sb.url, "--target", f"writer-{w}", "--users", str(USERS),
                              "--every", "0.05", "--count", str(CYCLES), "--timeout", "10", "--db", str(db), "--json", "--quiet"],
                             stdout=outs[w], stderr=errs[w], text=True)
            for w in range(WRITERS)
        ]
        detections, passes = [], 0
        while passes < 1 or any(p.poll() is None for p in probes):
            detections.append(subprocess.Popen([sys.executable, "-m", "analysis", "incidents", "detect", "--db", str(db)],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
            for page in PAGES:
                # A fresh app with cold caches reads the store afresh, as a page does when its cache expires.
                at = open_page(app_test(db, monkeypatch), page)
                shown = shown_text(at)
                assert not at.exception, (page, shown)
                assert "locked" not in shown.lower(), (page, shown)
            passes += 1
        for p in probes:
            p.wait(120)
        detected = [d.communicate(timeout=120) for d in detections]
    outputs = []
    for out, err in zip(outs, errs, strict=True):
        out.seek(0)
        err.seek(0)
        outputs.append((out.read(), err.read()))
        out.close()
        err.close()
    for p, (_, err) in zip(probes, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err.lower() and "Traceback" not in err, err
    for d, (_, err) in zip(detections, detected, strict=True):
        assert d.returncode == 0, err
    reported = [json.loads(line)["run_id"] for out, _ in outputs for line in out.splitlines() if line.startswith("{")]
    assert len(reported) == WRITERS * USERS * CYCLES == len(set(reported))
    conn = sqlite3.connect(db)
    try:
        stored = [r[0] for r in conn.execute("SELECT run_id FROM runs")]
        assert sorted(stored) == sorted(reported), "every reported run stored exactly once, nothing else"
        assert conn.execute("SELECT SUM(n) FROM run_hours").fetchone()[0] == len(reported)
        assert conn.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] >= 1, "detection ran against the live store"
    finally:
        conn.close()
