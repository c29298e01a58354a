"""Secrets never leave the process that needed them.

One pass through everything Pathwatch writes or says: probe runs of each failure mode (stdout, stderr,
the store, the Prometheus file, Cloud Logging entries), incident detection, the report, server error
signatures, a GitHub publish, and every dashboard page. None of it may hold the JWT signing secret, a
JWT, or the GitHub token. ``tests/conftest.py`` also sweeps every file the whole suite left behind.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET, leaks, running_sandbox
from tests.fakes.github_api import fake_github
from tests.fakes.logging_api import fake_logging
from tests.pages.harness import PAGES, app_test, open_page, shown_text

GITHUB_TOKEN = "ghp_" + secrets.token_hex(18)
SCENARIOS = ("healthy", "orchestrator_crash", "silent_stall", "auth_close", "auth_reject", "malformed", "cross_talk")


def _cli(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120, env=env)


def test_no_secret_in_anything_pathwatch_writes_or_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, prom, server_log = tmp_path / "s.db", tmp_path / "probe.prom", tmp_path / "server.jsonl"
    said: list[str] = []
    with fake_logging() as logging_api, fake_github(GITHUB_TOKEN) as gh:
        env = {**os.environ, "PATHWATCH_JWT_SECRET": TEST_SECRET, "GITHUB_TOKEN": GITHUB_TOKEN, "GITHUB_API_URL": gh.api_url,
               "PATHWATCH_LOGGING_ENDPOINT": logging_api.endpoint, "PATHWATCH_GCP_PROJECT": "pw-test", "PATHWATCH_DB": str(db)}
        for scenario in SCENARIOS:
            with running_sandbox(scenario, time_scale=0.02, overrides={"crash_after_s": 0.5, "heartbeat_s": 0.05}) as sb:
                for _ in range(3):  # three failures in a row open an incident
                    p = _cli("probes", "run", "--url", sb.url, "--health-url", sb.health_url, "--timeout", "1", "--json",
                             "--prom-file", str(prom), "--cloud-logging", env=env)
                    assert p.returncode in (0, 1), p.stderr
                    said += [p.stdout, p.stderr, prom.read_text(encoding="utf-8")]
                said.append(sb.log.getvalue())
                server_log.write_text(server_log.read_text(encoding="utf-8") + sb.log.getvalue() if server_log.exists() else sb.log.getvalue(),
                                      encoding="utf-8")
        detect = _cli("analysis", "incidents", "detect", "--json", env=env)
        assert detect.returncode == 0, detect.stderr
        incident = json.loads(_cli("analysis", "incidents", "list", "--json", env=env).stdout)[0]["id"]
        gh.add_issue("acme/backend", 7)
        said += [detect.stdout, detect.stderr]
        for args in (("report",), ("logs", "--incident", incident, "--log-file", str(server_log)),
                     ("publish", "--incident", incident, "--repo", "acme/backend", "--issue", "7")):
            out = _cli("analysis", *args, env=env)
            assert out.returncode in ((0, 1) if args == ("report",) else (0,)), (args, out.stderr)  # report: 1 = path failing
            said += [out.stdout, out.stderr]
        said += gh.bodies()
        said += [json.dumps(e) for e in logging_api.entries]
        assert gh.bodies() and logging_api.entries, "the GitHub and Cloud Logging paths were exercised"

    for page in PAGES:
        at = open_page(app_test(db, monkeypatch, PATHWATCH_SERVER_LOG=str(server_log)), page)
        assert not at.exception, page
        said.append(shown_text(at))
        said += [d.value.to_csv() for d in at.dataframe]
    said += [b"".join(p.read_bytes() for p in tmp_path.glob("s.db*")).decode("utf-8", "replace")]

    found = leaks("\n".join(said), extra=(GITHUB_TOKEN,))
    assert not found, found
