"""The real Alertmanager (Debian's ``prometheus-alertmanager``) on 127.0.0.1, routing to a local webhook receiver.

The crash story against the sandbox: the orchestrator crashes every ``start_agent`` (1011), then the fix. Four
``python -m analysis incidents detect`` processes run at once after the third failed run and again after the
recovery; Alertmanager's webhook gets exactly one firing and one resolved notification for the incident, and a direct
Apprise ``json://`` channel gets the open and the resolve once each.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from probes.config import Timeouts
from probes.runner import probe_target
from sandbox.scenarios import get_scenario
from sandbox.stories import Chapter, Story
from store import deliveries
from store.sqlite import open_store
from tests.conftest import RunningSandbox, poll, running_sandbox
from tests.fakes.alert_receiver import Receiver, running_receiver

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
if BINARY is None and os.environ.get("CI") != "true":
    pytest.skip("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager); required under CI", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_alertmanager(tmp_path: Path, hook_url: str) -> Iterator[str]:
    """The real binary with fast grouping (200 ms wait, 500 ms interval, no repeat within the test), no gossip."""
    assert BINARY is not None, "prometheus-alertmanager is required under CI=true"
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text(f"""
route:
  receiver: hook
  group_by: ['alertname', 'incident']
  group_wait: 200ms
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {hook_url}
        send_resolved: true
""", encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen([BINARY, f"--config.file={cfg}", f"--storage.path={tmp_path / 'am-data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "am.log", "w"))  # noqa: SIM115 - closed with the process
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                return r.status == 200
        except OSError:
            assert proc.poll() is None, (tmp_path / "am.log").read_text()
            return False

    try:
        poll(ready, 20, 0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def write_settings(folder: Path, am_url: str, hook_url_line: str, head: str = "") -> Path:
    """A settings file with two channels: the real Alertmanager ("am") and an Apprise JSON webhook ("hook")."""
    path = folder / "settings.toml"
    path.write_text(f"""{head}
[[alerting.channels]]
name = "am"
kind = "alertmanager"
url = "{am_url}"
[[alerting.channels]]
name = "hook"
kind = "apprise"
{hook_url_line}
""", encoding="utf-8")
    return path


def crash_story(crash_s: float) -> Story:
    return Story("crash-then-fix", (Chapter("netra-backend-staging-00291-abc", get_scenario("orchestrator_crash"), crash_s),
                                    Chapter("netra-backend-staging-00293-x2m", get_scenario("healthy"), 0.0)))


def probe_until(sb: RunningSandbox, db: Path, want_ok: bool, n: int) -> None:
    """Probe the sandbox (one target) into the store until ``n`` runs in a row were ok (or failed)."""
    target = replace(sb.target(), timeouts=Timeouts(total=2.0, phases={"agent_started": 0.5}))
    streak, deadline = 0, time.monotonic() + 20
    with open_store(db) as s:
        while streak < n:
            assert time.monotonic() < deadline, "the story did not reach the expected state"
            runs = asyncio.run(probe_target(target))
            s.save_runs(runs)
            streak = streak + 1 if all((r.outcome == "ok") == want_ok for r in runs) else 0


def detect_concurrently(db: Path, env: dict[str, str], n: int = 4) -> list[dict[str, Any]]:
    procs = [subprocess.Popen([sys.executable, "-m", "analysis", "incidents", "detect", "--db", str(db), "--json"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert "notify:" in err
        outs.append(json.loads(out))
    return outs


def am_metric(am_url: str, series: str) -> float:
    """One series of Alertmanager's /metrics (0 when absent)."""
    with urllib.request.urlopen(f"{am_url}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(series + " "):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def notifications(hook: Receiver, status: str) -> list[dict[str, Any]]:
    return [b for b in hook.bodies("/hook") if isinstance(b, dict) and b.get("status") == status]


def test_four_concurrent_detects_give_one_firing_and_one_resolved_in_alertmanager_and_once_each_on_a_webhook(tmp_path: Path) -> None:
    db = tmp_path / "pathwatch.db"
    with running_receiver() as hook, running_receiver() as webhook, running_alertmanager(tmp_path, f"{hook.url}/hook") as am_url, \
            running_sandbox(story=crash_story(4.0), story_scale=1.0, time_scale=0.02) as sb:
        settings = write_settings(tmp_path, am_url, 'url_env = "PW_TEST_HOOK_URL"', '[dashboard]\npublic_url = "https://pathwatch.example"')
        env = os.environ | {"PATHWATCH_SETTINGS": str(settings), "PW_TEST_HOOK_URL": f"json://127.0.0.1:{webhook.port}/pathwatch"}

        probe_until(sb, db, want_ok=False, n=3)
        outs = detect_concurrently(db, env)
        assert all(o["open"] == 1 for o in outs)
        assert sum(o["notify"]["sent"] for o in outs) == 2  # the open, once on each channel, whichever process won the claim
        firing = poll(lambda: notifications(hook, "firing"), 15)
        alert = firing[0]["alerts"][0]
        assert alert["labels"]["alertname"] == "PathwatchGoldenPathDown" and alert["labels"]["target"] == "sandbox"
        assert alert["labels"]["outcome"] == "server_error" and alert["labels"]["incident"].startswith("INC-")
        assert alert["generatorURL"] == f"https://pathwatch.example/incidents?incident={alert['labels']['incident']}"
        assert "1011" in alert["annotations"]["summary"] and "down" in alert["annotations"]["impact"]

        probe_until(sb, db, want_ok=True, n=3)
        outs = detect_concurrently(db, env)
        assert all(o["open"] == 0 for o in outs) and sum(o["notify"]["sent"] for o in outs) == 2
        poll(lambda: notifications(hook, "resolved"), 15)
        poll(lambda: len(webhook.bodies()) >= 2, 10)
        # Alertmanager's own books: no alert active any more, and exactly two webhook notifications sent (no re-notification
        # from the re-POSTs of the firing alert, nor a second firing after the resolve).
        poll(lambda: am_metric(am_url, 'alertmanager_alerts{state="active"}') == 0, 15)
        assert am_metric(am_url, 'alertmanager_notifications_total{integration="webhook"}') == 2
        assert len(notifications(hook, "firing")) == 1 and len(notifications(hook, "resolved")) == 1
        titles = [b["title"] for b in webhook.bodies()]
        assert len(titles) == 2 and titles[0].startswith("[Pathwatch] OPEN: ") and titles[1].startswith("[Pathwatch] RESOLVED: ")
        assert "key: incident:INC-" in webhook.bodies()[0]["message"]
    with open_store(db) as s:
        rows = deliveries.latest(s)
    assert sorted((r["channel"], r["kind"], r["state"], r["attempts"]) for r in rows) == [
        ("am", "open", "sent", 1), ("am", "resolve", "sent", 1), ("hook", "open", "sent", 1), ("hook", "resolve", "sent", 1)]
    assert am_url not in json.dumps(rows) and "json://" not in json.dumps(rows)


def am_alerts(am_url: str) -> list[dict[str, Any]]:
    """What Alertmanager holds now (its own API): an alert Pathwatch POSTed is there at once, whatever its grouping."""
    with urllib.request.urlopen(f"{am_url}/api/v2/alerts", timeout=5) as r:
        return json.loads(r.read())


def cli(env: dict[str, str], *args: str) -> str:
    p = subprocess.run([sys.executable, "-m", "analysis", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_a_silence_keeps_both_channels_quiet_the_open_goes_out_when_it_ends_and_a_stopped_probe_pages_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analysis.settings import parse_settings
    from probes.config import read_toml
    from services.notify import notify_due
    from tests.pages.harness import app_test, open_page, shown_text

    db = tmp_path / "pathwatch.db"
    with running_receiver() as hook, running_receiver() as webhook, running_alertmanager(tmp_path, f"{hook.url}/hook") as am_url, \
            running_sandbox(story=crash_story(30.0), story_scale=1.0, time_scale=0.02) as sb:
        settings = write_settings(tmp_path, am_url, f'url = "json://127.0.0.1:{webhook.port}/pathwatch"')
        env = os.environ | {"PATHWATCH_SETTINGS": str(settings), "PATHWATCH_DB": str(db)}
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        added = json.loads(cli(env, "silences", "add", "--target", "sandbox", "--until", until, "--reason", "planned DB failover",
                               "--author", "alice", "--json"))["silence"]

        probe_until(sb, db, want_ok=False, n=3)
        outs = detect_concurrently(db, env, n=2)
        assert all(o["open"] == 1 and o["notify"]["sent"] == 0 for o in outs)
        assert am_alerts(am_url) == [] and webhook.bodies() == [], "a silenced incident sent something"
        at = open_page(app_test(db, monkeypatch, PATHWATCH_SETTINGS=str(settings), PATHWATCH_READ_ONLY="1"), "pages/incidents.py")
        assert not at.exception
        assert f"silenced by {added['id']} until" in shown_text(at) and "planned DB failover" in shown_text(at)

        cli(env, "silences", "expire", added["id"], "--author", "alice")
        outs = detect_concurrently(db, env, n=2)
        assert sum(o["notify"]["sent"] for o in outs) == 2, outs  # still open when the silence ended: sent now, once per channel
        firing = poll(lambda: notifications(hook, "firing"), 15)
        assert firing[0]["alerts"][0]["labels"]["incident"].startswith("INC-")
        assert [b["title"].split(":")[0] for b in webhook.bodies()] == ["[Pathwatch] OPEN"]


        # The probe stops: the next passes, minutes on, say "no data" once per channel.
        cfg = parse_settings(read_toml(str(settings), "PATHWATCH_SETTINGS"))
        with open_store(db) as s:
            later = time.time() + 600
            first = notify_due(s, cfg, now=later, environ={})
            again = notify_due(s, cfg, now=later + 60, environ={})
            rows = [r for r in deliveries.latest(s) if r["kind"] == "no_data"]
        assert first.enqueued == 2 and again.enqueued == 0 and sorted((r["channel"], r["state"]) for r in rows) == [
            ("am", "sent"), ("hook", "sent")]
        said = [b["title"] for b in webhook.bodies()]
        assert said[1:] == [said[1]] and said[1].startswith("[Pathwatch] NO DATA") and "sandbox" in said[1], said
        no_data = poll(lambda: [b for b in notifications(hook, "firing") if b["alerts"][0]["labels"]["alertname"] == "PathwatchNoData"], 15)
        assert no_data[0]["alerts"][0]["labels"]["target"] == "sandbox"
