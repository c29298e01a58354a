"""Incidents from burn-rate alerts: a flaky golden path that never fails K runs in a row still opens one."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from analysis import five_whys, incidents
from analysis.frame import from_runs
from analysis.slo import SLOConfig
from probes.record import ProbeRun
from store import deliveries
from store import incidents as store_incidents
from store.sqlite import open_store

T0 = datetime(2026, 11, 25, tzinfo=UTC).timestamp()
EVERY_S = 30.0


#: outcome -> (failed phase, close code) of a synthetic run
FAILURES = {"ok": (None, None), "server_error": ("agent_thinking", 1011), "event_timeout": ("agent_started", None)}


def _at(ts: float, i: int, outcome: str, target: str = "t1") -> ProbeRun:
    at = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    phase, code = FAILURES[outcome]
    return ProbeRun(run_id=f"{target}-{i:05d}", target=target, url="ws://x/ws", started_at=at, outcome=outcome, failed_phase=phase,
                    close_code=code, total_ms=1500.0 if outcome == "ok" else 7000.0, revision="rev-1")


def _run(i: int, ok: bool, target: str = "t1") -> ProbeRun:
    return _at(T0 + i * EVERY_S, i, "ok" if ok else "server_error", target)


def _detect_cli(db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PATHWATCH_SETTINGS"}
    out = subprocess.run([sys.executable, "-m", "analysis", "incidents", "detect", "--json", "--db", str(db), *extra],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    return out


def _flaky(hours_ok: float, hours_flaky: float, hours_after: float, fail_every: int = 2, target: str = "t1") -> list[ProbeRun]:
    """Healthy, then every ``fail_every``-th run fails (never K in a row), then healthy again."""
    per_hour = int(3600 / EVERY_S)
    a, b = int(hours_ok * per_hour), int((hours_ok + hours_flaky) * per_hour)
    n = int((hours_ok + hours_flaky + hours_after) * per_hour)
    return [_run(i, not (a <= i < b and i % fail_every == 0), target) for i in range(n)]


def test_a_flaky_path_opens_a_burn_incident_that_the_streak_rule_misses() -> None:
    df = from_runs(_flaky(2, 1, 2))
    assert incidents.detect(df) == [], "never 3 failures in a row: the streak rule alone sees nothing"
    (inc,) = incidents.detect(df, slo=SLOConfig())
    flaky_start, flaky_end = T0 + 2 * 3600, T0 + 3 * 3600
    # At 50 % failures the 1 h / 14.4x alert needs 0.144 / 0.5 h (about 17 min); the 6 h / 6x one may fire sooner.
    assert flaky_start <= inc.start_ts <= flaky_start + 0.144 / 0.5 * 3600 + EVERY_S
    assert inc.end_ts is not None and flaky_end <= inc.end_ts <= flaky_end + 3600
    assert inc.failure_mode == "server_error/agent_thinking/1011" and "1011" in inc.signature
    failing = df[~df["ok"] & (df["started_ts"] >= inc.start_ts) & (df["started_ts"] < inc.end_ts)]
    assert inc.targets == ("t1",) and inc.failed_runs == len(failing) == 44


def test_healthy_noise_does_not_page() -> None:
    rng = random.Random(7)
    runs = [_run(i, rng.random() > 0.005) for i in range(12 * 120)]  # 0.5 % failures: within a 99 % SLO
    assert incidents.detect(from_runs(runs), slo=SLOConfig()) == []


def test_a_streak_and_an_alert_on_the_same_failure_are_one_incident() -> None:
    runs = _flaky(2, 1, 2, fail_every=1)  # an hour of hard failure: both rules see it
    with_alerts = incidents.detect(from_runs(runs), slo=SLOConfig())
    streak_only = incidents.detect(from_runs(runs))
    assert [(i.id, i.start_ts, i.end_ts) for i in with_alerts] == [(i.id, i.start_ts, i.end_ts) for i in streak_only]


def test_burn_detection_is_the_same_when_read_incrementally() -> None:
    """Evaluated on a window that starts mid-history (as incremental detection reads), the same incident comes out."""
    df = from_runs(_flaky(3, 1, 1))
    full = incidents.detect(df, slo=SLOConfig())
    read_from = T0 + 2.5 * 3600 - incidents.history_s(SLOConfig(), incidents.IncidentRule())
    part = incidents.detect(df[df["started_ts"] >= read_from], slo=SLOConfig(), complete_from=read_from)
    assert [(i.id, i.start_ts, i.end_ts, i.failed_runs) for i in part] == [(i.id, i.start_ts, i.end_ts, i.failed_runs) for i in full]
    assert len(full) == 1


def test_alerts_can_be_turned_off() -> None:
    df = from_runs(_flaky(2, 1, 2))
    assert incidents.detect(df, incidents.IncidentRule(burn_alerts=False), slo=SLOConfig()) == []


def test_a_full_pass_in_chunks_stores_what_one_pass_finds(tmp_path: Path) -> None:
    """``incidents detect --full --chunk 1h`` reads an hour at a time and stores the incidents one whole read finds,
    including a streak that straddles a chunk boundary and a flaky hour that only the burn-rate alert sees."""
    per_hour = int(3600 / EVERY_S)
    hard = {*range(2 * per_hour, int(2.5 * per_hour)), *range(int(4.9 * per_hour), int(5.2 * per_hour))}
    flaky = range(7 * per_hour, 8 * per_hour)
    runs = [_run(i, not (i in hard or (i in flaky and i % 2 == 0))) for i in range(10 * per_hour)]
    db = tmp_path / "chunks.db"
    with open_store(db) as s:
        s.save_runs(runs)
    out = _detect_cli(db, "--full", "--chunk", "1h")
    with open_store(db) as s:
        stored = store_incidents.list_incidents(s)
    whole = incidents.detect(from_runs(runs), slo=SLOConfig())
    assert len(whole) == 3 and json.loads(out.stdout)["incidents"] == 3
    assert [(i["id"], i["start_ts"], i["end_ts"], i["failed_runs"]) for i in stored] == \
        [(i.id, i.start_ts, i.end_ts, i.failed_runs) for i in whole]


def test_an_alert_incident_that_a_later_streak_covers_is_not_left_open(tmp_path: Path) -> None:
    """Detected while only the alert saw it, then covered by a streak of another failure: no stale open incident stays,
    unless a person annotated it or was paged about it (then it is kept, closed and marked superseded)."""
    now = time.time()
    start = now - 3 * 3600

    def outcome(m: float) -> str:  # minutes before now
        if 60 >= m > 30:
            return "server_error" if int(m * 2) % 2 == 0 else "ok"  # flaky: every other run
        if 30 >= m > 20:
            return "event_timeout"
        return "ok"

    runs = [_at(start + k * EVERY_S, k, outcome((now - (start + k * EVERY_S)) / 60)) for k in range(int(3 * 3600 / EVERY_S) - 2)]
    cut = now - 35 * 60
    whole = incidents.detect(from_runs(runs), slo=SLOConfig())
    assert [i.failure_mode for i in whole] == ["event_timeout/agent_started/-"]
    for annotate in (False, "five whys", "paged"):
        db = tmp_path / f"stale-{annotate}.db"
        with open_store(db) as s:
            s.save_runs([r for r in runs if from_runs([r])["started_ts"].iloc[0] < cut])
        _detect_cli(db)
        with open_store(db) as s:
            (early,) = store_incidents.list_incidents(s)
            assert early["status"] == "open" and early["failure_mode"] == "server_error/agent_thinking/1011"
            if annotate == "five whys":
                store_incidents.save_five_whys(s, early["id"], five_whys.FiveWhys(early["id"]).to_dict(), "alice", "2026-11-25T00:00:00Z", "x")
            if annotate == "paged":  # people were told: the incident must be closed (its page resolved), not removed
                key = f"incident:{early['id']}:open"
                deliveries.enqueue(s, [(key, "slack", "open", early["id"], f"incident:{early['id']}", {"key": key}, "pending")], now=now)
            s.save_runs(runs)
        _detect_cli(db)
        with open_store(db) as s:
            stored = {i["id"]: i for i in store_incidents.list_incidents(s)}
        assert whole[0].id in stored and stored[whole[0].id]["end_ts"] == whole[0].end_ts
        if annotate:
            assert stored[early["id"]]["superseded"] and stored[early["id"]]["status"] == "resolved"
            assert len(stored) == 2
        else:
            assert list(stored) == [whole[0].id], "the alert's partial incident is gone"
