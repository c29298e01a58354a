"""The auth canary: a deliberately wrong token each run, judged against servers that do and do not enforce auth.

On staging the real backend may not check tokens at all: DEMO_MODE defaults to "1" and makes everyone
demo-user-001 (auth_integration/auth_permissiveness.py:124,164,592-622 at aebb16f7), and with DEMO off any
header whose name holds "test" or "e2e" skips the JWT signature check (websocket_core/unified_websocket_auth.py:98-111).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import pytest

from probes.config import parse_config
from probes.errors import ConfigError
from probes.runner import probe_target
from sandbox.logs import TRACE_KEY
from store.sqlite import open_store
from tests.conftest import poll, running_sandbox
from tests.pages.harness import app_test, shown_text
from tests.probes.test_cli import probe

SCALE = 0.05


@pytest.mark.parametrize(("dialect", "demo_mode", "outcome", "verdict"), [
    ("netra", False, "ok", "rejected"),              # accept, then 1008 "Authentication failed"
    ("generic", False, "ok", "rejected"),            # 403 at the upgrade
    ("netra", True, "auth_not_enforced", "accepted"),  # DEMO mode welcomes any token
])
def test_canary_verdicts(dialect, demo_mode, outcome, verdict):  # type: ignore[no-untyped-def]
    with running_sandbox(time_scale=SCALE, dialect=dialect, demo_mode=demo_mode) as sb:
        [run] = asyncio.run(probe_target(replace(sb.target(), auth_canary=True)))
        canary = poll(lambda: [e for e in sb.log.entries() if e["labels"].get("pathwatch_run") == f"{run.run_id}-canary"])
    assert (run.outcome, run.auth_canary) == (outcome, verdict), run.error
    assert all(e[TRACE_KEY].endswith(f"/traces/{run.trace_id}") for e in canary), "the canary's connection sits in the run's trace"
    assert run.served and all(run.phases_ms[p] is not None for p in ("agent_started", "agent_completed"))
    if demo_mode:
        assert run.server_user_id == "demo-user-001" and "wrong token" in run.error


def test_backend_test_headers_make_the_canary_see_the_bypass():
    """With the backend's own test headers, a wrong signature passes: the canary says so."""
    with running_sandbox(time_scale=SCALE) as sb:
        [run] = asyncio.run(probe_target(replace(sb.target(), auth_canary=True, backend_test_headers=True)))
    assert (run.outcome, run.auth_canary) == ("auth_not_enforced", "accepted")


def test_a_refusal_frame_is_not_a_welcome_even_when_any_first_frame_is():
    """welcome = "any" must not turn the netra refusal (error_message AUTH_FAILED, then 1008) into an accepted canary."""
    with running_sandbox(time_scale=SCALE) as sb:
        [run] = asyncio.run(probe_target(replace(sb.target(), auth_canary=True, welcome_any_first=True)))
    assert (run.outcome, run.auth_canary) == ("ok", "rejected")


def test_configured_headers_never_duplicate_or_override_ours():
    with running_sandbox(time_scale=SCALE) as sb:
        run = asyncio.run(probe_target(replace(sb.target(), headers={"User-Agent": "factory-isolated", "X-Pathwatch-Run": "spoof"})))[0]
        connect = next(e for e in sb.log.entries() if e.get("jsonPayload", {}).get("event") == "connect")
    h = connect["jsonPayload"]["headers"]
    assert run.ok and h["User-Agent"].startswith("pathwatch/") and h["X-Pathwatch-Run"] == run.run_id


def test_the_canary_never_runs_past_the_runs_own_deadline():
    """--timeout bounds everything: a run that used its whole deadline leaves the canary no time of its own."""
    with running_sandbox("silent_stall", time_scale=SCALE) as sb:
        t0 = time.monotonic()
        [run] = asyncio.run(probe_target(replace(sb.target(total_s=0.4), auth_canary=True)))
        took = time.monotonic() - t0
    assert run.outcome == "event_timeout" and run.auth_canary.startswith("inconclusive")
    assert took < 0.4 + 0.6, took  # the canary alone may take up to 10 s when it has the time


def test_a_canary_that_gets_no_verdict_is_inconclusive_not_a_pass():
    with running_sandbox("handshake_hang", time_scale=SCALE) as sb:
        # A phase deadline ends the run early, so the canary has time left and meets the same hang.
        [run] = asyncio.run(probe_target(replace(sb.target(total_s=3.0, phases={"upgrade": 0.2}), auth_canary=True)))
    assert run.outcome == "upgrade_timeout" and run.auth_canary == "inconclusive: upgrade_timeout"


def test_cli_exits_1_stores_the_verdict_and_the_overview_says_so(db_path, monkeypatch):  # type: ignore[no-untyped-def]
    with running_sandbox(time_scale=SCALE, demo_mode=True) as sb:
        p = probe("--url", sb.url, "--db", str(db_path), "--json", "--auth-canary", "--protocol", "netra", "--prom-file", str(db_path.parent / "p.prom"))
    assert p.returncode == 1, p.stderr
    prom = (db_path.parent / "p.prom").read_text()
    assert 'probe_auth_enforced{target="127.0.0.1"} 0' in prom and 'probe_success{target="127.0.0.1",outcome="auth_not_enforced"} 0' in prom
    record = json.loads(p.stdout)
    assert (record["outcome"], record["auth_canary"], record["dialect"]) == ("auth_not_enforced", "accepted", "netra")
    assert "auth_not_enforced" in p.stderr
    with open_store(db_path) as s:
        stored = s.get_run(record["run_id"])
    assert (stored.outcome, stored.auth_canary, stored.server_user_id) == ("auth_not_enforced", "accepted", "demo-user-001")
    at = app_test(db_path, monkeypatch)
    at.run()
    assert not at.exception
    assert "Auth is not being exercised on 127.0.0.1" in shown_text(at)
    assert "The golden path works on all 1 targets." in shown_text(at)  # users are served: not an outage


def test_config_keys_and_their_mistakes():
    [t] = parse_config({"targets": [{"url": "ws://h/ws", "protocol": "netra", "auth_canary": True, "backend_test_headers": True}]})
    assert (t.protocol, t.auth_canary, t.backend_test_headers) == ("netra", True, True)
    for bad, field in [
        ({"protocol": "klingon"}, "targets[0].protocol"),
        ({"auth_canary": "yes"}, "targets[0].auth_canary"),
        ({"auth_canary": True, "auth": {"mode": "none"}}, "targets[0].auth_canary"),
        ({"headers": {"X-E2E-Test": "1"}}, "targets[0].headers.X-E2E-Test"),
    ]:
        with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
            parse_config({"targets": [{"url": "ws://h/ws", **bad}]})
