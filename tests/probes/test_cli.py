"""``python -m probes run`` as cron runs it: exit codes, --json, the store, prom file, signals, secrets."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from store.sqlite import iso_to_ts, open_store
from tests.conftest import leaks, poll, running_sandbox

SCALE = 0.05


def probe(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "probes", "run", *args], capture_output=True, text=True, timeout=timeout, env=env or dict(os.environ))


def _no_secrets(*blobs: str | bytes) -> None:
    for blob in blobs:
        text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
        assert not leaks(text), leaks(text)


def _db_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_healthy_run_exits_0_prints_one_json_object_and_stores_it(db_path):  # type: ignore[no-untyped-def]
    with running_sandbox(time_scale=SCALE) as sb:
        p = probe("--url", sb.url, "--health-url", sb.health_url, "--db", str(db_path), "--json")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["outcome"] == "ok" and record["revision"] == "netra-backend-staging-00290-h7q"
    assert set(record["phases_ms"]) == {"dns", "connect", "tls", "upgrade", "welcome", "agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"}
    assert "ok" in p.stderr
    with open_store(db_path) as s:
        assert s.get_run(record["run_id"]).outcome == "ok"


def test_failed_run_exits_1_and_names_phase_and_close_code(db_path):  # type: ignore[no-untyped-def]
    with running_sandbox("orchestrator_crash", time_scale=SCALE) as sb:
        p = probe("--url", sb.url, "--db", str(db_path), "--json")
    assert p.returncode == 1
    record = json.loads(p.stdout)
    assert (record["outcome"], record["failed_phase"], record["close_code"]) == ("server_error", "agent_thinking", 1011)
    assert "server_error in agent_thinking" in p.stderr and "after start_agent" in p.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "one of the arguments --config --url is required"),
        (["--url", "http://nope"], "--url: must be a ws:// or wss:// URL"),
        (["--url", "ws://127.0.0.1:1/ws", "--users", "0"], "--users: must be at least 1"),
        (["--config", "does-not-exist.toml"], "cannot read"),
    ],
)
def test_usage_and_config_errors_exit_2_with_a_message(args, message):  # type: ignore[no-untyped-def]
    p = probe(*args, "--no-store")
    assert p.returncode == 2 and message in p.stderr and p.stdout == ""


def test_missing_secret_exits_2_naming_the_variable():
    env = {k: v for k, v in os.environ.items() if k != "PATHWATCH_JWT_SECRET"}
    p = probe("--url", "ws://127.0.0.1:1/ws", "--no-store", env=env)
    assert p.returncode == 2 and "PATHWATCH_JWT_SECRET is not set" in p.stderr


def test_unwritable_store_exits_3(tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "file").write_text("")
    with running_sandbox(time_scale=SCALE) as sb:
        p = probe("--url", sb.url, "--db", str(tmp_path / "file" / "x.db"))
    assert p.returncode == 3 and "store" in p.stderr


def test_config_target_selection_prom_file_and_tags(tmp_path, db_path):  # type: ignore[no-untyped-def]
    with running_sandbox(time_scale=SCALE) as sb:
        cfg = tmp_path / "targets.toml"
        cfg.write_text(
            f'[[targets]]\nname = "a"\nurl = "{sb.url}"\nhealth_url = "{sb.health_url}"\ntags = {{ region = "eu" }}\n'
            f'[[targets]]\nname = "b"\nurl = "{sb.url}"\n',
            encoding="utf-8",
        )
        prom = tmp_path / "pathwatch.prom"
        p = probe("--config", str(cfg), "--target", "a", "--db", str(db_path), "--json", "--prom-file", str(prom))
        both = probe("--config", str(cfg), "--db", str(db_path), "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["tags"] == {"environment": "staging", "region": "eu"}
    assert sorted(json.loads(line)["target"] for line in both.stdout.splitlines()) == ["a", "b"]
    text = prom.read_text()
    assert 'probe_success{target="a",outcome="ok"} 1' in text
    assert 'probe_phase_duration_seconds{target="a",phase="tls"} NaN' in text
    assert re.search(r'probe_phase_duration_seconds\{target="a",phase="agent_thinking"\} 0\.0\d+', text)
    assert 'probe_close_code{target="a"} 0' in text


def test_every_keeps_a_steady_schedule(db_path):  # type: ignore[no-untyped-def]
    with running_sandbox(time_scale=SCALE) as sb:
        p = probe("--url", sb.url, "--db", str(db_path), "--every", "0.4", "--count", "4", "--quiet")
    assert p.returncode == 0, p.stderr
    with open_store(db_path) as s:
        starts = [iso_to_ts(r.started_at) for r in s.list_runs()]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert len(starts) == 4 and all(0.37 <= g <= 0.45 for g in gaps), gaps


def test_sigterm_during_every_finishes_the_run_in_flight(db_path):  # type: ignore[no-untyped-def]
    # Each run takes about 1.5 s at scale 1; SIGTERM lands in the middle of one.
    with running_sandbox(time_scale=1.0) as sb:
        proc = subprocess.Popen([sys.executable, "-m", "probes", "run", "--url", sb.url, "--db", str(db_path), "--every", "0.1", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = proc.stdout.readline()  # one run done; the next one is now in flight
        assert json.loads(first)["outcome"] == "ok"
        poll(lambda: sum(e.get("jsonPayload", {}).get("event") == "start_agent" for e in sb.log.entries()) == 2, 5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    printed = [first, *out.splitlines()]
    assert len(printed) == 2 and all(json.loads(line)["outcome"] == "ok" for line in printed)
    with open_store(db_path) as s:
        assert s.count_runs() == 2


def test_secrets_never_reach_stdout_stderr_store_or_prom(tmp_path, db_path):  # type: ignore[no-untyped-def]
    prom = tmp_path / "p.prom"
    outputs: list[str | bytes] = []
    for scenario in ("healthy", "orchestrator_crash", "auth_close", "malformed", "auth_reject"):
        with running_sandbox(scenario, time_scale=SCALE) as sb:
            p = probe("--url", sb.url, "--db", str(db_path), "--json", "--prom-file", str(prom))
            outputs += [p.stdout, p.stderr, sb.log.getvalue()]
    q = probe("--url", "ws://127.0.0.1:1/ws?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "--db", str(db_path), "--json")
    outputs += [q.stdout, q.stderr, prom.read_text(), _db_bytes(db_path)]
    _no_secrets(*outputs)


def test_cron_path_does_not_import_the_dashboard_stack():
    code = (
        "import sys\nfrom probes.cli import main\n"
        "rc = main(['run', '--url', 'ws://127.0.0.1:1/ws', '--no-store', '--quiet', '--timeout', '2'])\n"
        "heavy = {'pandas', 'streamlit', 'plotly', 'numpy', 'analysis', 'pages'} & set(sys.modules)\n"
        "print(sorted(heavy))\nsys.exit(rc)"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and p.stdout.strip() == "[]", (p.stdout, p.stderr)
