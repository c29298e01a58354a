"""A synthetic but realistic store: many targets probing for weeks through deploys, a crash and a silent stall.

Deterministic (seeded) so every benchmark run measures the same data.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np

from probes.phases import AGENT_EVENTS, MARK_FAILURE, MARK_START_AGENT_SENT, PHASES
from probes.record import EventRecord, ProbeRun

DAY = 86400.0
END_TS = datetime(2026, 11, 25, tzinfo=UTC).timestamp()
MEDIANS_MS = {"dns": 2.0, "connect": 18.0, "tls": 35.0, "upgrade": 55.0, "welcome": 25.0,
              "agent_started": 100.0, "agent_thinking": 400.0, "tool_executing": 300.0, "tool_completed": 500.0, "agent_completed": 200.0}
DEPLOY_EVERY_S = 36 * 3600.0
CRASH_REVISION, STALL_REVISION = 6, 7


def revision_name(i: int) -> str:
    return f"netra-backend-staging-{200 + i:05d}-{uuid.UUID(int=i + 1).hex[-3:]}"


def synthetic_runs(n_runs: int = 1_000_000, n_targets: int = 30, days: float = 30.0, seed: int = 1) -> Iterator[ProbeRun]:
    """Runs in time order, round-robin across targets."""
    rng = np.random.default_rng(seed)
    start = END_TS - days * DAY
    per_target = n_runs // n_targets
    step = days * DAY / per_target
    targets = [f"staging-{r}-{i:02d}" for i, r in enumerate(["us-central1", "europe-west1", "asia-east1"] * math.ceil(n_targets / 3))][:n_targets]
    sigma = 0.25
    for k in range(per_target):
        base_ts = start + k * step
        jitter = rng.uniform(0, step * 0.5, n_targets)
        noise = rng.lognormal(0.0, sigma, (n_targets, len(PHASES)))
        fate = rng.random(n_targets)
        for t in range(n_targets):
            ts = base_ts + jitter[t]
            rev_i = int((ts - start) // DEPLOY_EVERY_S)
            phases = {p: round(MEDIANS_MS[p] * noise[t, j], 3) for j, p in enumerate(PHASES)}
            outcome, failed, code, reason, error = "ok", None, None, None, None
            if rev_i == CRASH_REVISION and fate[t] < 0.95:
                outcome, failed, code, reason, error = "server_error", "agent_thinking", 1011, "Internal error", "closed with 1011 'Internal error'"
            elif rev_i == STALL_REVISION and fate[t] < 0.97:
                outcome, failed, error = "event_timeout", "agent_started", "timed out waiting for agent_started"
            elif fate[t] > 0.993:
                outcome, failed, code, reason, error = "going_away", "tool_executing", 1012, "Service Restart", "closed with 1012 'Service Restart'"
            elapsed, acc, sent = {}, 0.0, None
            for p in PHASES:
                if p == failed:
                    break
                if p == AGENT_EVENTS[0]:
                    sent = acc + 0.2
                    acc = sent
                acc += phases[p]
                elapsed[p] = round(acc, 3)
            if sent is not None:
                elapsed[MARK_START_AGENT_SENT] = round(sent, 3)
            if failed:
                reached = True
                for p in PHASES:
                    if p == failed:
                        reached = False
                    if not reached:
                        phases[p] = None
                fail_at = (sent or acc) + (7000.0 if code == 1011 else 120000.0 if outcome == "event_timeout" else phases.get("agent_thinking") or 400.0)
                elapsed[MARK_FAILURE] = round(fail_at, 3)
            total = elapsed.get(MARK_FAILURE, acc)
            yield ProbeRun(
                run_id=f"{seed:02d}{k:07d}{t:03d}", target=targets[t], url=f"wss://{targets[t]}.example/ws",
                started_at=datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                outcome=outcome, failed_phase=failed, revision=revision_name(rev_i), tags={"environment": "staging"},
                close_code=code, close_reason=reason, error=error, phases_ms=phases, elapsed_ms=elapsed, total_ms=round(total, 3),
                events=[EventRecord("connection_established", elapsed.get("welcome", 0.0))],
            )
