"""Every bad input to ``python -m probes``, ``python -m analysis`` and ``python -m sandbox`` exits 2 with a message
naming the field, and never a traceback: nan, inf, zero, negative and absurd numbers, malformed URLs, TOML dates
where text belongs, wrong types for secret settings, non-UTF-8 secret files, bad durations and stories.

Each case calls the CLI's own ``main(argv)`` (what ``python -m`` runs) in this process, with its output captured and
the environment set for the call: 160 interpreter starts would cost the suite minutes. ``test_python_m_refuses_...``
checks, for each CLI, that the same refusal comes out of a real ``python -m`` subprocess, as cron or a person sees it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TARGET = '[[targets]]\nname = "t"\nurl = "ws://127.0.0.1:1/ws"\n'


def _main(module: str) -> Callable[[list[str]], int]:
    if module == "probes":
        from probes.cli import main
    elif module == "analysis":
        from analysis.cli import main
    else:
        from sandbox.__main__ import main
    return main


@contextlib.contextmanager
def _environ(env: dict[str, str] | None) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _cli(module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI's exit code and output for ``args``, as ``python -m module args`` would give them."""
    out, err = io.StringIO(), io.StringIO()
    with _environ(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = _main(module)(list(args))
        except SystemExit as exc:  # argparse's usage errors leave this way, as they do under python -m
            code = exc.code if isinstance(exc.code, int) else 2
    return subprocess.CompletedProcess([module, *args], code, out.getvalue(), err.getvalue())


def _python_m(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ), stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("module", "args", "field"), [
    ("probes", ["run", "--url", "ws://127.0.0.1:1/ws", "--timeout", "nan", "--no-store"], "--timeout"),
    ("analysis", ["incidents", "detect", "--full", "--chunk", "0s", "--db", os.devnull], "--chunk"),
    ("sandbox", ["--port", "70000"], "--port"),
])
def test_python_m_refuses_as_main_does(module: str, args: list[str], field: str) -> None:
    """The in-process calls below stand for these: the same exit 2, the field named, no traceback."""
    real, in_process = _python_m(module, *args), _cli(module, *args)
    _refused(real, field)
    assert (real.returncode, real.stderr.strip()) == (in_process.returncode, in_process.stderr.strip())


def _refused(p: subprocess.CompletedProcess[str], field: str) -> None:
    assert "Traceback" not in p.stderr, p.stderr
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert field in p.stderr, f"{field!r} not named in: {p.stderr}"
    assert p.stdout == "", "nothing on stdout when the input is refused"


# ---------------------------------------------------------------- the probe: flags

@pytest.mark.parametrize(("args", "field"), [
    *[(["--timeout", v], "--timeout") for v in ("nan", "inf", "-inf", "0", "-1", "1e12")],
    *[(["--every", v], "--every") for v in ("nan", "inf", "0", "-1", "1e12")],
    (["--users", "0"], "--users"),
    (["--users", "1001"], "--users"),
    (["--users", "many"], "--users"),
    (["--every", "1", "--count", "0"], "--count"),
    (["--url", "ws://[::1"], "--url"),
    (["--url", "ws://host:99999/ws"], "--url"),
    (["--url", "ws://host:0/ws"], "--url"),
    (["--url", "ws://ho st/ws"], "--url"),
    (["--url", "ws://127.0.0.1:1/ws", "--health-url", "http://[::1"], "--health-url"),
    (["--url", "ws://127.0.0.1:1/ws", "--health-url", "ftp://x"], "--health-url"),
])
def test_probe_flags(args: list[str], field: str) -> None:
    if "--url" not in args:
        args = ["--url", "ws://127.0.0.1:1/ws", *args]
    _refused(_cli("probes", "run", *args, "--no-store"), field)


@pytest.mark.parametrize(("since", "field"), [("nan", "--since"), ("0s", "--since"), ("inf", "--since"), ("99999w", "--since")])
def test_probe_sync_since(since: str, field: str) -> None:
    _refused(_cli("probes", "sync", "--project", "p", "--since", since, "--db", os.devnull), field)


# ---------------------------------------------------------------- the probe: the targets file

CONFIG_CASES = [
    *[(f"timeout_s = {v}", "targets[0].timeout_s") for v in ("nan", "inf", "-inf", "0", "-1", "1e12", '"30s"', "true")],
    *[(f"deadlines = {{ welcome = {v} }}", "targets[0].deadlines.welcome") for v in ("nan", "inf", "0", "-1", "1e12")],
    ("deadlines = { agent_completed = 2026-11-25T10:00:00Z }", "targets[0].deadlines.agent_completed"),
    *[(f"auth = {{ ttl_s = {v} }}", "targets[0].auth.ttl_s") for v in ("nan", "inf", "0", "-5", "1.5", "100000000")],
    ("auth = { secret_env = 5 }", "targets[0].auth.secret_env"),
    ("auth = { secret_env = 2026-11-25T10:00:00Z }", "targets[0].auth.secret_env"),
    ("auth = { secret_file = 5 }", "targets[0].auth.secret_file"),
    ("auth = { secret_file = [\"a\"] }", "targets[0].auth.secret_file"),
    ("auth = { mode = \"static\", token_env = 7 }", "targets[0].auth.token_env"),
    ("auth = { mode = \"static\", token_file = 1979-05-27 }", "targets[0].auth.token_file"),
    ("auth = { claims = { iat = 2026-11-25T10:00:00Z } }", "targets[0].auth.claims.iat"),
    ("auth = { claims = { weight = nan } }", "targets[0].auth.claims.weight"),
    ("auth = { claims = 5 }", "targets[0].auth.claims"),
    ("service_name = 5", "targets[0].service_name"),
    ("user_request = 2026-11-25", "targets[0].user_request"),
    ('headers = { X-Test = "a\\r\\nInjected: yes" }', "targets[0].headers.X-Test"),
    ("tags = { region = 1 }", "targets[0].tags.region"),
    ("insecure_skip_tls_verify = \"yes\"", "targets[0].insecure_skip_tls_verify"),
    ('health_url = "http://[::1"', "targets[0].health_url"),
    ("health_url = 2026-11-25T10:00:00Z", "targets[0].health_url"),
]


@pytest.mark.parametrize(("line", "field"), CONFIG_CASES)
def test_probe_config_values(tmp_path: Path, line: str, field: str) -> None:
    cfg = tmp_path / "targets.toml"
    cfg.write_text(TARGET + line + "\n", encoding="utf-8")
    _refused(_cli("probes", "run", "--config", str(cfg), "--no-store"), field)


@pytest.mark.parametrize(("url", "field"), [
    ("2026-11-25T10:00:00Z", "targets[0].url"),
    ('"ws://[::1"', "targets[0].url"),
    ('"ws://host:99999"', "targets[0].url"),
    ('"ws://host:http/ws"', "targets[0].url"),
    ('"wss://"', "targets[0].url"),
    ("5", "targets[0].url"),
])
def test_probe_config_urls(tmp_path: Path, url: str, field: str) -> None:
    cfg = tmp_path / "targets.toml"
    cfg.write_text(f"[[targets]]\nname = \"t\"\nurl = {url}\n", encoding="utf-8")
    p = _cli("probes", "run", "--config", str(cfg), "--no-store")
    _refused(p, field)
    if "2026" in url:
        assert "TOML date/time" in p.stderr, "says what it got, so the fix (quotes) is obvious"


def test_defaults_are_checked_like_targets(tmp_path: Path) -> None:
    cfg = tmp_path / "targets.toml"
    cfg.write_text("[defaults]\ndeadlines = { welcome = nan }\n" + TARGET, encoding="utf-8")
    _refused(_cli("probes", "run", "--config", str(cfg), "--no-store"), "deadlines.welcome")


def test_a_non_utf8_secret_file_is_named_and_never_shown(tmp_path: Path) -> None:
    secret = tmp_path / "jwt.secret"
    secret.write_bytes(b"\xff\xfe s3cr3t-\xc3\x28-bytes \x80\n")
    cfg = tmp_path / "targets.toml"
    cfg.write_text(TARGET + f"auth = {{ secret_file = {json.dumps(str(secret))} }}\n", encoding="utf-8")
    p = _cli("probes", "run", "--config", str(cfg), "--no-store")
    _refused(p, str(secret))
    assert "not UTF-8" in p.stderr and "s3cr3t" not in p.stderr


def test_a_secret_file_is_stripped_of_whitespace(tmp_path: Path) -> None:
    """A trailing newline (every editor adds one) is not part of the secret: the sandbox accepts the token."""
    from tests.conftest import TEST_SECRET, running_sandbox

    secret = tmp_path / "jwt.secret"
    secret.write_text(f"  {TEST_SECRET}\r\n\n", encoding="utf-8")
    with running_sandbox(time_scale=0.02) as sb:
        cfg = tmp_path / "targets.toml"
        cfg.write_text(f'[[targets]]\nname = "t"\nurl = "{sb.url}"\nauth = {{ secret_file = {json.dumps(str(secret))} }}\n', encoding="utf-8")
        p = _cli("probes", "run", "--config", str(cfg), "--no-store", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["outcome"] == "ok"


# ---------------------------------------------------------------- analysis: flags and the settings file

@pytest.mark.parametrize(("args", "field"), [
    (["report", "--since", "nan"], "--since"),
    (["report", "--since", "inf"], "--since"),
    (["report", "--since", "0s"], "--since"),
    (["report", "--since", "-1h"], "--since"),
    (["report", "--since", "99999w"], "--since"),
    (["incidents", "detect", "--full", "--chunk", "0s"], "--chunk"),
    (["incidents", "detect", "--full", "--chunk", "1s"], "--chunk"),
    (["incidents", "detect", "--full", "--chunk", "nan"], "--chunk"),
    (["incidents", "create", "--title", "x", "--start", "nan"], "--start"),
    (["incidents", "create", "--title", "x", "--start", "2026-11-25T10:00:00Z", "--end", "2026-11-25T09:00:00Z"], "--end"),
    (["publish", "--incident", "INC-1", "--repo", "a/b", "--issue", "0"], "--issue"),
    (["publish", "--incident", "INC-1", "--repo", "a/b", "--issue", "nan"], "--issue"),
])
def test_analysis_flags(tmp_path: Path, args: list[str], field: str) -> None:
    _refused(_cli("analysis", *args, "--db", str(tmp_path / "a.db")), field)


SETTINGS_CASES = [
    *[(f"[slo]\nobjective = {v}", "slo.objective") for v in ("nan", "inf", "0", "-1", "1", "1.5")],
    *[(f"[slo]\nthreshold_s = {v}", "slo.threshold_s") for v in ("nan", "inf", "0", "-1", "1e12", '"10s"')],
    *[(f"[slo]\nwindow_days = {v}", "slo.window_days") for v in ("nan", "inf", "0", "-1", "1e9")],
    *[(f"[impact]\n{k} = {v}", f"impact.{k}") for k in ("monthly_revenue", "active_users") for v in ("nan", "inf", "-1")],
    *[(f"[impact]\nmax_gap_s = {v}", "impact.max_gap_s") for v in ("nan", "inf", "0", "1e12")],
    ("[impact]\ncurrency = 2026-11-25", "impact.currency"),
    *[(f"[incidents]\n{k} = {v}", f"incidents.{k}") for k in ("open_after", "close_after", "burn_min_runs") for v in ("nan", "inf", "0", "-1", "2.5", "1000000000")],
    *[(f"[dashboard]\nrefresh_s = {v}", "dashboard.refresh_s") for v in ("nan", "inf", "-1", "0.01", "1e12")],
    ("[dashboard]\npublic_url = 2026-11-25T10:00:00Z", "dashboard.public_url"),
]


@pytest.mark.parametrize(("text", "field"), SETTINGS_CASES)
def test_analysis_settings(tmp_path: Path, text: str, field: str) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text(text + "\n", encoding="utf-8")
    db = tmp_path / "a.db"
    _refused(_cli("analysis", "report", "--db", str(db), env={"PATHWATCH_SETTINGS": str(settings)}), field)
    assert not db.exists(), "a refused setting creates no store"


# ---------------------------------------------------------------- the sandbox

@pytest.mark.parametrize(("args", "field"), [
    (["--port", "70000"], "--port"),
    (["--port", "-1"], "--port"),
    (["--port", "http"], "--port"),
    *[(["--time-scale", v], "--time-scale") for v in ("nan", "inf", "0", "-1", "1e9")],
    *[(["--story-scale", v], "--story-scale") for v in ("nan", "inf", "0", "-0.5")],
    (["--scenario", "orchestrator_crash", "--set", "crash_after_s=nan"], "crash_after_s"),
    (["--scenario", "orchestrator_crash", "--set", "crash_after_s=inf"], "crash_after_s"),
    (["--scenario", "healthy", "--set", "agent_started=-1"], "agent_started"),
    (["--scenario", "going_away", "--set", "close_code=99999"], "close_code"),
])
def test_sandbox_flags(args: list[str], field: str) -> None:
    _refused(_cli("sandbox", *args, env={"PATHWATCH_JWT_SECRET": "x" * 32}), field)


@pytest.mark.parametrize(("name", "story", "field"), [
    ("neg.json", '{"chapters": [{"revision": "a", "scenario": "healthy", "duration_s": -5}, {"revision": "b", "scenario": "healthy"}]}',
     "chapters[0].duration_s"),
    ("inf.json", '{"chapters": [{"revision": "a", "scenario": "healthy", "duration_s": Infinity}, {"revision": "b", "scenario": "healthy"}]}',
     "chapters[0].duration_s"),
    ("nan.json", '{"chapters": [{"revision": "a", "scenario": "healthy", "duration_s": NaN}]}', "chapters[0].duration_s"),
    ("zero.json", '{"chapters": [{"revision": "a", "scenario": "healthy", "duration_s": 0}, {"revision": "b", "scenario": "healthy"}]}',
     "chapters[0].duration_s"),
    ("huge.toml", '[[chapters]]\nrevision = "a"\nscenario = "healthy"\nduration_s = 1e12\n[[chapters]]\nrevision = "b"\nscenario = "healthy"\n',
     "chapters[0].duration_s"),
    ("tomlinf.toml", '[[chapters]]\nrevision = "a"\nscenario = "healthy"\nduration_s = inf\n', "chapters[0].duration_s"),
    ("empty.json", '{"chapters": []}', "chapters"),
    ("none.json", '{"name": "x"}', "chapters"),
    ("date.toml", '[[chapters]]\nrevision = 2026-11-25\nscenario = "healthy"\n', "chapters[0].revision"),
    ("set.json", '{"chapters": [{"revision": "a", "scenario": "healthy", "set": {"hang_s": 1e300}}]}', "hang_s"),
    ("binary.json", None, "binary.json"),
])
def test_sandbox_stories(tmp_path: Path, name: str, story: str | None, field: str) -> None:
    path = tmp_path / name
    if story is None:
        path.write_bytes(b"\xff\xfe\x00{chapters")
    else:
        path.write_text(story, encoding="utf-8")
    _refused(_cli("sandbox", "--port", "0", "--story", str(path), env={"PATHWATCH_JWT_SECRET": "x" * 32}), field)
