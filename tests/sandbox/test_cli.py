"""``python -m sandbox`` as a user runs it: starts, serves, refuses bad settings with exit code 2."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import TEST_SECRET


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PATHWATCH_JWT_SECRET"}
    env.update(extra)
    return env


def test_starts_on_a_free_port_serves_health_and_stops_on_sigterm(tmp_path):  # type: ignore[no-untyped-def]
    log = tmp_path / "sandbox.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--story", "golden-path-incident", "--log-file", str(log)],
        env=_env(PATHWATCH_JWT_SECRET=TEST_SECRET), stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stderr.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)/ws", line).group(1))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
            assert json.loads(resp.read())["revision"] == "netra-backend-staging-00290-h7q"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    first = json.loads(log.read_text().splitlines()[0])
    assert first["jsonPayload"]["event"] == "deploy"
    assert TEST_SECRET not in log.read_text()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([], {}, "PATHWATCH_JWT_SECRET is not set"),
        (["--scenario", "flaky", "--set", "crash_rate=2"], {"PATHWATCH_JWT_SECRET": "x" * 32}, "crash_rate must be between 0 and 1"),
        (["--scenario", "flaky", "--set", "nonsense"], {"PATHWATCH_JWT_SECRET": "x" * 32}, "expected KEY=VALUE"),
        (["--story", "no-such-story"], {"PATHWATCH_JWT_SECRET": "x" * 32}, "not a built-in story"),
        (["--time-scale", "0"], {"PATHWATCH_JWT_SECRET": "x" * 32}, "must be positive"),
    ],
)
def test_bad_settings_exit_2_with_a_message(args, env, message):  # type: ignore[no-untyped-def]
    proc = subprocess.run([sys.executable, "-m", "sandbox", "--port", "0", *args], env=_env(**env), capture_output=True, text=True, timeout=20)
    assert proc.returncode == 2 and message in proc.stderr
