"""services.notify against local stand-ins: a failing channel is in the ledger and retried until it recovers; a process
killed mid-send leaves a lease that expires and the row is sent; PagerDuty pairs trigger and resolve by dedup_key;
Alertmanager gets firing alerts re-POSTed without new ledger rows; the notify CLI's exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from analysis.alerting import AlertingSettings, ChannelConfig
from analysis.incidents import Incident
from analysis.settings import Settings
from probes.errors import ConfigError
from services import notify
from services.incidents import save_incidents
from store import deliveries
from store.sqlite import Store, open_store
from tests.conftest import poll
from tests.fakes.alert_receiver import Receiver, running_receiver
from tests.hostile.rawserver import self_signed_context

ROOT = Path(__file__).resolve().parents[2]
ROUTING_KEY = "R0UT1NGKEYabcdef0123456789"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def incident(start: float, end: float | None = None, targets: tuple[str, ...] = ("eu",)) -> Incident:
    return Incident(id="INC-0001", start_ts=start, end_ts=end, targets=targets, revisions=("r1",), failure_mode="server_error/agent_thinking/1011",
                    signature="server_error: close 1011 in agent_thinking", failed_runs=3, total_runs=3, evidence_runs=("a",))


def settings(*channels: ChannelConfig, **kw: object) -> Settings:
    return replace(Settings(), alerting=replace(AlertingSettings(channels=channels), **kw))  # type: ignore[arg-type]


def open_db(db_path: Path, now: float, **kw: object) -> Store:
    s = open_store(db_path)
    save_incidents(s, [incident(now - 60, **kw)], now=now)  # type: ignore[arg-type]
    return s


def test_a_failing_channel_is_in_the_ledger_and_retried_with_backoff_until_it_recovers(db_path: Path, receiver: Receiver) -> None:
    now = time.time()
    cfg = settings(ChannelConfig("slack", "apprise", url_env="PW_HOOK"), retry_base_s=30.0)
    env = {"PW_HOOK": f"json://127.0.0.1:{receiver.port}/x"}
    receiver.status = 404
    with open_db(db_path, now) as s:
        first = notify.notify_due(s, cfg, now=now, environ=env, jitter=lambda: 0.0)
        assert (first.planned, first.enqueued, first.sent, first.failed) == (1, 1, 0, 1)
        assert "404" in first.failures[0]
        [r] = deliveries.latest(s)
        assert (r["state"], r["attempts"], r["status"]) == ("failed", 1, 404) and r["next_ts"] == pytest.approx(r["last_ts"] + 30, abs=1)
        assert notify.failure_sentences(s) == ["slack: 1 failed delivery, last 404"]
        assert notify.ledger_rows(s)[0]["state"] == "failed" and "json://" not in json.dumps(notify.ledger_rows(s))
        assert notify.notify_due(s, cfg, now=now + 5, environ=env).sent == 0  # not due yet: no new attempt
        assert len(receiver.bodies()) == 1
        receiver.status = 200
        again = notify.notify_due(s, cfg, now=now + 40, environ=env)
        assert (again.enqueued, again.sent, again.failed) == (0, 1, 0)
        [r] = deliveries.latest(s)
        assert (r["state"], r["attempts"], r["status"]) == ("sent", 2, 200) and notify.failure_sentences(s) == []


def test_a_delivery_gives_up_after_max_attempts(db_path: Path, receiver: Receiver) -> None:
    now = time.time()
    cfg = settings(ChannelConfig("slack", "apprise", url=f"json://127.0.0.1:{receiver.port}/x"), retry_base_s=0.0, max_attempts=2)
    receiver.status = 500
    with open_db(db_path, now) as s:
        assert notify.notify_due(s, cfg, now=now).failed == 1
        assert notify.notify_due(s, cfg, now=now + 1).dead == 1
        assert notify.notify_due(s, cfg, now=now + 2).sent == 0 and len(receiver.bodies()) == 2
        assert notify.failure_sentences(s) == ["slack: 1 failed delivery (1 given up), last 500"]


def test_a_process_killed_mid_send_leaves_a_lease_that_expires_and_the_row_is_sent(db_path: Path, receiver: Receiver, tmp_path: Path) -> None:
    now = time.time()
    cfg_file = tmp_path / "settings.toml"
    cfg_file.write_text(f'[[alerting.channels]]\nname = "hook"\nkind = "apprise"\nurl = "json://127.0.0.1:{receiver.port}/x"\n')
    open_db(db_path, now).close()
    receiver.hold.set()  # the channel takes the request and does not answer
    proc = subprocess.Popen([sys.executable, "-m", "analysis", "notify", "--db", str(db_path)], cwd=ROOT,
                            env=os.environ | {"PATHWATCH_SETTINGS": str(cfg_file)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open_store(db_path) as s:
        poll(lambda: [r for r in deliveries.latest(s) if r["lease_owner"]], 30)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        [r] = deliveries.latest(s)
        assert (r["state"], r["attempts"]) == ("pending", 1) and r["lease_until"] > time.time()
        receiver.hold.clear()
        receiver.released.set()
        cfg = settings(ChannelConfig("hook", "apprise", url=f"json://127.0.0.1:{receiver.port}/x"))
        assert notify.notify_due(s, cfg, now=time.time()).sent == 0  # still leased by the dead process
        later = notify.notify_due(s, cfg, now=time.time() + notify.LEASE_S + 1)
        assert later.sent == 1
        [r] = deliveries.latest(s)
        assert (r["state"], r["attempts"], r["lease_owner"]) == ("sent", 2, None)
    # The killed send may have reached the channel too: each carries the notice key, so the receiver can drop the second.
    assert {b["message"].rsplit("key: ", 1)[1] for b in receiver.bodies()} == {"incident:INC-0001:open"}


def test_pagerduty_trigger_and_resolve_share_a_dedup_key_and_the_routing_key_stays_out_of_the_ledger(
        db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    cfg = settings(ChannelConfig("pd", "pagerduty", url_env="PD_URL"))
    tls = self_signed_context(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))  # the stand-in's certificate, trusted the way OpenSSL is told
    with running_receiver(status=202, tls=tls) as receiver, open_db(db_path, now) as s:
        env = {"PD_URL": f"{receiver.url}/?routing_key={ROUTING_KEY}"}
        assert notify.notify_due(s, cfg, now=now, environ=env).sent == 1
        save_incidents(s, [incident(now - 60, now - 1)], now=now)
        assert notify.notify_due(s, cfg, now=now + 1, environ=env).sent == 1
        trigger, resolve = receiver.bodies("/v2/enqueue")
        assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
        assert trigger["dedup_key"] == resolve["dedup_key"] == "pathwatch-INC-0001" and trigger["routing_key"] == ROUTING_KEY
        assert trigger["payload"]["severity"] == "critical" and trigger["payload"]["summary"].startswith("server_error")
        assert ROUTING_KEY not in json.dumps(notify.ledger_rows(s))


def test_alertmanager_gets_firing_alerts_re_posted_each_pass_without_new_ledger_rows(db_path: Path, receiver: Receiver) -> None:
    now = time.time()
    cfg = settings(ChannelConfig("am", "alertmanager", url=receiver.url), reminder_s=60.0)
    with open_db(db_path, now) as s:
        assert notify.notify_due(s, cfg, now=now).sent == 1
        second = notify.notify_due(s, cfg, now=now + 1)
        assert (second.enqueued, second.sent, second.refreshed) == (0, 0, 1)
        posts = receiver.bodies("/api/v2/alerts")
        assert len(posts) == 2 and posts[0][0]["labels"] == posts[1][0]["labels"]
        assert posts[1][0]["endsAt"] > posts[0][0]["endsAt"]  # always ahead: Alertmanager never resolves it by itself
        reminder = notify.notify_due(s, cfg, now=now + 200)  # Alertmanager repeats by itself: the reminder is skipped
        assert (reminder.enqueued, reminder.sent) == (1, 0)
        assert {(r["kind"], r["state"]) for r in deliveries.latest(s)} == {("open", "sent"), ("remind", "skipped")}


def test_missing_url_env_names_the_variable_and_the_channel(db_path: Path) -> None:
    with open_store(db_path) as s, pytest.raises(ConfigError, match="'slack'.*SLACK_URL|SLACK_URL.*'slack'"):
        notify.notify_due(s, settings(ChannelConfig("slack", "apprise", url_env="SLACK_URL")), now=time.time(), environ={})


def _cli(db: Path, cfg: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "analysis", "notify", "--db", str(db), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=os.environ | {"PATHWATCH_SETTINGS": str(cfg)} | (env or {}))


def test_notify_test_cli_reports_the_channel_answer_and_its_exit_codes(db_path: Path, receiver: Receiver, tmp_path: Path) -> None:
    cfg = tmp_path / "settings.toml"
    cfg.write_text('[[alerting.channels]]\nname = "hook"\nkind = "apprise"\nurl_env = "PW_HOOK"\n')
    env = {"PW_HOOK": f"json://127.0.0.1:{receiver.port}/x"}
    ok = _cli(db_path, cfg, "--test", "hook", "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True and receiver.bodies()[0]["title"].startswith("[Pathwatch] TEST")
    receiver.status = 503
    bad = _cli(db_path, cfg, "--test", "hook", env=env)
    assert bad.returncode == 1 and "503" in bad.stdout
    unknown = _cli(db_path, cfg, "--test", "nope", env=env)
    assert unknown.returncode == 2 and "nope" in unknown.stderr and "hook" in unknown.stderr and "Traceback" not in unknown.stderr
    missing = _cli(db_path, cfg, "--test", "hook")
    assert missing.returncode == 2 and "PW_HOOK" in missing.stderr
    with open_store(db_path) as s:
        assert [(r["kind"], r["state"]) for r in deliveries.latest(s)] == [("test", "dead"), ("test", "sent")]


def test_a_channel_answering_a_byte_at_a_time_is_cut_at_the_send_limit_and_retried(db_path: Path) -> None:
    from tests.fakes.trickle import trickling_server

    now = time.time()
    with trickling_server() as port, open_db(db_path, now) as s:
        cfg = settings(ChannelConfig("hook", "apprise", url=f"json://127.0.0.1:{port}/x"), retry_base_s=30.0)
        began = time.monotonic()
        got = notify.notify_due(s, cfg, now=now, environ={}, send_limit_s=1.0, jitter=lambda: 0.0)
        took = time.monotonic() - began
        assert (got.sent, got.failed) == (0, 1) and "within 1 s" in got.failures[0]
        assert took < 10, f"the pass waited {took:.1f} s for a channel that never finishes answering"
        [r] = deliveries.latest(s)
        assert r["state"] == "failed" and r["next_ts"] >= now + 30
