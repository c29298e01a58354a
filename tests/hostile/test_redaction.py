"""Rule 3: redact first, cut second, and never say a token.

Secrets (the signing secret in PATHWATCH_JWT_SECRET, a JWT it signed, a ``ghp_`` token) are planted in what a
server says (the sandbox's JSON-lines log read through PATHWATCH_SERVER_LOG, Cloud Logging entries, runs synced
from Cloud Logging), each placed so that it straddles one of the cuts Pathwatch makes (a signature's 200 characters,
an event's 512, a page's 4000, a log text's 8000). Through the real entry points (``python -m analysis logs``,
``python -m analysis publish``, ``python -m probes sync``, every AppTest page) no 12-character piece of any of them
may survive. The GitHub token itself: stripped of the CR/LF a secrets file leaves, and never printed, whatever the
server or the client library says about it.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from integrations.cloud_logging import rfc3339
from probes.auth import mint_jwt
from store import incidents as store_incidents
from store.sqlite import iso_to_ts, open_store
from tests.conftest import TEST_SECRET, copy_store
from tests.fakes.github_api import FakeGitHub, fake_github
from tests.fakes.logging_api import fake_logging
from tests.fixtures.record import load_fixture
from tests.pages.harness import app_test, open_page, shown_text

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "pw-test"
SERVICE = "netra-backend-staging"
TOKEN = "ghp_" + secrets.token_hex(18)
JWT = mint_jwt(TEST_SECRET, subject="pathwatch-probe", now=time.time())
ECHOED_GITHUB_TOKEN = "ghp_" + secrets.token_hex(18)
PLANTED = (TEST_SECRET, JWT, ECHOED_GITHUB_TOKEN)
#: Where Pathwatch cuts outside text: a signature, an event detail, a page's code block, a log entry's text.
CUTS = (200, 512, 2000, 4000, 8000)


def survivors(text: str, planted: tuple[str, ...] = PLANTED, n: int = 12) -> list[str]:
    """Every n-character piece of a planted secret found in ``text`` (a secret cut in half leaves such pieces)."""
    found = []
    for secret in planted:
        for part in secret.split():
            found += [f"{part[:8]}...: {part[i:i + n]!r}" for i in range(len(part) - n + 1) if part[i:i + n] in text]
    return found[:5]


def straddling(secret: str, cut: int, fill: str = "x") -> str:
    """A text in which ``secret`` begins before position ``cut`` and ends after it."""
    return fill * (cut - len(secret) // 2) + secret + " and more words after it"


def _cli(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


def _dump(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return "\n".join(conn.iterdump())


# ---------------------------------------------------------------- the GitHub token

@pytest.fixture
def db(story_db: Path, tmp_path: Path) -> Path:
    return copy_store(story_db, tmp_path / "copy.db")


def _incident(db: Path) -> dict[str, Any]:
    with open_store(db) as s:
        return next(i for i in store_incidents.list_incidents(s) if i.get("revisions"))


def _gh_env(gh: FakeGitHub, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GITHUB_TOKEN_FILE")}
    return {**env, "GITHUB_API_URL": gh.api_url, **extra}


@pytest.mark.parametrize("how", ["env-crlf", "env-spaces", "file-crlf"])
def test_a_github_token_with_surrounding_whitespace_is_stripped_and_works(db: Path, tmp_path: Path, how: str) -> None:
    with fake_github(TOKEN) as gh:
        gh.add_issue("acme/backend", 5)
        if how == "env-crlf":
            env = _gh_env(gh, GITHUB_TOKEN=TOKEN + "\r\n")
        elif how == "env-spaces":
            env = _gh_env(gh, GITHUB_TOKEN=f"  {TOKEN} \t")
        else:
            token_file = tmp_path / "github-token.secret"  # .secret: the suite's leak sweep skips files that hand a secret in
            token_file.write_bytes(f"{TOKEN}\r\n".encode())
            env = _gh_env(gh, GITHUB_TOKEN_FILE=str(token_file))
        p = _cli("analysis", "publish", "--incident", _incident(db)["id"], "--repo", "acme/backend", "--issue", "5", "--db", str(db), env=env)
        comments = gh.comments_on("acme/backend", 5)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("created comment: https://github.example/acme/backend/issues/5#issuecomment-")
    assert len(comments) == 1, "the stripped token was accepted"
    assert not survivors(p.stdout + p.stderr, (TOKEN,))


#: Tokens GitHub rejects: token-shaped, shaped like nothing (only redaction by value can hide it), and one with a CR
#: inside (the HTTP library refuses to send it and quotes the header in its error).
REJECTED = {
    "ghp-shaped": "ghp_" + secrets.token_hex(18),
    "unshaped": "enterprise-" + secrets.token_hex(16),
    "inner-cr": "tok-" + secrets.token_hex(12) + "\r" + secrets.token_hex(12),
}


@pytest.mark.parametrize("kind", list(REJECTED))
def test_a_rejected_token_is_never_printed_whatever_the_server_or_library_says(db: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = REJECTED[kind]
    inc = _incident(db)["id"]
    with fake_github(TOKEN) as gh:
        gh.echo_token = True  # the server's 401 quotes the Authorization header it got
        gh.add_issue("acme/backend", 5)
        p = _cli("analysis", "publish", "--incident", inc, "--repo", "acme/backend", "--issue", "5", "--db", str(db),
                 env=_gh_env(gh, GITHUB_TOKEN=bad + "\r\n"))
        at = app_test(db, monkeypatch, GITHUB_TOKEN=bad + "\r\n", GITHUB_API_URL=gh.api_url)
        at.query_params["incident"] = inc
        open_page(at, "pages/incidents.py")
        at.text_input(key="gh_repo").set_value("acme/backend").run()
        at.number_input(key="gh_issue").set_value(5).run()
        at.button(key="gh_publish").click().run()
        asked = len(gh.requests)
    page = shown_text(at)
    assert asked == (0 if kind == "inner-cr" else 2), "the server got (and quoted) the token; the CR one was refused before sending"
    assert p.returncode == 3, p.stderr
    expected = "cannot reach GitHub" if kind == "inner-cr" else "rejected the token (401)"
    assert expected in p.stderr and expected in page
    assert not at.exception
    assert not survivors(p.stdout + p.stderr + page, (bad,)), "the token never shows, in the terminal or on the page"


# ---------------------------------------------------------------- secrets a server echoes, across every cut

def _server_entries(run_id: str, revision: str, t0: float) -> list[dict[str, Any]]:
    """ERROR entries of the run's revision, each holding one planted secret across one cut, in each payload shape."""
    out: list[dict[str, Any]] = []
    for cut in CUTS:
        for j, secret in enumerate(PLANTED):
            texts = [
                ("textPayload", straddling(secret, cut)),  # one line: the signature is its first 200 characters
                ("textPayload", "Traceback (most recent call last):\n  File \"/app/auth.py\", line 9, in check\n"
                                f"ValueError: {straddling(secret, cut, 'y')}"),
                ("jsonPayload", {"message": straddling(secret, cut, "z"), "stack_trace": "Traceback (most recent call last):\n"
                                 f"  File \"/app/x.py\", line 1, in f\nRuntimeError: {secret}"}),
            ]
            for k, (field, value) in enumerate(texts):
                n = len(out)
                out.append({"timestamp": rfc3339(t0 + 0.001 * (n + 1)), "severity": "ERROR", "insertId": f"planted-{cut}-{j}-{k}",
                            "logName": f"projects/{PROJECT}/logs/run.googleapis.com%2Fstderr",
                            "resource": {"type": "cloud_run_revision", "labels": {"service_name": SERVICE, "revision_name": revision}},
                            "labels": {"x_test_session": run_id}, field: value})
    return out


@pytest.fixture
def crashed(db: Path) -> tuple[dict[str, Any], str, str, float]:
    """The incident, one of its crashed runs (id, revision) and that run's start."""
    inc = _incident(db)
    with open_store(db) as s:
        rows = s.run_rows(("run_id", "revision", "started_ts", "close_code"), since_ts=float(inc["start_ts"]),
                          until_ts=float(inc["end_ts"] or time.time()) + 1)
    run_id, revision, ts, _ = next(r for r in rows if r[3] == 1011)
    return inc, run_id, revision, float(ts)


def test_secrets_in_the_servers_json_lines_log_never_survive_a_cut(db: Path, crashed: tuple[dict[str, Any], str, str, float], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    inc, run_id, revision, t0 = crashed
    log = tmp_path / "server-log.jsonl.secret"  # the planted secrets are the input; nothing derived from it may hold them
    log.write_text("".join(json.dumps(e) + "\n" for e in _server_entries(run_id, revision, t0)), encoding="utf-8")
    env = {**os.environ, "PATHWATCH_DB": str(db)}
    text = _cli("analysis", "logs", "--incident", inc["id"], "--log-file", str(log), env=env)
    as_json = _cli("analysis", "logs", "--incident", inc["id"], "--log-file", str(log), "--json", env=env)
    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    assert json.loads(as_json.stdout)["entries"] == len(CUTS) * len(PLANTED) * 3, "every planted entry was read"
    assert "[redacted]" in as_json.stdout, "the signatures say where a secret was"
    said = [text.stdout, text.stderr, as_json.stdout, as_json.stderr, _dump(db)]

    for page in ("pages/runs.py", "pages/incidents.py"):
        at = app_test(db, monkeypatch, PATHWATCH_SERVER_LOG=str(log))
        at.query_params["run"] = run_id
        at.query_params["incident"] = inc["id"]
        open_page(at, page)
        assert not at.exception, [e.message for e in at.exception]
        assert "[redacted]" in shown_text(at), f"{page} shows the planted lines, redacted"
        said += [shown_text(at), *(d.value.to_csv() for d in at.dataframe)]
    found = survivors("\n".join(said))
    assert not found, found


def test_secrets_in_cloud_logging_server_errors_never_survive_a_cut(db: Path, crashed: tuple[dict[str, Any], str, str, float]) -> None:
    inc, run_id, revision, t0 = crashed
    with fake_logging() as fake:
        fake.entries += _server_entries(run_id, revision, t0)
        env = {**os.environ, "PATHWATCH_DB": str(db), "PATHWATCH_LOGGING_ENDPOINT": fake.endpoint}
        p = _cli("analysis", "logs", "--incident", inc["id"], "--project", PROJECT, "--service", SERVICE, "--json", env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["entries"] == len(CUTS) * len(PLANTED) * 3
    found = survivors(p.stdout + p.stderr + _dump(db))
    assert not found, found


def test_secrets_in_synced_runs_are_redacted_before_they_are_stored_or_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A careless probe elsewhere logged runs with secrets in them: ``probes sync`` stores them redacted, cut after."""
    base = next(r for r in load_fixture() if r.close_code == 1011).to_dict()
    payloads = []
    for cut in CUTS:
        for j, secret in enumerate(PLANTED):
            payloads.append({**base, "run_id": f"synced{cut}x{j}", "close_reason": straddling(secret, min(cut, 120)),
                             "error": straddling(secret, cut),
                             "events": [{"type": "error", "elapsed_ms": 5.0, "detail": straddling(secret, cut)}]})
    db = tmp_path / "synced.db"
    with fake_logging() as fake:
        fake.entries += [{"logName": f"projects/{PROJECT}/logs/pathwatch-probe", "timestamp": rfc3339(iso_to_ts(base["started_at"]) + i),
                          "insertId": p["run_id"], "severity": "ERROR", "jsonPayload": p} for i, p in enumerate(payloads)]
        env = {**os.environ, "PATHWATCH_LOGGING_ENDPOINT": fake.endpoint, "PATHWATCH_GCP_PROJECT": PROJECT}
        p = _cli("probes", "sync", "--since", "3650d", "--db", str(db), env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["added"] == len(payloads), p.stdout
    said = [p.stdout, p.stderr, _dump(db)]
    for payload in payloads[:: len(PLANTED) + 1]:
        at = app_test(db, monkeypatch)
        at.query_params["run"] = payload["run_id"]
        open_page(at, "pages/runs.py")
        assert not at.exception, [e.message for e in at.exception]
        said += [shown_text(at), *(d.value.to_csv() for d in at.dataframe)]
    found = survivors("\n".join(said))
    assert not found, found


def test_a_pasted_log_line_in_the_five_whys_or_a_title_is_never_stored_or_published(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What people type can quote a server too: the editor and ``incidents create`` store it redacted; publish sends it so."""
    pasted = " | ".join(straddling(s, 100) for s in PLANTED)
    made = _cli("analysis", "incidents", "create", "--title", f"Login broken: {JWT} {ECHOED_GITHUB_TOKEN}", "--start", "2026-11-25T00:00:00Z",
                "--db", str(db), env=dict(os.environ))
    assert made.returncode == 0, made.stderr
    manual = made.stdout.strip()
    inc = _incident(db)["id"]
    at = app_test(db, monkeypatch)
    at.query_params["incident"] = inc
    open_page(at, "pages/incidents.py")
    at.text_area(key=f"fw_{inc}_a0").set_value(pasted).run()
    at.text_input(key="author_name").set_value("oncall").run()
    at.button(key=f"fw_{inc}_save").click().run()
    assert any("Saved by oncall" in s.value for s in at.success), shown_text(at)
    with fake_github(TOKEN) as gh:
        gh.add_issue("acme/backend", 9)
        env = _gh_env(gh, GITHUB_TOKEN=TOKEN, PATHWATCH_DB=str(db))
        on_issue = _cli("analysis", "publish", "--incident", inc, "--repo", "acme/backend", "--issue", "9", env=env)
        opened = _cli("analysis", "publish", "--incident", manual, "--repo", "acme/backend", env=env)
        sent = json.dumps([b for _, _, b in gh.requests])
    assert on_issue.returncode == 0 and opened.returncode == 0, on_issue.stderr + opened.stderr
    assert "[redacted]" in sent and "Login broken" in sent
    found = survivors("\n".join([sent, on_issue.stdout, on_issue.stderr, opened.stdout, opened.stderr, _dump(db)]), PLANTED + (TOKEN,))
    assert not found, found
