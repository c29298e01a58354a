"""Incidents from burn-rate alerts: a flaky golden path that never fails K runs in a row still opens one."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from analysis import incidents
from analysis.frame import from_runs
from analysis.slo import SLOConfig
from probes.record import ProbeRun

T0 = datetime(2026, 11, 25, tzinfo=UTC).timestamp()
EVERY_S = 30.0


def _run(i: int, ok: bool, target: str = "t1") -> ProbeRun:
    at = datetime.fromtimestamp(T0 + i * EVERY_S, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return ProbeRun(run_id=f"{target}-{i:05d}", target=target, url="ws://x/ws", started_at=at,
                    outcome="ok" if ok else "server_error", failed_phase=None if ok else "agent_thinking",
                    close_code=None if ok else 1011, total_ms=1500.0 if ok else 7000.0, revision="rev-1")


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
